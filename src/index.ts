/**
 * demucs-mobile: HTDemucs v4 music source separation for every JavaScript runtime.
 *
 * This entry is the pure-TypeScript core: the host DSP around the model (STFT, iSTFT,
 * chunking, overlap-add, normalisation, shifts), the {@link Separator} that composes it, and
 * the {@link Backend} contract. It imports no runtime; backends live on their own subpaths
 * (`demucs-mobile/node`, …).
 *
 * @example
 * ```ts
 * import { Separator } from 'demucs-mobile';
 * import { OrtNodeBackend } from 'demucs-mobile/node';
 *
 * const session = await new OrtNodeBackend().load('htdemucs.onnx');
 * const { stems } = await new Separator(session).separate({ sampleRate: 44100, channels: [left, right] });
 * ```
 *
 * @packageDocumentation
 */
export * from './core/constants.js';
export {
  DemucsError,
  ERROR_CODES,
  isDemucsError,
  type DemucsErrorCode,
  type DemucsErrorOptions,
  type ErrorCodeInfo,
} from './core/errors.js';
export { frameCount, type PlanarAudio } from './core/audio.js';
export { arraySource, isAudioSource, type AudioSource } from './core/source.js';
export { periodicHann } from './core/window.js';
export { Stft, stftFrames, type TransformOptions } from './core/stft.js';
export { Istft } from './core/istft.js';
export { fftEngine, loadWasmFft, type FftEngineInfo } from './core/fft.js';
export { Chunker, triangleWeights, type ChunkPlan, type ChunkerOptions } from './core/chunker.js';
export { FULL_PROFILE, MOBILE_PROFILE, type ChunkingProfile } from './core/profiles.js';
export { OverlapAdd, type OverlapAddOptions } from './core/overlap-add.js';
export { trackStats, type TrackStats, type TrackStatsOptions } from './core/normalize.js';
export { PythonRandom } from './core/rng.js';
export {
  defaultSourceNames,
  readModelSpec,
  type Dim,
  type ModelBinding,
  type ModelReading,
  type ModelSpec,
  type ReadModelSpecOptions,
  type TensorInfo,
} from './core/model-spec.js';
export {
  Separator,
  type SeparateOptions,
  type SeparationProgress,
  type SeparationResult,
  type SeparatorOptions,
  type StemBlock,
  type StemStream,
  type StreamInfo,
} from './core/separator.js';
export type { Backend, LoadOptions, ModelSession, ModelSource, WindowInput, WindowOutput } from './backends/backend.js';
export { mixStemOutput, selectStems, type StemOutput, type StemSelection } from './core/stem-selection.js';
export { bagTotal, isModelBag, requiredMembers, validateBag, type BagMember, type ModelBag } from './core/bag.js';
export { BAG_MANIFEST_FORMAT, parseBagManifest, type BagManifest, type BagManifestMember } from './core/manifest.js';
export { readOnnxMetadata, sourcesFromMetadata, type AsyncByteReader } from './core/onnx-metadata.js';
