/**
 * The worker side of {@link WebSeparator}: loads the model with {@link OrtWebBackend} and runs
 * the whole pipeline (decode, downmix, resample, separate) off the page's thread.
 */
import type { PlanarAudio } from '../core/audio.js';
import { Separator } from '../core/separator.js';
import { decodeAudio } from '../io/decode.js';
import { downmixToStereo } from '../io/channels.js';
import { resample } from '../io/resample.js';
import { OrtWebBackend, type OrtWebSession } from '../backends/ort-web.js';
import { fetchModel } from './model-cache.js';
import type { SeparationStage, WebModelInfo, WebSeparationResult, WorkerError, WorkerRequest, WorkerResponse } from './protocol.js';

/** The part of a worker's global scope {@link serveSeparation} uses. */
export interface WorkerScope {
  /** The worker's name (onnxruntime-web names its own thread workers `em-pthread…`). */
  readonly name?: string;
  /** Sends a message to the page. */
  postMessage(message: unknown, transfer: Transferable[]): void;
  /** Listens for the page's messages. */
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
}

/** Options of {@link serveSeparation}. */
export interface ServeSeparationOptions {
  /**
   * An onnxruntime-web module the worker imported itself (`import * as ort from
   * 'onnxruntime-web/wasm'`), used instead of a dynamic import.
   * @defaultValue as {@link OrtWebBackendOptions.ort}
   */
  readonly ort?: unknown;
}

/**
 * Serves {@link WebSeparator} requests in this Web Worker. Call it once from the worker's
 * script; `demucs-mobile/web-worker` is a ready-made script that does only this.
 *
 * @remarks
 * Loads are serialised with separations: a new model replaces the old one once the running
 * separation is done. A cancelled separation stops at the next model window (a window in
 * flight cannot be interrupted). When the script is also loaded as one of onnxruntime-web's
 * own thread workers (a bundle that inlines onnxruntime-web does that), this returns false
 * and does nothing, so those workers stay onnxruntime's.
 *
 * @param scope - the worker's global scope.
 * @param options - an onnxruntime-web module to use.
 * @returns whether the worker now serves requests.
 *
 * @example
 * ```ts
 * // separation-worker.ts, bundled as the worker's script
 * import { serveSeparation } from 'demucs-mobile/web';
 * serveSeparation();
 * ```
 */
export function serveSeparation(scope: WorkerScope = globalThis as unknown as WorkerScope, options: ServeSeparationOptions = {}): boolean {
  if (typeof scope.name === 'string' && scope.name.startsWith('em-pthread')) return false;
  const controllers = new Map<number, AbortController>();
  let session: Promise<OrtWebSession> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const serialize = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  };
  const post = (message: WorkerResponse, transfer: Transferable[] = []): void => scope.postMessage(message, transfer);

  const load = async (request: Extract<WorkerRequest, { type: 'load' }>, signal: AbortSignal): Promise<WebModelInfo> => {
    const started = performance.now();
    const previous = session;
    let fromCache = false;
    const next = serialize(async () => {
      await previous?.then((s) => s.dispose()).catch(() => undefined);
      const backend = new OrtWebBackend({ ...request.backend, ...(options.ort === undefined ? {} : { ort: options.ort }) });
      let model = request.model;
      if (typeof model === 'string') {
        const fetched = await fetchModel(model, {
          ...(request.sha256 === undefined ? {} : { sha256: request.sha256 }),
          ...(request.cache === undefined ? {} : { cache: request.cache }),
          onProgress: (progress) => post({ type: 'download', id: request.id, progress }),
          signal,
        });
        fromCache = fetched.fromCache;
        model = fetched.bytes;
        return backend.load(model, { signal, ...(request.sources === undefined ? {} : { sources: request.sources }) });
      }
      return backend.load(model, {
        signal,
        ...(request.sha256 === undefined ? {} : { sha256: request.sha256 }),
        ...(request.sources === undefined ? {} : { sources: request.sources }),
      });
    });
    session = next;
    const loaded = await next;
    return { spec: loaded.spec, execution: loaded.execution, fromCache, seconds: (performance.now() - started) / 1000 };
  };

  const separate = async (request: Extract<WorkerRequest, { type: 'separate' }>, signal: AbortSignal): Promise<{ value: WebSeparationResult; transfer: Transferable[] }> => {
    const stage = (s: SeparationStage): void => post({ type: 'stage', id: request.id, stage: s });
    const { input } = request;
    // Decode before waiting for the model, so a bad file is reported at once.
    let audio: PlanarAudio;
    if (input.kind === 'encoded') {
      stage('decoding');
      audio = await decodeAudio(input.bytes, input.name === undefined ? {} : { name: input.name });
    } else {
      audio = { sampleRate: input.sampleRate, channels: input.channels };
    }
    signal.throwIfAborted();
    if (audio.channels.length > 2) audio = { sampleRate: audio.sampleRate, channels: downmixToStereo(audio.channels) };
    if (session === undefined) throw new Error('no model loaded: call load() before separate()');
    const current = session;
    let ready = false;
    void current.then(() => (ready = true), () => undefined);
    await Promise.resolve();
    if (!ready) stage('waiting-for-model');
    const model = await current;
    signal.throwIfAborted();
    const inputSampleRate = audio.sampleRate;
    if (audio.sampleRate !== model.spec.sampleRate) {
      stage('resampling');
      audio = resample(audio, model.spec.sampleRate);
    }
    return serialize(async () => {
      signal.throwIfAborted();
      stage('separating');
      const started = performance.now();
      const separator = new Separator(model, request.separator ?? {});
      const result = await separator.separate(audio, {
        signal,
        onProgress: (progress) => post({ type: 'progress', id: request.id, progress }),
        ...(request.shiftOffsets === undefined ? {} : { shiftOffsets: request.shiftOffsets }),
      });
      const value: WebSeparationResult = {
        sampleRate: result.sampleRate,
        inputSampleRate,
        sources: result.sources,
        stems: result.stems,
        shiftOffsets: result.shiftOffsets,
        seed: result.seed,
        stats: result.stats,
        seconds: (performance.now() - started) / 1000,
      };
      const transfer = Object.values(result.stems).flatMap((channels) => channels.map((c) => c.buffer as ArrayBuffer));
      return { value, transfer };
    });
  };

  scope.addEventListener('message', (event) => {
    const request = event.data as WorkerRequest;
    if (request === null || typeof request !== 'object' || typeof request.id !== 'number') return;
    if (request.type === 'cancel') {
      controllers.get(request.id)?.abort(new DOMException('the separation was cancelled', 'AbortError'));
      return;
    }
    const controller = new AbortController();
    controllers.set(request.id, controller);
    const work = async (): Promise<{ value: unknown; transfer: Transferable[] }> => {
      switch (request.type) {
        case 'load':
          return { value: await load(request, controller.signal), transfer: [] };
        case 'separate':
          return separate(request, controller.signal);
        case 'dispose': {
          const current = session;
          session = undefined;
          await serialize(async () => (await current?.catch(() => undefined))?.dispose());
          return { value: undefined, transfer: [] };
        }
        default:
          throw new TypeError(`unknown request type ${JSON.stringify((request as { type?: unknown }).type)}`);
      }
    };
    work().then(
      ({ value, transfer }) => post({ type: 'result', id: request.id, value }, transfer),
      (e: unknown) => post({ type: 'error', id: request.id, error: toWorkerError(e) }),
    ).finally(() => controllers.delete(request.id));
  });
  return true;
}

function toWorkerError(e: unknown): WorkerError {
  if (e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e)) {
    const err = e as { name?: unknown; message?: unknown; code?: unknown; stack?: unknown };
    return {
      name: typeof err.name === 'string' ? err.name : 'Error',
      message: String(err.message),
      ...(typeof err.code === 'string' ? { code: err.code } : {}),
      ...(typeof err.stack === 'string' ? { stack: err.stack } : {}),
    };
  }
  return { name: 'Error', message: String(e) };
}
