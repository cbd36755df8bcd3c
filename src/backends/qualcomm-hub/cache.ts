/**
 * Where the AI Hub backend remembers what it already uploaded, compiled and submitted, so a
 * second song does not upload or compile again and an interrupted job can be resumed.
 * Values are small JSON strings (ids and shapes), never model or audio data.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A string key–value store. Implementations may be synchronous or asynchronous. */
export interface HubCache {
  /**
   * The value of a key.
   *
   * @param key - the key.
   * @returns the value, or `undefined`.
   */
  get(key: string): string | undefined | Promise<string | undefined>;
  /**
   * Sets a key.
   *
   * @param key - the key.
   * @param value - the value.
   */
  set(key: string, value: string): void | Promise<void>;
  /**
   * Removes a key (a cached id AI Hub no longer knows).
   *
   * @param key - the key.
   */
  delete(key: string): void | Promise<void>;
}

/** A cache that lives as long as the process (the default of tests and short scripts). */
export class MemoryHubCache implements HubCache {
  readonly #map = new Map<string, string>();

  /**
   * The value of a key.
   *
   * @param key - the key.
   * @returns the value, or `undefined`.
   */
  get(key: string): string | undefined {
    return this.#map.get(key);
  }

  /**
   * Sets a key.
   *
   * @param key - the key.
   * @param value - the value.
   */
  set(key: string, value: string): void {
    this.#map.set(key, value);
  }

  /**
   * Removes a key.
   *
   * @param key - the key.
   */
  delete(key: string): void {
    this.#map.delete(key);
  }

  /** Number of entries. */
  get size(): number {
    return this.#map.size;
  }
}

/**
 * A cache in one JSON file, rewritten atomically (temporary file, then rename) on every
 * change. Node only. Suits one process at a time.
 */
export class FileHubCache implements HubCache {
  /** The file's path. */
  readonly path: string;
  #entries: Record<string, string> | undefined;

  /**
   * @param path - the JSON file (created with its directory on the first write).
   */
  constructor(path: string) {
    this.path = path;
  }

  #load(): Record<string, string> {
    if (this.#entries === undefined) {
      try {
        const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as unknown;
        this.#entries = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
      } catch {
        this.#entries = {};
      }
    }
    return this.#entries;
  }

  #save(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const partial = `${this.path}.${process.pid}.partial`;
    writeFileSync(partial, `${JSON.stringify(this.#entries ?? {}, null, 1)}\n`);
    renameSync(partial, this.path);
  }

  /**
   * The value of a key.
   *
   * @param key - the key.
   * @returns the value, or `undefined`.
   */
  get(key: string): string | undefined {
    return this.#load()[key];
  }

  /**
   * Sets a key and writes the file.
   *
   * @param key - the key.
   * @param value - the value.
   */
  set(key: string, value: string): void {
    this.#load()[key] = value;
    this.#save();
  }

  /**
   * Removes a key and writes the file.
   *
   * @param key - the key.
   */
  delete(key: string): void {
    const entries = this.#load();
    if (key in entries) {
      delete entries[key];
      this.#save();
    }
  }
}
