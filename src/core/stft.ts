/**
 * The forward transform HTDemucs runs outside its ONNX graph: `HTDemucs._spec` followed by
 * `_magnitude` (`demucs/htdemucs.py`), giving the complex-as-channels (CaC) spectrogram that
 * is the graph's second input.
 */
import { HOP_LENGTH, N_FFT, STFT_PAD_LEFT, STFT_SCALE } from './constants.js';
import { createRealFft, kernelsReady, type RealFft } from './fft.js';
import { KernelMemory, type HostKernelExports } from './kernels.js';
import { transpose } from './transpose.js';
import { periodicHann } from './window.js';

/** Frames windowed, transformed and packed together on the WebAssembly path. */
const FRAME_BLOCK = 16;

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

/** Options of {@link Stft} and {@link Istft}. */
export interface TransformOptions {
  /**
   * Force the pure-JavaScript FFT (fft.js) even when the WebAssembly FFT is loaded (the
   * kernels are then not used either).
   * @defaultValue the best loaded engine (see `loadWasmFft`)
   */
  readonly engine?: 'fft.js';
  /**
   * Use the WebAssembly SIMD kernels for the windowing, the transposes and the overlap-add
   * around the FFT when they are loaded; `false` keeps those steps in JavaScript. Both give
   * the same values up to float32 rounding.
   * @defaultValue true
   */
  readonly kernels?: boolean;
}

/**
 * Whether a transform with these options uses the kernels.
 *
 * @internal
 */
export function useKernels(options: TransformOptions): boolean {
  return options.engine === undefined && options.kernels !== false && kernelsReady();
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
 * One instance owns its FFT and scratch; reuse it for every window of a length.
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

  readonly #fft: RealFft;
  readonly #window = periodicHann(N_FFT);
  /** Frame-major spectra `[4][T][F]`, transposed into the output at the end (JavaScript path). */
  readonly #frames: Float32Array;
  /** The WebAssembly path's buffers, when the kernels are in use. */
  readonly #wasm: StftKernels | undefined;

  /**
   * @param samples - window length L in samples.
   * @param options - engine choice.
   * @throws RangeError when L is not an integer long enough for one reflection of the padding.
   */
  constructor(samples: number, options: TransformOptions = {}) {
    const frames = stftFrames(samples);
    const padRight = STFT_PAD_LEFT + frames * HOP_LENGTH - samples;
    if (!Number.isInteger(samples) || samples <= Math.max(STFT_PAD_LEFT, padRight)) {
      throw new RangeError(
        `samples (${samples}) must be an integer longer than its reflect padding (${Math.max(STFT_PAD_LEFT, padRight)})`,
      );
    }
    this.samples = samples;
    this.frames = frames;
    this.#wasm = useKernels(options) ? new StftKernels(samples, frames, this.bins, this.#window) : undefined;
    this.#fft = createRealFft(N_FFT, this.#wasm === undefined ? 0 : FRAME_BLOCK / 2, options.engine);
    this.#frames = this.#wasm === undefined ? new Float32Array(4 * frames * this.bins) : new Float32Array(0);
  }

  /** Number of floats in one CaC spectrogram: 4·F·T. */
  get specLength(): number {
    return 4 * this.bins * this.frames;
  }

  /** The FFT engine in use (`'pffft-wasm-simd'`, `'pffft-wasm'` or `'fft.js'`). */
  get engine(): string {
    return this.#fft.name;
  }

  /** Whether the WebAssembly SIMD kernels cut the frames and transpose the spectra (see {@link TransformOptions.kernels}). */
  get kernels(): boolean {
    return this.#wasm !== undefined;
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
    const T = this.frames;
    const F = this.bins;
    if (wave.length !== 2 * L) throw new RangeError(`wave length (${wave.length}) must be 2 × ${L}`);
    if (out.length !== this.specLength) throw new RangeError(`out length (${out.length}) must be ${this.specLength}`);
    if (this.#wasm !== undefined) return this.#wasm.forward(this.#fft, wave, out);
    for (let c = 0; c < 2; c++) this.#channel(wave.subarray(c * L, (c + 1) * L), c);
    // [ch][t][k] → [ch][k][t], with the 1/√N of `normalized=True`.
    const FT = F * T;
    for (let ch = 0; ch < 4; ch++) {
      transpose(this.#frames.subarray(ch * FT, (ch + 1) * FT), T, F, out.subarray(ch * FT, (ch + 1) * FT), STFT_SCALE);
    }
    return out;
  }

  #channel(x: Float32Array, c: number): void {
    const L = this.samples;
    const T = this.frames;
    const F = this.bins;
    const w = this.#window;
    const fft = this.#fft;
    const frame = fft.signal;
    const spectrum = fft.spectrum;
    const re = this.#frames.subarray(2 * c * F * T, (2 * c + 1) * F * T);
    const im = this.#frames.subarray((2 * c + 1) * F * T, (2 * c + 2) * F * T);
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
      fft.forward();
      // Ordered spectrum [Re0, Re(N/2), Re1, Im1, …]: bin 0 is real, the Nyquist bin is dropped.
      const row = t * F;
      re[row] = spectrum[0]!;
      im[row] = 0;
      for (let k = 1; k < F; k++) {
        re[row + k] = spectrum[2 * k]!;
        im[row + k] = spectrum[2 * k + 1]!;
      }
    }
  }
}

/**
 * {@link Stft.forward} on the WebAssembly SIMD kernels: the window and the spectrogram live
 * in the kernels' memory; blocks of 16 windowed frames are cut there, copied to the FFT's
 * memory and back, and written transposed into the spectrogram's planes.
 */
class StftKernels {
  readonly #memory = new KernelMemory();
  readonly #k: HostKernelExports;
  readonly #samples: number;
  readonly #frames: number;
  readonly #bins: number;
  readonly #wave: number;
  readonly #spec: number;
  readonly #block: number;
  readonly #window: number;
  readonly #waveView: Float32Array;
  readonly #specView: Float32Array;
  readonly #blockView: Float32Array;

  constructor(samples: number, frames: number, bins: number, window: Float64Array) {
    const m = this.#memory;
    this.#k = m.kernels;
    this.#samples = samples;
    this.#frames = frames;
    this.#bins = bins;
    this.#wave = m.reserve(2 * samples);
    this.#spec = m.reserve(4 * bins * frames);
    this.#block = m.reserve(FRAME_BLOCK * N_FFT);
    this.#window = m.reserve(N_FFT);
    m.seal();
    this.#waveView = m.view(this.#wave);
    this.#specView = m.view(this.#spec);
    this.#blockView = m.view(this.#block);
    // `periodicHann` is already float32-exact, so the windowed samples equal the JavaScript path's.
    m.view(this.#window).set(window);
  }

  forward(fft: RealFft, wave: Float32Array, out: Float32Array): Float32Array {
    const k = this.#k;
    const L = this.#samples;
    const T = this.#frames;
    const plane = 4 * this.#bins * T;
    this.#waveView.set(wave);
    for (let c = 0; c < 2; c++) {
      for (let t0 = 0; t0 < T; t0 += FRAME_BLOCK) {
        const count = Math.min(FRAME_BLOCK, T - t0);
        const floats = count * N_FFT;
        k.stftFrames(this.#wave + 4 * c * L, L, N_FFT, HOP_LENGTH, STFT_PAD_LEFT, t0, count, this.#window, this.#block);
        fft.batchIn.set(this.#blockView.subarray(0, floats));
        fft.forwardBatch(count);
        this.#blockView.set(fft.batchOut.subarray(0, floats));
        k.stftPack(this.#block, count, this.#bins, T, t0, STFT_SCALE, this.#spec + 2 * c * plane, this.#spec + (2 * c + 1) * plane);
      }
    }
    out.set(this.#specView);
    return out;
  }
}
