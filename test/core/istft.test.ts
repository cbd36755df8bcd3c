import { describe, expect, it } from 'vitest';
import { Istft } from '../../src/core/istft.js';
import { Stft } from '../../src/core/stft.js';
import { maxAbsDiff, readF32 } from '../helpers/fixtures.js';

const L = 343980;

describe('Istft', () => {
  it('matches the PyTorch _mask + _ispec fixture (real vocals output, non-zero DC imaginary) to ≤ 1e-5', () => {
    const spec = readF32('istft/spec_in.f32', [4, 2048, 336]);
    // The fixture's point: the DC imaginary parts are non-zero and must be ignored.
    expect(Math.abs(spec[1 * 2048 * 336]!) + Math.abs(spec[3 * 2048 * 336]!)).toBeGreaterThan(0);
    const out = new Istft(L).inverse(spec);
    const ref = readF32('istft/wave_out.f32', [2, L]);
    expect(maxAbsDiff(out, ref).max).toBeLessThanOrEqual(1e-5);
  });

  it('adds the time branch when given an addend, also in place', () => {
    const spec = readF32('istft/spec_in.f32', [4, 2048, 336]);
    const istft = new Istft(L);
    const plain = istft.inverse(spec);
    const addend = new Float32Array(2 * L).map((_, i) => Math.sin(i * 1e-3));
    const summed = istft.inverse(spec, new Float32Array(2 * L), addend);
    for (const i of [0, 1, 1000, L - 1, L, 2 * L - 1]) expect(summed[i]).toBeCloseTo(plain[i]! + addend[i]!, 6);
    const inPlace = addend.slice();
    istft.inverse(spec, inPlace, inPlace);
    expect(maxAbsDiff(inPlace, summed).max).toBe(0);
  });

  it('inverts the Stft: round trip of a random stereo window to float32 precision, at 1 s and 7.8 s', () => {
    for (const n of [44100, L]) {
      let seed = 12345;
      const x = new Float32Array(2 * n).map(() => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed / 2 ** 31 - 1;
      });
      const y = new Istft(n).inverse(new Stft(n).forward(x));
      expect(maxAbsDiff(x, y).max).toBeLessThan(5e-6);
    }
  });

  it('ignores the DC imaginary part and an all-zero spectrum gives silence', () => {
    const istft = new Istft(44100);
    const spec = new Float32Array(istft.specLength);
    spec.fill(0.3, 2048 * 44, 2048 * 44 + 44); // Im Zl[0, t] for every frame
    expect(maxAbsDiff(istft.inverse(spec), new Float32Array(2 * 44100)).max).toBe(0);
  });
});
