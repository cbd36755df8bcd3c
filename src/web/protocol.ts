/**
 * Messages between {@link WebSeparator} (the page) and {@link serveSeparation} (the worker).
 * Every request carries an `id`; the worker answers each with exactly one `result` or
 * `error`, after any number of `download`, `stage` and `progress` events.
 */
import type { ModelSpec } from '../core/model-spec.js';
import type { TrackStats } from '../core/normalize.js';
import type { SeparationProgress, SeparatorOptions } from '../core/separator.js';
import type { ExecutionReport, WebExecutionProvider, WasmPaths } from '../backends/ort-web.js';
import type { ModelDownloadProgress } from './model-cache.js';

/** The part of {@link OrtWebBackendOptions} that can cross `postMessage`. */
export interface WorkerBackendOptions {
  /** Providers to try, in order. */
  readonly providers?: readonly WebExecutionProvider[];
  /** WebAssembly threads. */
  readonly threads?: number;
  /** Where onnxruntime-web's files are served, absolute or relative to the page. */
  readonly wasmPaths?: WasmPaths;
  /** Use WebGPU on a software adapter. */
  readonly softwareGpu?: boolean;
}

/** What a separation is asked to work on. @internal */
export type WorkerInput =
  | { readonly kind: 'planar'; readonly sampleRate: number; readonly channels: readonly Float32Array[] }
  | { readonly kind: 'encoded'; readonly bytes: Uint8Array; readonly name?: string };

/** A stage of a separation, reported as it starts. */
export type SeparationStage = 'decoding' | 'resampling' | 'waiting-for-model' | 'separating';

/** Requests from the page. @internal */
export type WorkerRequest =
  | {
      readonly type: 'load';
      readonly id: number;
      readonly model: string | Uint8Array;
      readonly sha256?: string;
      readonly cache?: string | false;
      readonly sources?: readonly string[];
      readonly backend?: WorkerBackendOptions;
    }
  | {
      readonly type: 'separate';
      readonly id: number;
      readonly input: WorkerInput;
      readonly separator?: SeparatorOptions;
      readonly shiftOffsets?: readonly number[];
    }
  | { readonly type: 'cancel'; readonly id: number }
  | { readonly type: 'dispose'; readonly id: number };

/** What a load resolves to. */
export interface WebModelInfo {
  /** The model's shape, read from the graph. */
  readonly spec: ModelSpec;
  /** The provider it runs on, and why others were passed over. */
  readonly execution: ExecutionReport;
  /** Whether the model came from the Cache API (false for bytes and for a fresh download). */
  readonly fromCache: boolean;
  /** Seconds spent downloading or reading the model and creating the session. */
  readonly seconds: number;
}

/** The stems of a separation, as the worker sends them (their buffers transferred). */
export interface WebSeparationResult {
  /** Sample rate of the stems: the model's, 44100 Hz. */
  readonly sampleRate: number;
  /** Sample rate of the input before resampling. */
  readonly inputSampleRate: number;
  /** Source names in model output order. */
  readonly sources: readonly string[];
  /** Stereo stems by source name, `[left, right]`, each the (resampled) track's length. */
  readonly stems: Readonly<Record<string, readonly Float32Array[]>>;
  /** The shift draws used (empty for `shifts: 0`). */
  readonly shiftOffsets: readonly number[];
  /** The seed the draws came from, when shifts were drawn. */
  readonly seed: number | bigint | undefined;
  /** The whole-track normalisation. */
  readonly stats: TrackStats;
  /** Seconds spent in the model pass (after decoding, resampling and waiting for the model). */
  readonly seconds: number;
}

/** An error as it crosses `postMessage`. @internal */
export interface WorkerError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly stack?: string;
}

/** Messages from the worker. @internal */
export type WorkerResponse =
  | { readonly type: 'download'; readonly id: number; readonly progress: ModelDownloadProgress }
  | { readonly type: 'stage'; readonly id: number; readonly stage: SeparationStage }
  | { readonly type: 'progress'; readonly id: number; readonly progress: SeparationProgress }
  | { readonly type: 'result'; readonly id: number; readonly value: unknown }
  | { readonly type: 'error'; readonly id: number; readonly error: WorkerError };
