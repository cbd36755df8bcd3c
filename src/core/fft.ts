/**
 * The real FFTs of size 4096 behind {@link Stft} and {@link Istft}: PFFFT compiled to
 * WebAssembly with SIMD when it can be loaded (about 5× faster than JavaScript), fft.js
 * otherwise. Both compute the same unnormalised transforms; PFFFT works in float32, fft.js in
 * float64, and both stay well inside the parity tolerances (measured against the fixtures:
 * 3.8e-6 and 2.2e-6 for the STFT, 7e-7 and 4e-7 for the iSTFT).
 */
import FFT from 'fft.js';

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
  /** Inputs of {@link RealFft.inversePairs}: `pairsIn[p]` holds two ordered spectra. */
  readonly pairsIn: readonly (readonly [Float32Array, Float32Array])[];
  /** Outputs of {@link RealFft.inversePairs}: `pairsOut[p]` holds two real signals. */
  readonly pairsOut: readonly (readonly [Float32Array, Float32Array])[];
  /** `spectrum[k] = Σₙ signal[n]·e^{−2πikn/N}`. */
  forward(): void;
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
 * Loads the WebAssembly FFT once (SIMD build, then the plain build); {@link Stft} and
 * {@link Istft} created afterwards use it. The {@link Separator} calls this itself.
 *
 * @returns the engine now in use: `'pffft-wasm-simd'`, `'pffft-wasm'`, or `'fft.js'` when
 *   WebAssembly is unavailable (the reason is kept in {@link fftEngine}).
 */
export function loadWasmFft(): Promise<string> {
  wasmLoading ??= (async () => {
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
  })();
  return wasmLoading;
}

/** Which FFT engine new transforms use. */
export interface FftEngineInfo {
  /** `'pffft-wasm-simd'`, `'pffft-wasm'` or `'fft.js'`. */
  readonly name: string;
  /** Why the WebAssembly engine is not in use, when it is not. */
  readonly reason?: string;
}

/**
 * The FFT engine new transforms use, and why WebAssembly is not used if it is not.
 *
 * @returns the engine name and, for `'fft.js'`, the reason.
 */
export function fftEngine(): FftEngineInfo {
  if (wasm !== undefined) return { name: wasm.name };
  return wasmFailure === undefined ? { name: 'fft.js', reason: 'loadWasmFft() has not been called' } : { name: 'fft.js', reason: wasmFailure };
}

/**
 * A real FFT of size `n` on the best loaded engine.
 *
 * @param n - a power of two.
 * @param pairs - how many inverse pairs one {@link RealFft.inversePairs} call can do.
 * @param engine - force an engine (`'fft.js'` for the pure-JavaScript path).
 * @internal
 */
export function createRealFft(n: number, pairs: number, engine?: 'fft.js'): RealFft {
  return wasm !== undefined && engine === undefined ? new PffftRealFft(wasm.module, wasm.name, n, pairs) : new JsRealFft(n, pairs);
}

/** PFFFT in WebAssembly: buffers live in the module's memory, transforms are one call each. */
class PffftRealFft implements RealFft {
  readonly name: string;
  readonly size: number;
  readonly signal: Float32Array;
  readonly spectrum: Float32Array;
  readonly pairsIn: readonly (readonly [Float32Array, Float32Array])[];
  readonly pairsOut: readonly (readonly [Float32Array, Float32Array])[];
  readonly #m: PffftModule;
  readonly #setup: number;
  readonly #memory: number;
  readonly #work: number;
  /** Byte offsets: signal, spectrum, then per pair in A, in B, out A, out B. */
  readonly #ptr: readonly number[];

  constructor(m: PffftModule, name: string, n: number, pairs: number) {
    this.#m = m;
    this.name = name;
    this.size = n;
    this.#setup = m._pffft_new_setup(n, PFFFT_REAL);
    if (this.#setup === 0) throw new RangeError(`PFFFT cannot do a real transform of size ${n}`);
    const bytes = 4 * n;
    const buffers = 2 + 4 * pairs;
    this.#memory = m._pffft_aligned_malloc(buffers * bytes);
    this.#work = m._pffft_aligned_malloc(bytes);
    this.#ptr = Array.from({ length: buffers }, (_, i) => this.#memory + i * bytes);
    // Views are taken after every allocation, so a heap growth cannot detach them.
    const view = (i: number) => new Float32Array(m.HEAPF32.buffer, this.#ptr[i]!, n);
    this.signal = view(0);
    this.spectrum = view(1);
    this.pairsIn = Array.from({ length: pairs }, (_, p) => [view(2 + 4 * p), view(3 + 4 * p)] as const);
    this.pairsOut = Array.from({ length: pairs }, (_, p) => [view(4 + 4 * p), view(5 + 4 * p)] as const);
  }

  forward(): void {
    this.#m._pffft_transform_ordered(this.#setup, this.#ptr[0]!, this.#ptr[1]!, this.#work, PFFFT_FORWARD);
  }

  inversePairs(count: number): void {
    const m = this.#m;
    for (let p = 0; p < count; p++) {
      const base = 2 + 4 * p;
      m._pffft_transform_ordered(this.#setup, this.#ptr[base]!, this.#ptr[base + 2]!, this.#work, PFFFT_BACKWARD);
      m._pffft_transform_ordered(this.#setup, this.#ptr[base + 1]!, this.#ptr[base + 3]!, this.#work, PFFFT_BACKWARD);
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
    const pair = () => [new Float32Array(n), new Float32Array(n)] as const;
    this.pairsIn = Array.from({ length: pairs }, pair);
    this.pairsOut = Array.from({ length: pairs }, pair);
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
