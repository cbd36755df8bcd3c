/**
 * The forward transform HTDemucs runs outside its ONNX graph: `HTDemucs._spec` followed by
 * `_magnitude` (`demucs/htdemucs.py`), giving the complex-as-channels (CaC) spectrogram that
 * is the graph's second input.
 */
import FFT from 'fft.js';
import { HOP_LENGTH, N_FFT, STFT_PAD_LEFT, STFT_SCALE } from './constants.js';
import { periodicHann } from './window.js';

/**
 * Frames of the STFT of a `samples`-long window: `le = int(math.ceil(x.shape[-1] / hl))`
 * in `HTDemucs._spec`.
 *
 * @param samples - window length in samples.
 * @returns the number of frames T.
 */
export function stftFrames(samples: number): number {
  return Math.ceil(samples / HOP_LENGTH);
}

/**
 * STFT of a stereo window into the CaC layout `[4, F, T]` with F = 2048 bins and
 * T = ⌈L/1024⌉ frames, channel `2c + r` (c: left/right, r: real/imaginary).
 *
 * Exactly as upstream `_spec` + `_magnitude`:
 * - reflect-pad by 1536 on the left and `1536 + 1024·T − L` on the right (no edge repeat);
 * - periodic Hann(4096), hop 1024, scale 1/√4096 (`normalized=True`);
 * - keep frames 2 … T+1 of torch's centred frames, which is frame t starting at window
 *   sample `1024·t − 1536`; drop the Nyquist bin.
 *
 * One instance owns its FFT tables and scratch; reuse it for every window of a length.
 *
 * @example
 * ```ts
 * const stft = new Stft(343980);
 * const spec = stft.forward(wave);          // wave: Float32Array [2, 343980]
 * spec.length === 4 * 2048 * 336;           // true
 * ```
 */
export class Stft {
  /** Window length L in samples. */
  readonly samples: number;
  /** Frames T = ⌈L / 1024⌉. */
  readonly frames: number;
  /** Frequency bins F = 2048 (the Nyquist bin is dropped). */
  readonly bins: number = N_FFT / 2;

  readonly #fft = new FFT(N_FFT);
  readonly #window = periodicHann(N_FFT);
  readonly #frame = new Float64Array(N_FFT);
  readonly #spectrum = new Float64Array(2 * N_FFT);

  /**
   * @param samples - window length L in samples.
   * @throws RangeError when L is not an integer long enough for one reflection of the padding.
   */
  constructor(samples: number) {
    const frames = stftFrames(samples);
    const padRight = STFT_PAD_LEFT + frames * HOP_LENGTH - samples;
    if (!Number.isInteger(samples) || samples <= Math.max(STFT_PAD_LEFT, padRight)) {
      throw new RangeError(
        `samples (${samples}) must be an integer longer than its reflect padding (${Math.max(STFT_PAD_LEFT, padRight)})`,
      );
    }
    this.samples = samples;
    this.frames = frames;
  }

  /** Number of floats in one CaC spectrogram: 4·F·T. */
  get specLength(): number {
    return 4 * this.bins * this.frames;
  }

  /**
   * Transforms one stereo window.
   *
   * @param wave - planar `[2, L]`: left samples then right samples.
   * @param out - destination `[4, F, T]`; allocated when omitted.
   * @returns `out`.
   * @throws RangeError when a buffer has the wrong length.
   */
  forward(wave: Float32Array, out: Float32Array = new Float32Array(this.specLength)): Float32Array {
    const L = this.samples;
    if (wave.length !== 2 * L) throw new RangeError(`wave length (${wave.length}) must be 2 × ${L}`);
    if (out.length !== this.specLength) throw new RangeError(`out length (${out.length}) must be ${this.specLength}`);
    for (let c = 0; c < 2; c++) this.#channel(wave.subarray(c * L, (c + 1) * L), out, c);
    return out;
  }

  #channel(x: Float32Array, out: Float32Array, c: number): void {
    const L = this.samples;
    const T = this.frames;
    const F = this.bins;
    const w = this.#window;
    const frame = this.#frame;
    const spectrum = this.#spectrum;
    const reBase = 2 * c * F * T;
    const imBase = reBase + F * T;
    const last = L - 1;
    for (let t = 0; t < T; t++) {
      const start = t * HOP_LENGTH - STFT_PAD_LEFT;
      if (start >= 0 && start + N_FFT <= L) {
        for (let n = 0; n < N_FFT; n++) frame[n] = w[n]! * x[start + n]!;
      } else {
        for (let n = 0; n < N_FFT; n++) {
          let i = start + n;
          // One mirror reflection without repeating the edge sample (`F.pad(mode='reflect')`).
          if (i < 0) i = -i;
          else if (i > last) i = 2 * last - i;
          frame[n] = w[n]! * x[i]!;
        }
      }
      this.#fft.realTransform(spectrum, frame);
      for (let k = 0; k < F; k++) {
        out[reBase + k * T + t] = spectrum[2 * k]! * STFT_SCALE;
        out[imBase + k * T + t] = spectrum[2 * k + 1]! * STFT_SCALE;
      }
    }
  }
}
