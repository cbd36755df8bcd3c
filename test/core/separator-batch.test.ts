/**
 * Batching sessions (`maxBatch` > 1, a cloud device): the Separator hands them many windows
 * per `run` call and the stems are bit-identical to the one-window pipeline.
 */
import { describe, expect, it } from 'vitest';
import { Separator, type ModelSession, type WindowInput, type WindowOutput } from '../../src/index.js';
import { noise } from '../helpers/noise.js';

/** A pure-JS linear stand-in with HTDemucs's I/O: source s = gain[s] · (wave, spec). */
function mockSession(maxBatch: number, calls: number[]): ModelSession {
  const L = 44100;
  const T = Math.ceil(L / 1024);
  const gains = [0.5, 0.25, 0.125, 0.0625];
  return {
    spec: { sampleRate: 44100, audioChannels: 2, segmentSamples: L, dynamicSegment: false, frames: T, bins: 2048, sources: ['drums', 'bass', 'other', 'vocals'] },
    maxBatch,
    async run(batch: readonly WindowInput[]): Promise<WindowOutput[]> {
      calls.push(batch.length);
      return batch.map((w) => {
        const spec = new Float32Array(4 * w.spec.length);
        const wave = new Float32Array(4 * w.wave.length);
        gains.forEach((g, s) => {
          for (let i = 0; i < w.spec.length; i++) spec[s * w.spec.length + i] = g * w.spec[i]!;
          for (let i = 0; i < w.wave.length; i++) wave[s * w.wave.length + i] = g * w.wave[i]!;
        });
        return { spec, wave };
      });
    },
    async dispose() {},
  };
}

describe('Separator with a batching session', () => {
  const audio = { sampleRate: 44100, channels: [noise(200_000, 1), noise(200_000, 2)] };

  it('gives bit-identical stems with maxBatch 1, 4 and unlimited, in ⌈windows / maxBatch⌉ calls', async () => {
    const results = [];
    for (const maxBatch of [1, 4, Infinity]) {
      const calls: number[] = [];
      const { stems } = await new Separator(mockSession(maxBatch, calls), { shifts: 2, seed: 7, overlap: 0.25 }).separate(audio);
      results.push({ maxBatch, calls, stems });
    }
    const windows = results[0]!.calls.length;
    expect(results[0]!.calls.every((n) => n === 1)).toBe(true);
    // Two shift passes over 200000 + pad samples in 1 s windows at stride 33075.
    expect(windows).toBeGreaterThan(12);
    expect(results[1]!.calls).toEqual([...Array.from({ length: Math.floor(windows / 4) }, () => 4), ...(windows % 4 === 0 ? [] : [windows % 4])]);
    expect(results[2]!.calls).toEqual([windows]);
    for (const r of results.slice(1)) {
      for (const name of ['drums', 'bass', 'other', 'vocals']) {
        for (let c = 0; c < 2; c++) expect(Buffer.compare(Buffer.from(r.stems[name]![c]!.buffer), Buffer.from(results[0]!.stems[name]![c]!.buffer)), `${name} ${c} maxBatch ${r.maxBatch}`).toBe(0);
      }
    }
  });

  it('rejects a session that returns the wrong number of outputs', async () => {
    const session = mockSession(8, []);
    const broken: ModelSession = { ...session, run: async (batch) => (await session.run(batch)).slice(1) };
    await expect(new Separator(broken, { shifts: 0 }).separate(audio)).rejects.toThrow(/returned \d+ outputs for \d+ windows/);
  });
});
