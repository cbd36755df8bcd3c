import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { selectStems } from '../../src/core/stem-selection.js';
import { resample, resampledLength } from '../../src/io/resample.js';
import { decodeWav } from '../../src/io/wav.js';
import { StemFiles } from '../../src/node/stem-files.js';
import { maxAbsDiff } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'stem-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FRAMES = 30001;
const stems = [0, 1, 2].map((s) => [0, 1].map((c) => Float32Array.from({ length: FRAMES }, (_, i) => 0.1 * Math.sin(i * (0.01 + 0.003 * s) + c))));
const blocks = (size: number) => {
  const out: Float32Array[][][] = [];
  for (let start = 0; start < FRAMES; start += size) out.push(stems.map((st) => st.map((ch) => ch.subarray(start, Math.min(FRAMES, start + size)))));
  return out;
};

describe('StemFiles', () => {
  it('writes the selected outputs, resampled back and cut to the exact input length', async () => {
    const folder = mkdtempSync(join(dir, 'a-'));
    // A 48 kHz input of 32653 frames became FRAMES frames at 44.1 kHz; the files get 32653 back.
    const target = 32653;
    expect(Math.abs(resampledLength(FRAMES, 44100, 48000) - target)).toBeLessThanOrEqual(1);
    const outputs = selectStems(['a', 'b', 'c'], { twoStems: 'b' });
    const files = await StemFiles.create({ folder, outputs, inputRate: 44100, sampleRate: 48000, frames: target, bitDepth: 32, clipMode: 'none' });
    for (const block of blocks(7000)) await files.write(block);
    const paths = await files.finish();
    expect(paths).toEqual({ b: join(folder, 'b.wav'), no_b: join(folder, 'no_b.wav') });
    expect(readdirSync(folder).sort()).toEqual(['b.wav', 'no_b.wav']);
    const b = decodeWav(new Uint8Array(readFileSync(paths.b!)));
    expect([b.sampleRate, b.format.frames]).toEqual([48000, target]);
    const expected = resample({ sampleRate: 44100, channels: stems[1]! }, 48000);
    for (let c = 0; c < 2; c++) {
      const n = Math.min(target, expected.channels[c]!.length);
      expect(maxAbsDiff(b.channels[c]!.subarray(0, n), expected.channels[c]!.subarray(0, n)).max).toBe(0);
    }
    const rest = decodeWav(new Uint8Array(readFileSync(paths.no_b!)));
    const sum = resample({ sampleRate: 44100, channels: [0, 1].map((c) => stems[0]![c]!.map((x, i) => x + stems[2]![c]![i]!)) }, 48000);
    for (let c = 0; c < 2; c++) {
      const n = Math.min(target, sum.channels[c]!.length);
      expect(maxAbsDiff(rest.channels[c]!.subarray(0, n), sum.channels[c]!.subarray(0, n)).max).toBeLessThan(1e-7);
    }
  });

  it('abort leaves nothing behind', async () => {
    const folder = mkdtempSync(join(dir, 'b-'));
    const files = await StemFiles.create({ folder, outputs: selectStems(['a', 'b', 'c']), inputRate: 44100, frames: FRAMES, format: 'flac' });
    await files.write(blocks(FRAMES)[0]!.map((s) => s.map((c) => c.subarray(0, 100))));
    await files.abort();
    expect(readdirSync(folder)).toEqual([]);
  });
});
