import { describe, expect, it } from 'vitest';

import { isDemucsError } from '../../src/core/errors.js';
import { downmixToStereo, downmixWeights, toStereo } from '../../src/io/channels.js';

describe('toStereo (upstream convert_audio_channels)', () => {
  it('duplicates mono as the same array twice, sharing storage', () => {
    const mono = Float32Array.from([0.1, -0.2, 0.3]);
    const stereo = toStereo([mono]);
    expect(stereo).toHaveLength(2);
    expect(stereo[0]).toBe(mono);
    expect(stereo[1]).toBe(mono);
    mono[1] = 0.75; // one array: a write shows through both entries
    expect(stereo[1]![1]).toBe(0.75);
  });

  it('passes stereo through as the same arrays, in a new outer array', () => {
    const l = Float32Array.from([1, 2]);
    const r = Float32Array.from([3, 4]);
    const input = [l, r];
    const stereo = toStereo(input);
    expect(stereo).not.toBe(input);
    expect(stereo[0]).toBe(l);
    expect(stereo[1]).toBe(r);
  });

  it('keeps the first two of more channels, with no downmix', () => {
    const channels = [Float32Array.from([1]), Float32Array.from([2]), Float32Array.from([3]), Float32Array.from([4])];
    const stereo = toStereo(channels);
    expect(stereo).toHaveLength(2);
    expect(stereo[0]).toBe(channels[0]);
    expect(stereo[1]).toBe(channels[1]);
    expect(Array.from(stereo[0]!)).toEqual([1]);
    expect(Array.from(stereo[1]!)).toEqual([2]);
  });

  it('throws ERR_AUDIO_EMPTY for no channels', () => {
    let error: unknown;
    try {
      toStereo([]);
    } catch (e) {
      error = e;
    }
    expect(isDemucsError(error)).toBe(true);
    expect((error as { code: string }).code).toBe('ERR_AUDIO_EMPTY');
    expect((error as Error).message).toContain('0 channels');
  });

  it('rejects channels of the wrong kind or unequal lengths', () => {
    expect(() => toStereo([new Float64Array(2) as unknown as Float32Array])).toThrow(
      /channels\[0\] must be a Float32Array \(got Float64Array\(2\)\)/,
    );
    expect(() => toStereo([new Float32Array(2), [0, 1] as unknown as Float32Array])).toThrow(TypeError);
    expect(() => toStereo([new Float32Array(2), new Float32Array(3)])).toThrow(
      /channels\[1\] has 3 samples but channels\[0\] has 2/,
    );
    expect(() => toStereo('ab' as unknown as Float32Array[])).toThrow(/channels must be an array of Float32Array \(got "ab"\)/);
  });

  it('keeps the kept channels and ignores the kind of dropped ones', () => {
    const l = new Float32Array(2);
    const r = new Float32Array(2);
    expect(toStereo([l, r, 'ignored' as unknown as Float32Array])).toEqual([l, r]);
  });
});

describe('downmixToStereo (ITU-R BS.775, LFE dropped)', () => {
  const ch = (...values: number[]) => Float32Array.from(values);

  it('passes mono and stereo through as toStereo does', () => {
    const m = ch(0.5);
    expect(downmixToStereo([m])).toEqual([m, m]);
    const [l, r] = [ch(1), ch(2)];
    const out = downmixToStereo([l, r]);
    expect(out[0]).toBe(l);
    expect(out[1]).toBe(r);
  });

  it('downmixes 5.1 (FL FR FC LFE BL BR): centre and surrounds at −3 dB, LFE dropped', () => {
    const a = Math.SQRT1_2;
    const [l, r] = downmixToStereo([ch(1, 0), ch(0, 1), ch(0.5, 0), ch(9, 9), ch(0.25, 0), ch(0, 0.25)]);
    expect(l![0]).toBeCloseTo(1 + a * 0.5 + a * 0.25, 6);
    expect(r![0]).toBeCloseTo(a * 0.5, 6);
    expect(l![1]).toBeCloseTo(0, 6);
    expect(r![1]).toBeCloseTo(1 + a * 0.25, 6);
  });

  it('has weights for 3 to 8 channels and averages even/odd channels for unknown layouts', () => {
    for (let n = 3; n <= 8; n++) {
      const [wl, wr] = downmixWeights(n);
      expect([wl.length, wr.length]).toEqual([n, n]);
      expect([wl[0], wl[1], wr[0], wr[1]]).toEqual([1, 0, 0, 1]);
    }
    expect(downmixWeights(6)[0][3]).toBe(0); // LFE
    const [l, r] = downmixToStereo([ch(1), ch(2), ch(3), ch(4), ch(5), ch(6), ch(7), ch(8), ch(9), ch(10)]);
    expect(l![0]).toBeCloseTo((1 + 3 + 5 + 7 + 9) / 5, 6);
    expect(r![0]).toBeCloseTo((2 + 4 + 6 + 8 + 10) / 5, 6);
  });

  it('rejects unequal lengths and no channels', () => {
    expect(() => downmixToStereo([ch(1, 2), ch(1), ch(1, 2)])).toThrow(/channels\[1\] has 1 samples but channels\[0\] has 2/);
    expect(() => downmixToStereo([])).toThrow(/0 channels/);
  });
});
