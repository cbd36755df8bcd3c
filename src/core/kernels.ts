/**
 * The WebAssembly SIMD kernels of {@link Stft}, {@link Istft} and {@link OverlapAdd}: the
 * transposes between the model's `[bin, frame]` layout and the FFT's frames, the analysis
 * windowing, the synthesis overlap-add and the chunk overlap-add, which in JavaScript cost
 * about as much as the FFTs themselves (source: wasm/assembly/host-kernels.ts, compiled by
 * `npm run gen:kernels`).
 *
 * The compiled module is shared; every transform instantiates it with a memory of its own,
 * sized once, so views into it stay valid and the memory goes when the transform does.
 */
import { HOST_KERNELS_WASM_BASE64 } from './gen/host-kernels-wasm.js';

/** The exports of wasm/assembly/host-kernels.ts; pointers are byte offsets into `memory`. @internal */
export interface HostKernelExports {
  readonly memory: WebAssembly.Memory;
  istftUnpack(spec: number, bins: number, frames: number, t0: number, count: number, dst: number): void;
  overlapAddFrames(frames: number, count: number, fft: number, hop: number, padLeft: number, t0: number, window: number, outLeft: number, outRight: number, length: number): void;
  stftFrames(x: number, length: number, fft: number, hop: number, padLeft: number, t0: number, count: number, window: number, dst: number): void;
  stftPack(spectra: number, count: number, bins: number, frames: number, t0: number, scale: number, re: number, im: number): void;
  overlapAddRow(acc: number, src: number, gains: number, count: number, factor: number): void;
  scaleToFloat32(src: number, count: number, scale: number, offset: number, dst: number): void;
}

/** Bytes below which the module may keep its own data; buffers start here. */
const RESERVED_BYTES = 65536;
/** WebAssembly page size in bytes. */
const PAGE_BYTES = 65536;
/** Buffer alignment in bytes: one cache line, so 16-frame rows of a plane share lines. */
const ALIGN_BYTES = 64;

let compiled: WebAssembly.Module | undefined;
let loading: Promise<boolean> | undefined;
let failure: string | undefined;

/**
 * Compiles the kernels once. Fails (resolving false, with the reason kept for
 * {@link hostKernelsFailure}) where WebAssembly or its SIMD extension is unavailable; the
 * transforms then keep their JavaScript loops.
 *
 * @returns whether the kernels can be used.
 * @internal
 */
export function loadHostKernels(): Promise<boolean> {
  loading ??= (async () => {
    try {
      const binary = Uint8Array.from(atob(HOST_KERNELS_WASM_BASE64), (c) => c.charCodeAt(0));
      const module = await WebAssembly.compile(binary);
      // Transforms instantiate synchronously; find out now if this thread may (a browser page
      // refuses modules over 4 KiB, which test/scripts/build-kernels.test.ts keeps this under).
      new WebAssembly.Instance(module, {});
      compiled = module;
      return true;
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
      return false;
    }
  })();
  return loading;
}

/** Whether {@link loadHostKernels} has succeeded. @internal */
export function hostKernelsLoaded(): boolean {
  return compiled !== undefined;
}

/** Why the kernels are not in use, when they are not. @internal */
export function hostKernelsFailure(): string | undefined {
  return compiled !== undefined ? undefined : (failure ?? 'loadHostKernels() has not been called');
}

/**
 * One instance of the kernels with its buffers: {@link KernelMemory.reserve} reserves float32
 * and float64 arrays before {@link KernelMemory.seal}, which grows the memory once; views are valid from
 * then on.
 *
 * @internal
 */
export class KernelMemory {
  readonly kernels: HostKernelExports;
  #next = RESERVED_BYTES;
  #sealed = false;
  /** Each reserved buffer's length and value size, by byte offset. */
  readonly #buffers = new Map<number, { readonly length: number; readonly bytes: 4 | 8 }>();

  /** @throws Error when {@link loadHostKernels} has not succeeded. */
  constructor() {
    if (compiled === undefined) throw new Error(`host kernels are not loaded: ${hostKernelsFailure()}`);
    this.kernels = new WebAssembly.Instance(compiled, {}).exports as unknown as HostKernelExports;
  }

  /**
   * Reserves `length` values of `bytes` bytes each (4: float32, 8: float64).
   *
   * @returns the byte offset, for the kernels; {@link KernelMemory.view} or
   *   {@link KernelMemory.view64} gives the array.
   */
  reserve(length: number, bytes: 4 | 8 = 4): number {
    if (this.#sealed) throw new Error('KernelMemory: reserve() after seal()');
    const at = this.#next;
    this.#next = Math.ceil((at + bytes * length) / ALIGN_BYTES) * ALIGN_BYTES;
    this.#buffers.set(at, { length, bytes });
    return at;
  }

  /** Grows the memory to hold every reserved buffer. */
  seal(): void {
    const memory = this.kernels.memory;
    const pages = Math.ceil(this.#next / PAGE_BYTES) - memory.buffer.byteLength / PAGE_BYTES;
    if (pages > 0) memory.grow(pages);
    this.#sealed = true;
  }

  /** The float32 buffer {@link KernelMemory.reserve} returned `at` for, whole (after {@link KernelMemory.seal}). */
  view(at: number): Float32Array {
    return new Float32Array(this.kernels.memory.buffer, at, this.#reserved(at, 4, 'view'));
  }

  /** The float64 buffer {@link KernelMemory.reserve} returned `at` for, whole (after {@link KernelMemory.seal}). */
  view64(at: number): Float64Array {
    return new Float64Array(this.kernels.memory.buffer, at, this.#reserved(at, 8, 'view64'));
  }

  /** The length of the buffer reserved at `at` with values of `bytes` bytes. */
  #reserved(at: number, bytes: 4 | 8, method: string): number {
    if (!this.#sealed) throw new Error(`KernelMemory: ${method}() before seal()`);
    const buffer = this.#buffers.get(at);
    if (buffer?.bytes !== bytes) throw new Error(`KernelMemory: ${method}(${at}) is not a buffer of ${bytes}-byte values reserve() made`);
    return buffer.length;
  }
}
