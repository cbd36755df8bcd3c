import { beforeAll, describe, expect, it } from 'vitest';
import { loadWasmFft } from '../../src/core/fft.js';
import { Stft, stftFrames, type TransformOptions } from '../../src/core/stft.js';
import { fixturePath, manifest, maxAbsDiff, readF32 } from '../helpers/fixtures.js';
import { normalisedMusicWindow } from '../helpers/e2e-input.js';

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

// Every numeric check runs on both FFT engines: PFFFT in WebAssembly (float32) and fft.js.
const ENGINES: [string, TransformOptions][] = [
  ['wasm', {}],
  ['fft.js', { engine: 'fft.js' }],
];
beforeAll(async () => {
  expect(await loadWasmFft()).toBe('pffft-wasm-simd');
});

describe.each(ENGINES)('Stft (%s)', (engineName, engine) => {
  it('uses the engine it was asked for', () => {
    expect(new Stft(44100, engine).engine).toBe(engineName === 'wasm' ? 'pffft-wasm-simd' : 'fft.js');
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
