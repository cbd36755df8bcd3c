/**
 * The onnxruntime-web backend: WebGPU when the browser has an adapter, WebAssembly otherwise
 * (multi-threaded when the page is cross-origin isolated). onnxruntime-web is an optional
 * peer dependency, loaded with a dynamic `import()` on the first load, so bundlers put it in
 * its own chunk and importing this module costs nothing.
 */
import type { InferenceSession } from 'onnxruntime-common';
import { DemucsError, describeValue } from '../core/errors.js';
import type { Backend, LoadOptions, ModelSession, ModelSource } from './backend.js';
import { OrtModelSession, type OrtModule, type OrtSessionLike } from './ort-session.js';
import { checkSha256, checkSha256Option, fetchModel, type ModelDownloadProgress } from '../web/model-cache.js';

/** An onnxruntime-web execution provider this backend can choose. */
export type WebExecutionProvider = 'webgpu' | 'wasm';

/** The providers {@link OrtWebBackend} tries, in order, unless told otherwise. */
export const DEFAULT_WEB_PROVIDERS: readonly WebExecutionProvider[] = Object.freeze(['webgpu', 'wasm']);

/** A provider (or thread count) that was wanted but not used, and why. */
export interface ProviderFallback {
  /** The provider passed over. */
  readonly provider: WebExecutionProvider;
  /** For `'wasm'`: the thread count that could not be used. */
  readonly threads?: number;
  /** Why, in words: `'navigator.gpu is undefined …'`, `'the page is not cross-origin isolated …'`, … */
  readonly reason: string;
}

/** Which execution provider a session runs on, and why the ones before it were passed over. */
export interface ExecutionReport {
  /** The provider the session runs on. */
  readonly provider: WebExecutionProvider;
  /**
   * WebAssembly threads (`ort.env.wasm.numThreads` as onnxruntime-web runs it). With WebGPU
   * they serve the operators that stay on the CPU.
   */
  readonly threads: number;
  /** Each provider or thread count passed over before this one, in order, with its reason. */
  readonly fallbacks: readonly ProviderFallback[];
  /** Whether the context was cross-origin isolated (needed for WebAssembly threads). */
  readonly crossOriginIsolated: boolean;
}

/** A model session of {@link OrtWebBackend}, with the provider it runs on. */
export interface OrtWebSession extends ModelSession {
  /** The chosen provider, threads and fallback reasons. */
  readonly execution: ExecutionReport;
}

/**
 * Where onnxruntime-web finds its WebAssembly files: a URL prefix (a directory ending in
 * `/`), or the URL of each file.
 */
export type WasmPaths =
  | string
  | {
      /** URL of the `.wasm` binary. */
      readonly wasm?: string;
      /** URL of the `.mjs` glue (builds that load it separately). */
      readonly mjs?: string;
    };

/** Options of {@link OrtWebBackend}. */
export interface OrtWebBackendOptions {
  /**
   * Providers to try, in order; the first that loads the model wins.
   * @defaultValue `['webgpu', 'wasm']` ({@link DEFAULT_WEB_PROVIDERS})
   */
  readonly providers?: readonly WebExecutionProvider[];
  /**
   * WebAssembly threads. More than 1 needs a cross-origin isolated page (COOP `same-origin` and
   * COEP `require-corp` or `credentialless`); elsewhere 1 is used and the reason reported.
   * onnxruntime-web reads this once per page or worker: the first load decides.
   * @defaultValue `navigator.hardwareConcurrency` when isolated, else 1
   */
  readonly threads?: number;
  /**
   * Where onnxruntime-web's `.wasm` and `.mjs` files are served (`ort.env.wasm.wasmPaths`),
   * for bundles that do not carry them; for example `'/ort/'` with
   * `node_modules/onnxruntime-web/dist/` served there.
   * @defaultValue onnxruntime-web's own default (next to its script)
   */
  readonly wasmPaths?: WasmPaths;
  /**
   * An onnxruntime-web module already imported by the host (`import * as ort from
   * 'onnxruntime-web'`), used instead of importing it here.
   * @defaultValue `await import('onnxruntime-web/wasm')` for WebAssembly, `await import('onnxruntime-web')` for WebGPU
   */
  readonly ort?: unknown;
  /**
   * Use WebGPU on a software adapter (SwiftShader, llvmpipe, a fallback adapter). Off, such an
   * adapter is passed over with its reason: on it one htdemucs window did not finish in 10
   * minutes where WebAssembly took under a minute (docs/benchmarks.md).
   * @defaultValue false
   */
  readonly softwareGpu?: boolean;
  /**
   * Raw onnxruntime session options, applied last (the execution provider is this backend's).
   * @defaultValue none
   */
  readonly sessionOptions?: InferenceSession.SessionOptions;
}

/** Options of {@link OrtWebBackend.load}. */
export interface OrtWebLoadOptions extends LoadOptions {
  /**
   * The model's expected sha256 (hex). Bytes are checked before they are loaded; a URL's
   * download is checked, and cached under the digest (see {@link fetchModel}).
   * @defaultValue no check
   */
  readonly sha256?: string;
  /**
   * For a URL: the Cache API cache to keep the model in, or `false` for none.
   * @defaultValue `'demucs-mobile-models'`
   */
  readonly cache?: string | false;
  /** For a URL: download progress. */
  readonly onDownloadProgress?: (progress: ModelDownloadProgress) => void;
}

/** The onnxruntime-web module, as much of it as this backend uses. */
interface OrtWeb extends OrtModule {
  readonly InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<unknown> };
  readonly env: {
    wasm: { numThreads?: number; wasmPaths?: WasmPaths; proxy?: boolean };
    webgpu?: { adapter?: unknown };
    logLevel?: string;
  };
}

/** What this module knows about the onnxruntime-web instance it initialised. */
interface OrtState {
  readonly ort: OrtWeb;
  /** Threads the WebAssembly runtime was started with, once a session was created. */
  threads: number | undefined;
}

const states = new WeakMap<object, OrtState>();
const importing = new Map<OrtBuild, Promise<OrtWeb>>();

/**
 * Which onnxruntime-web build a provider loads: `'wasm'` is `onnxruntime-web/wasm`, the
 * WebAssembly-only build; `'webgpu'` is `onnxruntime-web`, which adds WebGPU (JSEP). The
 * WebAssembly-only build is the one used for the CPU: it is smaller (14 MB of WebAssembly
 * instead of 28 MB), loads htdemucs faster and has no slow first window (docs/benchmarks.md).
 *
 * @internal
 */
export type OrtBuild = 'wasm' | 'webgpu';

/**
 * Imports an onnxruntime-web build once.
 *
 * @internal
 */
export function loadOrtWeb(build: OrtBuild): Promise<OrtWeb> {
  let promise = importing.get(build);
  if (promise === undefined) {
    promise = (async () => {
      try {
        const mod = (build === 'wasm' ? await import('onnxruntime-web/wasm') : await import('onnxruntime-web')) as { default?: unknown };
        return (mod.default ?? mod) as OrtWeb;
      } catch (cause) {
        importing.delete(build);
        throw new DemucsError('ERR_RUNTIME_MISSING', 'onnxruntime-web is not installed; install it with `npm install onnxruntime-web`', { cause });
      }
    })();
    importing.set(build, promise);
  }
  return promise;
}

/** Whether WebAssembly threads can run here: a cross-origin isolated page, or a runtime without the concept (Node). */
function isolation(): { isolated: boolean; threadsPossible: boolean } {
  const flag = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  const sab = typeof SharedArrayBuffer === 'function';
  return { isolated: flag === true, threadsPossible: sab && flag !== false };
}

interface GpuLike {
  requestAdapter(options?: object): Promise<unknown>;
}

/** A description of a CPU-emulated WebGPU adapter (SwiftShader, a fallback adapter), else undefined. */
function softwareAdapter(adapter: unknown): string | undefined {
  const a = adapter as { isFallbackAdapter?: boolean; info?: { isFallbackAdapter?: boolean; vendor?: string; architecture?: string; device?: string; description?: string } };
  const info = a.info ?? {};
  const name = [info.vendor, info.architecture, info.device, info.description].filter((x) => typeof x === 'string' && x !== '').join(' ');
  if (a.isFallbackAdapter === true || info.isFallbackAdapter === true) return name === '' ? 'a fallback adapter' : name;
  return /swiftshader|llvmpipe|lavapipe|software/i.test(name) ? name : undefined;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs HTDemucs in browsers (and Web Workers) through onnxruntime-web: WebGPU when the
 * browser has an adapter, else WebAssembly, with every fallback and its reason reported in
 * {@link OrtWebSession.execution}.
 *
 * @remarks
 * Run it in a Web Worker (see {@link WebSeparator}): WebAssembly inference occupies the
 * thread it runs on for each window. Fallback order: each provider of
 * {@link OrtWebBackendOptions.providers} in turn; WebGPU is passed over when
 * `navigator.gpu` is missing, when `requestAdapter()` gives no adapter or only a software one
 * (see {@link OrtWebBackendOptions.softwareGpu}), or when the session
 * cannot be created on it. WebAssembly runs with
 * {@link OrtWebBackendOptions.threads} threads when the page is cross-origin isolated and
 * with 1 otherwise.
 *
 * @example
 * ```ts
 * import { Separator } from 'demucs-mobile';
 * import { OrtWebBackend } from 'demucs-mobile/web';
 *
 * const session = await new OrtWebBackend({ wasmPaths: '/ort/' }).load('/models/htdemucs.onnx', { sha256 });
 * session.execution; // { provider: 'wasm', threads: 4, fallbacks: [{ provider: 'webgpu', reason: 'navigator.gpu is undefined …' }], … }
 * const { stems } = await new Separator(session).separate(audio);
 * ```
 */
export class OrtWebBackend implements Backend {
  /** `'onnxruntime-web'`. */
  readonly name = 'onnxruntime-web';
  readonly #options: OrtWebBackendOptions;

  /**
   * @param options - providers, threads, where the WebAssembly files are, raw session options.
   * @throws RangeError for an unknown provider, an empty provider list or a non-positive
   *   thread count.
   */
  constructor(options: OrtWebBackendOptions = {}) {
    const providers = options.providers;
    if (providers !== undefined) {
      if (!Array.isArray(providers) || providers.length === 0) {
        throw new RangeError(`providers (${describeValue(providers)}) must be a non-empty array of 'webgpu' and 'wasm'`);
      }
      providers.forEach((p: unknown, i) => {
        if (p !== 'webgpu' && p !== 'wasm') throw new RangeError(`providers[${i}] (${describeValue(p)}) must be one of 'webgpu', 'wasm'`);
      });
    }
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) {
      throw new RangeError(`threads (${describeValue(options.threads)}) must be a positive integer`);
    }
    this.#options = options;
  }

  /**
   * Loads a model from a URL (downloaded once, then read from the Cache API) or from bytes.
   *
   * @param model - the model's URL (absolute, or relative to the page or worker) or its bytes.
   * @param options - pinned sha256, cache, download progress, source names, a signal.
   * @returns a session with `maxBatch` 1 and its {@link OrtWebSession.execution} report.
   * @throws DemucsError `ERR_MODEL_DOWNLOAD`, `ERR_MODEL_CHECKSUM`, `ERR_MODEL_LOAD` (no
   *   provider could load the model; the message lists each provider's reason),
   *   `ERR_MODEL_SHAPE` (not HTDemucs), `ERR_RUNTIME_MISSING` (onnxruntime-web not installed).
   */
  async load(model: ModelSource, options: OrtWebLoadOptions = {}): Promise<OrtWebSession> {
    const { signal, sha256 } = options;
    checkSha256Option(sha256);
    signal?.throwIfAborted();
    let bytes: Uint8Array;
    if (typeof model === 'string' || model instanceof URL) {
      const fetched = await fetchModel(model, {
        ...(sha256 === undefined ? {} : { sha256 }),
        ...(options.cache === undefined ? {} : { cache: options.cache }),
        ...(options.onDownloadProgress === undefined ? {} : { onProgress: options.onDownloadProgress }),
        ...(signal === undefined ? {} : { signal }),
      });
      bytes = fetched.bytes;
    } else if (model instanceof Uint8Array || model instanceof ArrayBuffer || ArrayBuffer.isView(model)) {
      bytes = model instanceof ArrayBuffer ? new Uint8Array(model) : new Uint8Array(model.buffer, model.byteOffset, model.byteLength);
      if (sha256 !== undefined) await checkSha256(bytes, sha256, `the model bytes (${bytes.byteLength})`);
    } else {
      throw new TypeError(`model must be a URL or the model bytes (got ${describeValue(model)})`);
    }
    signal?.throwIfAborted();

    const fallbacks: ProviderFallback[] = [];
    const { isolated, threadsPossible } = isolation();
    const errors: string[] = [];
    for (const provider of this.#options.providers ?? DEFAULT_WEB_PROVIDERS) {
      signal?.throwIfAborted();
      let gpuAdapter: unknown;
      const skip = (reason: string): void => {
        fallbacks.push({ provider, reason });
        errors.push(`${provider}: ${reason}`);
      };
      if (provider === 'webgpu') {
        const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
        if (gpu === undefined) {
          skip('navigator.gpu is undefined (no WebGPU in this browser or context)');
          continue;
        }
        let adapter: unknown;
        try {
          adapter = await gpu.requestAdapter();
        } catch (e) {
          skip(`navigator.gpu.requestAdapter() failed: ${errorText(e)}`);
          continue;
        }
        if (adapter === null || adapter === undefined) {
          skip('navigator.gpu.requestAdapter() returned null (no usable GPU adapter)');
          continue;
        }
        const software = softwareAdapter(adapter);
        if (software !== undefined && this.#options.softwareGpu !== true) {
          skip(`the only GPU adapter is a software one (${software}), far slower than WebAssembly on the same CPU`);
          continue;
        }
        gpuAdapter = adapter;
      }
      const ort = (this.#options.ort as OrtWeb | undefined) ?? (await loadOrtWeb(provider));
      let state = states.get(ort);
      if (state === undefined) states.set(ort, (state = { ort, threads: undefined }));
      // Hand onnxruntime the adapter found here rather than have it ask again.
      if (gpuAdapter !== undefined && ort.env.webgpu !== undefined) ort.env.webgpu.adapter = gpuAdapter;
      const threads = this.#configureThreads(state, provider, threadsPossible, isolated, fallbacks);
      try {
        const session = await ort.InferenceSession.create(bytes, {
          executionProviders: [provider],
          ...this.#options.sessionOptions,
        });
        state.threads ??= ort.env.wasm.numThreads ?? threads;
        const execution: ExecutionReport = Object.freeze({
          provider,
          threads: state.threads,
          fallbacks: Object.freeze(fallbacks.map((f) => Object.freeze(f))),
          crossOriginIsolated: isolated,
        });
        try {
          return new OrtWebModelSession(ort, session as OrtSessionLike, execution, options.sources);
        } catch (e) {
          await (session as OrtSessionLike).release();
          throw e;
        }
      } catch (e) {
        if (e instanceof DemucsError) throw e;
        state.threads ??= ort.env.wasm.numThreads;
        skip(`onnxruntime-web could not create a session: ${errorText(e)}`);
      }
    }
    throw new DemucsError('ERR_MODEL_LOAD', `onnxruntime-web could not load the model (${bytes.byteLength} bytes) on any provider: ${errors.join('; ')}`);
  }

  /**
   * Sets onnxruntime-web's process-wide WebAssembly settings before its first session, and
   * records why fewer threads than wanted are used.
   */
  #configureThreads(state: OrtState, provider: WebExecutionProvider, threadsPossible: boolean, isolated: boolean, fallbacks: ProviderFallback[]): number {
    const hardware = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
    const wanted = this.#options.threads ?? Math.max(1, hardware ?? 1);
    let threads: number;
    let reason: string;
    if (state.threads !== undefined) {
      threads = state.threads;
      reason = `onnxruntime-web already runs with ${threads} thread(s) in this context (the first session fixes its thread count)`;
    } else {
      threads = wanted > 1 && !threadsPossible ? 1 : wanted;
      const env = state.ort.env.wasm;
      env.numThreads = threads;
      // This backend is meant to run in a worker already; onnxruntime's own proxy worker would copy every tensor once more.
      env.proxy = false;
      if (this.#options.wasmPaths !== undefined) env.wasmPaths = this.#options.wasmPaths;
      reason = '';
    }
    if (!threadsPossible && threads < wanted) {
      reason = isolated
        ? 'SharedArrayBuffer is unavailable, so WebAssembly threads cannot run'
        : 'the page is not cross-origin isolated (crossOriginIsolated is false), so WebAssembly threads cannot run; serve it with ' +
          "'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp'";
    }
    if (provider === 'wasm' && threads < wanted) fallbacks.push({ provider: 'wasm', threads: wanted, reason });
    return threads;
  }
}

/** An {@link OrtModelSession} that also says which provider it runs on. @internal */
class OrtWebModelSession extends OrtModelSession implements OrtWebSession {
  readonly execution: ExecutionReport;

  constructor(ort: OrtModule, session: OrtSessionLike, execution: ExecutionReport, sources: readonly string[] | undefined) {
    super(ort, session, sources);
    this.execution = execution;
  }
}
