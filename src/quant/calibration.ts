/**
 * Calibration for static quantization: representative model windows built exactly as the
 * {@link Separator} builds them, and the activation ranges of a model over those windows.
 */
import { create } from '@bufbuild/protobuf';
import type { PlanarAudio } from '../core/audio.js';
import { Chunker } from '../core/chunker.js';
import { DEFAULT_OVERLAP, NORM_EPSILON } from '../core/constants.js';
import { DemucsError } from '../core/errors.js';
import { loadWasmFft } from '../core/fft.js';
import { readModelSpec, type ModelSpec } from '../core/model-spec.js';
import { trackStats } from '../core/normalize.js';
import { PythonRandom } from '../core/rng.js';
import { arraySource } from '../core/source.js';
import { Stft } from '../core/stft.js';
import { TensorProto_DataType, TypeProto_TensorSchema, TypeProtoSchema, ValueInfoProtoSchema, type ModelProto } from './gen/onnx_pb.js';
import { int8ActivationNames, type ActivationRange, type ActivationRanges, type Int8Options } from './int8.js';
import { makeNode, valueInfoDims, writeModel } from './onnx-io.js';

/** One model window for calibration: the model's two inputs, and where the window came from. */
export interface CalibrationWindow {
  /** `[2, L]` planar waveform in track-normalised units: the model's waveform input. */
  readonly wave: Float32Array;
  /** `[4, F, T]` CaC spectrogram of `wave`: the model's spectrogram input. */
  readonly spec: Float32Array;
  /** Index of the track in the `audio` list. */
  readonly track: number;
  /** Track frame of the window's first sample (negative when the window starts with zeros). */
  readonly start: number;
  /** RMS of the window's normalised samples (both channels). */
  readonly rms: number;
}

/** Options of {@link buildCalibrationSet}. */
export interface CalibrationSetOptions {
  /**
   * Windows to pick.
   * @defaultValue 8
   */
  readonly windows?: number;
  /**
   * Seed of the pick within each loudness stratum.
   * @defaultValue 0
   */
  readonly seed?: number;
  /**
   * Chunk length in seconds, as the Separator's `segment` option.
   * @defaultValue the model's window
   */
  readonly segment?: number;
  /**
   * Overlap between chunks, as the Separator's `overlap` option.
   * @defaultValue 0.25
   */
  readonly overlap?: number;
  /** Cancels the build between windows. */
  readonly signal?: AbortSignal;
}

interface Candidate {
  readonly track: number;
  readonly start: number;
  readonly rms: number;
}

/**
 * Picks representative model windows from a set of tracks and builds the model inputs for
 * them, exactly as `Separator` with `shifts: 0` builds its windows: whole-track
 * normalisation `(x − μ) / (σ + 1e-8)` of each track, the same chunk plan (segment and
 * overlap), zeros outside the track, and the core {@link Stft}. A calibration input therefore
 * equals, bit for bit, an input the model sees when it separates that track.
 *
 * The pick is deterministic: every window of every track's plan is a candidate; candidates
 * are ranked by RMS (loudness); the loudest is always taken (its peaks set the ranges a
 * min/max calibration needs), and the rest of the ranking is cut into `windows − 1` strata of
 * equal size, from each of which one window is drawn with a seeded CPython-compatible
 * generator. So quiet, middle and loud passages are all represented. With no more candidates
 * than `windows`, all are taken. Windows are returned in track and time order.
 *
 * @param audio - the tracks: planar, 1 or 2 channels, at the model's sample rate.
 * @param spec - the model's shape (`session.spec`, or {@link modelSpecOf} for a model file).
 * @param options - number of windows, seed, segment, overlap, signal.
 * @returns the windows, each about 14 MB for a 7.8 s model (1.8 MB for a 1 s model).
 * @throws DemucsError `ERR_SAMPLE_RATE` when a track is not at the model's rate,
 *   `ERR_AUDIO_EMPTY` for an empty list or track; RangeError for a bad option.
 *
 * @example
 * ```ts
 * const windows = await buildCalibrationSet([song1, song2], modelSpecOf(model), { windows: 8 });
 * const ranges = await collectActivationRanges(model, windows, ortCalibrationRunner(ort));
 * quantizeInt8(model, { mode: 'static', ranges });
 * ```
 */
export async function buildCalibrationSet(
  audio: readonly PlanarAudio[],
  spec: ModelSpec,
  options: CalibrationSetOptions = {},
): Promise<CalibrationWindow[]> {
  const count = options.windows ?? 8;
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`windows (${count}) must be a positive integer`);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed (${seed}) must be a safe integer`);
  const overlap = options.overlap ?? DEFAULT_OVERLAP;
  if (audio.length === 0) throw new DemucsError('ERR_AUDIO_EMPTY', 'no audio given for calibration');
  const segment = resolveSegment(spec, options.segment, overlap);
  const W = spec.dynamicSegment ? segment : spec.segmentSamples;

  const tracks = await Promise.all(
    audio.map(async (a, i) => {
      if (a.sampleRate !== spec.sampleRate) {
        throw new DemucsError('ERR_SAMPLE_RATE', `calibration track ${i} is at ${a.sampleRate} Hz; the model runs at ${spec.sampleRate} Hz (resample it first)`);
      }
      if (a.channels.length !== 1 && a.channels.length !== 2) throw new RangeError(`calibration track ${i} has ${a.channels.length} channels; give 1 or 2`);
      const stats = await trackStats(arraySource(a), options.signal === undefined ? {} : { signal: options.signal });
      return { audio: a, mean: stats.mean, scale: stats.std + NORM_EPSILON, frames: stats.frames };
    }),
  );

  const candidates: Candidate[] = [];
  tracks.forEach((t, track) => {
    const plan = new Chunker(t.frames, { segment, overlap });
    const [left, right] = [t.audio.channels[0]!, t.audio.channels[1] ?? t.audio.channels[0]!];
    for (const chunk of plan.chunks) {
      const from = Math.max(0, chunk.start);
      const to = Math.min(t.frames, chunk.start + segment);
      let sum = 0;
      for (const ch of [left, right]) {
        for (let i = from; i < to; i++) {
          const v = (ch[i]! - t.mean) / t.scale;
          sum += v * v;
        }
      }
      candidates.push({ track, start: chunk.start, rms: Math.sqrt(sum / (2 * W)) });
    }
  });

  const chosen = pickWindows(candidates, count, seed);
  await loadWasmFft();
  const stft = new Stft(W);
  const out: CalibrationWindow[] = [];
  for (const c of chosen) {
    options.signal?.throwIfAborted();
    const t = tracks[c.track]!;
    const wave = new Float32Array(2 * W);
    const from = Math.max(0, c.start);
    const to = Math.min(t.frames, c.start + segment);
    const channels = [t.audio.channels[0]!, t.audio.channels[1] ?? t.audio.channels[0]!];
    if (to > from) {
      const at = from - c.start;
      channels.forEach((ch, k) => {
        const dst = wave.subarray(k * W + at, k * W + at + (to - from));
        dst.set(ch.subarray(from, to));
        // As Separator: `(part[i] − mean) / scale`, in double, stored as float32.
        for (let i = 0; i < dst.length; i++) dst[i] = (dst[i]! - t.mean) / t.scale;
      });
    }
    out.push({ wave, spec: stft.forward(wave), track: c.track, start: c.start, rms: c.rms });
  }
  return out;
}

/** The chunk length in samples, validated as the Separator validates its options. */
function resolveSegment(spec: ModelSpec, segmentSeconds: number | undefined, overlap: number): number {
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`overlap (${overlap}) must be in [0, 1)`);
  if (segmentSeconds === undefined) return spec.segmentSamples;
  if (!(segmentSeconds > 0 && Number.isFinite(segmentSeconds))) throw new RangeError(`segment (${segmentSeconds}) must be a positive number of seconds`);
  // `int(model.samplerate * segment)`, as Separator.
  const segment = Math.floor(segmentSeconds * spec.sampleRate + 1e-6);
  if (!spec.dynamicSegment && segment > spec.segmentSamples) {
    throw new RangeError(`segment (${segmentSeconds} s = ${segment} samples) must not exceed the model's window of ${spec.segmentSamples} samples`);
  }
  if (segment < 4096) throw new RangeError(`segment (${segmentSeconds} s) must be at least 4096 samples`);
  return segment;
}

function pickWindows(candidates: readonly Candidate[], count: number, seed: number): Candidate[] {
  const order = (a: Candidate, b: Candidate) => a.track - b.track || a.start - b.start;
  if (candidates.length <= count) return [...candidates].sort(order);
  const ranked = [...candidates].sort((a, b) => a.rms - b.rms || order(a, b));
  const loudest = ranked.pop()!;
  const picked = [loudest];
  const strata = count - 1;
  const rng = new PythonRandom(seed);
  for (let s = 0; s < strata; s++) {
    const lo = Math.floor((s * ranked.length) / strata);
    const hi = Math.floor(((s + 1) * ranked.length) / strata);
    picked.push(ranked[lo + rng.randint(0, hi - lo - 1)]!);
  }
  return picked.sort(order);
}

/**
 * The {@link ModelSpec} of a model file, read from its graph inputs and outputs as the
 * backends read it.
 *
 * @param model - the model.
 * @returns its spec.
 * @throws DemucsError `ERR_MODEL_SHAPE` when the model is not an HTDemucs export.
 */
export function modelSpecOf(model: ModelProto): ModelSpec {
  return readModelReading(model).spec;
}

function readModelReading(model: ModelProto) {
  const g = model.graph;
  const io = (list: NonNullable<typeof g>['input']) => list.map((v) => ({ name: v.name, shape: valueInfoDims(v) }));
  return readModelSpec(io(g?.input ?? []), io(g?.output ?? []));
}

// #region Running a model for calibration

/** One model input for a {@link CalibrationSession}. */
export interface CalibrationFeed {
  /** Graph input name. */
  readonly name: string;
  /** Elements, row-major. */
  readonly data: Float32Array;
  /** Shape. */
  readonly dims: readonly number[];
}

/** A model loaded by a {@link CalibrationRunner}. */
export interface CalibrationSession {
  /**
   * Runs the model once.
   *
   * @param feeds - the graph inputs.
   * @param fetches - the graph outputs to return.
   * @returns the fetched outputs by name, as float32 arrays.
   */
  run(feeds: readonly CalibrationFeed[], fetches: readonly string[]): Promise<Readonly<Record<string, Float32Array>>>;
  /** Releases the model. */
  release(): Promise<void>;
}

/**
 * Runs models for calibration: whatever runtime is at hand (onnxruntime-node on a desktop,
 * onnxruntime-web or -react-native on a phone). {@link ortCalibrationRunner} adapts any
 * onnxruntime module.
 */
export interface CalibrationRunner {
  /**
   * Loads a model.
   *
   * @param model - the `.onnx` bytes.
   * @returns the loaded model.
   */
  open(model: Uint8Array): Promise<CalibrationSession>;
}

/** The part of an onnxruntime tensor {@link ortCalibrationRunner} reads. */
export interface OrtTensorLike {
  /** The elements (a `Float32Array` for float32 outputs). */
  readonly data: unknown;
}

/** The part of an onnxruntime `InferenceSession` {@link ortCalibrationRunner} uses. */
export interface OrtInferenceSessionLike {
  /**
   * Runs the model.
   *
   * @param feeds - input tensors by name.
   * @param fetches - the outputs to return.
   * @returns the fetched outputs by name.
   */
  run(feeds: Record<string, never>, fetches: string[]): Promise<Record<string, OrtTensorLike>>;
  /** Releases the session. */
  release(): Promise<void>;
}

/** The part of `ort.InferenceSession` {@link ortCalibrationRunner} uses. */
export interface OrtInferenceSessionFactoryLike {
  /**
   * Loads a model.
   *
   * @param model - the `.onnx` bytes.
   * @param options - session options.
   * @returns the session.
   */
  create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtInferenceSessionLike>;
}

/** The part of `ort.Tensor` {@link ortCalibrationRunner} uses. */
export interface OrtTensorConstructorLike {
  /**
   * Wraps float32 data as a tensor.
   *
   * @param type - `'float32'`.
   * @param data - the elements.
   * @param dims - the shape.
   */
  new (type: 'float32', data: Float32Array, dims: readonly number[]): unknown;
}

/** The part of an onnxruntime module (`onnxruntime-node`, `-web`, `-react-native`) {@link ortCalibrationRunner} uses. */
export interface OrtModuleLike {
  /** `ort.InferenceSession`. */
  readonly InferenceSession: OrtInferenceSessionFactoryLike;
  /** `ort.Tensor`. */
  readonly Tensor: OrtTensorConstructorLike;
}

/**
 * A {@link CalibrationRunner} over an onnxruntime module, passed in so that this module
 * imports no runtime.
 *
 * @param ort - the onnxruntime module (`import * as ort from 'onnxruntime-node'`).
 * @param sessionOptions - session options for each model load, applied over this runner's
 *   own: memory arena and memory pattern off (as the Node backend), so a calibration run's
 *   peak is not kept.
 * @returns the runner.
 *
 * @example
 * ```ts
 * import * as ort from 'onnxruntime-node';
 * const runner = ortCalibrationRunner(ort, { intraOpNumThreads: 2 });
 * ```
 */
export function ortCalibrationRunner(ort: OrtModuleLike, sessionOptions: Record<string, unknown> = {}): CalibrationRunner {
  return {
    async open(model) {
      const session = await ort.InferenceSession.create(model, { enableCpuMemArena: false, enableMemPattern: false, ...sessionOptions });
      return {
        async run(feeds, fetches) {
          const input: Record<string, unknown> = {};
          for (const f of feeds) input[f.name] = new ort.Tensor('float32', f.data, f.dims);
          const result = await session.run(input as Record<string, never>, [...fetches]);
          const out: Record<string, Float32Array> = {};
          for (const name of fetches) {
            const data = result[name]?.data;
            if (!(data instanceof Float32Array)) throw new DemucsError('ERR_INFERENCE', `calibration output ${JSON.stringify(name)} is not float32`);
            out[name] = data;
          }
          return out;
        },
        release: () => session.release(),
      };
    },
  };
}

/** Options of {@link collectActivationRanges}. */
export interface ActivationRangeOptions extends Int8Options {
  /** Called after each window with the number done. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Cancels between windows. */
  readonly signal?: AbortSignal;
}

/**
 * Measures the range of every activation that static quantization needs
 * ({@link int8ActivationNames}): the model runs once per window with a `ReduceMin`, a
 * `ReduceMax` and a `ReduceSum` (which catches NaN) of each of those tensors added as extra
 * graph outputs, and the smallest and
 * largest value of each over all windows is kept. Windows run one at a time and only scalars
 * leave the runtime, so memory stays near that of one ordinary window.
 *
 * @param model - the float32 model (left unchanged).
 * @param windows - calibration inputs ({@link buildCalibrationSet}).
 * @param runner - how to run the model ({@link ortCalibrationRunner}).
 * @param options - the options {@link quantizeInt8} will get, a progress callback, a signal.
 * @returns ranges by tensor name.
 * @throws DemucsError `ERR_MODEL_SHAPE` when the model is not HTDemucs, `ERR_NON_FINITE` when
 *   an activation is not finite; RangeError for a window of the wrong size.
 */
export async function collectActivationRanges(
  model: ModelProto,
  windows: readonly CalibrationWindow[],
  runner: CalibrationRunner,
  options: ActivationRangeOptions = {},
): Promise<ActivationRanges> {
  const graph = model.graph;
  if (graph === undefined) throw new DemucsError('ERR_MODEL_LOAD', 'the model has no graph');
  if (windows.length === 0) throw new RangeError('windows must not be empty');
  const { spec, binding } = readModelReading(model);
  const names = int8ActivationNames(model, options);
  // Each activation's minimum and maximum are reduced in the graph and fetched as scalars:
  // nothing large is copied out of the runtime or kept alive past its consumers.
  const taken = new Set<string>([...graph.node.flatMap((n) => [...n.input, ...n.output]), ...graph.initializer.map((t) => t.name)]);
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const probes = names.map((name) => ({
    name,
    min: fresh(`${name}_calibration_min`),
    max: fresh(`${name}_calibration_max`),
    sum: fresh(`${name}_calibration_sum`),
  }));
  // onnxruntime's ReduceMin and ReduceMax skip NaN; the sum does not, so it flags bad values.
  const reducers = probes.flatMap((p) => [
    makeNode({ opType: 'ReduceMin', name: `/calibration/${p.name}/ReduceMin`, inputs: [p.name], outputs: [p.min], attributes: { keepdims: 0n } }),
    makeNode({ opType: 'ReduceMax', name: `/calibration/${p.name}/ReduceMax`, inputs: [p.name], outputs: [p.max], attributes: { keepdims: 0n } }),
    makeNode({ opType: 'ReduceSum', name: `/calibration/${p.name}/ReduceSum`, inputs: [p.name], outputs: [p.sum], attributes: { keepdims: 0n } }),
  ]);
  const added = probes.flatMap((p) => [p.min, p.max, p.sum]).map((name) =>
    create(ValueInfoProtoSchema, {
      name,
      type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: TensorProto_DataType.FLOAT }) } }),
    }),
  );
  const nodeCount = graph.node.length;
  graph.node.push(...reducers);
  graph.output.push(...added);
  let bytes: Uint8Array;
  try {
    bytes = writeModel(model);
  } finally {
    graph.output.splice(graph.output.length - added.length, added.length);
    graph.node.splice(nodeCount, reducers.length);
  }
  const fetches = probes.flatMap((p) => [p.min, p.max, p.sum]);
  const waveName = graph.input[binding.waveInput]!.name;
  const specName = graph.input[binding.specInput]!.name;
  const ranges = new Map<string, { min: number; max: number }>();
  const session = await runner.open(bytes);
  try {
    let done = 0;
    for (const w of windows) {
      options.signal?.throwIfAborted();
      const L = w.wave.length / 2;
      const T = w.spec.length / (4 * spec.bins);
      if (!Number.isInteger(L) || T !== Math.ceil(L / 1024) || (!spec.dynamicSegment && L !== spec.segmentSamples)) {
        throw new RangeError(`calibration window ${done} (wave ${w.wave.length}, spec ${w.spec.length}) does not fit the model's ${spec.segmentSamples}-sample window`);
      }
      const out = await session.run(
        [
          { name: waveName, data: w.wave, dims: [1, 2, L] },
          { name: specName, data: w.spec, dims: [1, 4, spec.bins, T] },
        ],
        fetches,
      );
      for (const p of probes) {
        const lo = out[p.min]?.[0];
        const hi = out[p.max]?.[0];
        const sum = out[p.sum]?.[0];
        if (lo === undefined || hi === undefined || sum === undefined || !Number.isFinite(lo) || !Number.isFinite(hi) || !Number.isFinite(sum)) {
          throw new DemucsError('ERR_NON_FINITE', `activation ${JSON.stringify(p.name)} is not finite on calibration window ${done}`);
        }
        const r = ranges.get(p.name);
        if (r === undefined) ranges.set(p.name, { min: lo, max: hi });
        else {
          r.min = Math.min(r.min, lo);
          r.max = Math.max(r.max, hi);
        }
      }
      options.onProgress?.(++done, windows.length);
    }
  } finally {
    await session.release();
  }
  const result: Record<string, ActivationRange> = {};
  for (const name of names) {
    const r = ranges.get(name);
    if (r !== undefined) result[name] = Object.freeze({ min: r.min, max: r.max });
  }
  return Object.freeze(result);
}

// #endregion
