/**
 * A bag of models described by a manifest file on disk (see `parseBagManifest`), loaded
 * member by member only when a requested stem needs it. Node only.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Backend } from '../backends/backend.js';
import type { ModelBag } from '../core/bag.js';
import { parseBagManifest, type BagManifest } from '../core/manifest.js';
import { resolveModel } from './model-store.js';
import { verifySha256, type VerifySha256Options } from './sha256.js';

/** What {@link openBag} returns. */
export interface OpenedBag {
  /** The bag, for `new Separator(bag, …)`. */
  readonly bag: ModelBag;
  /** The parsed manifest. */
  readonly manifest: BagManifest;
}

/** Options of {@link openBag}. */
export interface OpenBagOptions {
  /** Checksum stamps, so an unchanged member file is hashed once. @defaultValue none */
  readonly verify?: VerifySha256Options;
  /** Called when a member starts loading (the test of "skipped members are never loaded" uses it too). */
  readonly onLoad?: (member: string, path: string) => void;
}

/**
 * Reads a bag manifest and returns a {@link ModelBag} whose members load on first use.
 * Member files are relative to the manifest; an `http(s)` member downloads into the cache
 * (pinned by its `sha256`); a member with a `sha256` is checked before it is loaded.
 *
 * @param path - the manifest (`.json`).
 * @param backend - loads each member file.
 * @param options - checksum stamps, a load callback.
 * @returns the bag and its manifest.
 * @throws DemucsError `ERR_MODEL_SHAPE` for a bad manifest; member errors only when loaded.
 */
export async function openBag(path: string, backend: Backend, options: OpenBagOptions = {}): Promise<OpenedBag> {
  const manifest = parseBagManifest(await readFile(path, 'utf8'), path);
  const base = dirname(resolve(path));
  const bag: ModelBag = {
    sources: manifest.sources,
    members: manifest.members.map((m) => ({
      name: `${manifest.name}.${m.name}`,
      weights: m.weights,
      async load() {
        let file: string;
        if (/^https?:\/\//i.test(m.model)) {
          file = (await resolveModel(m.sha256 === undefined ? m.model : `${m.model}#sha256=${m.sha256}`)).path;
        } else {
          file = isAbsolute(m.model) ? m.model : resolve(base, m.model);
          if (m.sha256 !== undefined) await verifySha256(file, m.sha256, options.verify ?? {});
        }
        options.onLoad?.(m.name, file);
        return backend.load(file, { sources: manifest.sources });
      },
    })),
  };
  return { bag, manifest };
}
