/**
 * The Qualcomm AI Hub backend: compiles HTDemucs for a phone's NPU on AI Hub and runs a
 * track's windows there as inference jobs, many windows per job. Node only.
 *
 * The host keeps all DSP (STFT, iSTFT, overlap-add); AI Hub sees only the model's two input
 * tensors per window and returns its two outputs, bound by rank as every backend does.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DemucsError } from '../../core/errors.js';
import { readModelSpec, type ModelBinding, type ModelSpec, type TensorInfo } from '../../core/model-spec.js';
import { cacheDir } from '../../node/cache-dir.js';
import { valueInfoDims } from '../../quant/onnx-io.js';
import { ValueInfoProtoSchema, type ValueInfoProto } from '../../quant/gen/onnx_pb.js';
import type { Backend, LoadOptions, ModelSession, ModelSource, WindowInput, WindowOutput } from '../backend.js';
import { FileHubCache, type HubCache } from './cache.js';
import { isTransientFailure, QaiHubClient, type DeviceQuery, type HubDownload, type HubJobStateEvent, type HubJobType, type HubTensorSpec, type QaiHubClientOptions } from './client.js';
import { readDataset, writeDataset, type DatasetEntry, type HubTensor } from './datasets.js';
import { QualcommHubError } from './errors.js';
import { JobFailureType, TensorDtype, type ProfileDetail } from './gen/hub_pb.js';

/** Precisions the backend compiles for. */
export type HubPrecision = 'fp16' | 'int8' | 'w8a16';

/** AI Hub target runtimes (`--target_runtime`). */
export type HubTargetRuntime = 'qnn_dlc' | 'qnn_context_binary' | 'precompiled_qnn_onnx' | 'onnx' | 'tflite';

/** The device the backend compiles for by default (Snapdragon 8 Gen 3, Hexagon v75). */
export const DEFAULT_HUB_DEVICE = 'Samsung Galaxy S24';

/** Precision → `--quantize_full_type`, and whether calibration data is needed. */
const PRECISIONS: Readonly<Record<HubPrecision, { flag: string; calibrated: boolean }>> = {
  fp16: { flag: 'float16', calibrated: false },
  int8: { flag: 'int8', calibrated: true },
  w8a16: { flag: 'w8a16', calibrated: true },
};

/**
 * The compile options string for a precision and target runtime.
 *
 * @param precision - `'fp16'` (`--quantize_full_type float16`), `'int8'` or `'w8a16'` (weights
 *   8-bit, activations 16-bit), the last two calibrated with a dataset.
 * @param targetRuntime - the target runtime.
 * @param extra - more options, appended as given.
 * @returns e.g. `'--target_runtime qnn_dlc --quantize_full_type int8'`.
 * @throws RangeError for an unknown precision or runtime.
 */
export function hubCompileOptions(precision: HubPrecision, targetRuntime: HubTargetRuntime = 'qnn_dlc', extra = ''): string {
  const p = PRECISIONS[precision];
  if (p === undefined) throw new RangeError(`precision (${JSON.stringify(precision)}) must be one of 'fp16', 'int8', 'w8a16'`);
  if (!['qnn_dlc', 'qnn_context_binary', 'precompiled_qnn_onnx', 'onnx', 'tflite'].includes(targetRuntime)) {
    throw new RangeError(`targetRuntime (${JSON.stringify(targetRuntime)}) must be one of 'qnn_dlc', 'qnn_context_binary', 'precompiled_qnn_onnx', 'onnx', 'tflite'`);
  }
  return [`--target_runtime ${targetRuntime}`, `--quantize_full_type ${p.flag}`, extra.trim()].filter((s) => s !== '').join(' ');
}

/** An upload finished. */
export interface HubUploadEvent {
  /** `'upload'`. */
  readonly type: 'upload';
  /** What went up: the source model, calibration windows, or a job's input windows. */
  readonly what: 'model' | 'calibration' | 'dataset';
  /** The new AI Hub object (`m…` or `d…`). */
  readonly id: string;
  /** Bytes uploaded. */
  readonly bytes: number;
}

/** Something AI Hub already had was reused instead of uploaded, compiled or submitted again. */
export interface HubCachedEvent {
  /** `'cached'`. */
  readonly type: 'cached';
  /** What was reused. */
  readonly what: 'model' | 'compiled model' | 'calibration' | 'inference job';
  /** Its id. */
  readonly id: string;
}

/** A job changed state. */
export interface HubJobEvent extends HubJobStateEvent {
  /** `'job'`. */
  readonly type: 'job';
}

/** A failed job is submitted again (its input dataset is reused). */
export interface HubResubmitEvent {
  /** `'resubmit'`. */
  readonly type: 'resubmit';
  /** The job that failed (or is gone). */
  readonly jobId: string;
  /** Its failure type, e.g. `'RUNTIME_TIMEOUT'`, or `'NOT_FOUND'`. */
  readonly failureType: string;
}

/** A download finished. */
export interface HubDownloadEvent {
  /** `'download'`. */
  readonly type: 'download';
  /** What came down. */
  readonly what: 'output dataset';
  /** Its id. */
  readonly id: string;
  /** Bytes downloaded. */
  readonly bytes: number;
}

/** Something the backend did, for progress displays and tests. */
export type HubEvent = HubUploadEvent | HubCachedEvent | HubJobEvent | HubResubmitEvent | HubDownloadEvent;

/** A device as AI Hub names it. */
export interface HubDeviceInfo {
  /** Device name, e.g. `'Samsung Galaxy S24'`. */
  readonly name: string;
  /** OS version, e.g. `'14'`. */
  readonly os: string;
  /** Attributes, e.g. `'chipset:qualcomm-snapdragon-8gen3'`. */
  readonly attributes: readonly string[];
}

/** Options of {@link QualcommHubBackend}. */
export interface QualcommHubBackendOptions extends QaiHubClientOptions {
  /**
   * The client to use (its own options then apply, and the client options here are ignored).
   * @defaultValue a client built from these options
   */
  readonly client?: QaiHubClient;
  /**
   * Where uploaded model ids, compiled models and submitted jobs are remembered.
   * @defaultValue a {@link FileHubCache} at `<cache dir>/qualcomm-hub.json`
   */
  readonly cache?: HubCache;
  /** Called for uploads, cache hits, job state changes, resubmissions and downloads. */
  readonly onEvent?: (event: HubEvent) => void;
}

/** Options of {@link QualcommHubBackend.compile}. */
export interface HubCompileOptions {
  /**
   * The device to compile for: a name or a query.
   * @defaultValue {@link DEFAULT_HUB_DEVICE}
   */
  readonly device?: string | DeviceQuery;
  /**
   * Numeric precision on the NPU.
   * @defaultValue 'fp16'
   */
  readonly precision?: HubPrecision;
  /**
   * Post-training-quantisation calibration windows (model inputs from real audio, e.g. a
   * calibration set built with the quant tools); required for `'int8'` and `'w8a16'`.
   * 50–200 windows is the usual range.
   */
  readonly calibration?: readonly WindowInput[];
  /**
   * Target runtime.
   * @defaultValue 'qnn_dlc'
   */
  readonly targetRuntime?: HubTargetRuntime;
  /** More compile options, appended to the generated ones. */
  readonly extraOptions?: string;
  /** Source names, when the model does not say. */
  readonly sources?: readonly string[];
  /** Cancels uploads and waits (a submitted job keeps running). */
  readonly signal?: AbortSignal | undefined;
}

/** A model compiled on AI Hub, as the backend remembers it (plain JSON data). */
export interface CompiledHubModel {
  /** The uploaded source model (`m…`). */
  readonly sourceModelId: string;
  /** sha256 of the source model file. */
  readonly sourceSha256: string;
  /** The compile job (`j…`). */
  readonly compileJobId: string;
  /** The compiled model (`m…`). */
  readonly targetModelId: string;
  /** The device AI Hub compiled for. */
  readonly device: HubDeviceInfo;
  /** The precision. */
  readonly precision: HubPrecision;
  /** The compile options string sent. */
  readonly options: string;
  /** The calibration dataset (`d…`), for calibrated precisions. */
  readonly calibrationDatasetId?: string | undefined;
  /** The compiled model's inputs, in order (dataset keys of inference jobs). */
  readonly inputs: readonly HubTensorSpec[];
  /** The model's shape. */
  readonly spec: ModelSpec;
  /** Which input and output plays which role. */
  readonly binding: ModelBinding;
}

/** Options of {@link QualcommHubBackend.load}. */
export interface HubLoadOptions extends LoadOptions, HubCompileOptions {
  /**
   * The device inference jobs run on.
   * @defaultValue the device the model was compiled for
   */
  readonly inferenceDevice?: string | DeviceQuery;
  /**
   * Largest raw size of one inference job's input or output data, in bytes; windows are
   * packed into as few jobs as this allows. One 1 s window has 1.8 MB of input and 7.2 MB of
   * output (4 sources); one 7.8 s window 14 MB and 55 MB.
   * @defaultValue 536870912 (512 MiB: 74 one-second windows, 9 full windows)
   */
  readonly maxJobBytes?: number;
  /**
   * Inference jobs in flight at once for one {@link QualcommHubSession.run} call.
   * @defaultValue 4
   */
  readonly maxConcurrentJobs?: number;
  /**
   * Windows one `run` call accepts ({@link ModelSession.maxBatch}); the host holds every
   * window's input and output of a call at once.
   * @defaultValue windows per job × `maxConcurrentJobs`
   */
  readonly maxBatch?: number;
  /**
   * Submissions of one inference job after a transient failure (timeout, throttling, crash,
   * service error), each reusing the uploaded dataset.
   * @defaultValue 2
   */
  readonly jobRetries?: number;
  /** Inference job options. */
  readonly inferenceOptions?: string;
}

/** What a profile job measured. */
export interface HubProfile {
  /** The profile job. */
  readonly jobId: string;
  /** Estimated inference time of one window (warm), in ms. */
  readonly inferenceMs: number;
  /** Peak memory during inference, bytes (upper bound of the range when given). */
  readonly peakMemoryBytes: number;
  /** First (cold) load time, in ms. */
  readonly coldLoadMs: number;
  /** Warm load time, in ms. */
  readonly warmLoadMs: number;
  /** Layers by compute unit (`NPU`, `GPU`, `CPU`). */
  readonly layers: Readonly<Record<string, number>>;
  /** The raw measurements. */
  readonly detail: ProfileDetail;
}

const MIB = 1024 * 1024;

function sha256(parts: readonly (Uint8Array | string)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function floatBytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function toQuery(device: string | DeviceQuery | undefined): DeviceQuery {
  if (device === undefined) return { name: DEFAULT_HUB_DEVICE };
  return typeof device === 'string' ? { name: device } : device;
}

async function modelBytes(model: ModelSource): Promise<Uint8Array> {
  if (typeof model === 'string' || model instanceof URL) {
    const path = typeof model === 'string' ? model : fileURLToPath(model);
    try {
      return new Uint8Array(await readFile(path));
    } catch (cause) {
      throw new DemucsError('ERR_MODEL_NOT_FOUND', `model file ${JSON.stringify(path)} could not be read: ${(cause as Error).message}`, { cause });
    }
  }
  return model instanceof Uint8Array ? model : new Uint8Array(model);
}

/**
 * The graph inputs (initializers excluded) and outputs of an ONNX file, read by walking the
 * protobuf (ModelProto.graph = 7; GraphProto.input = 11, output = 12, initializer = 5 whose
 * TensorProto.name = 8) and skipping everything else, so the weights are never decoded.
 */
function onnxSignature(bytes: Uint8Array): { inputs: TensorInfo[]; outputs: TensorInfo[] } {
  const fail = (cause: unknown): never => {
    throw new DemucsError('ERR_MODEL_LOAD', `not an ONNX model (${bytes.byteLength} bytes): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  };
  const inputs: ValueInfoProto[] = [];
  const outputs: ValueInfoProto[] = [];
  const initializers = new Set<string>();
  try {
    let graph: Uint8Array | undefined;
    const model = new BinaryReader(bytes);
    while (model.pos < model.len) {
      const [field, wire] = model.tag();
      if (field === 7 && wire === WireType.LengthDelimited) graph = model.bytes();
      else model.skip(wire, field);
    }
    if (graph === undefined) return fail('it has no graph');
    const g = new BinaryReader(graph);
    while (g.pos < g.len) {
      const [field, wire] = g.tag();
      if ((field === 11 || field === 12) && wire === WireType.LengthDelimited) {
        (field === 11 ? inputs : outputs).push(fromBinary(ValueInfoProtoSchema, g.bytes()));
      } else if (field === 5 && wire === WireType.LengthDelimited) {
        const t = new BinaryReader(g.bytes());
        while (t.pos < t.len) {
          const [tf, tw] = t.tag();
          if (tf === 8 && tw === WireType.LengthDelimited) initializers.add(t.string());
          else t.skip(tw, tf);
        }
      } else {
        g.skip(wire, field);
      }
    }
  } catch (e) {
    if (e instanceof DemucsError) throw e;
    fail(e);
  }
  const info = (v: ValueInfoProto): TensorInfo => ({ name: v.name, shape: valueInfoDims(v) });
  return { inputs: inputs.filter((v) => !initializers.has(v.name)).map(info), outputs: outputs.map(info) };
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Runs HTDemucs on a phone's NPU through Qualcomm AI Hub. Node only.
 *
 * `compile` uploads the model once (by content hash) and compiles it for the device, caching
 * the compiled model; `load` returns a session whose `run` packs all windows it gets into as
 * few inference jobs as the size limit allows, waits for them and maps the outputs back.
 *
 * @example
 * ```ts
 * import { MOBILE_PROFILE, Separator } from 'demucs-mobile';
 * import { QualcommHubBackend } from 'demucs-mobile/qualcomm';
 *
 * const hub = new QualcommHubBackend(); // token from QAIHUB_API_TOKEN or ~/.qai_hub/client.ini
 * const session = await hub.load('htdemucs-1s.onnx', { device: 'Samsung Galaxy S24', precision: 'fp16' });
 * const { stems } = await new Separator(session, { overlap: MOBILE_PROFILE.overlap }).separate(audio);
 * ```
 */
export class QualcommHubBackend implements Backend {
  /** `'qualcomm-ai-hub'`. */
  readonly name = 'qualcomm-ai-hub';
  /** The AI Hub client. */
  readonly client: QaiHubClient;
  /** The cache of uploads, compiled models and jobs. */
  readonly cache: HubCache;
  readonly #onEvent: ((event: HubEvent) => void) | undefined;

  /**
   * @param options - client options (token, URLs, retries, polling), or a client; a cache;
   *   an event callback.
   * @throws QualcommHubError `ERR_HUB_AUTH` when no token is found.
   */
  constructor(options: QualcommHubBackendOptions = {}) {
    this.client = options.client ?? new QaiHubClient(options);
    this.cache = options.cache ?? new FileHubCache(join(cacheDir(), 'qualcomm-hub.json'));
    this.#onEvent = options.onEvent;
  }

  /** @internal */
  emit(event: HubEvent): void {
    this.#onEvent?.(event);
  }

  /** A cache key scoped to this API. */
  #key(kind: string, ...parts: string[]): string {
    return `${kind}:${sha256([this.client.apiUrl, '\0', ...parts.flatMap((p) => [p, '\0'])]).slice(0, 32)}`;
  }

  /** Uploads the model unless AI Hub already has these bytes from an earlier upload. */
  async #uploadModel(bytes: Uint8Array, digest: string, name: string, signal: AbortSignal | undefined): Promise<string> {
    const key = this.#key('model', digest);
    const cached = await this.cache.get(key);
    if (cached !== undefined) {
      try {
        const model = await this.client.getModel(cached, signal);
        if (model.fileUploadComplete === true) {
          this.emit({ type: 'cached', what: 'model', id: cached });
          return cached;
        }
      } catch (e) {
        if (!(e instanceof QualcommHubError && e.details.status === 404)) throw e;
      }
      await this.cache.delete(key);
    }
    const id = await this.client.uploadModel(bytes, { name, signal });
    await this.cache.set(key, id);
    this.emit({ type: 'upload', what: 'model', id, bytes: bytes.byteLength });
    return id;
  }

  /**
   * Compiles a model for a device on AI Hub, or returns the cached compiled model. The source
   * model is uploaded once per content hash, so a failed compile is re-submitted without
   * uploading again; for `'int8'` and `'w8a16'` the calibration windows go up as a dataset
   * (cached by content too) and the compile job references it.
   *
   * @param model - an HTDemucs ONNX file with a fixed window (e.g. retargeted to 1 s).
   * @param options - device, precision, calibration, runtime, extra options.
   * @returns the compiled model.
   * @throws RangeError for a calibrated precision without calibration windows, or windows of
   *   the wrong size; DemucsError `ERR_MODEL_SHAPE` for a model that is not HTDemucs or has a
   *   dynamic window; QualcommHubError `ERR_HUB_JOB` when the compile job fails (naming it),
   *   `ERR_HUB_REQUEST`/`ERR_HUB_AUTH` for request failures.
   */
  async compile(model: ModelSource, options: HubCompileOptions = {}): Promise<CompiledHubModel> {
    const { signal } = options;
    const precision = options.precision ?? 'fp16';
    const optionString = hubCompileOptions(precision, options.targetRuntime ?? 'qnn_dlc', options.extraOptions ?? '');
    const calibration = options.calibration;
    if (PRECISIONS[precision].calibrated && (calibration === undefined || calibration.length === 0)) {
      throw new RangeError(`precision '${precision}' needs calibration windows (options.calibration); none were given`);
    }
    const bytes = await modelBytes(model);
    const digest = sha256([bytes]);
    const signature = onnxSignature(bytes);
    const { spec, binding } = readModelSpec(signature.inputs, signature.outputs, options.sources === undefined ? {} : { sources: options.sources });
    if (spec.dynamicSegment) {
      throw new DemucsError('ERR_MODEL_SHAPE', 'AI Hub needs fixed input shapes: retarget the model to a fixed window first (retargetSegment(model, 44100) for the mobile profile)');
    }
    const inputs: HubTensorSpec[] = signature.inputs.map((t, i) => ({
      name: t.name,
      shape: i === binding.waveInput ? [1, 2, spec.segmentSamples] : [1, 4, spec.bins, spec.frames],
      dtype: 'float32',
    }));
    const device = toQuery(options.device);
    let calibrationDigest = '';
    if (PRECISIONS[precision].calibrated) {
      const h = createHash('sha256');
      for (const w of calibration!) {
        checkWindow(w, spec, 'calibration window');
        h.update(floatBytes(w.wave)).update(floatBytes(w.spec));
      }
      calibrationDigest = h.digest('hex');
    }
    const compileKey = this.#key('compile', digest, JSON.stringify(device), optionString, calibrationDigest, JSON.stringify(inputs), JSON.stringify(spec.sources));
    const cached = await this.cache.get(compileKey);
    if (cached !== undefined) {
      const compiled = JSON.parse(cached) as CompiledHubModel;
      try {
        await this.client.getModel(compiled.targetModelId, signal);
        this.emit({ type: 'cached', what: 'compiled model', id: compiled.targetModelId });
        return compiled;
      } catch (e) {
        if (!(e instanceof QualcommHubError && e.details.status === 404)) throw e;
        await this.cache.delete(compileKey);
      }
    }

    const sourceModelId = await this.#uploadModel(bytes, digest, typeof model === 'string' ? model.split(/[\\/]/).pop()! : 'htdemucs.onnx', signal);
    let calibrationDatasetId: string | undefined;
    if (calibrationDigest !== '') {
      calibrationDatasetId = await this.#calibrationDataset(calibration!, inputs, binding, calibrationDigest, signal);
    }
    const compileJobId = await this.client.submitCompileJob(
      { modelId: sourceModelId, device, inputSpecs: inputs, options: optionString, calibrationDatasetId, name: `demucs-mobile ${spec.segmentSamples}-sample ${precision}` },
      signal,
    );
    const job = await this.client.waitForJob(compileJobId, this.#waitOptions(signal));
    if (job.job.case !== 'compileJob') throw new QualcommHubError('ERR_HUB_REQUEST', `job ${compileJobId} is not a compile job`);
    const c = job.job.value;
    const targetModelId = c.targetModel?.modelId;
    if (targetModelId === undefined || targetModelId === '') {
      throw new QualcommHubError('ERR_HUB_JOB', `compile job ${compileJobId} is DONE but names no target model`, { jobId: compileJobId, jobType: 'compile', jobState: 'DONE' });
    }
    // Inference datasets are keyed by the compiled model's input names, when AI Hub gives them.
    const target = c.targetTensorTypeList?.types ?? [];
    const compiledInputs: HubTensorSpec[] =
      target.length === inputs.length
        ? inputs.map((s, i) => {
            const t = target[i]!;
            if (t.tensorType !== undefined && t.tensorType.dtype !== TensorDtype.FLOAT32 && t.tensorType.dtype !== TensorDtype.UNSPECIFIED) {
              throw new QualcommHubError(
                'ERR_HUB_JOB',
                `compile job ${compileJobId} produced a model whose input ${JSON.stringify(t.name)} is ${TensorDtype[t.tensorType.dtype]}; this backend feeds float32 (do not pass --quantize_io)`,
                { jobId: compileJobId, jobType: 'compile', jobState: 'DONE' },
              );
            }
            return { ...s, name: t.name || s.name };
          })
        : inputs;
    const chosen = c.device;
    const compiled: CompiledHubModel = {
      sourceModelId,
      sourceSha256: digest,
      compileJobId,
      targetModelId,
      device: { name: chosen?.name || device.name || '', os: chosen?.os ?? device.os ?? '', attributes: [...(chosen?.attributes ?? device.attributes ?? [])] },
      precision,
      options: optionString,
      calibrationDatasetId,
      inputs: compiledInputs,
      spec,
      binding,
    };
    await this.cache.set(compileKey, JSON.stringify(compiled));
    return compiled;
  }

  async #calibrationDataset(windows: readonly WindowInput[], inputs: readonly HubTensorSpec[], binding: ModelBinding, digest: string, signal: AbortSignal | undefined): Promise<string> {
    const key = this.#key('calibration', digest, JSON.stringify(inputs.map((i) => i.name)));
    const cached = await this.cache.get(key);
    if (cached !== undefined) {
      try {
        const d = await this.client.getDataset(cached, signal);
        const expires = d.expirationTime === undefined ? Infinity : Number(d.expirationTime.seconds) * 1000;
        if (d.fileUploadComplete === true && expires > Date.now() + 3_600_000) {
          this.emit({ type: 'cached', what: 'calibration', id: cached });
          return cached;
        }
      } catch (e) {
        if (!(e instanceof QualcommHubError && e.details.status === 404)) throw e;
      }
      await this.cache.delete(key);
    }
    const h5 = await writeDataset(datasetEntries(windows, inputs, binding));
    const id = await this.client.uploadDataset(h5, { name: 'demucs-mobile-calibration', signal });
    await this.cache.set(key, id);
    this.emit({ type: 'upload', what: 'calibration', id, bytes: h5.byteLength });
    return id;
  }

  /** @internal */
  waitOptionsFor(signal: AbortSignal | undefined): { signal?: AbortSignal; onState: (e: { jobId: string; jobType: HubJobType; state: string }) => void } {
    return this.#waitOptions(signal);
  }

  #waitOptions(signal: AbortSignal | undefined): { signal?: AbortSignal; onState: (e: { jobId: string; jobType: HubJobType; state: string }) => void } {
    return { ...(signal === undefined ? {} : { signal }), onState: (e) => this.emit({ type: 'job', ...e }) };
  }

  /**
   * Profiles a compiled model on a device: latency and memory of one window.
   *
   * @param compiled - a compiled model.
   * @param options - device (default: the one compiled for), profile options, a signal.
   * @returns the measurements.
   * @throws QualcommHubError `ERR_HUB_JOB` when the profile job fails.
   */
  async profile(compiled: CompiledHubModel, options: { device?: string | DeviceQuery; options?: string; signal?: AbortSignal } = {}): Promise<HubProfile> {
    const { signal } = options;
    const device = options.device === undefined ? { name: compiled.device.name } : toQuery(options.device);
    const jobId = await this.client.submitProfileJob({ modelId: compiled.targetModelId, device, options: options.options ?? '', name: 'demucs-mobile profile' }, signal);
    await this.client.waitForJob(jobId, this.#waitOptions(signal));
    const result = await this.client.getJobResult(jobId, signal);
    const detail = result.result.case === 'profileJobResult' ? result.result.value.profile : undefined;
    if (detail === undefined) throw new QualcommHubError('ERR_HUB_JOB', `profile job ${jobId} is DONE but has no profile`, { jobId, jobType: 'profile', jobState: 'DONE' });
    const layers: Record<string, number> = {};
    for (const l of detail.layerDetails) {
      const unit = ['UNSPECIFIED', 'CPU', 'GPU', 'NPU'][l.computeUnit] ?? 'UNSPECIFIED';
      layers[unit] = (layers[unit] ?? 0) + 1;
    }
    const peak = detail.executionMemory?.peak?.upper ?? detail.peakMemoryUsage;
    return {
      jobId,
      inferenceMs: Number(detail.executionTime) / 1000,
      peakMemoryBytes: Number(peak),
      coldLoadMs: Number(detail.coldLoadTime) / 1000,
      warmLoadMs: Number(detail.warmLoadTime) / 1000,
      layers,
      detail,
    };
  }

  /**
   * Downloads a compiled model, e.g. to deploy it on a device with the QNN runtime.
   *
   * @param compiled - a compiled model.
   * @param signal - cancels the download.
   * @returns the bytes and AI Hub's file name (`.dlc`, `.bin`, `.tflite` or `.onnx.zip`, by
   *   target runtime).
   */
  async downloadCompiledModel(compiled: CompiledHubModel, signal?: AbortSignal): Promise<HubDownload> {
    return this.client.downloadModel(compiled.targetModelId, signal);
  }

  /**
   * Compiles (or finds the cached compiled model) and returns a session.
   *
   * @param model - an HTDemucs ONNX file with a fixed window, or a compiled model.
   * @param options - compile options, the inference device, job size and concurrency limits.
   * @returns a session with a large `maxBatch`.
   * @throws as {@link QualcommHubBackend.compile}; RangeError for bad limits.
   */
  async load(model: ModelSource | CompiledHubModel, options: HubLoadOptions = {}): Promise<QualcommHubSession> {
    const compiled = isCompiledHubModel(model) ? model : await this.compile(model, options);
    return new QualcommHubSession(this, compiled, options);
  }
}

/**
 * Whether a value is a {@link CompiledHubModel} (rather than a model file).
 *
 * @param value - anything.
 * @returns true for a compiled model record.
 */
export function isCompiledHubModel(value: unknown): value is CompiledHubModel {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && typeof (value as CompiledHubModel).targetModelId === 'string';
}

function checkWindow(w: WindowInput, spec: ModelSpec, what: string): void {
  const waveLength = 2 * spec.segmentSamples;
  const specLength = 4 * spec.bins * spec.frames;
  if (w.wave.length !== waveLength || w.spec.length !== specLength) {
    throw new RangeError(`${what} has wave ${w.wave.length} and spec ${w.spec.length} values; the model's window needs ${waveLength} and ${specLength}`);
  }
}

/** Dataset entries for windows, in the compiled model's input order. */
function datasetEntries(windows: readonly WindowInput[], inputs: readonly HubTensorSpec[], binding: ModelBinding): DatasetEntry[] {
  return inputs.map((input, i) => ({
    name: input.name,
    samples: windows.map((w): HubTensor => ({ data: i === binding.waveInput ? w.wave : w.spec, shape: input.shape })),
  }));
}

/** A cached inference job: its id and input dataset. */
interface InferenceRecord {
  readonly jobId: string;
  readonly datasetId: string;
}

/** One inference job of a session, as {@link QualcommHubSession.jobs} lists it. */
export interface HubInferenceJobRecord {
  /** The job (`j…`); the last one submitted for these windows. */
  readonly jobId: string;
  /** The input dataset (`d…`). */
  readonly datasetId: string;
  /** The output dataset (`d…`). */
  readonly outputDatasetId: string;
  /** Windows in the job. */
  readonly windows: number;
  /** Submissions it took (more than 1 after transient failures). */
  readonly submissions: number;
  /** Whether an earlier submission (from the cache) was reused instead of submitting. */
  readonly resumed: boolean;
}

/**
 * A model compiled on AI Hub, ready to run windows. `run` splits its windows into jobs of at
 * most {@link QualcommHubSession.windowsPerJob}, runs up to `maxConcurrentJobs` at once and
 * returns the outputs in order.
 */
export class QualcommHubSession implements ModelSession {
  /** The model's shape. */
  readonly spec: ModelSpec;
  /** Windows one `run` call accepts. */
  readonly maxBatch: number;
  /** Windows packed into one inference job. */
  readonly windowsPerJob: number;
  /** The compiled model. */
  readonly compiled: CompiledHubModel;
  /** Inference jobs run so far, in completion order. */
  readonly jobs: HubInferenceJobRecord[] = [];
  readonly #backend: QualcommHubBackend;
  readonly #device: DeviceQuery;
  readonly #concurrency: number;
  readonly #jobRetries: number;
  readonly #options: string;
  #disposed = false;

  /**
   * @param backend - the backend (client, cache, events).
   * @param compiled - the compiled model.
   * @param options - inference device, job size, concurrency, batch and retry limits.
   * @throws RangeError for a non-positive limit.
   */
  constructor(backend: QualcommHubBackend, compiled: CompiledHubModel, options: HubLoadOptions = {}) {
    this.#backend = backend;
    this.compiled = compiled;
    this.spec = compiled.spec;
    const S = this.spec.sources.length;
    const L = this.spec.segmentSamples;
    const specValues = 4 * this.spec.bins * this.spec.frames;
    const inputBytes = 4 * (2 * L + specValues);
    const outputBytes = 4 * S * (2 * L + specValues);
    const maxJobBytes = options.maxJobBytes ?? 512 * MIB;
    const concurrency = options.maxConcurrentJobs ?? 4;
    const retries = options.jobRetries ?? 2;
    for (const [name, v] of [
      ['maxJobBytes', maxJobBytes],
      ['maxConcurrentJobs', concurrency],
      ['maxBatch', options.maxBatch ?? 1],
    ] as const) {
      if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`${name} (${v}) must be a positive integer`);
    }
    if (!(Number.isInteger(retries) && retries >= 0)) throw new RangeError(`jobRetries (${retries}) must be an integer ≥ 0`);
    this.windowsPerJob = Math.max(1, Math.floor(maxJobBytes / Math.max(inputBytes, outputBytes)));
    this.maxBatch = options.maxBatch ?? this.windowsPerJob * concurrency;
    this.#concurrency = concurrency;
    this.#jobRetries = retries;
    this.#options = options.inferenceOptions ?? '';
    this.#device = options.inferenceDevice === undefined ? { name: compiled.device.name } : toQuery(options.inferenceDevice);
  }

  /**
   * Runs windows on AI Hub: uploads each job's windows as one dataset, submits the job, waits,
   * downloads the output dataset and maps it back by rank. A transient job failure is
   * re-submitted with the same dataset; calling `run` again with the same windows after an
   * error resumes the cached job (waiting on it, or re-submitting it if it failed) instead of
   * uploading again.
   *
   * @param batch - 1 … `maxBatch` windows.
   * @param signal - cancels uploads and waits (submitted jobs keep running).
   * @returns one output per window, in order.
   * @throws QualcommHubError `ERR_HUB_JOB` (a job FAILED, naming it, its state and failure
   *   type), `ERR_HUB_TIMEOUT`, `ERR_HUB_REQUEST`; DemucsError `ERR_MODEL_SHAPE` when the
   *   outputs are not HTDemucs-shaped; `ERR_DISPOSED`.
   */
  async run(batch: readonly WindowInput[], signal?: AbortSignal): Promise<WindowOutput[]> {
    if (this.#disposed) throw new DemucsError('ERR_DISPOSED', 'model session used after dispose()');
    if (batch.length === 0) return [];
    if (batch.length > this.maxBatch) throw new RangeError(`batch (${batch.length} windows) exceeds maxBatch (${this.maxBatch})`);
    batch.forEach((w, i) => checkWindow(w, this.spec, `window ${i}`));
    const groups: WindowInput[][] = [];
    for (let i = 0; i < batch.length; i += this.windowsPerJob) groups.push(batch.slice(i, i + this.windowsPerJob));
    // Equal-sized groups: the same number of jobs, each as small as it can be.
    const perJob = Math.ceil(batch.length / groups.length);
    const balanced = groups.map((_, g) => batch.slice(g * perJob, (g + 1) * perJob)).filter((g) => g.length > 0);
    const outputs = await mapLimit(balanced, this.#concurrency, (group) => this.#runJob(group, signal));
    return outputs.flat();
  }

  async #runJob(windows: readonly WindowInput[], signal: AbortSignal | undefined): Promise<WindowOutput[]> {
    const backend = this.#backend;
    const client = backend.client;
    const { inputs, binding, targetModelId } = this.compiled;
    const h = createHash('sha256').update(targetModelId).update(JSON.stringify(this.#device)).update(this.#options);
    for (const w of windows) h.update(floatBytes(w.wave)).update(floatBytes(w.spec));
    const key = `inference:${sha256([client.apiUrl, '\0', h.digest('hex')]).slice(0, 32)}`;
    const cachedText = await backend.cache.get(key);
    let record: InferenceRecord | undefined = cachedText === undefined ? undefined : (JSON.parse(cachedText) as InferenceRecord);
    let submissions = 0;
    let resumed = false;
    let done = false;

    // Resume: a job submitted earlier for these very windows is waited on, not repeated.
    if (record !== undefined) {
      try {
        await client.waitForJob(record.jobId, backend.waitOptionsFor(signal));
        done = true;
        resumed = true;
        backend.emit({ type: 'cached', what: 'inference job', id: record.jobId });
      } catch (e) {
        if (!(e instanceof QualcommHubError) || !(e.code === 'ERR_HUB_JOB' || e.details.status === 404)) throw e;
        backend.emit({ type: 'resubmit', jobId: record.jobId, failureType: e.details.failureType ?? 'NOT_FOUND' });
        // The job failed or is gone; the dataset may still be there.
      }
    }
    let datasetId = record?.datasetId;
    while (!done) {
      if (datasetId === undefined) {
        const h5 = await writeDataset(datasetEntries(windows, inputs, binding));
        datasetId = await client.uploadDataset(h5, { name: `demucs-mobile ${windows.length} windows`, signal });
        backend.emit({ type: 'upload', what: 'dataset', id: datasetId, bytes: h5.byteLength });
      }
      let jobId: string;
      try {
        jobId = await client.submitInferenceJob(
          { modelId: targetModelId, device: this.#device, datasetId, options: this.#options, name: `demucs-mobile ${windows.length} windows` },
          signal,
        );
      } catch (e) {
        // A cached dataset may have expired: upload it again, once.
        if (e instanceof QualcommHubError && e.code === 'ERR_HUB_JOB' && record !== undefined && datasetId === record.datasetId && submissions === 0) {
          datasetId = undefined;
          record = undefined;
          continue;
        }
        throw e;
      }
      submissions++;
      record = { jobId, datasetId };
      await backend.cache.set(key, JSON.stringify(record));
      try {
        await client.waitForJob(jobId, backend.waitOptionsFor(signal));
        done = true;
      } catch (e) {
        const failure = e instanceof QualcommHubError && e.code === 'ERR_HUB_JOB' ? e.details.failureType : undefined;
        const transient = failure !== undefined && isTransientFailure(JobFailureType[failure as keyof typeof JobFailureType]);
        if (!transient || submissions > this.#jobRetries) {
          if (failure === 'RUNTIME_DEVICE_OOM' && e instanceof QualcommHubError) {
            throw new QualcommHubError(
              'ERR_HUB_JOB',
              `${e.message}. The ${this.spec.segmentSamples}-sample window does not fit the device's memory: use the 1 s mobile profile (MOBILE_PROFILE, a model retargeted to 44100 samples)`,
              e.details,
            );
          }
          throw e;
        }
        backend.emit({ type: 'resubmit', jobId, failureType: failure });
      }
    }
    const jobId = record!.jobId;
    const result = await client.getJobResult(jobId, signal);
    const outputDatasetId = result.result.case === 'inferenceJobResult' ? result.result.value.outputDatasetId : '';
    if (outputDatasetId === '') {
      throw new QualcommHubError('ERR_HUB_JOB', `inference job ${jobId} is DONE but names no output dataset`, { jobId, jobType: 'inference', jobState: 'DONE' });
    }
    const file = await client.downloadDataset(outputDatasetId, signal);
    backend.emit({ type: 'download', what: 'output dataset', id: outputDatasetId, bytes: file.bytes.byteLength });
    const outputs = this.#bindOutputs(await readDataset(file.bytes), windows.length, jobId);
    this.jobs.push({ jobId, datasetId: record!.datasetId, outputDatasetId, windows: windows.length, submissions, resumed });
    return outputs;
  }

  /** Maps an output dataset back to windows: the 5-D entry is the spectral branch, the 4-D one the time branch. */
  #bindOutputs(entries: DatasetEntry[], count: number, jobId: string): WindowOutput[] {
    const S = this.spec.sources.length;
    const specLength = S * 4 * this.spec.bins * this.spec.frames;
    const waveLength = S * 2 * this.spec.segmentSamples;
    const describe = () => entries.map((e) => `${JSON.stringify(e.name)} [${e.samples[0]?.shape.join(', ') ?? ''}] × ${e.samples.length}`).join(', ');
    const fail = (what: string): never => {
      throw new DemucsError('ERR_MODEL_SHAPE', `inference job ${jobId} returned ${what}; outputs: ${describe()}`);
    };
    const byRank = (rank: number) => entries.filter((e) => e.samples[0]?.shape.length === rank);
    let specEntry = byRank(5)[0];
    let waveEntry = byRank(4)[0];
    if (specEntry === undefined || waveEntry === undefined || specEntry === waveEntry) {
      // Ranks lost (e.g. flattened outputs): fall back to position, as readModelSpec does.
      specEntry = entries[this.compiled.binding.specOutput];
      waveEntry = entries[this.compiled.binding.waveOutput];
    }
    if (specEntry === undefined || waveEntry === undefined) return fail('fewer than two outputs');
    const out: WindowOutput[] = [];
    for (let i = 0; i < count; i++) {
      const s = specEntry.samples[i];
      const w = waveEntry.samples[i];
      if (s === undefined || w === undefined) return fail(`${specEntry.samples.length} samples for ${count} windows`);
      if (!(s.data instanceof Float32Array) || !(w.data instanceof Float32Array)) return fail('outputs that are not float32');
      if (s.data.length !== specLength || w.data.length !== waveLength) return fail(`outputs of ${s.data.length} and ${w.data.length} values where ${specLength} and ${waveLength} belong`);
      out.push({ spec: s.data, wave: w.data });
    }
    return out;
  }

  /** Marks the session unusable; nothing runs on the host, and AI Hub objects are kept for the cache. */
  async dispose(): Promise<void> {
    this.#disposed = true;
  }
}
