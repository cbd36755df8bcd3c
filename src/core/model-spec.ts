/**
 * What the host needs to know about a model, read from its graph inputs and outputs.
 */
import { AUDIO_CHANNELS, HOP_LENGTH, N_FFT, SAMPLE_RATE_HZ, SOURCES_4, SOURCES_6 } from './constants.js';
import { DemucsError } from './errors.js';

/**
 * The shape of an HTDemucs model (STFT outside the graph), as the host pipeline sees it.
 */
export interface ModelSpec {
  /** Sample rate the model runs at, in Hz. */
  readonly sampleRate: number;
  /** Audio channels of the waveform input (2). */
  readonly audioChannels: number;
  /**
   * Window length in samples (343980 for the released models; 44100 for a model retargeted
   * to 1 s). For a model with a dynamic length this is the length the host uses by default.
   */
  readonly segmentSamples: number;
  /** Whether the graph accepts any window length (a `'dynamic'` retargeted model). */
  readonly dynamicSegment: boolean;
  /** STFT frames per window, ⌈segmentSamples / 1024⌉. */
  readonly frames: number;
  /** Frequency bins of the spectrogram input (2048). */
  readonly bins: number;
  /** Source names in output order. */
  readonly sources: readonly string[];
}

/** A tensor dimension as a runtime reports it: a number, a symbolic name, or unknown. */
export type Dim = number | string | null | undefined;

/** One graph input or output as the host sees it before binding. */
export interface TensorInfo {
  /** The tensor's name in the graph (a tracer artefact such as `5073`; never used for binding). */
  readonly name: string;
  /** Its declared shape; `undefined` when the runtime does not report one. */
  readonly shape?: readonly Dim[] | undefined;
}

/** Which graph input and output plays which role, by position. */
export interface ModelBinding {
  /** Index of the waveform input `[B, 2, L]` among the graph inputs. */
  readonly waveInput: number;
  /** Index of the CaC spectrogram input `[B, 4, F, T]`. */
  readonly specInput: number;
  /** Index of the spectral-branch output `[B, S, 4, F, T]`. */
  readonly specOutput: number;
  /** Index of the time-branch output `[B, S, 2, L]`. */
  readonly waveOutput: number;
}

/** What {@link readModelSpec} reads from a graph. */
export interface ModelReading {
  /** The model's shape. */
  readonly spec: ModelSpec;
  /** Which graph input and output plays which role. */
  readonly binding: ModelBinding;
}

/** Options of {@link readModelSpec}. */
export interface ReadModelSpecOptions {
  /**
   * Source names in output order; they must match the model's source count.
   * @defaultValue drums, bass, other, vocals for 4 sources; plus guitar, piano for 6;
   * `source0`, `source1`, … otherwise.
   */
  readonly sources?: readonly string[];
  /**
   * Window length to use when the graph's length is dynamic.
   * @defaultValue 343980 (7.8 s)
   */
  readonly defaultSegmentSamples?: number;
  /** Model sample rate in Hz. @defaultValue 44100 */
  readonly sampleRate?: number;
}

/**
 * Default source names for a source count: the 4-stem and 6-stem HTDemucs orders.
 *
 * @param count - number of sources.
 * @returns names in output order.
 */
export function defaultSourceNames(count: number): readonly string[] {
  if (count === SOURCES_4.length) return SOURCES_4;
  if (count === SOURCES_6.length) return SOURCES_6;
  return Array.from({ length: count }, (_, i) => `source${i}`);
}

const known = (d: Dim): d is number => typeof d === 'number' && d >= 0;

function formatShape(shape: readonly Dim[] | undefined): string {
  if (shape === undefined) return 'unknown shape';
  return `[${shape.map((d) => (known(d) ? String(d) : typeof d === 'string' ? d : '?')).join(', ')}]`;
}

function pick(
  tensors: readonly TensorInfo[],
  rankA: number,
  rankB: number,
): [number, number] {
  // Bind by rank when the ranks tell the two apart, else by position.
  const ia = tensors.findIndex((t) => t.shape?.length === rankA);
  const ib = tensors.findIndex((t) => t.shape?.length === rankB);
  if (ia >= 0 && ib >= 0 && ia !== ib) return [ia, ib];
  return [0, 1];
}

/**
 * Reads a {@link ModelSpec} and the tensor binding from a graph's inputs and outputs.
 *
 * Binding is by rank (the 3-D input is the waveform, the 4-D input the spectrogram, the 5-D
 * output the spectral branch, the 4-D output the time branch), falling back to position
 * (0 = waveform / spectral, 1 = spectrogram / time), never by name: names are tracer
 * artefacts that change between exports (`onnx::ReduceMean_1`, `5073`, `add_67`, …).
 *
 * @param inputs - the graph inputs, in order.
 * @param outputs - the graph outputs, in order.
 * @param options - source names and the defaults for dynamic models.
 * @returns the spec and the binding.
 * @throws DemucsError `ERR_MODEL_SHAPE` when the graph does not look like an HTDemucs export,
 *   naming the tensor and the shape found.
 */
export function readModelSpec(
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  options: ReadModelSpecOptions = {},
): ModelReading {
  const fail = (what: string): never => {
    throw new DemucsError(
      'ERR_MODEL_SHAPE',
      `model does not look like HTDemucs: ${what}. Expected inputs wave [1, 2, L] and spectrogram [1, 4, 2048, T], ` +
        `outputs [1, S, 4, 2048, T] and [1, S, 2, L]`,
    );
  };
  if (inputs.length !== 2) fail(`it has ${inputs.length} inputs (${inputs.map((t) => t.name).join(', ')})`);
  if (outputs.length < 2) fail(`it has ${outputs.length} outputs`);
  const [waveInput, specInput] = pick(inputs, 3, 4);
  const [specOutput, waveOutput] = pick(outputs.slice(0, 2), 5, 4);
  const wave = inputs[waveInput]!;
  const spec = inputs[specInput]!;
  const specOut = outputs[specOutput]!;
  const waveOut = outputs[waveOutput]!;

  const describe = (t: TensorInfo) => `${JSON.stringify(t.name)} ${formatShape(t.shape)}`;
  const expectRank = (t: TensorInfo, rank: number, role: string) => {
    if (t.shape !== undefined && t.shape.length !== rank) fail(`${role} ${describe(t)} has rank ${t.shape.length}, not ${rank}`);
  };
  expectRank(wave, 3, 'waveform input');
  expectRank(spec, 4, 'spectrogram input');
  expectRank(specOut, 5, 'spectral output');
  expectRank(waveOut, 4, 'time output');
  const dim = (t: TensorInfo, i: number): Dim => t.shape?.[i];
  const expectDim = (t: TensorInfo, i: number, value: number, role: string) => {
    const d = dim(t, i);
    if (known(d) && d !== value) fail(`${role} ${describe(t)} has ${d} at axis ${i}, not ${value}`);
  };
  for (const [t, role] of [
    [wave, 'waveform input'],
    [spec, 'spectrogram input'],
    [specOut, 'spectral output'],
    [waveOut, 'time output'],
  ] as const) {
    const b = dim(t, 0);
    if (known(b) && b !== 1) fail(`${role} ${describe(t)} has batch ${b}; only batch 1 or a dynamic batch is supported`);
  }
  expectDim(wave, 1, AUDIO_CHANNELS, 'waveform input');
  expectDim(spec, 1, 2 * AUDIO_CHANNELS, 'spectrogram input');
  expectDim(spec, 2, N_FFT / 2, 'spectrogram input');
  expectDim(specOut, 2, 2 * AUDIO_CHANNELS, 'spectral output');
  expectDim(specOut, 3, N_FFT / 2, 'spectral output');
  expectDim(waveOut, 2, AUDIO_CHANNELS, 'time output');

  // Segment length: from the waveform input, else the time output.
  const lIn = dim(wave, 2);
  const lOut = dim(waveOut, 3);
  if (known(lIn) && known(lOut) && lIn !== lOut) fail(`waveform input length ${lIn} differs from time output length ${lOut}`);
  const fixedL = known(lIn) ? lIn : known(lOut) ? lOut : undefined;
  const tIn = dim(spec, 3);
  const tOut = dim(specOut, 4);
  if (known(tIn) && known(tOut) && tIn !== tOut) fail(`spectrogram input has ${tIn} frames but the spectral output ${tOut}`);
  const fixedT = known(tIn) ? tIn : known(tOut) ? tOut : undefined;
  const dynamicSegment = fixedL === undefined;
  const segmentSamples = fixedL ?? options.defaultSegmentSamples ?? 343980;
  if (!Number.isInteger(segmentSamples) || segmentSamples < 4096) {
    fail(`window length ${segmentSamples} is shorter than one STFT frame`);
  }
  const frames = Math.ceil(segmentSamples / HOP_LENGTH);
  if (fixedT !== undefined && fixedT !== frames) {
    fail(`spectrogram has ${fixedT} frames but a ${segmentSamples}-sample window has ${frames}`);
  }

  const sIn = dim(specOut, 1);
  const sOut = dim(waveOut, 1);
  if (known(sIn) && known(sOut) && sIn !== sOut) fail(`spectral output has ${sIn} sources but the time output ${sOut}`);
  const sourceCount = known(sIn) ? sIn : known(sOut) ? sOut : options.sources?.length;
  if (sourceCount === undefined || sourceCount < 1) fail('the source count is not declared and no source names were given');
  const sources = options.sources ?? defaultSourceNames(sourceCount!);
  if (sources.length !== sourceCount) {
    throw new RangeError(`sources (${sources.length} names) must match the model's ${sourceCount} sources`);
  }
  return {
    spec: Object.freeze({
      sampleRate: options.sampleRate ?? SAMPLE_RATE_HZ,
      audioChannels: AUDIO_CHANNELS,
      segmentSamples,
      dynamicSegment,
      frames,
      bins: N_FFT / 2,
      sources: Object.freeze([...sources]),
    }),
    binding: Object.freeze({ waveInput, specInput, specOutput, waveOutput }),
  };
}
