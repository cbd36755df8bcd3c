/**
 * The optimised-copy cache stays bounded: pruning keeps the most recently used copies and
 * fresh partial files, and OrtNodeBackend prunes after writing a copy and touches a copy it
 * reuses.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OrtNodeBackend } from '../../src/node.js';
import { pruneOptimizedCopies, STALE_PARTIAL_MS, touchCopy } from '../../src/node/optimized-copies.js';
import { fixturePath } from '../helpers/fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'optimized-copies-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A file in `dir` whose modification time is `ageMs` before `now`. */
function file(dir: string, name: string, ageMs: number, now: number): void {
  const path = join(dir, name);
  writeFileSync(path, name);
  utimesSync(path, new Date(now - ageMs), new Date(now - ageMs));
}

describe('pruneOptimizedCopies', () => {
  it('keeps the newest copies, fresh partial files and files that are not copies', async () => {
    const dir = join(root, 'prune');
    mkdirSync(dir);
    const now = Date.now();
    for (let i = 0; i < 5; i++) file(dir, `${100 + i}-1-2-ort1.30.0.extended.onnx`, (i + 1) * 60_000, now);
    file(dir, '200-1-2-ort1.30.0.mha.extended.onnx', 30_000, now);
    file(dir, 'x.extended.onnx.77.partial', STALE_PARTIAL_MS + 1000, now);
    file(dir, 'y.extended.onnx.78.partial', 1000, now);
    file(dir, 'notes.txt', 10 * STALE_PARTIAL_MS, now);
    const removed = await pruneOptimizedCopies(dir, 3, now);
    expect(removed.sort()).toEqual(['102-1-2-ort1.30.0.extended.onnx', '103-1-2-ort1.30.0.extended.onnx', '104-1-2-ort1.30.0.extended.onnx', 'x.extended.onnx.77.partial']);
    expect(readdirSync(dir).sort()).toEqual([
      '100-1-2-ort1.30.0.extended.onnx',
      '101-1-2-ort1.30.0.extended.onnx',
      '200-1-2-ort1.30.0.mha.extended.onnx',
      'notes.txt',
      'y.extended.onnx.78.partial',
    ]);
  });

  it('a touched copy counts as just used', async () => {
    const dir = join(root, 'touch');
    mkdirSync(dir);
    const now = Date.now();
    file(dir, 'old.extended.onnx', 3_600_000, now);
    file(dir, 'new.extended.onnx', 60_000, now);
    await touchCopy(join(dir, 'old.extended.onnx'));
    expect(await pruneOptimizedCopies(dir, 1)).toEqual(['new.extended.onnx']);
  });

  it('a missing directory has nothing to prune; keep must be a positive integer', async () => {
    expect(await pruneOptimizedCopies(join(root, 'absent'), 2)).toEqual([]);
    await expect(pruneOptimizedCopies(root, 0)).rejects.toThrow('keep (0) must be a positive integer');
  });
});

describe('OrtNodeBackend optimizedModelCacheEntries', () => {
  it('after writing a copy keeps only the most recently used ones', async () => {
    const cache = join(root, 'backend-cache');
    const models = [0, 1, 2].map((i) => {
      const path = join(root, `standin-${i}.onnx`);
      copyFileSync(fixturePath('chunking/standin.onnx'), path);
      return path;
    });
    const backend = new OrtNodeBackend({ worker: false, optimizedModelCache: cache, optimizedModelCacheEntries: 2 });
    const load = async (path: string) => (await backend.load(path)).dispose();
    await load(models[0]!);
    await load(models[1]!);
    const [first, second] = readdirSync(cache).sort((a, b) => statSync(join(cache, a)).mtimeMs - statSync(join(cache, b)).mtimeMs);
    // Reusing the first copy makes it the most recent, so the third model's copy evicts the second's.
    await new Promise((r) => setTimeout(r, 20));
    await load(models[0]!);
    await load(models[2]!);
    const left = readdirSync(cache);
    expect(left).toHaveLength(2);
    expect(left).toContain(first);
    expect(left).not.toContain(second);
    // Each copy is keyed by its source's size, mtime and inode: the third model's is the other.
    expect(left.find((f) => f !== first)).toMatch(new RegExp(`-${statSync(models[2]!).ino}-ort`));
  });

  it('rejects a non-positive count, naming it', () => {
    expect(() => new OrtNodeBackend({ optimizedModelCacheEntries: 0 })).toThrow('optimizedModelCacheEntries (0) must be a positive integer');
    expect(() => new OrtNodeBackend({ optimizedModelCacheEntries: 1.5 })).toThrow('optimizedModelCacheEntries (1.5) must be a positive integer');
  });
});
