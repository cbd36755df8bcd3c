/**
 * Node.js entry (`demucs-mobile/node`): the onnxruntime-node backend and file helpers,
 * including {@link openAudioFile}, which reads any supported audio file in blocks.
 * onnxruntime-node is an optional peer dependency, imported only when a model is loaded.
 *
 * @packageDocumentation
 */
export {
  OrtNodeBackend,
  type GraphOptimizationLevel,
  type OrtNodeBackendOptions,
  type OrtNodeLoadOptions,
} from './backends/ort-node.js';
export { MALLOC_TUNING } from './node/malloc-tuning.js';
export { sha256Hex, verifySha256, type VerifySha256Options } from './node/sha256.js';
export { cacheDir, CACHE_DIR_ENV } from './node/cache-dir.js';
export { HTDEMUCS_NPM, locatePackagedModel, resolvePackagedModel } from './node/models.js';
export {
  DEFAULT_MODEL_NAME,
  HTDEMUCS,
  MODELS,
  modelUrlEnvName,
  type PackagedModel,
  type RegisteredModel,
} from './node/model-registry.js';
export { download, type DownloadOptions, type DownloadProgress, type DownloadResult } from './node/download.js';
export { extractTarMember, type ExtractedMember, type ExtractTarMemberOptions } from './node/tar.js';
export {
  listModels,
  modelCachePath,
  modelDownloadSource,
  parseModelUrl,
  resolveModel,
  urlCachePath,
  type ModelDownloadSource,
  type ModelFetchProgress,
  type ModelListing,
  type ModelSource,
  type ResolvedModel,
  type ResolveModelOptions,
} from './node/model-store.js';
export { WavFileSource, WavFileWriter, type WavFileWriterOptions } from './node/wav-file.js';
export { AudioFileWriter, type AudioFileWriterOptions } from './node/audio-file-writer.js';
export {
  openAudioFile,
  OPEN_AUDIO_FILE_DEFAULTS,
  type AudioFileReader,
  type OpenAudioFileOptions,
} from './node/audio-file.js';
export { prepareInput, type PrepareInputOptions, type PreparedInput } from './node/prepare-input.js';
export { StemFiles, type StemFilesOptions } from './node/stem-files.js';
export { openBag, type OpenBagOptions, type OpenedBag } from './node/bag-file.js';
