import { describe, expect, it } from 'vitest';
import { trackStats } from '../../src/core/normalize.js';
import { arraySource } from '../../src/core/source.js';

const src = (...channels: number[][]) => arraySource({ sampleRate: 44100, channels: channels.map((c) => Float32Array.from(c)) });

describe('trackStats', () => {
  it('takes μ and the unbiased σ of the channel average', async () => {
    const s = await trackStats(src([1, 2, 3, 4], [3, 4, 5, 6]));
    // average = [2, 3, 4, 5]: mean 3.5, unbiased variance 5/3
    expect(s.mean).toBe(3.5);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 15);
    expect(s.frames).toBe(4);
  });

  it('is independent of the block size (Chan merge) and stable with a large DC offset', async () => {
    const n = 100003;
    const x = Float32Array.from({ length: n }, (_, i) => 1000 + Math.sin(i * 0.01) * 1e-3);
    const whole = await trackStats(arraySource({ sampleRate: 44100, channels: [x] }), { blockFrames: n });
    const blocked = await trackStats(arraySource({ sampleRate: 44100, channels: [x] }), { blockFrames: 977 });
    expect(blocked.mean).toBeCloseTo(whole.mean, 10);
    expect(blocked.std / whole.std - 1).toBeLessThan(1e-9);
    expect(whole.std).toBeGreaterThan(6e-4);
  });

  it('gives σ = 0 for silence and for a single frame (no NaN)', async () => {
    expect(await trackStats(src([0, 0, 0], [0, 0, 0]))).toEqual({ mean: 0, std: 0, frames: 3 });
    expect((await trackStats(src([0.5], [0.5]))).std).toBe(0);
  });

  it('rejects NaN and infinity naming the channel, frame and value', async () => {
    await expect(trackStats(src([0, 0, NaN], [0, 0, 0]))).rejects.toMatchObject({
      code: 'ERR_NON_FINITE',
      message: expect.stringMatching(/sample 2 of channel 0 is NaN/),
    });
    await expect(trackStats(src([0, 0], [0, -Infinity]))).rejects.toThrow(/sample 1 of channel 1 is -Infinity/);
  });
});
