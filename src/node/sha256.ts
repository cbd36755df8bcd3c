/**
 * Streaming sha256 of model files. Node only.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DemucsError } from '../core/errors.js';

/**
 * The sha256 of a file (streamed, constant memory) or of bytes, as lower-case hex.
 *
 * @param input - a file path or the bytes.
 * @returns the hex digest.
 */
export async function sha256Hex(input: string | Uint8Array): Promise<string> {
  const hash = createHash('sha256');
  if (typeof input === 'string') {
    for await (const chunk of createReadStream(input)) hash.update(chunk as Buffer);
  } else {
    hash.update(input);
  }
  return hash.digest('hex');
}

/** Options of {@link verifySha256}. */
export interface VerifySha256Options {
  /**
   * A directory for stamps of files already verified: a file whose path, size, modification
   * time and inode match a stamp for the same digest is not hashed again (hashing the 174 MB
   * htdemucs model takes about 0.4 s).
   * @defaultValue no stamps (always hash)
   */
  readonly stampDir?: string;
}

/** The identity of a file that a stamp vouches for. */
async function fileIdentity(path: string, expected: string): Promise<string> {
  const s = await stat(path);
  return JSON.stringify({ path: await realpath(path), size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, sha256: expected });
}

/**
 * Checks a file or bytes against an expected sha256.
 *
 * @param input - a file path or the bytes.
 * @param expected - the expected hex digest (any case).
 * @param options - an optional stamp directory for files.
 * @throws DemucsError `ERR_MODEL_CHECKSUM` naming both digests on a mismatch.
 * @throws TypeError when `expected` is not 64 hex digits.
 */
export async function verifySha256(input: string | Uint8Array, expected: string, options: VerifySha256Options = {}): Promise<void> {
  if (!/^[0-9a-fA-F]{64}$/.test(expected)) throw new TypeError(`sha256 (${JSON.stringify(expected)}) must be 64 hex digits`);
  const digest = expected.toLowerCase();
  let stamp: { file: string; identity: string } | undefined;
  if (typeof input === 'string' && options.stampDir !== undefined) {
    const identity = await fileIdentity(input, digest);
    const file = join(options.stampDir, `${createHash('sha256').update(identity).digest('hex').slice(0, 32)}.verified`);
    if ((await readFile(file, 'utf8').catch(() => undefined)) === identity) return;
    stamp = { file, identity };
  }
  const actual = await sha256Hex(input);
  if (actual !== digest) {
    const what = typeof input === 'string' ? JSON.stringify(input) : `${input.byteLength} model bytes`;
    throw new DemucsError('ERR_MODEL_CHECKSUM', `sha256 of ${what} is ${actual}, expected ${digest}`);
  }
  if (stamp !== undefined) {
    // A stamp is an optimisation: failing to write one must not fail the verification.
    await mkdir(options.stampDir!, { recursive: true })
      .then(() => writeFile(stamp.file, stamp.identity))
      .catch(() => undefined);
  }
}
