/**
 * The inverse transform HTDemucs runs outside its ONNX graph: `HTDemucs._mask` followed by
 * `_ispec(z, length)` (`demucs/htdemucs.py`), which turns one source's CaC spectrogram back
 * into a stereo waveform.
 */
import { HOP_LENGTH, N_FFT, STFT_PAD_LEFT } from './constants.js';
import { createRealFft, type RealFft } from './fft.js';
import { KernelMemory, type HostKernelExports } from './kernels.js';
import { stftFrames, useKernels, type TransformOptions } from './stft.js';
import { periodicHann } from './window.js';

/** Frames unpacked together: at one bin, 16 float32 frames are one 64-byte cache line. */
const FRAME_BLOCK = 16;
/**
 * Bins unpacked together for one block of frames: 4 channels × 256 bins of 64-byte lines is
 * 64 KiB, which stays in L2 while the block's 16 frames read it (unblocked, a frame's 8188
 * lines evicted the block's earlier ones: 52 against 30 ms for four sources on this machine).
 */
const BIN_BLOCK = 256;

/**
 * Inverse STFT of one source's CaC spectrogram `[4, F, T]` into a stereo window `[2, L]`.
 *
 * Exactly as upstream `_mask` + `_ispec` + `ispectro`:
 * - channel `2c` is the real part and `2c + 1` the imaginary part of audio channel c;
 * - the Nyquist bin is put back as 0 and the imaginary part of the DC bin is ignored (torch's
 *   C2R transform drops it; the network does output non-zero values there);
 * - `torch.istft(normalized=True)`: each frame is √4096 × the 1/N inverse real FFT, windowed
 *   by periodic Hann(4096), overlap-added at hop 1024 and divided by the squared-window
 *   envelope summed over all T + 4 frames (2 zero frames each side). Every kept sample lies
 *   under exactly four frames, so the envelope at window sample i is Σ_q w²[(n mod 1024) +
 *   1024·q] for any frame sample n over it: the division is folded into the synthesis window
 *   and frames are added straight into the output (no accumulator, no final pass);
 * - frame t covers window samples `[1024·t − 1536, 1024·t + 2560)`, the same span as the
 *   forward transform, so the output is cropped to `[0, L)` with no shift.
 *
 * Frames are unpacked in blocks of 16 frames × 256 bins: the input is `[ch, k, t]`, so a
 * frame's bins are T floats apart, but a block's frames at one bin are adjacent, one cache
 * line per read. The left and right inverse transforms of a frame run as one pair.
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
  /**
   * Synthesis window times the inverse gain over the envelope: `normalized=True` multiplies
   * the inverse DFT by √N and the engine's inverse is N × the inverse DFT, so each frame is
   * scaled by √N / N; and each sample is divided by the envelope, Σ_q w²[(n mod hop) + hop·q]
   * (see {@link Istft}). Frames are summed into float32 output (4 frames overlap, so the sum
   * loses about 1e-7 relative, well inside the 1e-5 parity tolerance).
   */
  readonly #windowGain: Float64Array;
  /** The WebAssembly path's buffers, when the kernels are in use. */
  readonly #wasm: IstftKernels | undefined;

  /**
   * @param samples - window length L in samples.
   * @param options - engine and kernel choice.
   * @throws RangeError when L is not a positive integer.
   */
  constructor(samples: number, options: TransformOptions = {}) {
    if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples (${samples}) must be a positive integer`);
    this.samples = samples;
    this.frames = stftFrames(samples);
    this.#fft = createRealFft(N_FFT, FRAME_BLOCK, options.engine);
    this.#windowGain = synthesisGain(this.#window);
    this.#wasm = useKernels(options) ? new IstftKernels(samples, this.frames, this.bins, this.#windowGain) : undefined;
  }

  /** The FFT engine in use (`'pffft-wasm-simd'`, `'pffft-wasm'` or `'fft.js'`). */
  get engine(): string {
    return this.#fft.name;
  }

  /** Whether the WebAssembly SIMD kernels unpack the frames and add them up (see `TransformOptions.kernels`). */
  get kernels(): boolean {
    return this.#wasm !== undefined;
  }

  /** Number of floats in one source's CaC spectrogram: 4·F·T. */
  get specLength(): number {
    return 4 * this.bins * this.frames;
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
    if (this.#wasm !== undefined) return this.#wasm.inverse(this.#fft, spec, out, addend);
    const wg = this.#windowGain;
    const fft = this.#fft;
    const ins = fft.pairsIn;
    const pairsOut = fft.pairsOut;
    // Frames are added straight into the output, which starts as the addend (or zeros).
    if (addend === undefined) out.fill(0);
    else if (addend !== out) out.set(addend);
    const accL = out.subarray(0, L);
    const accR = out.subarray(L, 2 * L);
    const FT = F * T;
    for (let t0 = 0; t0 < T; t0 += FRAME_BLOCK) {
      const nb = Math.min(FRAME_BLOCK, T - t0);
      // Ordered spectra [Re0, Re(N/2), Re1, Im1, …]: the imaginary part of bin 0 is ignored
      // (torch's C2R transform drops it), and the Nyquist bin is zero (`_ispec` pads it).
      // A block of bins at a time, frame by frame within it, so writes run along one spectrum
      // and the block's reads share cache lines, which the first frame brings in for the others.
      for (let b = 0; b < nb; b++) {
        const [inL, inR] = ins[b]!;
        const t = t0 + b;
        inL[0] = spec[t]!;
        inL[1] = 0;
        inR[0] = spec[2 * FT + t]!;
        inR[1] = 0;
      }
      for (let k0 = 1; k0 < F; k0 += BIN_BLOCK) {
        const k1 = Math.min(F, k0 + BIN_BLOCK);
        for (let b = 0; b < nb; b++) {
          const [inL, inR] = ins[b]!;
          for (let k = k0, o = k0 * T + t0 + b; k < k1; k++, o += T) {
            inL[2 * k] = spec[o]!;
            inL[2 * k + 1] = spec[FT + o]!;
            inR[2 * k] = spec[2 * FT + o]!;
            inR[2 * k + 1] = spec[3 * FT + o]!;
          }
        }
      }
      fft.inversePairs(nb);
      for (let b = 0; b < nb; b++) {
        const [outL, outR] = pairsOut[b]!;
        const start = (t0 + b) * HOP_LENGTH - STFT_PAD_LEFT;
        const n0 = Math.max(0, -start);
        const n1 = Math.min(N_FFT, L - start);
        for (let n = n0; n < n1; n++) {
          accL[start + n]! += wg[n]! * outL[n]!;
          accR[start + n]! += wg[n]! * outR[n]!;
        }
      }
    }
    return out;
  }
}

/**
 * The synthesis window with the inverse transform's gain and the envelope folded in:
 * `w[n] · (√N / N) / Σ_q w²[(n mod hop) + hop·q]`, q = 0…3. Any kept sample lies under
 * frames t = −2 … T + 1 (torch's `window_envelop` counts the two zero frames each side), so
 * exactly four frames overlap it, at frame samples n, n ± 1024, …: its envelope is the same
 * sum whichever of those frames is asked.
 */
function synthesisGain(window: Float64Array): Float64Array {
  const overlap = N_FFT / HOP_LENGTH;
  return window.map((w, n) => {
    let envelope = 0;
    for (let q = 0; q < overlap; q++) envelope += window[(n % HOP_LENGTH) + q * HOP_LENGTH]! ** 2;
    return (w * Math.sqrt(N_FFT)) / N_FFT / envelope;
  });
}

/**
 * {@link Istft.inverse} on the WebAssembly SIMD kernels: the spectrogram and the output live
 * in the kernels' memory; blocks of 16 frames are unpacked there, copied to the FFT's memory
 * and back (two memcpys of 512 KiB), and added into the output.
 */
class IstftKernels {
  readonly #memory = new KernelMemory();
  readonly #k: HostKernelExports;
  readonly #samples: number;
  readonly #frames: number;
  readonly #bins: number;
  readonly #spec: number;
  readonly #out: number;
  readonly #block: number;
  readonly #window: number;
  readonly #specView: Float32Array;
  readonly #outView: Float32Array;
  readonly #blockView: Float32Array;

  constructor(samples: number, frames: number, bins: number, windowGain: Float64Array) {
    const m = this.#memory;
    this.#k = m.kernels;
    this.#samples = samples;
    this.#frames = frames;
    this.#bins = bins;
    this.#spec = m.reserve(4 * bins * frames);
    this.#out = m.reserve(2 * samples);
    this.#block = m.reserve(FRAME_BLOCK * 2 * N_FFT);
    this.#window = m.reserve(N_FFT);
    m.seal();
    this.#specView = m.view(this.#spec);
    this.#outView = m.view(this.#out);
    this.#blockView = m.view(this.#block);
    // The window gain in float32: one more rounding than the JavaScript path's float64 (≈ 1e-7 relative).
    m.view(this.#window).set(windowGain);
  }

  inverse(fft: RealFft, spec: Float32Array, out: Float32Array, addend: Float32Array | undefined): Float32Array {
    const k = this.#k;
    const L = this.#samples;
    const T = this.#frames;
    this.#specView.set(spec);
    if (addend === undefined) this.#outView.fill(0);
    else this.#outView.set(addend);
    for (let t0 = 0; t0 < T; t0 += FRAME_BLOCK) {
      const count = Math.min(FRAME_BLOCK, T - t0);
      const floats = count * 2 * N_FFT;
      k.istftUnpack(this.#spec, this.#bins, T, t0, count, this.#block);
      fft.batchIn.set(this.#blockView.subarray(0, floats));
      fft.inversePairs(count);
      this.#blockView.set(fft.batchOut.subarray(0, floats));
      k.overlapAddFrames(this.#block, count, N_FFT, HOP_LENGTH, STFT_PAD_LEFT, t0, this.#window, this.#out, this.#out + 4 * L, L);
    }
    out.set(this.#outView);
    return out;
  }
}
