/**
 * The inverse transform HTDemucs runs outside its ONNX graph: `HTDemucs._mask` followed by
 * `_ispec(z, length)` (`demucs/htdemucs.py`), which turns one source's CaC spectrogram back
 * into a stereo waveform.
 */
import { HOP_LENGTH, N_FFT, STFT_EDGE_FRAMES, STFT_PAD_LEFT } from './constants.js';
import { createRealFft, type RealFft } from './fft.js';
import { stftFrames, type TransformOptions } from './stft.js';
import { transpose } from './transpose.js';
import { periodicHann } from './window.js';

/**
 * Inverse STFT of one source's CaC spectrogram `[4, F, T]` into a stereo window `[2, L]`.
 *
 * Exactly as upstream `_mask` + `_ispec` + `ispectro`:
 * - channel `2c` is the real part and `2c + 1` the imaginary part of audio channel c;
 * - the Nyquist bin is put back as 0 and the imaginary part of the DC bin is ignored (torch's
 *   C2R transform drops it; the network does output non-zero values there);
 * - `torch.istft(normalized=True)`: each frame is √4096 × the 1/N inverse real FFT, windowed
 *   by periodic Hann(4096), overlap-added at hop 1024 and divided by the squared-window
 *   envelope summed over all T + 4 frames (2 zero frames each side);
 * - frame t covers window samples `[1024·t − 1536, 1024·t + 2560)`, the same span as the
 *   forward transform, so the output is cropped to `[0, L)` with no shift.
 *
 * The spectrogram is first transposed to frame-major order, so each frame's bins are read
 * contiguously; the left and right inverse transforms of a frame run as one pair.
 *
 * @example
 * ```ts
 * const istft = new Istft(343980);
 * const wave = istft.inverse(sourceSpec);              // [2, 343980]
 * istft.inverse(sourceSpec, out, timeBranch);          // out = iSTFT + time branch
 * ```
 */
export class Istft {
  /** Window length L in samples. */
  readonly samples: number;
  /** Frames T = ⌈L / 1024⌉. */
  readonly frames: number;
  /** Frequency bins F = 2048. */
  readonly bins: number = N_FFT / 2;

  readonly #fft: RealFft;
  readonly #window = periodicHann(N_FFT);
  /** The source's spectrogram in frame-major order `[4][T][F]`. */
  readonly #frames: Float32Array;
  readonly #acc: [Float64Array, Float64Array];
  readonly #inverseEnvelope: Float64Array;

  /**
   * @param samples - window length L in samples.
   * @param options - engine choice.
   * @throws RangeError when L is not a positive integer.
   */
  constructor(samples: number, options: TransformOptions = {}) {
    if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples (${samples}) must be a positive integer`);
    this.samples = samples;
    this.frames = stftFrames(samples);
    this.#fft = createRealFft(N_FFT, options.engine);
    this.#frames = new Float32Array(4 * this.frames * this.bins);
    this.#acc = [new Float64Array(samples), new Float64Array(samples)];
    this.#inverseEnvelope = this.#envelope();
  }

  /** The FFT engine in use (`'pffft-wasm-simd'`, `'pffft-wasm'` or `'fft.js'`). */
  get engine(): string {
    return this.#fft.name;
  }

  /** Number of floats in one source's CaC spectrogram: 4·F·T. */
  get specLength(): number {
    return 4 * this.bins * this.frames;
  }

  /**
   * 1 / Σ_t w²[i + 1536 − 1024·t] over t = −2 … T+1: torch's `window_envelop` over all
   * T + 4 frames, cropped to the window. It is 1.5 at every kept sample for hop = N/4.
   */
  #envelope(): Float64Array {
    const L = this.samples;
    const w = this.#window;
    const env = new Float64Array(L);
    for (let t = -STFT_EDGE_FRAMES; t < this.frames + STFT_EDGE_FRAMES; t++) {
      const start = t * HOP_LENGTH - STFT_PAD_LEFT;
      const n0 = Math.max(0, -start);
      const n1 = Math.min(N_FFT, L - start);
      for (let n = n0; n < n1; n++) env[start + n]! += w[n]! * w[n]!;
    }
    for (let i = 0; i < L; i++) env[i] = 1 / env[i]!;
    return env;
  }

  /**
   * Inverts one source.
   *
   * @param spec - the source's CaC spectrogram `[4, F, T]` (a view into the model output).
   * @param out - destination `[2, L]`; allocated when omitted.
   * @param addend - optional `[2, L]` added to the result: the time branch, as in
   *   `x = xt + x` at the end of `HTDemucs.forward`. May be `out` itself.
   * @returns `out`.
   * @throws RangeError when a buffer has the wrong length.
   */
  inverse(spec: Float32Array, out: Float32Array = new Float32Array(2 * this.samples), addend?: Float32Array): Float32Array {
    const L = this.samples;
    const T = this.frames;
    const F = this.bins;
    if (spec.length !== this.specLength) throw new RangeError(`spec length (${spec.length}) must be ${this.specLength}`);
    if (out.length !== 2 * L) throw new RangeError(`out length (${out.length}) must be 2 × ${L}`);
    if (addend !== undefined && addend.length !== 2 * L) {
      throw new RangeError(`addend length (${addend.length}) must be 2 × ${L}`);
    }
    const w = this.#window;
    const frames = this.#frames;
    const fft = this.#fft;
    const [inL, inR] = fft.pairIn;
    const [outL, outR] = fft.pairOut;
    const [accL, accR] = this.#acc;
    accL.fill(0);
    accR.fill(0);
    const FT = F * T;
    // [ch][k][t] → [ch][t][k]: each frame's bins become contiguous.
    for (let ch = 0; ch < 4; ch++) transpose(spec.subarray(ch * FT, (ch + 1) * FT), F, T, frames.subarray(ch * FT, (ch + 1) * FT));
    // `normalized=True` multiplies the inverse DFT by √N; the engine's inverse is N × the
    // inverse DFT. Both fold into one gain applied with the synthesis window.
    const gain = Math.sqrt(N_FFT) / N_FFT;
    for (let t = 0; t < T; t++) {
      const reL = t * F;
      const imL = FT + t * F;
      const reR = 2 * FT + t * F;
      const imR = 3 * FT + t * F;
      // Ordered spectra [Re0, Re(N/2), Re1, Im1, …]: the imaginary part of bin 0 is ignored
      // (torch's C2R transform drops it), and the Nyquist bin is zero (`_ispec` pads it).
      inL[0] = frames[reL]!;
      inL[1] = 0;
      inR[0] = frames[reR]!;
      inR[1] = 0;
      for (let k = 1; k < F; k++) {
        inL[2 * k] = frames[reL + k]!;
        inL[2 * k + 1] = frames[imL + k]!;
        inR[2 * k] = frames[reR + k]!;
        inR[2 * k + 1] = frames[imR + k]!;
      }
      fft.inversePair();
      const start = t * HOP_LENGTH - STFT_PAD_LEFT;
      const n0 = Math.max(0, -start);
      const n1 = Math.min(N_FFT, L - start);
      for (let n = n0; n < n1; n++) {
        const g = w[n]! * gain;
        accL[start + n]! += g * outL[n]!;
        accR[start + n]! += g * outR[n]!;
      }
    }
    const inv = this.#inverseEnvelope;
    if (addend === undefined) {
      for (let i = 0; i < L; i++) {
        out[i] = accL[i]! * inv[i]!;
        out[L + i] = accR[i]! * inv[i]!;
      }
    } else {
      for (let i = 0; i < L; i++) {
        out[i] = accL[i]! * inv[i]! + addend[i]!;
        out[L + i] = accR[i]! * inv[i]! + addend[L + i]!;
      }
    }
    return out;
  }
}
