/**
 * The real FFTs of size 4096 behind {@link Stft} and {@link Istft}: PFFFT compiled to
 * WebAssembly with SIMD when it can be loaded (about 5× faster than JavaScript), fft.js
 * otherwise. Both compute the same unnormalised transforms; PFFFT works in float32, fft.js in
 * float64, and both stay well inside the parity tolerances (measured against the fixtures:
 * 3.8e-6 and 2.2e-6 for the STFT, 7e-7 and 4e-7 for the iSTFT).
 */
import FFT from 'fft.js';
import { hostKernelsFailure, hostKernelsLoaded, loadHostKernels } from './kernels.js';

/**
 * One engine's buffers and transforms, all of size N (a power of two).
 *
 * Spectra use PFFFT's ordered layout for real transforms: `[Re X₀, Re X_{N/2}, Re X₁,
 * Im X₁, Re X₂, Im X₂, …]`, N floats for the N/2 + 1 bins of a real signal.
 *
 * @internal
 */
export interface RealFft {
  /** Engine name, for diagnostics: `'pffft-wasm-simd'`, `'pffft-wasm'` or `'fft.js'`. */
  readonly name: string;
  /** Transform size N. */
  readonly size: number;
  /** Input of {@link RealFft.forward}: N real samples. */
  readonly signal: Float32Array;
  /** Output of {@link RealFft.forward}: the ordered spectrum of `signal`. */
  readonly spectrum: Float32Array;
  /**
   * Inputs of the batch transforms: `batch` arrays of N floats, one after another (views
   * into it make {@link RealFft.pairsIn}).
   */
  readonly batchIn: Float32Array;
  /** Outputs of the batch transforms, laid out as {@link RealFft.batchIn}. */
  readonly batchOut: Float32Array;
  /** Inputs of {@link RealFft.inversePairs}: `pairsIn[p]` holds two ordered spectra. */
  readonly pairsIn: readonly (readonly [Float32Array, Float32Array])[];
  /** Outputs of {@link RealFft.inversePairs}: `pairsOut[p]` holds two real signals. */
  readonly pairsOut: readonly (readonly [Float32Array, Float32Array])[];
  /** `spectrum[k] = Σₙ signal[n]·e^{−2πikn/N}`. */
  forward(): void;
  /** {@link RealFft.forward} of batch entries `0 … count − 1`, from `batchIn` to `batchOut`. */
  forwardBatch(count: number): void;
  /**
   * For pairs `0 … count − 1`: `pairsOut[p][j][n] = Σₖ X[k]·e^{+2πikn/N}` over the full
   * Hermitian spectrum of `pairsIn[p][j]` (N × the inverse DFT).
   */
  inversePairs(count: number): void;
  /** Releases engine memory. */
  dispose(): void;
}

/** The parts of an Emscripten build of PFFFT this module calls. */
interface PffftModule {
  readonly HEAPF32: Float32Array;
  _pffft_new_setup(n: number, transform: number): number;
  _pffft_destroy_setup(setup: number): void;
  _pffft_aligned_malloc(bytes: number): number;
  _pffft_aligned_free(pointer: number): void;
  _pffft_transform_ordered(setup: number, input: number, output: number, work: number, direction: number): void;
}

/** PFFFT's real-transform code and forward/backward directions. */
const PFFFT_REAL = 0;
const PFFFT_FORWARD = 0;
const PFFFT_BACKWARD = 1;

let wasm: { module: PffftModule; name: string } | undefined;
let wasmLoading: Promise<string> | undefined;
let wasmFailure: string | undefined;

/**
 * Loads the WebAssembly FFT once (SIMD build, then the plain build), with the SIMD kernels
 * that move data to and from it; {@link Stft} and {@link Istft} created afterwards use them.
 * The {@link Separator} calls this itself.
 *
 * @returns the engine now in use: `'pffft-wasm-simd'`, `'pffft-wasm'`, or `'fft.js'` when
 *   WebAssembly is unavailable (the reason is kept in {@link fftEngine}).
 */
export function loadWasmFft(): Promise<string> {
  wasmLoading ??= Promise.all([loadFft(), loadHostKernels()]).then(([name]) => name);
  return wasmLoading;
}

async function loadFft(): Promise<string> {
  const attempts: [string, () => Promise<{ default: (arg?: object) => Promise<unknown> }>][] = [
    ['pffft-wasm-simd', () => import('@echogarden/pffft-wasm/simd')],
    ['pffft-wasm', () => import('@echogarden/pffft-wasm')],
  ];
  const reasons: string[] = [];
  for (const [name, load] of attempts) {
    try {
      const module = (await (await load()).default()) as PffftModule;
      wasm = { module, name };
      return name;
    } catch (e) {
      reasons.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  wasmFailure = reasons.join('; ');
  return 'fft.js';
}

/** Which FFT engine new transforms use. */
export interface FftEngineInfo {
  /** `'pffft-wasm-simd'`, `'pffft-wasm'` or `'fft.js'`. */
  readonly name: string;
  /** Why the WebAssembly engine is not in use, when it is not. */
  readonly reason?: string;
  /**
   * Whether the WebAssembly SIMD kernels around the FFT (windowing, transposes, overlap-add)
   * are in use; they need the WebAssembly FFT and SIMD.
   */
  readonly kernels: boolean;
  /** Why the kernels are not in use, when they are not. */
  readonly kernelsReason?: string;
}

/**
 * The FFT engine new transforms use, and why WebAssembly is not used if it is not.
 *
 * @returns the engine name and, for `'fft.js'`, the reason; whether the kernels are in use
 *   and, if not, why.
 */
export function fftEngine(): FftEngineInfo {
  const kernelsReason = wasm === undefined ? 'the WebAssembly FFT is not in use' : hostKernelsFailure();
  const kernels = kernelsReason === undefined ? { kernels: true } : { kernels: false, kernelsReason };
  if (wasm !== undefined) return { name: wasm.name, ...kernels };
  return { name: 'fft.js', reason: wasmFailure ?? 'loadWasmFft() has not been called', ...kernels };
}

/**
 * Whether transforms created now can use the kernels: the WebAssembly FFT and the kernels
 * are both loaded.
 *
 * @internal
 */
export function kernelsReady(): boolean {
  return wasm !== undefined && hostKernelsLoaded();
}

/**
 * A real FFT of size `n` on the best loaded engine.
 *
 * @param n - a power of two.
 * @param pairs - how many inverse pairs one {@link RealFft.inversePairs} call can do; the
 *   batch holds twice as many transforms.
 * @param engine - force an engine (`'fft.js'` for the pure-JavaScript path).
 * @internal
 */
export function createRealFft(n: number, pairs: number, engine?: 'fft.js'): RealFft {
  return wasm !== undefined && engine === undefined ? new PffftRealFft(wasm.module, wasm.name, n, pairs) : new JsRealFft(n, pairs);
}

/** Views of one {@link PffftRealFft}'s buffers in one heap buffer. */
interface PffftViews {
  readonly heap: ArrayBufferLike;
  readonly signal: Float32Array;
  readonly spectrum: Float32Array;
  readonly batchIn: Float32Array;
  readonly batchOut: Float32Array;
  readonly pairsIn: readonly (readonly [Float32Array, Float32Array])[];
  readonly pairsOut: readonly (readonly [Float32Array, Float32Array])[];
}

/** PFFFT in WebAssembly: buffers live in the module's memory, transforms are one call each. */
class PffftRealFft implements RealFft {
  readonly name: string;
  readonly size: number;
  readonly #m: PffftModule;
  readonly #setup: number;
  readonly #memory: number;
  readonly #work: number;
  readonly #pairs: number;
  /** Byte offsets of signal, spectrum, the batch inputs and the batch outputs. */
  readonly #signal: number;
  readonly #spectrum: number;
  readonly #batchIn: number;
  readonly #batchOut: number;
  #views: PffftViews | undefined;

  constructor(m: PffftModule, name: string, n: number, pairs: number) {
    this.#m = m;
    this.name = name;
    this.size = n;
    this.#pairs = pairs;
    this.#setup = m._pffft_new_setup(n, PFFFT_REAL);
    if (this.#setup === 0) throw new RangeError(`PFFFT cannot do a real transform of size ${n}`);
    const bytes = 4 * n;
    const batch = 2 * pairs;
    this.#memory = m._pffft_aligned_malloc((2 + 2 * batch) * bytes);
    this.#work = m._pffft_aligned_malloc(bytes);
    this.#signal = this.#memory;
    this.#spectrum = this.#memory + bytes;
    this.#batchIn = this.#memory + 2 * bytes;
    this.#batchOut = this.#batchIn + batch * bytes;
  }

  /**
   * The views into the module's heap, taken again whenever the heap has grown since (an
   * allocation by any transform may grow it, which detaches every view of the old buffer).
   */
  #heapViews(): PffftViews {
    const heap = this.#m.HEAPF32.buffer;
    if (this.#views?.heap === heap) return this.#views;
    const n = this.size;
    const bytes = 4 * n;
    const view = (at: number, length = n) => new Float32Array(heap, at, length);
    const entry = (at: number, i: number) => view(at + i * bytes);
    this.#views = {
      heap,
      signal: view(this.#signal),
      spectrum: view(this.#spectrum),
      batchIn: view(this.#batchIn, 2 * this.#pairs * n),
      batchOut: view(this.#batchOut, 2 * this.#pairs * n),
      pairsIn: Array.from({ length: this.#pairs }, (_, p) => [entry(this.#batchIn, 2 * p), entry(this.#batchIn, 2 * p + 1)] as const),
      pairsOut: Array.from({ length: this.#pairs }, (_, p) => [entry(this.#batchOut, 2 * p), entry(this.#batchOut, 2 * p + 1)] as const),
    };
    return this.#views;
  }

  get signal(): Float32Array {
    return this.#heapViews().signal;
  }

  get spectrum(): Float32Array {
    return this.#heapViews().spectrum;
  }

  get batchIn(): Float32Array {
    return this.#heapViews().batchIn;
  }

  get batchOut(): Float32Array {
    return this.#heapViews().batchOut;
  }

  get pairsIn(): readonly (readonly [Float32Array, Float32Array])[] {
    return this.#heapViews().pairsIn;
  }

  get pairsOut(): readonly (readonly [Float32Array, Float32Array])[] {
    return this.#heapViews().pairsOut;
  }

  forward(): void {
    this.#m._pffft_transform_ordered(this.#setup, this.#signal, this.#spectrum, this.#work, PFFFT_FORWARD);
  }

  forwardBatch(count: number): void {
    this.#batch(count, PFFFT_FORWARD);
  }

  inversePairs(count: number): void {
    this.#batch(2 * count, PFFFT_BACKWARD);
  }

  #batch(count: number, direction: number): void {
    const bytes = 4 * this.size;
    for (let i = 0; i < count; i++) {
      this.#m._pffft_transform_ordered(this.#setup, this.#batchIn + i * bytes, this.#batchOut + i * bytes, this.#work, direction);
    }
  }

  dispose(): void {
    this.#m._pffft_aligned_free(this.#memory);
    this.#m._pffft_aligned_free(this.#work);
    this.#m._pffft_destroy_setup(this.#setup);
  }
}

/**
 * fft.js: the forward transform is its real transform; the pair of inverses is one complex
 * transform, since for Hermitian spectra A and B, `ifft(A + i·B) = a + i·b`.
 */
class JsRealFft implements RealFft {
  readonly name = 'fft.js';
  readonly size: number;
  readonly signal: Float32Array;
  readonly spectrum: Float32Array;
  readonly batchIn: Float32Array;
  readonly batchOut: Float32Array;
  readonly pairsIn: readonly (readonly [Float32Array, Float32Array])[];
  readonly pairsOut: readonly (readonly [Float32Array, Float32Array])[];
  readonly #fft: FFT;
  readonly #complex: Float64Array;
  readonly #result: Float64Array;

  constructor(n: number, pairs: number) {
    this.size = n;
    this.#fft = new FFT(n);
    this.signal = new Float32Array(n);
    this.spectrum = new Float32Array(n);
    this.batchIn = new Float32Array(2 * pairs * n);
    this.batchOut = new Float32Array(2 * pairs * n);
    const entry = (batch: Float32Array, i: number) => batch.subarray(i * n, (i + 1) * n);
    this.pairsIn = Array.from({ length: pairs }, (_, p) => [entry(this.batchIn, 2 * p), entry(this.batchIn, 2 * p + 1)] as const);
    this.pairsOut = Array.from({ length: pairs }, (_, p) => [entry(this.batchOut, 2 * p), entry(this.batchOut, 2 * p + 1)] as const);
    this.#complex = new Float64Array(2 * n);
    this.#result = new Float64Array(2 * n);
  }

  forward(): void {
    const n = this.size;
    const out = this.#result;
    this.#fft.realTransform(out, this.signal);
    const s = this.spectrum;
    s[0] = out[0]!;
    s[1] = out[n]!; // Re X_{N/2}
    for (let k = 1; k < n / 2; k++) {
      s[2 * k] = out[2 * k]!;
      s[2 * k + 1] = out[2 * k + 1]!;
    }
  }

  forwardBatch(count: number): void {
    const n = this.size;
    for (let i = 0; i < count; i++) {
      this.signal.set(this.batchIn.subarray(i * n, (i + 1) * n));
      this.forward();
      this.batchOut.set(this.spectrum, i * n);
    }
  }

  inversePairs(count: number): void {
    for (let p = 0; p < count; p++) this.#inversePair(this.pairsIn[p]!, this.pairsOut[p]!);
  }

  #inversePair([a, b]: readonly [Float32Array, Float32Array], [outA, outB]: readonly [Float32Array, Float32Array]): void {
    const n = this.size;
    const C = this.#complex;
    // conj(A + i·B) over the full spectrum, so the forward transform gives conj(n · (a + i·b)).
    C[0] = a[0]!;
    C[1] = -b[0]!;
    C[n] = a[1]!;
    C[n + 1] = -b[1]!;
    for (let k = 1; k < n / 2; k++) {
      const ar = a[2 * k]!;
      const ai = a[2 * k + 1]!;
      const br = b[2 * k]!;
      const bi = b[2 * k + 1]!;
      C[2 * k] = ar - bi;
      C[2 * k + 1] = -(ai + br);
      const m = 2 * (n - k);
      C[m] = ar + bi;
      C[m + 1] = ai - br;
    }
    const z = this.#result;
    this.#fft.transform(z, C);
    for (let i = 0; i < n; i++) {
      outA[i] = z[2 * i]!;
      outB[i] = -z[2 * i + 1]!;
    }
  }

  dispose(): void {}
}
