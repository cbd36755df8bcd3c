import { beforeAll, describe, expect, it } from 'vitest';
import { loadWasmFft } from '../../src/core/fft.js';
import { Stft, stftFrames, type TransformOptions } from '../../src/core/stft.js';
import { fixturePath, manifest, maxAbsDiff, readF32 } from '../helpers/fixtures.js';
import { normalisedMusicWindow } from '../helpers/e2e-input.js';
import { noise } from '../helpers/noise.js';

const L = 343980;
const SPEC_SHAPE = [4, 2048, 336];

function impulseWindow(): Float32Array {
  // The fixture README's `impulse` recipe, all values exact in float32.
  const x = new Float32Array(2 * L);
  const left = x.subarray(0, L);
  const right = x.subarray(L);
  left.fill(0.25);
  left[700]! += 1.0;
  left[171990]! -= 0.5;
  left[343500]! += 0.75;
  right[0] = 1.0;
  right[343979] = -1.0;
  right[2048] = 0.5;
  return x;
}

// Every numeric check runs on both FFT engines, PFFFT in WebAssembly (float32) and fft.js,
// and on PFFFT with the steps around it in JavaScript instead of the SIMD kernels.
const ENGINES: [string, TransformOptions][] = [
  ['wasm', {}],
  ['wasm, no kernels', { kernels: false }],
  ['fft.js', { engine: 'fft.js' }],
];
beforeAll(async () => {
  expect(await loadWasmFft()).toBe('pffft-wasm-simd');
});

describe.each(ENGINES)('Stft (%s)', (engineName, engine) => {
  it('uses the engine it was asked for', () => {
    const stft = new Stft(44100, engine);
    expect(stft.engine).toBe(engineName.startsWith('wasm') ? 'pffft-wasm-simd' : 'fft.js');
    expect(stft.kernels).toBe(engineName === 'wasm');
  });

  it('has the HTDemucs shape: 336 frames and 2048 bins for 343980 samples, 44 frames for 1 s', () => {
    const stft = new Stft(L);
    expect(stft.frames).toBe(336);
    expect(stft.bins).toBe(2048);
    expect(stft.specLength).toBe(4 * 2048 * 336);
    expect(stftFrames(44100)).toBe(44);
  });

  it('reproduces the music window input bit for bit (float64 sum from the manifest)', () => {
    const x = normalisedMusicWindow(L);
    let sum = 0;
    for (const v of x) sum += v;
    expect(sum).toBe(manifest().fixtures.stft.cases.music.input.checksum_sum_float64);
  });

  it('matches the PyTorch _spec + _magnitude fixture for the music window to ≤ 1e-5', () => {
    const out = new Stft(L, engine).forward(normalisedMusicWindow(L));
    const ref = readF32('stft/music_spec.f32', SPEC_SHAPE);
    const { max } = maxAbsDiff(out, ref);
    expect(max).toBeLessThanOrEqual(1e-5);
  });

  it('matches the impulse/DC fixture to ≤ 1e-5 (reflection without edge repeat, DC bin)', () => {
    const out = new Stft(L, engine).forward(impulseWindow());
    const ref = readF32('stft/impulse_spec.f32', SPEC_SHAPE);
    const { max } = maxAbsDiff(out, ref);
    expect(max).toBeLessThanOrEqual(1e-5);
  });

  it('writes into a caller buffer and rejects wrong sizes with the numbers', () => {
    const stft = new Stft(L, engine);
    const out = new Float32Array(stft.specLength);
    expect(stft.forward(impulseWindow(), out)).toBe(out);
    expect(() => stft.forward(new Float32Array(10))).toThrow(/wave length \(10\) must be 2 × 343980/);
    expect(() => stft.forward(impulseWindow(), new Float32Array(5))).toThrow(/out length \(5\)/);
    expect(() => new Stft(1000)).toThrow(RangeError);
    expect(fixturePath('stft')).toMatch(/fixtures/);
  });
});

describe('Stft on the SIMD kernels', () => {
  it('gives the JavaScript loops’ spectrogram bit for bit, also for frame counts off the 4- and 16-frame blocks', () => {
    // 5, 17, 44 and 336 frames: a lone 4-block remainder, one frame past a block, a 12-frame
    // last block, and the model's window.
    for (const n of [5000, 17000, 44100, L]) {
      const x = noise(2 * n, n);
      const simd = new Stft(n);
      expect(simd.kernels).toBe(true);
      const js = new Stft(n, { kernels: false });
      expect(js.kernels).toBe(false);
      expect(maxAbsDiff(simd.forward(x), js.forward(x)).max).toBe(0);
    }
  });
});
