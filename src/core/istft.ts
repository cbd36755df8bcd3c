/**
 * The inverse transform HTDemucs runs outside its ONNX graph: `HTDemucs._mask` followed by
 * `_ispec(z, length)` (`demucs/htdemucs.py`), which turns one source's CaC spectrogram back
 * into a stereo waveform.
 */
import FFT from 'fft.js';
import { HOP_LENGTH, N_FFT, STFT_EDGE_FRAMES, STFT_PAD_LEFT } from './constants.js';
import { stftFrames } from './stft.js';
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
 * Two real inverse transforms (left and right) share one complex FFT: with Hermitian
 * spectra `Zl`, `Zr`, `ifft(Zl + i·Zr) = xl + i·xr`.
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

  readonly #fft = new FFT(N_FFT);
  readonly #window = periodicHann(N_FFT);
  readonly #spectrum = new Float64Array(2 * N_FFT);
  readonly #signal = new Float64Array(2 * N_FFT);
  readonly #acc: [Float64Array, Float64Array];
  readonly #inverseEnvelope: Float64Array;

  /**
   * @param samples - window length L in samples.
   * @throws RangeError when L is not a positive integer.
   */
  constructor(samples: number) {
    if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples (${samples}) must be a positive integer`);
    this.samples = samples;
    this.frames = stftFrames(samples);
    this.#acc = [new Float64Array(samples), new Float64Array(samples)];
    this.#inverseEnvelope = this.#envelope();
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
    const C = this.#spectrum;
    const z = this.#signal;
    const [accL, accR] = this.#acc;
    accL.fill(0);
    accR.fill(0);
    const FT = F * T;
    // √N from `normalized=True`; fft.js's inverse already divides by N.
    const gain = Math.sqrt(N_FFT);
    for (let t = 0; t < T; t++) {
      // Pack Zl + i·Zr into one full complex spectrum.
      C[0] = spec[t]! * gain; // Re Zl[0]; Im Zl[0] is ignored
      C[1] = spec[2 * FT + t]! * gain; // Re Zr[0]; Im Zr[0] is ignored
      for (let k = 1; k < F; k++) {
        const o = k * T + t;
        const a = spec[o]!;
        const b = spec[FT + o]!;
        const c = spec[2 * FT + o]!;
        const d = spec[3 * FT + o]!;
        C[2 * k] = (a - d) * gain;
        C[2 * k + 1] = (b + c) * gain;
        const m = 2 * (N_FFT - k);
        C[m] = (a + d) * gain;
        C[m + 1] = (c - b) * gain;
      }
      C[N_FFT] = 0; // Nyquist bin: zero-padded by `_ispec`
      C[N_FFT + 1] = 0;
      this.#fft.inverseTransform(z, C);
      const start = t * HOP_LENGTH - STFT_PAD_LEFT;
      const n0 = Math.max(0, -start);
      const n1 = Math.min(N_FFT, L - start);
      for (let n = n0; n < n1; n++) {
        accL[start + n]! += w[n]! * z[2 * n]!;
        accR[start + n]! += w[n]! * z[2 * n + 1]!;
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
