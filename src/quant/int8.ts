/**
 * INT8 variants of a model: dynamic quantization for CPUs (weights int8 per output channel,
 * activations quantized at run time) and static QDQ (activation scales from calibration) for
 * runtimes that execute QuantizeLinear/DequantizeLinear graphs on integer hardware.
 */
import { create } from '@bufbuild/protobuf';
import { DemucsError } from '../core/errors.js';
import {
  StringStringEntryProtoSchema,
  TensorProto_DataType,
  TensorProtoSchema,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './gen/onnx_pb.js';
import {
  attributeValue,
  constantTensor,
  float32Tensor,
  float32Values,
  getAttribute,
  GraphIndex,
  int64Values,
  makeNode,
  pruneDead,
  tensorElementCount,
  topologicalSort,
} from './onnx-io.js';

const FLOAT = TensorProto_DataType.FLOAT;
const INT8 = TensorProto_DataType.INT8;
const UINT8 = TensorProto_DataType.UINT8;

/** Metadata key {@link quantizeInt8} writes into a quantized model. */
export const INT8_METADATA_KEY = 'demucs-mobile.int8';

/** Prefix of every node and tensor {@link quantizeInt8} inserts. */
const PREFIX = '/int8/';

/** Largest magnitude of a symmetric int8 weight: the range is [−127, 127], so 0 is exact and −x = −(x). */
const QMAX = 127;

/**
 * How {@link quantizeInt8} quantizes.
 *
 * - `'dynamic'`: weights int8 per output channel; each `MatMul` (and `Gemm`, rewritten as
 *   `MatMul` + `Add`) quantizes its input at run time (`DynamicQuantizeLinear` →
 *   `MatMulInteger`, which onnxruntime fuses into one integer kernel); convolutions store int8
 *   weights behind a `DequantizeLinear` and compute in float (`ConvInteger` with a per-tensor
 *   dynamic input scale was measured: much slower and far less accurate on HTDemucs).
 * - `'static'`: QDQ format. Activations feeding the quantized operators get a
 *   `QuantizeLinear` → `DequantizeLinear` pair with a scale and zero point from calibration
 *   ranges (uint8, asymmetric); weights are int8 per output channel, symmetric, behind a
 *   `DequantizeLinear`. For integer accelerators (NPU delegates read QDQ graphs); a CPU runtime
 *   runs what it cannot fuse in float.
 */
export type Int8Mode = 'dynamic' | 'static';

/**
 * Nodes {@link quantizeInt8} leaves in float by default: HTDemucs's first encoder layers
 * (`encoder.0`, `tencoder.0`), which read the heavy-tailed normalised spectrogram and
 * waveform, and its last decoder layers (`decoder.3`, `tdecoder.3`), which write the outputs:
 * 0.1 % of the weights. Measured on one 1 s window against float32: with them quantized, the
 * dynamic model's bass spectrogram fell from 27 dB to 12 dB SNR, and the static model's
 * spectrograms to below 0 dB (a per-tensor uint8 scale on the input spectrogram keeps only
 * its loudest bins); with them in float, static reaches 25–28 dB.
 */
export const DEFAULT_INT8_EXCLUDE: readonly RegExp[] = Object.freeze([/^\/t?encoder\.0\//, /^\/t?decoder\.3\//]);

/** Operators whose weights {@link quantizeInt8} quantizes. */
export type Int8Op = 'MatMul' | 'Gemm' | 'Conv' | 'ConvTranspose';

/** The observed range of one activation tensor, from calibration. */
export interface ActivationRange {
  /** Smallest value seen. */
  readonly min: number;
  /** Largest value seen. */
  readonly max: number;
}

/** Activation ranges by tensor name; JSON-serialisable, so a calibration can be saved and reused. */
export type ActivationRanges = Readonly<Record<string, ActivationRange>>;

/** Options of {@link quantizeInt8} and {@link int8ActivationNames}. */
export interface Int8Options {
  /** Dynamic or static quantization. @defaultValue 'dynamic' */
  readonly mode?: Int8Mode;
  /**
   * Activation ranges for `'static'` mode, one per name of {@link int8ActivationNames}
   * (from {@link collectActivationRanges}).
   */
  readonly ranges?: ActivationRanges;
  /**
   * Operators whose weights are quantized.
   * @defaultValue all: 'MatMul', 'Gemm', 'Conv', 'ConvTranspose'
   */
  readonly ops?: readonly Int8Op[];
  /**
   * Dynamic mode: how `MatMul` and `Gemm` use their int8 weights: `'integer'` quantizes the
   * input at run time and multiplies in integers; `'dequantize'` stores the weights int8 and
   * multiplies in float (weight-only quantization).
   * @defaultValue 'integer'
   */
  readonly matmul?: 'dequantize' | 'integer';
  /**
   * Dynamic mode: how the weights of the integer `MatMul`s are stored. `'int8'` runs
   * onnxruntime's u8s8 kernels; `'uint8'` (the symmetric values + 128, zero point 128) its
   * u8u8 kernels.
   * @defaultValue 'int8'
   */
  readonly weightType?: 'int8' | 'uint8';
  /**
   * Dynamic mode: quantize the integer `MatMul` weights to 7 bits ([−63, 63]). x86 CPUs without
   * VNNI (AVX2 only) run u8s8 products with 16-bit intermediate sums that saturate on full
   * 8-bit weights (on HTDemucs the spectral output's SNR falls below 0 dB); 7 bits cannot
   * saturate. CPUs with dot-product instructions (ARMv8.2 `sdot`, x86 VNNI) may turn it off
   * for one more bit of weight precision.
   * @defaultValue true
   */
  readonly reduceRange?: boolean;
  /**
   * Nodes left in float: exact node names or regular expressions tested on node names.
   * @defaultValue {@link DEFAULT_INT8_EXCLUDE} (the first encoder and last decoder layers)
   */
  readonly exclude?: readonly (string | RegExp)[];
  /**
   * Weights with fewer elements stay float.
   * @defaultValue 1024
   */
  readonly minElements?: number;
}

/** What {@link quantizeInt8} did. */
export interface Int8Report {
  /** The mode used. */
  readonly mode: Int8Mode;
  /** Weight tensors stored as int8. */
  readonly weightsQuantized: number;
  /** Elements in those tensors. */
  readonly elementsQuantized: number;
  /** Quantized nodes by operator. */
  readonly nodesQuantized: Readonly<Record<string, number>>;
  /** Activation tensors quantized: given a QDQ pair (static) or a `DynamicQuantizeLinear` (dynamic). */
  readonly activationsQuantized: number;
  /** Largest relative round-trip error of a weight channel, ‖w − ŵ‖ / ‖w‖. */
  readonly maxChannelError: number;
  /** Node count after the edit. */
  readonly nodeCount: number;
}

// #region Dense tensors

/** A float tensor held in memory for folding and quantizing. */
interface Dense {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

function transpose(x: Dense, perm: readonly number[]): Dense {
  const dims = perm.map((p) => x.dims[p]!);
  const inStrides = strides(x.dims);
  const outStrides = strides(dims);
  const out = new Float32Array(x.data.length);
  const rank = dims.length;
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let rem = o;
    let src = 0;
    for (let k = 0; k < rank; k++) {
      idx[k] = Math.floor(rem / outStrides[k]!);
      rem -= idx[k]! * outStrides[k]!;
      src += idx[k]! * inStrides[perm[k]!]!;
    }
    out[o] = x.data[src]!;
  }
  return { data: out, dims };
}

function slice(x: Dense, starts: readonly number[], ends: readonly number[], axes: readonly number[]): Dense {
  const rank = x.dims.length;
  const lo = x.dims.map(() => 0);
  const hi = [...x.dims];
  axes.forEach((a0, i) => {
    const a = a0 < 0 ? a0 + rank : a0;
    const n = x.dims[a]!;
    const clampIndex = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
    lo[a] = clampIndex(starts[i]!);
    hi[a] = Math.max(lo[a]!, clampIndex(ends[i]!));
  });
  const dims = hi.map((h, i) => h - lo[i]!);
  const inStrides = strides(x.dims);
  const outStrides = strides(dims);
  const out = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let o = 0; o < out.length; o++) {
    let rem = o;
    let src = 0;
    for (let k = 0; k < rank; k++) {
      const i = Math.floor(rem / outStrides[k]!);
      rem -= i * outStrides[k]!;
      src += (i + lo[k]!) * inStrides[k]!;
    }
    out[o] = x.data[src]!;
  }
  return { data: out, dims };
}

// #endregion

// #region Weight resolution

/** The constant int64 elements of a value (initializer or Constant output), if it is one. */
function constInts(graph: GraphProto, index: GraphIndex, inits: Map<string, TensorProto>, value: string | undefined): number[] | undefined {
  if (value === undefined || value === '') return undefined;
  const t = inits.get(value) ?? (index.producer.get(value) ? constantTensor(index.producer.get(value)!) : undefined);
  if (t === undefined || t.dataType !== TensorProto_DataType.INT64) return undefined;
  return Array.from(int64Values(t), Number);
}

/**
 * The constant float value of a weight input: an initializer, or an initializer through
 * static `Transpose` and `Slice` nodes (how PyTorch exports `in_proj_weight[a:b].T`).
 */
function resolveWeight(graph: GraphProto, index: GraphIndex, inits: Map<string, TensorProto>, value: string): Dense | undefined {
  const t = inits.get(value);
  if (t !== undefined) return t.dataType === FLOAT ? { data: float32Values(t), dims: t.dims.map(Number) } : undefined;
  const node = index.producer.get(value);
  if (node === undefined) return undefined;
  const ct = constantTensor(node);
  if (ct !== undefined) return ct.dataType === FLOAT ? { data: float32Values(ct), dims: ct.dims.map(Number) } : undefined;
  if (node.opType === 'Transpose') {
    const src = resolveWeight(graph, index, inits, node.input[0]!);
    if (src === undefined) return undefined;
    const perm = getAttribute(node, 'perm');
    const p = perm === undefined ? src.dims.map((_, i) => src.dims.length - 1 - i) : (attributeValue(perm) as readonly bigint[]).map(Number);
    return transpose(src, p);
  }
  if (node.opType === 'Slice') {
    const src = resolveWeight(graph, index, inits, node.input[0]!);
    const starts = constInts(graph, index, inits, node.input[1]);
    const ends = constInts(graph, index, inits, node.input[2]);
    const axes = node.input[3] === undefined || node.input[3] === '' ? starts?.map((_, i) => i) : constInts(graph, index, inits, node.input[3]);
    const steps = node.input[4] === undefined || node.input[4] === '' ? undefined : constInts(graph, index, inits, node.input[4]);
    if (src === undefined || starts === undefined || ends === undefined || axes === undefined) return undefined;
    if (steps !== undefined && steps.some((s) => s !== 1)) return undefined;
    return slice(src, starts, ends, axes);
  }
  return undefined;
}

// #endregion

// #region Quantization arithmetic

/** Rounds half to even, as onnxruntime's quantizers (`std::nearbyint`). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Symmetric int8 quantization of a weight per channel along `axis`: scale = max|w| / 127,
 * q = round(w / scale) in [−127, 127].
 */
function quantizePerChannel(w: Dense, axis: number, qmax = QMAX): { q: Int8Array; scales: Float32Array; maxError: number } {
  const channels = w.dims[axis]!;
  const inner = w.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = w.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const maxAbs = new Float64Array(channels);
  const at = (o: number, c: number, i: number) => (o * channels + c) * inner + i;
  for (let o = 0; o < outer; o++) for (let c = 0; c < channels; c++) for (let i = 0; i < inner; i++) maxAbs[c] = Math.max(maxAbs[c]!, Math.abs(w.data[at(o, c, i)]!));
  const scales = Float32Array.from(maxAbs, (m) => (m > 0 ? m / qmax : 1));
  const q = new Int8Array(w.data.length);
  const err = new Float64Array(channels);
  const norm = new Float64Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      for (let i = 0; i < inner; i++) {
        const k = at(o, c, i);
        const v = w.data[k]!;
        const qv = Math.max(-qmax, Math.min(qmax, roundHalfEven(v / s)));
        q[k] = qv;
        err[c]! += (v - qv * s) ** 2;
        norm[c]! += v * v;
      }
    }
  }
  let maxError = 0;
  for (let c = 0; c < channels; c++) if (norm[c]! > 0) maxError = Math.max(maxError, Math.sqrt(err[c]! / norm[c]!));
  return { q, scales, maxError };
}

/**
 * Scale and zero point of an asymmetric uint8 quantization of `[min, max]` (widened to hold 0,
 * so zero is exact, as the ONNX quantizers do).
 */
function uint8Params(range: ActivationRange): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, range.min);
  const hi = Math.max(0, range.max);
  if (!(hi > lo)) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / 255);
  const zeroPoint = Math.max(0, Math.min(255, roundHalfEven(-lo / scale)));
  return { scale, zeroPoint };
}

// #endregion

// #region Graph edits

function int8Tensor(name: string, q: Int8Array, dims: readonly number[]): TensorProto {
  return create(TensorProtoSchema, {
    name,
    dataType: INT8,
    dims: dims.map(BigInt),
    rawData: new Uint8Array(q.buffer, q.byteOffset, q.byteLength),
  });
}

/** Symmetric int8 values stored as uint8 with zero point 128. */
function uint8Tensor(name: string, q: Int8Array, dims: readonly number[]): TensorProto {
  const u = Uint8Array.from(q, (v) => v + 128);
  return create(TensorProtoSchema, { name, dataType: UINT8, dims: dims.map(BigInt), rawData: u });
}

function uint8Scalar(name: string, value: number): TensorProto {
  return create(TensorProtoSchema, { name, dataType: UINT8, dims: [], rawData: Uint8Array.of(value) });
}

function matcher(patterns: readonly (string | RegExp)[]): (node: NodeProto) => boolean {
  const names = new Set(patterns.filter((p): p is string => typeof p === 'string'));
  const regexes = patterns.filter((p): p is RegExp => p instanceof RegExp);
  return (node) => names.has(node.name) || regexes.some((r) => r.test(node.name));
}

/** One node whose weight will be quantized. */
interface Target {
  readonly node: NodeProto;
  /** Input index of the weight. */
  readonly weightInput: number;
  /** The weight, folded to a dense tensor, in the layout the rewritten node consumes. */
  readonly weight: Dense;
  /** The output-channel axis of that layout. */
  readonly axis: number;
  /** For a Gemm: the bias input (added after the product) and beta, alpha. */
  readonly gemm?: { readonly bias: string | undefined; readonly alpha: number; readonly beta: number };
}

const ALL_OPS: readonly Int8Op[] = ['MatMul', 'Gemm', 'Conv', 'ConvTranspose'];

interface Resolved {
  readonly mode: Int8Mode;
  readonly ops: ReadonlySet<string>;
  readonly matmul: 'dequantize' | 'integer';
  readonly weightType: 'int8' | 'uint8';
  readonly qmax: number;
  readonly exclude: (node: NodeProto) => boolean;
  readonly minElements: number;
}

function resolveOptions(options: Int8Options): Resolved {
  const mode = options.mode ?? 'dynamic';
  if (mode !== 'dynamic' && mode !== 'static') throw new RangeError(`mode (${JSON.stringify(mode)}) must be one of 'dynamic', 'static'`);
  const ops = options.ops ?? ALL_OPS;
  for (const op of ops) if (!ALL_OPS.includes(op)) throw new RangeError(`ops: ${JSON.stringify(op)} must be one of ${ALL_OPS.map((o) => `'${o}'`).join(', ')}`);
  const matmul = options.matmul ?? 'integer';
  if (matmul !== 'dequantize' && matmul !== 'integer') throw new RangeError(`matmul (${JSON.stringify(matmul)}) must be one of 'dequantize', 'integer'`);
  const weightType = options.weightType ?? 'int8';
  if (weightType !== 'int8' && weightType !== 'uint8') throw new RangeError(`weightType (${JSON.stringify(weightType)}) must be one of 'int8', 'uint8'`);
  const minElements = options.minElements ?? 1024;
  if (!Number.isSafeInteger(minElements) || minElements < 1) throw new RangeError(`minElements (${minElements}) must be a positive integer`);
  return { mode, ops: new Set(ops), matmul, weightType, qmax: options.reduceRange === false ? QMAX : 63, exclude: matcher(options.exclude ?? DEFAULT_INT8_EXCLUDE), minElements };
}

function findTargets(graph: GraphProto, o: Resolved): Target[] {
  const index = new GraphIndex(graph);
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const targets: Target[] = [];
  for (const node of graph.node) {
    if (node.domain !== '' || !o.ops.has(node.opType) || o.exclude(node)) continue;
    if (node.opType === 'MatMul') {
      const w = resolveWeight(graph, index, inits, node.input[1] ?? '');
      if (w === undefined || w.dims.length !== 2 || w.data.length < o.minElements) continue;
      targets.push({ node, weightInput: 1, weight: w, axis: 1 });
    } else if (node.opType === 'Gemm') {
      const num = (name: string, fallback: number) => {
        const a = getAttribute(node, name);
        return a === undefined ? fallback : Number(attributeValue(a));
      };
      if (num('transA', 0) !== 0) continue;
      const w0 = resolveWeight(graph, index, inits, node.input[1] ?? '');
      if (w0 === undefined || w0.dims.length !== 2 || w0.data.length < o.minElements) continue;
      // As a MatMul weight [K, N]: Gemm's B is [N, K] when transB = 1.
      const w = num('transB', 0) === 1 ? transpose(w0, [1, 0]) : w0;
      const bias = node.input[2] === undefined || node.input[2] === '' ? undefined : node.input[2];
      targets.push({ node, weightInput: 1, weight: w, axis: 1, gemm: { bias, alpha: num('alpha', 1), beta: num('beta', 1) } });
    } else {
      const t = inits.get(node.input[1] ?? '');
      if (t === undefined || t.dataType !== FLOAT || tensorElementCount(t) < o.minElements) continue;
      const group = getAttribute(node, 'group');
      // ConvTranspose weights are [C_in, C_out / group, k…]: per output channel means axis 1,
      // which is only a whole output channel with one group.
      if (node.opType === 'ConvTranspose' && group !== undefined && Number(group.i) !== 1) continue;
      targets.push({ node, weightInput: 1, weight: { data: float32Values(t), dims: t.dims.map(Number) }, axis: node.opType === 'Conv' ? 0 : 1 });
    }
  }
  return targets;
}

/**
 * The activation tensors {@link quantizeInt8} gives a QuantizeLinear/DequantizeLinear pair in
 * `'static'` mode: the data input of each quantized node. Calibration must give a range for
 * each ({@link collectActivationRanges} does).
 *
 * @param model - the float32 model.
 * @param options - the same options as for {@link quantizeInt8}.
 * @returns the tensor names, in graph order, without repeats.
 */
export function int8ActivationNames(model: ModelProto, options: Int8Options = {}): string[] {
  const graph = model.graph;
  if (graph === undefined) throw new DemucsError('ERR_MODEL_LOAD', 'the model has no graph');
  const names = new Set<string>();
  for (const t of findTargets(graph, resolveOptions(options))) names.add(t.node.input[0]!);
  return [...names];
}

// #endregion

/**
 * Quantizes a model's weights to int8, in place: dynamic quantization for CPUs, or static QDQ
 * with calibrated activation ranges.
 *
 * Weights are quantized symmetrically per output channel (scale = max|w| / 127, round half to
 * even). A `MatMul` weight may be an initializer or an initializer behind static `Slice` and
 * `Transpose` nodes (the attention `in_proj_weight` slices), which are folded. `Gemm` nodes are
 * rewritten as `MatMul` + `Add`. Weights with fewer than `minElements` elements, grouped
 * `ConvTranspose`s and excluded nodes stay float.
 *
 * Retarget first ({@link retargetSegment} checks the original float32 graph), then quantize.
 *
 * @param model - the float32 model, edited in place.
 * @param options - mode, calibration ranges (static), operators, exclusions.
 * @returns what was quantized.
 * @throws RangeError for a bad option; TypeError when `'static'` mode lacks a range for one of
 *   {@link int8ActivationNames}.
 *
 * @example
 * ```ts
 * const model = readModel(readFileSync('htdemucs.onnx'));
 * quantizeInt8(model, { mode: 'dynamic' });
 * writeFileSync('htdemucs-int8.onnx', writeModel(model)); // about 48 MB
 * ```
 */
export function quantizeInt8(model: ModelProto, options: Int8Options = {}): Int8Report {
  const o = resolveOptions(options);
  const graph = model.graph;
  if (graph === undefined) throw new DemucsError('ERR_MODEL_LOAD', 'the model has no graph');
  if (model.metadataProps.some((p) => p.key === INT8_METADATA_KEY)) {
    throw new DemucsError('ERR_MODEL_GRAPH', 'the model was already quantized; quantize the float32 original');
  }
  const targets = findTargets(graph, o);
  if (o.mode === 'static') {
    const missing = [...new Set(targets.map((t) => t.node.input[0]!))].filter((n) => options.ranges?.[n] === undefined);
    if (missing.length > 0) {
      throw new TypeError(
        `static quantization needs a calibration range for ${missing.length} activations, missing ${missing.slice(0, 3).map((n) => JSON.stringify(n)).join(', ')}${missing.length > 3 ? ', …' : ''} (see collectActivationRanges)`,
      );
    }
  }

  const used = new Set<string>();
  for (const t of graph.initializer) used.add(t.name);
  for (const n of graph.node) for (const v of [...n.input, ...n.output]) used.add(v);
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  const newInits: TensorProto[] = [];
  const replacements = new Map<NodeProto, NodeProto[]>();
  /** Per activation: the dynamically quantized triple, or the QDQ output. */
  const dynamicInputs = new Map<string, { q: string; scale: string; zeroPoint: string; nodes: NodeProto[] }>();
  const qdqInputs = new Map<string, { value: string; nodes: NodeProto[] }>();
  const nodesQuantized: Record<string, number> = {};
  let elements = 0;
  let maxChannelError = 0;

  const dynamicInput = (x: string, owner: string) => {
    let d = dynamicInputs.get(x);
    if (d === undefined) {
      const q = fresh(`${x}_quantized`);
      const scale = fresh(`${x}_scale`);
      const zeroPoint = fresh(`${x}_zero_point`);
      const node = makeNode({ opType: 'DynamicQuantizeLinear', name: fresh(`${PREFIX}${owner}/DynamicQuantizeLinear`), inputs: [x], outputs: [q, scale, zeroPoint] });
      d = { q, scale, zeroPoint, nodes: [node] };
      dynamicInputs.set(x, d);
      return { ...d, fresh: true };
    }
    return { ...d, fresh: false };
  };
  const qdqInput = (x: string, owner: string) => {
    let d = qdqInputs.get(x);
    if (d === undefined) {
      const { scale, zeroPoint } = uint8Params(options.ranges![x]!);
      const s = fresh(`${x}_scale`);
      const z = fresh(`${x}_zero_point`);
      newInits.push(float32Tensor([scale], [], { name: s }), uint8Scalar(z, zeroPoint));
      const q = fresh(`${x}_quantized`);
      const dq = fresh(`${x}_dequantized`);
      d = {
        value: dq,
        nodes: [
          makeNode({ opType: 'QuantizeLinear', name: fresh(`${PREFIX}${owner}/QuantizeLinear`), inputs: [x, s, z], outputs: [q] }),
          makeNode({ opType: 'DequantizeLinear', name: fresh(`${PREFIX}${owner}/DequantizeLinear`), inputs: [q, s, z], outputs: [dq] }),
        ],
      };
      qdqInputs.set(x, d);
      return { ...d, fresh: true };
    }
    return { ...d, fresh: false };
  };

  for (const t of targets) {
    const { node } = t;
    const owner = node.name === '' ? node.output[0]! : node.name;
    const isMatMul = node.opType === 'MatMul' || node.opType === 'Gemm';
    const integer = o.mode === 'dynamic' && isMatMul && o.matmul === 'integer';
    const { q, scales, maxError } = quantizePerChannel(t.weight, t.axis, integer ? o.qmax : QMAX);
    maxChannelError = Math.max(maxChannelError, maxError);
    elements += q.length;
    nodesQuantized[node.opType] = (nodesQuantized[node.opType] ?? 0) + 1;
    const wName = fresh(`${PREFIX}${owner}/weight_quantized`);
    const sName = fresh(`${PREFIX}${owner}/weight_scale`);
    const unsigned = integer && o.weightType === 'uint8';
    newInits.push(unsigned ? uint8Tensor(wName, q, t.weight.dims) : int8Tensor(wName, q, t.weight.dims));
    const out = node.output[0]!;
    const x = node.input[0]!;
    const nodes: NodeProto[] = [];
    const alpha = t.gemm?.alpha ?? 1;
    // A Gemm's product goes to a fresh name when a bias is added after it.
    const product = t.gemm?.bias !== undefined ? fresh(`${out}_product`) : out;
    const addBias = () => {
      const bias = t.gemm?.bias;
      if (bias === undefined) return;
      let b = bias;
      if (t.gemm!.beta !== 1) {
        b = fresh(`${bias}_beta`);
        const beta = fresh(`${PREFIX}${owner}/beta`);
        newInits.push(float32Tensor([t.gemm!.beta], [], { name: beta }));
        nodes.push(makeNode({ opType: 'Mul', name: fresh(`${PREFIX}${owner}/MulBeta`), inputs: [bias, beta], outputs: [b] }));
      }
      nodes.push(makeNode({ opType: 'Add', name: fresh(`${PREFIX}${owner}/Add`), inputs: [product, b], outputs: [out] }));
    };

    if (integer) {
      newInits.push(float32Tensor(Array.from(scales, (s) => s * alpha), [scales.length], { name: sName }));
      const d = dynamicInput(x, owner);
      if (d.fresh) nodes.push(...d.nodes);
      const acc = fresh(`${out}_int32`);
      const accF = fresh(`${out}_int32_float`);
      const scale = fresh(`${out}_scale`);
      const inputs = [d.q, wName, d.zeroPoint];
      if (unsigned) {
        const zp = fresh(`${PREFIX}${owner}/weight_zero_point`);
        newInits.push(create(TensorProtoSchema, { name: zp, dataType: UINT8, dims: [BigInt(scales.length)], rawData: new Uint8Array(scales.length).fill(128) }));
        inputs.push(zp);
      }
      // onnxruntime fuses this chain (DynamicQuantizeLinear → MatMulInteger → Cast → Mul by
      // the product of the scales) into one DynamicQuantizeMatMul kernel.
      nodes.push(makeNode({ opType: 'MatMulInteger', name: fresh(`${PREFIX}${owner}/MatMulInteger`), inputs, outputs: [acc] }));
      nodes.push(makeNode({ opType: 'Cast', name: fresh(`${PREFIX}${owner}/Cast`), inputs: [acc], outputs: [accF], attributes: { to: BigInt(FLOAT) } }));
      nodes.push(makeNode({ opType: 'Mul', name: fresh(`${PREFIX}${owner}/MulScales`), inputs: [d.scale, sName], outputs: [scale] }));
      nodes.push(makeNode({ opType: 'Mul', name: fresh(`${PREFIX}${owner}/Mul`), inputs: [accF, scale], outputs: [product] }));
      addBias();
    } else {
      // Weight behind a DequantizeLinear (per channel); in static mode the input behind a QDQ pair.
      newInits.push(float32Tensor(Array.from(scales, (s) => s * (isMatMul ? alpha : 1)), [scales.length], { name: sName }));
      const w = fresh(`${PREFIX}${owner}/weight_dequantized`);
      nodes.push(makeNode({ opType: 'DequantizeLinear', name: fresh(`${PREFIX}${owner}/DequantizeWeight`), inputs: [wName, sName], outputs: [w], attributes: { axis: BigInt(t.axis) } }));
      let input = x;
      if (o.mode === 'static') {
        const d = qdqInput(x, owner);
        if (d.fresh) nodes.push(...d.nodes);
        input = d.value;
      }
      if (isMatMul) {
        nodes.push(makeNode({ opType: 'MatMul', name: node.name, inputs: [input, w], outputs: [product] }));
        addBias();
      } else {
        const copy = makeNode({ opType: node.opType, name: node.name, inputs: [input, w, ...node.input.slice(2)], outputs: [...node.output] });
        copy.attribute = node.attribute.map((a) => a);
        nodes.push(copy);
      }
    }
    replacements.set(node, nodes);
  }

  graph.node = graph.node.flatMap((n) => replacements.get(n) ?? [n]);
  graph.initializer.push(...newInits);
  pruneDead(graph);
  topologicalSort(graph);
  model.metadataProps.push(create(StringStringEntryProtoSchema, { key: INT8_METADATA_KEY, value: JSON.stringify({ mode: o.mode }) }));
  return Object.freeze({
    mode: o.mode,
    weightsQuantized: targets.length,
    elementsQuantized: elements,
    nodesQuantized: Object.freeze(nodesQuantized),
    activationsQuantized: o.mode === 'static' ? qdqInputs.size : dynamicInputs.size,
    maxChannelError,
    nodeCount: graph.node.length,
  });
}
