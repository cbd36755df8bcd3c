/**
 * The page side of a separation in a Web Worker: posts audio in, gets progress events and
 * stems (as transferred buffers) out, cancels with an `AbortSignal`.
 */
import type { PlanarAudio } from '../core/audio.js';
import { DemucsError, ERROR_CODES, describeValue, type DemucsErrorCode } from '../core/errors.js';
import type { SeparationProgress, SeparatorOptions } from '../core/separator.js';
import type { ModelDownloadProgress } from './model-cache.js';
import type {
  SeparationStage,
  WebModelInfo,
  WebSeparationResult,
  WorkerBackendOptions,
  WorkerError,
  WorkerInput,
  WorkerRequest,
  WorkerResponse,
} from './protocol.js';

/** The part of a `Worker` {@link WebSeparator} uses. */
export interface WorkerLike {
  /** Sends a request to the worker. */
  postMessage(message: unknown, transfer: Transferable[]): void;
  /** Listens for the worker's messages and errors. */
  addEventListener(type: 'message' | 'error' | 'messageerror', listener: (event: { readonly data?: unknown; readonly message?: string }) => void): void;
  /** Stops the worker at once. */
  terminate(): void;
}

/**
 * Starts the ready-made separation worker shipped with the package (`dist/web-worker.js`, a
 * module worker that calls {@link serveSeparation}).
 *
 * @remarks
 * Written as `new Worker(new URL('./web-worker.js', import.meta.url), { type: 'module' })`,
 * which Vite, webpack 5, Parcel and Rollup's worker plugins recognise and bundle. Bundlers
 * that do not (esbuild) need a worker script of their own: one file calling
 * {@link serveSeparation}, passed to {@link WebSeparator} as `worker`.
 *
 * @returns a new module worker.
 */
export function createSeparationWorker(): Worker {
  return new Worker(new URL('./web-worker.js', import.meta.url), { type: 'module', name: 'demucs-mobile' });
}

/** Options of {@link WebSeparator}. */
export interface WebSeparatorOptions {
  /**
   * The worker to run in: one whose script calls {@link serveSeparation}.
   * @defaultValue {@link createSeparationWorker}()
   */
  readonly worker?: WorkerLike;
}

/** Options of {@link WebSeparator.load}. */
export interface WebLoadOptions {
  /** The model's expected sha256 (hex); see {@link fetchModel}. */
  readonly sha256?: string;
  /**
   * For a URL: the Cache API cache to keep the model in, or `false` for none.
   * @defaultValue `'demucs-mobile-models'`
   */
  readonly cache?: string | false;
  /** Source names in output order, when the model does not say. */
  readonly sources?: readonly string[];
  /** Providers, threads and where onnxruntime-web's files are; see {@link OrtWebBackendOptions}. */
  readonly backend?: WorkerBackendOptions;
  /** Download progress (for a URL). */
  readonly onDownloadProgress?: (progress: ModelDownloadProgress) => void;
  /** Cancels the load. */
  readonly signal?: AbortSignal;
}

/** Options of {@link WebSeparator.separate}: the `Separator`'s options (see {@link index!SeparatorOptions}) plus the call's. */
export interface WebSeparateOptions extends SeparatorOptions {
  /** Cancels the separation: the promise rejects at once with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Called after every model window (and once at the start with 0 done). */
  readonly onProgress?: (progress: SeparationProgress) => void;
  /** Called as each stage starts: decoding, resampling, waiting for the model, separating. */
  readonly onStage?: (stage: SeparationStage) => void;
  /** Explicit shift draws, each in [0, 22050], overriding `shifts` and `seed` (see {@link index!SeparateOptions}). */
  readonly shiftOffsets?: readonly number[];
  /** A name for an encoded input (its file name), put in front of decoding errors. */
  readonly name?: string;
  /**
   * Transfer the input's buffers to the worker instead of copying them; the caller's arrays
   * are then detached (empty). Blobs are always read into a new buffer and transferred.
   * @defaultValue false
   */
  readonly transferInput?: boolean;
}

/** Anything {@link WebSeparator.separate} takes: decoded audio, or an audio file's bytes. */
export type WebSeparatorInput = PlanarAudio | Blob | ArrayBuffer | Uint8Array;

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  readonly onDownloadProgress?: ((progress: ModelDownloadProgress) => void) | undefined;
  readonly onProgress?: ((progress: SeparationProgress) => void) | undefined;
  readonly onStage?: ((stage: SeparationStage) => void) | undefined;
}

/**
 * Separates music in a Web Worker, so the page never freezes: the model loads there (WebGPU or
 * WebAssembly, see {@link OrtWebBackend}), files are decoded and resampled there, and the stems
 * come back as transferred buffers.
 *
 * @example
 * ```ts
 * import { WebSeparator } from 'demucs-mobile/web';
 *
 * const separator = new WebSeparator({ worker: new Worker('/worker.js', { type: 'module' }) });
 * const info = await separator.load('/models/htdemucs.onnx', {
 *   sha256: 'da9e5101ee0804d04933974b59d8aae9c862e80e14f2f24e7c74cae76bdbe748',
 *   backend: { wasmPaths: '/ort/' },
 *   onDownloadProgress: ({ loaded, total }) => console.log(loaded, total),
 * });
 * info.execution; // { provider: 'wasm', threads: 2, fallbacks: [...], crossOriginIsolated: true }
 * const controller = new AbortController();
 * const { stems } = await separator.separate(file, {
 *   signal: controller.signal,
 *   onProgress: (p) => console.log(`${Math.round(p.fraction * 100)} %, ${p.etaSeconds} s left`),
 * });
 * stems.vocals; // [Float32Array, Float32Array] at 44100 Hz
 * ```
 */
export class WebSeparator {
  readonly #worker: WorkerLike;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #failure: Error | undefined;
  #disposed = false;

  /**
   * @param options - the worker to run in.
   */
  constructor(options: WebSeparatorOptions = {}) {
    this.#worker = options.worker ?? createSeparationWorker();
    this.#worker.addEventListener('message', (event) => this.#receive(event.data as WorkerResponse));
    const fail = (what: string) => (event: { readonly message?: string }) => {
      this.#failure = new Error(`the separation worker ${what}${event.message === undefined ? '' : `: ${event.message}`}`);
      for (const p of this.#pending.values()) p.reject(this.#failure);
      this.#pending.clear();
    };
    this.#worker.addEventListener('error', fail('failed (its script could not load or threw)'));
    this.#worker.addEventListener('messageerror', fail('sent a message that could not be read'));
  }

  /**
   * Loads a model in the worker, replacing any model loaded before (once a running
   * separation is done).
   *
   * @param model - the model's URL (absolute, or relative to the page) or its bytes (copied).
   * @param options - pinned sha256, cache, backend options, download progress, signal.
   * @returns the model's shape, its execution provider and fallbacks, and whether it came
   *   from the cache.
   * @throws as {@link OrtWebBackend.load}; the signal's reason when aborted.
   */
  load(model: string | URL | ArrayBuffer | Uint8Array, options: WebLoadOptions = {}): Promise<WebModelInfo> {
    let source: string | Uint8Array;
    if (typeof model === 'string' || model instanceof URL) {
      const base = (globalThis as { location?: { href: string } }).location?.href;
      source = base === undefined ? String(model) : new URL(String(model), base).href;
    } else if (model instanceof ArrayBuffer || ArrayBuffer.isView(model)) {
      source = model instanceof ArrayBuffer ? new Uint8Array(model) : new Uint8Array(model.buffer, model.byteOffset, model.byteLength);
    } else {
      return Promise.reject(new TypeError(`model must be a URL or the model bytes (got ${describeValue(model)})`));
    }
    const backend = options.backend;
    const request = {
      type: 'load' as const,
      model: source,
      ...(options.sha256 === undefined ? {} : { sha256: options.sha256 }),
      ...(options.cache === undefined ? {} : { cache: options.cache }),
      ...(options.sources === undefined ? {} : { sources: [...options.sources] }),
      ...(backend === undefined ? {} : { backend: absoluteWasmPaths(backend) }),
    };
    return this.#request(request, [], options.signal, { onDownloadProgress: options.onDownloadProgress }) as Promise<WebModelInfo>;
  }

  /**
   * Separates a track in the worker: an audio file (WAV, MP3, FLAC, Ogg; M4A/AAC where the
   * browser decodes it) is decoded there, mixed to stereo, resampled to 44.1 kHz, then
   * separated.
   *
   * @param input - planar audio at any rate, or a file as a `Blob`/`File` or bytes.
   * @param options - the `Separator`'s options, signal, progress and stage callbacks.
   * @returns the stems at the model's rate, by source name, with the shifts and statistics.
   * @throws DemucsError from decoding (`ERR_AUDIO_FORMAT`, `ERR_AUDIO_TRUNCATED`, …) or from
   *   the separation; the signal's reason when aborted (at once: the worker finishes its
   *   current window and then stops).
   */
  async separate(input: WebSeparatorInput, options: WebSeparateOptions = {}): Promise<WebSeparationResult> {
    const { signal, onProgress, onStage, shiftOffsets, name, transferInput = false, ...separator } = options;
    signal?.throwIfAborted();
    let workerInput: WorkerInput;
    const transfer: Transferable[] = [];
    if (typeof Blob !== 'undefined' && input instanceof Blob) {
      const bytes = new Uint8Array(await input.arrayBuffer());
      signal?.throwIfAborted();
      transfer.push(bytes.buffer);
      const fileName = name ?? (input as { name?: unknown }).name;
      workerInput = { kind: 'encoded', bytes, ...(typeof fileName === 'string' ? { name: fileName } : {}) };
    } else if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
      let bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
      if (transferInput) transfer.push(bytes.buffer);
      else bytes = bytes.slice();
      workerInput = { kind: 'encoded', bytes, ...(name === undefined ? {} : { name }) };
    } else if (typeof input === 'object' && input !== null && Array.isArray((input as PlanarAudio).channels)) {
      const audio = input as PlanarAudio;
      const channels = transferInput ? [...audio.channels] : audio.channels.map((c) => c.slice());
      for (const c of channels) if (!transfer.includes(c.buffer)) transfer.push(c.buffer as ArrayBuffer);
      workerInput = { kind: 'planar', sampleRate: audio.sampleRate, channels };
    } else {
      throw new TypeError(`input must be planar audio, a Blob or the bytes of an audio file (got ${describeValue(input)})`);
    }
    const request = {
      type: 'separate' as const,
      input: workerInput,
      separator: stripUndefined(separator),
      ...(shiftOffsets === undefined ? {} : { shiftOffsets: [...shiftOffsets] }),
    };
    return this.#request(request, transfer, signal, { onProgress, onStage }) as Promise<WebSeparationResult>;
  }

  /**
   * Releases the model and stops the worker. Calls in flight reject.
   */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    try {
      if (this.#failure === undefined) await this.#request({ type: 'dispose' }, [], undefined, {});
    } catch {
      // The worker is stopped below either way.
    } finally {
      this.#disposed = true;
      this.#worker.terminate();
      const error = new DemucsError('ERR_DISPOSED', 'the WebSeparator was disposed');
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
    }
  }

  #request(
    body: DistributiveOmit<WorkerRequest, 'id'>,
    transfer: Transferable[],
    signal: AbortSignal | undefined,
    callbacks: Omit<Pending, 'resolve' | 'reject'>,
  ): Promise<unknown> {
    if (this.#disposed) return Promise.reject(new DemucsError('ERR_DISPOSED', 'the WebSeparator was disposed'));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.#pending.delete(id)) return;
        this.#worker.postMessage({ type: 'cancel', id } satisfies WorkerRequest, []);
        reject(signal!.reason);
      };
      const settle = <T>(f: (v: T) => void) => (v: T): void => {
        signal?.removeEventListener('abort', onAbort);
        f(v);
      };
      this.#pending.set(id, { resolve: settle(resolve), reject: settle(reject), ...callbacks });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#worker.postMessage({ ...body, id } as WorkerRequest, transfer);
    });
  }

  #receive(message: WorkerResponse): void {
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return; // cancelled or unknown: the page has moved on
    switch (message.type) {
      case 'download':
        pending.onDownloadProgress?.(message.progress);
        break;
      case 'stage':
        pending.onStage?.(message.stage);
        break;
      case 'progress':
        pending.onProgress?.(message.progress);
        break;
      case 'result':
        this.#pending.delete(message.id);
        pending.resolve(message.value);
        break;
      case 'error':
        this.#pending.delete(message.id);
        pending.reject(fromWorkerError(message.error));
        break;
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Rebuilds an error that crossed `postMessage`, keeping its class and code. */
function fromWorkerError(e: WorkerError): Error {
  let error: Error;
  if (e.code !== undefined && Object.hasOwn(ERROR_CODES, e.code)) error = new DemucsError(e.code as DemucsErrorCode, e.message);
  else if (e.name === 'TypeError') error = new TypeError(e.message);
  else if (e.name === 'RangeError') error = new RangeError(e.message);
  else if (e.name === 'AbortError' && typeof DOMException === 'function') error = new DOMException(e.message, 'AbortError');
  else {
    error = new Error(e.message);
    error.name = e.name;
  }
  if (e.stack !== undefined && !(error instanceof DOMException)) error.stack = e.stack;
  return error;
}

/** Relative `wasmPaths` are resolved against the page, not the worker's script. */
function absoluteWasmPaths(backend: WorkerBackendOptions): WorkerBackendOptions {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const paths = backend.wasmPaths;
  if (base === undefined || paths === undefined) return { ...backend };
  const abs = (p: string): string => new URL(p, base).href;
  return {
    ...backend,
    wasmPaths:
      typeof paths === 'string'
        ? abs(paths)
        : { ...(paths.wasm === undefined ? {} : { wasm: abs(paths.wasm) }), ...(paths.mjs === undefined ? {} : { mjs: abs(paths.mjs) }) },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
