import { mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readOnnxMetadata, sourcesFromMetadata } from '../../src/core/onnx-metadata.js';
import { OrtNodeBackend } from '../../src/node.js';
import { standinSeparationModel } from '../helpers/onnx-builder.js';
import { realModelPath } from '../helpers/model.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-meta-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileReader(path: string) {
  const fd = openSync(path, 'r');
  let reads = 0;
  return {
    size: statSync(path).size,
    reads: () => reads,
    close: () => closeSync(fd),
    read: (o: number, n: number) => {
      reads++;
      const buf = new Uint8Array(n);
      return buf.subarray(0, readSync(fd, buf, 0, n, o));
    },
  };
}

describe('readOnnxMetadata', () => {
  it('reads metadata_props without decoding the graph', async () => {
    const bytes = standinSeparationModel({ waveGains: [1, 1, 1], specGains: [0, 0, 0], metadata: { sources: '["kick", "snare", "rest"]', author: 'test' } });
    const meta = await readOnnxMetadata((o, n) => bytes.subarray(o, o + n), bytes.length);
    expect([...meta]).toEqual([
      ['sources', '["kick", "snare", "rest"]'],
      ['author', 'test'],
    ]);
    expect(sourcesFromMetadata(meta)).toEqual(['kick', 'snare', 'rest']);
    expect(sourcesFromMetadata(new Map([['demucs.sources', 'a, b']]))).toEqual(['a', 'b']);
    expect(sourcesFromMetadata(new Map([['sources', '[1, 2]']]))).toBeUndefined();
    expect(sourcesFromMetadata(new Map())).toBeUndefined();
  });

  it('walks the 174 MB real model in a handful of reads (it has no metadata)', async () => {
    const r = fileReader(await realModelPath());
    const meta = await readOnnxMetadata(r.read, r.size);
    r.close();
    expect(meta.size).toBe(0);
    expect(r.reads()).toBeLessThan(20);
  });

  it('OrtNodeBackend names the sources from metadata unless the load option says otherwise', async () => {
    const path = join(dir, 'named.onnx');
    writeFileSync(path, standinSeparationModel({ waveGains: [1, 1, 1], specGains: [0, 0, 0], metadata: { sources: 'kick,snare,rest' } }));
    const backend = new OrtNodeBackend({ threads: 1, worker: false });
    const named = await backend.load(path);
    expect(named.spec.sources).toEqual(['kick', 'snare', 'rest']);
    await named.dispose();
    const overridden = await backend.load(path, { sources: ['a', 'b', 'c'] });
    expect(overridden.spec.sources).toEqual(['a', 'b', 'c']);
    await overridden.dispose();
  });
});
