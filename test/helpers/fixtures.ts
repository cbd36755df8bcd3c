/**
 * Access to the shared PyTorch reference fixtures (`../shared/fixtures` beside the repo).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/** Repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The fixtures directory; `DEMUCS_FIXTURES` overrides it. */
export const FIXTURES_DIR = process.env.DEMUCS_FIXTURES ?? resolve(REPO_ROOT, '../shared/fixtures');

/** Absolute path of a fixture file. */
export function fixturePath(relative: string): string {
  return resolve(FIXTURES_DIR, relative);
}

/** Reads a raw little-endian float32 fixture, checking its length against an expected shape. */
export function readF32(relative: string, shape?: readonly number[]): Float32Array {
  const buf = readFileSync(fixturePath(relative));
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  if (shape) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`${relative}: ${data.length} floats, expected ${n} for [${shape}]`);
  }
  return data;
}

/** The fixture manifest. */
export function manifest(): any {
  return JSON.parse(readFileSync(fixturePath('manifest.json'), 'utf8'));
}

/** Largest absolute difference between two equal-length arrays, and where it is. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; index: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  let index = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= max)) {
      max = d;
      index = i;
    }
  }
  return { max, index };
}

/** Signal-to-noise ratio in dB of `est` against `ref`: 10·log10(Σref² / Σ(ref − est)²). */
export function snrDb(ref: ArrayLike<number>, est: ArrayLike<number>): number {
  if (ref.length !== est.length) throw new Error(`length ${ref.length} vs ${est.length}`);
  let s = 0;
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    s += ref[i]! * ref[i]!;
    const d = ref[i]! - est[i]!;
    n += d * d;
  }
  return 10 * Math.log10(s / n);
}
