/**
 * The contract every backend implements: load a model, run windows through it. The core
 * does all DSP; a backend only moves tensors in and out of a runtime.
 */
import type { ModelSpec } from '../core/model-spec.js';
import type { Separator } from '../core/separator.js';

/**
 * Where a model comes from: a file path or `file:` URL (Node), or the model bytes.
 */
export type ModelSource = string | URL | Uint8Array | ArrayBuffer;

/** Options every backend understands when loading a model. */
export interface LoadOptions {
  /** Cancels a load in progress where the runtime allows it. */
  readonly signal?: AbortSignal;
  /**
   * Source names in output order, when the model does not say.
   * @defaultValue by source count: drums, bass, other, vocals (4); plus guitar, piano (6).
   */
  readonly sources?: readonly string[];
}

/**
 * One model window going in: the normalised stereo waveform and its CaC spectrogram.
 * Arrays are passed as views and are not kept after `run` resolves.
 */
export interface WindowInput {
  /** `[2, L]` planar waveform in track-normalised units. */
  readonly wave: Float32Array;
  /** `[4, F, T]` CaC spectrogram of `wave`. */
  readonly spec: Float32Array;
}

/** One model window coming out: both branches for every source. */
export interface WindowOutput {
  /** `[S, 4, F, T]` spectral branch, CaC per source. */
  readonly spec: Float32Array;
  /** `[S, 2, L]` time branch. */
  readonly wave: Float32Array;
}

/**
 * A loaded model.
 *
 * A local session (onnxruntime) has `maxBatch` 1 and runs off the JavaScript thread, so the
 * core prepares the next window while one runs. A cloud session takes many windows per call,
 * because provisioning a device, not inference, dominates its time.
 */
export interface ModelSession {
  /** The model's shape, read from the graph. */
  readonly spec: ModelSpec;
  /**
   * Most windows one {@link ModelSession.run} call accepts. The {@link Separator} hands a
   * session with `maxBatch` above 1 up to that many consecutive windows per call (holding
   * their inputs and outputs at once); with 1 it pipelines one window at a time.
   */
  readonly maxBatch: number;
  /**
   * Runs windows through the model.
   *
   * @param batch - 1 … `maxBatch` windows.
   * @param signal - cancels the call where the runtime allows it; the promise then rejects
   *   with the signal's reason.
   * @returns one output per window, in order.
   */
  run(batch: readonly WindowInput[], signal?: AbortSignal): Promise<WindowOutput[]>;
  /** Releases the runtime's resources. The session cannot be used afterwards. */
  dispose(): Promise<void>;
}

/**
 * A runtime that can load HTDemucs models.
 *
 * @example
 * ```ts
 * import { OrtNodeBackend } from 'demucs-mobile/node';
 * const session = await new OrtNodeBackend().load('htdemucs.onnx');
 * ```
 */
export interface Backend {
  /** A short identifier, for logs and progress events (`'onnxruntime-node'`, …). */
  readonly name: string;
  /**
   * Loads a model.
   *
   * @param model - a path, URL or the model bytes.
   * @param options - common and backend-specific options.
   */
  load(model: ModelSource, options?: LoadOptions): Promise<ModelSession>;
}
