/**
 * Streaming sha256 of model files. Node only.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
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

/**
 * Checks a file or bytes against an expected sha256.
 *
 * @param input - a file path or the bytes.
 * @param expected - the expected hex digest (any case).
 * @throws DemucsError `ERR_MODEL_CHECKSUM` naming both digests on a mismatch.
 * @throws TypeError when `expected` is not 64 hex digits.
 */
export async function verifySha256(input: string | Uint8Array, expected: string): Promise<void> {
  if (!/^[0-9a-fA-F]{64}$/.test(expected)) throw new TypeError(`sha256 (${JSON.stringify(expected)}) must be 64 hex digits`);
  const actual = await sha256Hex(input);
  if (actual !== expected.toLowerCase()) {
    const what = typeof input === 'string' ? JSON.stringify(input) : `${input.byteLength} model bytes`;
    throw new DemucsError('ERR_MODEL_CHECKSUM', `sha256 of ${what} is ${actual}, expected ${expected.toLowerCase()}`);
  }
}
