/**
 * The fixtures' derived inputs, rebuilt exactly as the fixture README describes.
 */
import { readFileSync } from 'node:fs';
import { decodeWav } from '../../src/io/wav.js';
import { fixturePath, manifest } from './fixtures.js';

/** `e2e/mix.wav` decoded: planar stereo float32 at 44100 Hz. */
export function e2eMix(): Float32Array[] {
  const wav = decodeWav(new Uint8Array(readFileSync(fixturePath('e2e/mix.wav'))));
  return [...wav.channels];
}

/**
 * The stft `music` input: the first `samples` frames of `e2e/mix.wav`, normalised in float64
 * with the e2e track constants, rounded to float32; planar `[2, samples]`.
 */
export function normalisedMusicWindow(samples: number, startFrame = 0): Float32Array {
  const m = manifest().fixtures.stft.cases.music.input;
  const mean: number = m.mean;
  const std: number = m.std_unbiased;
  const [l, r] = e2eMix();
  const out = new Float32Array(2 * samples);
  for (let i = 0; i < samples; i++) {
    out[i] = (l![startFrame + i]! - mean) / (std + 1e-8);
    out[samples + i] = (r![startFrame + i]! - mean) / (std + 1e-8);
  }
  return out;
}
