/**
 * Qualcomm AI Hub (`demucs-mobile/qualcomm`): run HTDemucs on a phone's NPU (Samsung Galaxy
 * S24, Snapdragon 8 Gen 3) through AI Hub's cloud devices. Node only (it reads model files,
 * the `~/.qai_hub/client.ini` token file and hashes with `node:crypto`).
 *
 * - {@link QualcommHubBackend}: `compile` (fp16, or int8 / w8a16 with calibration windows),
 *   `profile` (latency, memory) and `load`, whose sessions pack a track's windows into as
 *   few inference jobs as the size limit allows. Compiled models are cached.
 * - {@link QaiHubClient}: the AI Hub REST client (binary protobuf over HTTP, presigned
 *   uploads and downloads, retries, polling), usable on its own.
 * - {@link writeDataset} / {@link readDataset}: AI Hub's HDF5 dataset layout.
 * - The API's protobuf messages (`JobSchema`, `CompileJob`, …), generated from `hub.proto`.
 *
 * The mobile path uses {@link MOBILE_PROFILE}: a model retargeted to 1 s windows (44100
 * samples) and 25 % overlap; docs/mobile.md explains it and what it costs in quality.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { MOBILE_PROFILE, Separator } from 'demucs-mobile';
 * import { readModel, retargetSegment, writeModel } from 'demucs-mobile/quant';
 * import { QualcommHubBackend } from 'demucs-mobile/qualcomm';
 *
 * const model = readModel(readFileSync('htdemucs.onnx'));
 * retargetSegment(model, MOBILE_PROFILE.segmentSamples);
 * const hub = new QualcommHubBackend(); // token: QAIHUB_API_TOKEN or ~/.qai_hub/client.ini
 * const session = await hub.load(writeModel(model), { device: 'Samsung Galaxy S24', precision: 'fp16' });
 * const { stems } = await new Separator(session, { shifts: 0, overlap: MOBILE_PROFILE.overlap }).separate(audio);
 * ```
 *
 * @packageDocumentation
 */
export { FULL_PROFILE, MOBILE_PROFILE, type ChunkingProfile } from './core/profiles.js';
export type { WindowInput } from './backends/backend.js';
export {
  DEFAULT_HUB_DEVICE,
  hubCompileOptions,
  isCompiledHubModel,
  QualcommHubBackend,
  QualcommHubSession,
  type CompiledHubModel,
  type HubCompileOptions,
  type HubCachedEvent,
  type HubDeviceInfo,
  type HubDownloadEvent,
  type HubEvent,
  type HubJobEvent,
  type HubResubmitEvent,
  type HubUploadEvent,
  type HubInferenceJobRecord,
  type HubLoadOptions,
  type HubPrecision,
  type HubProfile,
  type HubTargetRuntime,
  type QualcommHubBackendOptions,
} from './backends/qualcomm-hub/backend.js';
export {
  isTransientFailure,
  jobParts,
  jobStateName,
  QAI_HUB_PROTOCOL_VERSION,
  QaiHubClient,
  type AnyHubJob,
  type CompileJobRequest,
  type DeviceQuery,
  type HubDownload,
  type HubDtype,
  type HubJobParts,
  type HubJobStateEvent,
  type HubJobType,
  type HubPollOptions,
  type HubRateLimitOptions,
  type HubRetryOptions,
  type HubTensorSpec,
  type HubUploadOptions,
  type InferenceJobRequest,
  type ProfileJobRequest,
  type QaiHubClientOptions,
  type UploadDatasetOptions,
  type UploadModelOptions,
  type WaitForJobOptions,
} from './backends/qualcomm-hub/client.js';
export { readDataset, writeDataset, type DatasetEntry, type HubArrayData, type HubTensor, type WriteDatasetOptions } from './backends/qualcomm-hub/datasets.js';
export {
  DEFAULT_HUB_URL,
  HUB_CLIENT_INI_ENV,
  HUB_TOKEN_ENV,
  parseIni,
  resolveHubConfig,
  type HubConfig,
  type HubConfigOptions,
} from './backends/qualcomm-hub/config.js';
export { QualcommHubError, type QualcommHubErrorCode, type QualcommHubErrorDetails } from './backends/qualcomm-hub/errors.js';
export { FileHubCache, MemoryHubCache, type HubCache } from './backends/qualcomm-hub/cache.js';
export * from './backends/qualcomm-hub/gen/hub_pb.js';
