/**
 * Browser entry (`demucs-mobile/web`): the onnxruntime-web backend (WebGPU, WebAssembly with
 * or without threads), model download with the Cache API and sha256 checks, and a
 * {@link WebSeparator} that runs the whole pipeline in a Web Worker. onnxruntime-web is an
 * optional peer dependency, imported only when a model is loaded; nothing here imports Node
 * modules.
 *
 * @example
 * ```ts
 * // page.ts
 * import { WebSeparator } from 'demucs-mobile/web';
 * const separator = new WebSeparator({ worker: new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' }) });
 * await separator.load('/models/htdemucs.onnx', { sha256 });
 * const { stems } = await separator.separate(file, { onProgress: (p) => console.log(p.fraction) });
 *
 * // worker.ts
 * import { serveSeparation } from 'demucs-mobile/web';
 * serveSeparation();
 * ```
 *
 * @packageDocumentation
 */
export {
  DEFAULT_WEB_PROVIDERS,
  OrtWebBackend,
  type ExecutionReport,
  type OrtWebBackendOptions,
  type OrtWebLoadOptions,
  type OrtWebSession,
  type ProviderFallback,
  type WasmPaths,
  type WebExecutionProvider,
} from './backends/ort-web.js';
export {
  deleteCachedModel,
  fetchModel,
  MODEL_CACHE_NAME,
  sha256Digest,
  type FetchedModel,
  type FetchModelOptions,
  type ModelDownloadProgress,
} from './web/model-cache.js';
export { serveSeparation, type ServeSeparationOptions, type WorkerScope } from './web/separation-worker.js';
export {
  createSeparationWorker,
  WebSeparator,
  type WebLoadOptions,
  type WebSeparateOptions,
  type WebSeparatorInput,
  type WebSeparatorOptions,
  type WorkerLike,
} from './web/web-separator.js';
export type { SeparationStage, WebModelInfo, WebSeparationResult, WorkerBackendOptions } from './web/protocol.js';
