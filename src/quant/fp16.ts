/**
 * Float16 variants of a model: weights stored as float16 (half the file, float32 compute), or
 * the whole network computed in float16 with a float32 block list (for GPUs and NPUs).
 */
import { create } from '@bufbuild/protobuf';
import { DemucsError } from '../core/errors.js';
import { inferElementTypes } from './element-types.js';
import { fromFloat16Bits, toFloat16Bits } from './float16.js';
import {
  AttributeProto_AttributeType,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType,
  TensorProtoSchema,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './gen/onnx_pb.js';
import { constantTensor, float32Values, GraphIndex, makeNode, tensorElementCount, tensorEncoding, topologicalSort } from './onnx-io.js';

const FLOAT = TensorProto_DataType.FLOAT;
const FLOAT16 = TensorProto_DataType.FLOAT16;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Metadata key {@link toFloat16} writes into a converted model. */
export const FLOAT16_METADATA_KEY = 'demucs-mobile.float16';

/** Prefix of every node {@link toFloat16} inserts. */
const NODE_PREFIX = '/fp16/';

/**
 * How {@link toFloat16} converts a model.
 *
 * - `'weights'`: float weights are stored as float16 and cast back to float32 when the model
 *   loads (onnxruntime folds the casts), so the file is half the size and the arithmetic is
 *   unchanged float32.
 * - `'full'`: every float tensor is computed in float16 except the {@link DEFAULT_FLOAT32_OPS}
 *   block list (or your own), with float32 graph inputs and outputs. For runtimes with float16
 *   kernels (GPUs, NPUs); a CPU runtime without them casts around each operator.
 */
export type Float16Mode = 'weights' | 'full';

/**
 * Operators computed in float32 in `'full'` mode by default: those whose float16 results
 * overflow or lose too much (reductions, powers and roots, softmax, the normalisations,
 * exponentials and logarithms, ranges, and the sines and cosines of the positional embedding,
 * whose arguments reach hundreds of radians). A `Div` whose divisor comes from a float32 node
 * (a normalisation's `std + eps`) and elementwise nodes fed only by float32 nodes and constants
 * stay float32 too, as does shape arithmetic (nodes that do not depend on the input data).
 */
export const DEFAULT_FLOAT32_OPS: readonly string[] = Object.freeze([
  'ReduceMean',
  'ReduceSum',
  'ReduceProd',
  'ReduceSumSquare',
  'ReduceL2',
  'ReduceLogSumExp',
  'Pow',
  'Sqrt',
  'Softmax',
  'LogSoftmax',
  'LayerNormalization',
  'InstanceNormalization',
  'GroupNormalization',
  'Exp',
  'Log',
  'Range',
  'CumSum',
  'Sin',
  'Cos',
]);

/** Options of {@link toFloat16}. */
export interface Float16Options {
  /** What to convert. @defaultValue 'weights' */
  readonly mode?: Float16Mode;
  /**
   * Nodes kept in float32: an operator type (`'Softmax'`), an exact node name, or a regular
   * expression tested on node names. In `'full'` mode these nodes compute in float32 with
   * casts around them; in both modes a weight that feeds one of them (directly or through
   * reshapes, transposes and slices) stays float32 unless float16 represents it exactly.
   * @defaultValue {@link DEFAULT_FLOAT32_OPS}
   */
  readonly keepFloat32?: readonly (string | RegExp)[];
  /**
   * Float weights (initializers and `Constant` values) with fewer elements stay float32 in
   * `'weights'` mode (they cost nothing in size, and small tensors are often epsilons and
   * scales); in `'full'` mode, the float32 tensors of the float32 nodes with at least this many
   * elements that float16 represents exactly are stored as float16 behind a Cast.
   * @defaultValue 16
   */
  readonly minElements?: number;
}

/** What {@link toFloat16} did. */
export interface Float16Report {
  /** The mode used. */
  readonly mode: Float16Mode;
  /** Weight tensors (initializers and `Constant` values) now stored as float16. */
  readonly tensorsConverted: number;
  /** Elements in those tensors. */
  readonly elementsConverted: number;
  /** Float weight tensors left in float32 (too small, or feeding a float32 node). */
  readonly tensorsKept: number;
  /** Weight values beyond ±65504, clamped to ±65504. */
  readonly clamped: number;
  /** Non-zero weight values below 2⁻²⁵ that became zero. */
  readonly flushedToZero: number;
  /** `Cast` nodes inserted. */
  readonly castsInserted: number;
  /** Nodes computing in float16 (`'full'` mode; 0 in `'weights'` mode). */
  readonly float16Nodes: number;
  /** Nodes with float inputs or outputs computing in float32 (`'full'` mode), by operator. */
  readonly float32Nodes: Readonly<Record<string, number>>;
  /** Node count after the edit. */
  readonly nodeCount: number;
}

/** Operators that only move or select elements: weights reach their real consumer through them. */
const DATA_MOVEMENT = new Set(['Concat', 'Expand', 'Flatten', 'Gather', 'Identity', 'Pad', 'Reshape', 'Slice', 'Split', 'Squeeze', 'Tile', 'Transpose', 'Unsqueeze']);

/** Elementwise operators: a node fed only by float32 nodes and constants stays float32. */
const ELEMENTWISE = new Set(['Abs', 'Add', 'Clip', 'Div', 'Max', 'Min', 'Mul', 'Neg', 'Reciprocal', 'Sub']);

/** Operators whose float inputs are read at any precision (only the shape is used). */
const ANY_PRECISION_INPUT = new Set(['Shape', 'Size']);

/** Inputs that the ONNX schema fixes to float32 whatever the data type. */
const FLOAT32_INPUTS: Readonly<Record<string, readonly number[]>> = { Resize: [1, 2], Upsample: [1] };

function matcher(patterns: readonly (string | RegExp)[]): (node: NodeProto) => boolean {
  const names = new Set(patterns.filter((p): p is string => typeof p === 'string'));
  const regexes = patterns.filter((p): p is RegExp => p instanceof RegExp);
  return (node) => names.has(node.opType) || names.has(node.name) || regexes.some((r) => r.test(node.name));
}

/** A FLOAT16 tensor with the float32 tensor's name and dims, and what the conversion lost. */
function float16Tensor(t: TensorProto, name = t.name): { tensor: TensorProto; clamped: number; flushed: number; exact: boolean } {
  const values = float32Values(t);
  const conv = toFloat16Bits(values);
  const back = fromFloat16Bits(conv.bits);
  let exact = true;
  for (let i = 0; i < values.length && exact; i++) exact = Object.is(back[i], values[i]) || (Number.isNaN(back[i]!) && Number.isNaN(values[i]!));
  const tensor = create(TensorProtoSchema, { name, dataType: FLOAT16, dims: [...t.dims], rawData: float16Bytes(conv.bits) });
  if (t.docString !== '') tensor.docString = t.docString;
  return { tensor, clamped: conv.clamped, flushed: conv.flushedToZero, exact };
}

function float16Bytes(bits: Uint16Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
  const out = new Uint8Array(bits.byteLength);
  const view = new DataView(out.buffer);
  bits.forEach((b, i) => view.setUint16(i * 2, b, true));
  return out;
}

/**
 * The elements of a FLOAT16 tensor as float32 values (exact), from `raw_data` or `int32_data`.
 *
 * @param t - a FLOAT16 tensor.
 * @returns its elements in row-major order.
 * @throws TypeError when the tensor is not FLOAT16.
 */
export function float16Values(t: TensorProto): Float32Array {
  if (t.dataType !== FLOAT16) throw new TypeError(`tensor ${JSON.stringify(t.name)} has element type ${TensorProto_DataType[t.dataType]}, not FLOAT16`);
  if (t.dataLocation === TensorProto_DataLocation.EXTERNAL) throw new DemucsError('ERR_MODEL_LOAD', `tensor ${JSON.stringify(t.name)} keeps its data in an external file`);
  let bits: Uint16Array;
  if (tensorEncoding(t) === 'raw') {
    const raw = t.rawData;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    bits = Uint16Array.from({ length: raw.byteLength >>> 1 }, (_, i) => view.getUint16(i * 2, true));
  } else {
    // Typed encoding: one uint16 pattern per int32_data entry.
    bits = Uint16Array.from(t.int32Data);
  }
  if (bits.length !== tensorElementCount(t)) {
    throw new DemucsError('ERR_MODEL_LOAD', `tensor ${JSON.stringify(t.name)} holds ${bits.length} elements but its dims [${t.dims.join(', ')}] need ${tensorElementCount(t)}`);
  }
  return fromFloat16Bits(bits);
}

/** Unique value names: the graph's, plus every name handed out. */
class Names {
  readonly #used = new Set<string>();
  constructor(graph: GraphProto) {
    for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) this.#used.add(v.name);
    for (const t of graph.initializer) this.#used.add(t.name);
    for (const n of graph.node) for (const v of [...n.input, ...n.output]) this.#used.add(v);
  }
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.#used.has(name); i++) name = `${base}_${i}`;
    this.#used.add(name);
    return name;
  }
}

function castNode(name: string, input: string, output: string, to: TensorProto_DataType): NodeProto {
  return makeNode({ opType: 'Cast', name, inputs: [input], outputs: [output], attributes: { to: BigInt(to) } });
}

function validateOptions(options: Float16Options): { mode: Float16Mode; keep: (node: NodeProto) => boolean; minElements: number } {
  const mode = options.mode ?? 'weights';
  if (mode !== 'weights' && mode !== 'full') throw new RangeError(`mode (${JSON.stringify(mode)}) must be one of 'weights', 'full'`);
  const minElements = options.minElements ?? 16;
  if (!Number.isSafeInteger(minElements) || minElements < 1) throw new RangeError(`minElements (${minElements}) must be a positive integer`);
  return { mode, keep: matcher(options.keepFloat32 ?? DEFAULT_FLOAT32_OPS), minElements };
}

/** Whether a value reaches a kept node, directly or through data-movement operators. */
function feedsKept(index: GraphIndex, value: string, keep: (node: NodeProto) => boolean, seen = new Set<string>()): boolean {
  if (seen.has(value)) return false;
  seen.add(value);
  for (const c of index.consumers.get(value) ?? []) {
    if (keep(c)) return true;
    if (DATA_MOVEMENT.has(c.opType) && c.output.some((o) => o !== '' && feedsKept(index, o, keep, seen))) return true;
  }
  return false;
}

interface Tally {
  converted: number;
  elements: number;
  kept: number;
  clamped: number;
  flushed: number;
  casts: number;
}

function toFloat16Weights(graph: GraphProto, keep: (node: NodeProto) => boolean, minElements: number, tally: Tally): void {
  const index = new GraphIndex(graph);
  const names = new Names(graph);
  const graphInputs = new Set(graph.input.map((v) => v.name));
  const head: NodeProto[] = [];
  graph.initializer = graph.initializer.map((t) => {
    if (t.dataType !== FLOAT || graphInputs.has(t.name)) return t;
    const n = tensorElementCount(t);
    if (n < minElements) return (tally.kept++, t);
    const half = float16Tensor(t, names.fresh(`${t.name}_fp16`));
    if (!half.exact && feedsKept(index, t.name, keep)) return (tally.kept++, t);
    head.push(castNode(`${NODE_PREFIX}${t.name}/Cast`, half.tensor.name, t.name, FLOAT));
    tally.converted++;
    tally.elements += n;
    tally.clamped += half.clamped;
    tally.flushed += half.flushed;
    tally.casts++;
    return half.tensor;
  });
  const nodes: NodeProto[] = [...head];
  for (const node of graph.node) {
    nodes.push(node);
    const t = constantTensor(node);
    const out = node.output[0];
    if (t === undefined || t.dataType !== FLOAT || out === undefined) continue;
    const n = tensorElementCount(t);
    if (n < minElements) {
      tally.kept++;
      continue;
    }
    const half = float16Tensor(t);
    if (!half.exact && feedsKept(index, out, keep)) {
      tally.kept++;
      continue;
    }
    const attr = node.attribute.find((a) => a.name === 'value')!;
    attr.t = half.tensor;
    const stored = names.fresh(`${out}_fp16`);
    node.output[0] = stored;
    nodes.push(castNode(`${NODE_PREFIX}${node.name === '' ? out : node.name}/Cast`, stored, out, FLOAT));
    tally.converted++;
    tally.elements += n;
    tally.clamped += half.clamped;
    tally.flushed += half.flushed;
    tally.casts++;
  }
  graph.node = nodes;
}

type Precision = 'fp16' | 'fp32' | 'none';

function toFloat16Full(
  graph: GraphProto,
  keep: (node: NodeProto) => boolean,
  minElements: number,
  tally: Tally,
): { fp16: number; fp32: Record<string, number> } {
  topologicalSort(graph);
  const types = inferElementTypes(graph);
  const isFloat = (v: string) => v !== '' && types.get(v) === FLOAT;
  const index = new GraphIndex(graph);
  const names = new Names(graph);
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const graphInputs = new Set(graph.input.map((v) => v.name).filter((n) => !initializers.has(n)));

  // Which values depend on the input data (not only on shapes and constants).
  const dataDependent = new Set(graphInputs);
  for (const node of graph.node) {
    if (node.opType === 'Shape' || node.opType === 'Size') continue;
    if (node.input.some((i) => dataDependent.has(i))) for (const o of node.output) dataDependent.add(o);
  }

  // Weights reach their consumers through static slices, transposes and reshapes; those run
  // in float16 unless they lead to static arithmetic (which keeps its float32 inputs exact).
  const isStatic = (node: NodeProto) => !node.input.some((i) => dataDependent.has(i));
  const leadsToStaticArithmetic = (v: string, seen = new Set<string>()): boolean => {
    if (seen.has(v)) return false;
    seen.add(v);
    return (index.consumers.get(v) ?? []).some((c) =>
      DATA_MOVEMENT.has(c.opType) ? c.output.some((o) => leadsToStaticArithmetic(o, seen)) : isStatic(c) && !ANY_PRECISION_INPUT.has(c.opType),
    );
  };
  const weightLike = new Set<string>(graph.initializer.map((t) => t.name));
  for (const node of graph.node) {
    const moves = node.opType === 'Constant' || (DATA_MOVEMENT.has(node.opType) && isStatic(node) && node.input.filter(isFloat).every((i) => weightLike.has(i)));
    if (moves) for (const o of node.output) weightLike.add(o);
  }

  // Each node's precision, in graph order (a node's producers are classified before it).
  const precision = new Map<NodeProto, Precision>();
  const producedBy32 = (v: string) => {
    const p = index.producer.get(v);
    return p === undefined ? graphInputs.has(v) : precision.get(p) === 'fp32' && p.opType !== 'Constant';
  };
  const isSource = (v: string) => initializers.has(v) || index.producer.get(v)?.opType === 'Constant';
  for (const node of graph.node) {
    const floatIo = node.input.some(isFloat) || node.output.some(isFloat);
    let p: Precision;
    if (!floatIo) p = 'none';
    else if (node.opType === 'Constant') p = 'fp32'; // a source: its home is decided below
    else if (isStatic(node)) {
      const weightPath = DATA_MOVEMENT.has(node.opType) && node.output.every((o) => weightLike.has(o) && !leadsToStaticArithmetic(o));
      p = weightPath && !keep(node) ? 'fp16' : 'fp32';
    }
    else if (keep(node)) p = 'fp32';
    else if (node.opType === 'Div' && producedBy32(node.input[1] ?? '')) p = 'fp32';
    else if (ELEMENTWISE.has(node.opType)) {
      const inputs = node.input.filter(isFloat);
      p = inputs.some(producedBy32) && inputs.every((i) => producedBy32(i) || isSource(i)) ? 'fp32' : 'fp16';
    } else p = 'fp16';
    precision.set(node, p);
  }

  // The precision each float value is stored at.
  const home = new Map<string, TensorProto_DataType>();
  const consumersWant = (v: string) => {
    const wants = new Set<Precision>();
    for (const c of index.consumers.get(v) ?? []) {
      if (ANY_PRECISION_INPUT.has(c.opType)) continue;
      const fixed = FLOAT32_INPUTS[c.opType];
      const p = precision.get(c)!;
      c.input.forEach((i, k) => {
        if (i === v) wants.add(fixed?.includes(k) ? 'fp32' : p);
      });
    }
    return wants;
  };
  for (const t of graph.initializer) {
    if (t.dataType !== FLOAT) continue;
    const wants = consumersWant(t.name);
    home.set(t.name, wants.has('fp16') && !wants.has('fp32') ? FLOAT16 : FLOAT);
  }
  for (const v of graphInputs) if (isFloat(v)) home.set(v, FLOAT);
  for (const node of graph.node) {
    const p = precision.get(node)!;
    for (const o of node.output) {
      if (!isFloat(o)) continue;
      if (node.opType === 'Constant') {
        const wants = consumersWant(o);
        home.set(o, wants.has('fp16') && !wants.has('fp32') ? FLOAT16 : FLOAT);
      } else {
        home.set(o, p === 'fp16' ? FLOAT16 : FLOAT);
      }
    }
  }

  // Convert the sources stored as float16.
  graph.initializer = graph.initializer.map((t) => {
    if (home.get(t.name) !== FLOAT16) return t;
    const half = float16Tensor(t);
    tally.converted++;
    tally.elements += tensorElementCount(t);
    tally.clamped += half.clamped;
    tally.flushed += half.flushed;
    return half.tensor;
  });
  // Float32 sources that float16 holds exactly (zeros canvases, small integers) are stored as
  // float16 all the same, behind a Cast back to float32 that the runtime folds at load.
  const graphInputNames = new Set(graph.input.map((v) => v.name));
  const exactCasts: NodeProto[] = [];
  const storeExactly = (t: TensorProto, value: string): TensorProto | undefined => {
    if (t.dataType !== FLOAT || tensorElementCount(t) < minElements || graphInputNames.has(value)) return undefined;
    const half = float16Tensor(t, t.name === '' ? '' : names.fresh(`${t.name}_fp16`));
    if (!half.exact) return undefined;
    tally.converted++;
    tally.elements += tensorElementCount(t);
    tally.casts++;
    return half.tensor;
  };
  graph.initializer = graph.initializer.map((t) => {
    if (t.dataType !== FLOAT) return t;
    const half = storeExactly(t, t.name);
    if (half === undefined) return (tally.kept++, t);
    exactCasts.push(castNode(`${NODE_PREFIX}${t.name}/Cast`, half.name, t.name, FLOAT));
    return half;
  });

  // Casts, one per value and target precision, and the float16 nodes' type attributes.
  const casts = new Map<string, string>();
  const inserted: NodeProto[] = [];
  const castOf = (v: string, to: TensorProto_DataType): string => {
    const key = `${v}\u0000${to}`;
    let name = casts.get(key);
    if (name === undefined) {
      name = names.fresh(`${v}_${to === FLOAT16 ? 'fp16' : 'fp32'}`);
      inserted.push(castNode(`${NODE_PREFIX}${v}/Cast_${to === FLOAT16 ? 'fp16' : 'fp32'}`, v, name, to));
      casts.set(key, name);
    }
    return name;
  };
  let fp16Nodes = 0;
  const fp32Nodes: Record<string, number> = {};
  for (const node of graph.node) {
    const p = precision.get(node)!;
    if (p === 'none') continue;
    if (node.opType === 'Constant') {
      const out = node.output[0]!;
      const t = constantTensor(node);
      if (t !== undefined && home.get(out) === FLOAT16) {
        const half = float16Tensor(t);
        node.attribute.find((a) => a.name === 'value')!.t = half.tensor;
        tally.converted++;
        tally.elements += tensorElementCount(t);
        tally.clamped += half.clamped;
        tally.flushed += half.flushed;
      } else if (t !== undefined && t.dataType === FLOAT) {
        const half = storeExactly(t, out);
        if (half === undefined) {
          tally.kept++;
        } else {
          node.attribute.find((a) => a.name === 'value')!.t = half;
          const stored = names.fresh(`${out}_fp16`);
          node.output[0] = stored;
          exactCasts.push(castNode(`${NODE_PREFIX}${node.name === '' ? out : node.name}/Cast`, stored, out, FLOAT));
        }
      }
      continue;
    }
    if (p === 'fp16') fp16Nodes++;
    else if (!ANY_PRECISION_INPUT.has(node.opType)) fp32Nodes[node.opType] = (fp32Nodes[node.opType] ?? 0) + 1;
    if (!ANY_PRECISION_INPUT.has(node.opType)) {
      const fixed = FLOAT32_INPUTS[node.opType];
      node.input = node.input.map((v, k) => {
        if (!isFloat(v)) return v;
        const want = p === 'fp16' && !fixed?.includes(k) ? FLOAT16 : FLOAT;
        return home.get(v) === want ? v : castOf(v, want);
      });
    }
    if (p === 'fp16') retypeAttributes(node);
  }

  // Float32 graph outputs: the float16 value gets a new name, a Cast restores the old one.
  for (const out of graph.output) {
    if (home.get(out.name) !== FLOAT16) continue;
    const half = names.fresh(`${out.name}_fp16`);
    for (const node of graph.node) {
      node.input = node.input.map((v) => (v === out.name ? half : v));
      node.output = node.output.map((v) => (v === out.name ? half : v));
    }
    for (const c of inserted) c.input = c.input.map((v) => (v === out.name ? half : v));
    inserted.push(castNode(`${NODE_PREFIX}${out.name}/Cast_output`, half, out.name, FLOAT));
  }

  for (const v of graph.valueInfo) {
    const type = v.type?.value;
    if (type?.case === 'tensorType' && home.get(v.name) === FLOAT16) type.value.elemType = FLOAT16;
  }
  graph.node.push(...exactCasts, ...inserted);
  tally.casts += inserted.length;
  topologicalSort(graph);
  return { fp16: fp16Nodes, fp32: fp32Nodes };
}

/** A float16 node's type-carrying attributes: `Cast(to=FLOAT)` and float `ConstantOfShape` values. */
function retypeAttributes(node: NodeProto): void {
  for (const a of node.attribute) {
    if (node.opType === 'Cast' && a.name === 'to' && Number(a.i) === FLOAT) a.i = BigInt(FLOAT16);
    if (node.opType === 'ConstantOfShape' && a.name === 'value' && a.type === AttributeProto_AttributeType.TENSOR && a.t?.dataType === FLOAT) {
      a.t = float16Tensor(a.t).tensor;
    }
  }
}

/**
 * Converts a model to float16, in place: weights only (`'weights'`, half the file, float32
 * arithmetic) or the whole computation (`'full'`, for runtimes with float16 kernels).
 *
 * Conversion rounds to nearest even; weight values beyond ±65504 are clamped and counted in
 * the report (HTDemucs has none). In `'weights'` mode each converted initializer `w` becomes
 * `w_fp16` (FLOAT16) followed by one `Cast(to=FLOAT)` that produces `w` again, placed before
 * all nodes; float `Constant` values get the same treatment in place. In `'full'` mode the
 * graph inputs and outputs stay float32 with `Cast`s at the boundary, every float tensor is
 * computed in float16 except the nodes kept in float32 (see {@link DEFAULT_FLOAT32_OPS}), and
 * one `Cast` per value and direction is inserted where the two meet; `value_info` types follow.
 *
 * Retarget first ({@link retargetSegment} checks the original float32 constants), then convert.
 *
 * @param model - the model, edited in place.
 * @param options - mode, float32 block list, smallest converted weight.
 * @returns what was converted.
 * @throws RangeError for a bad option.
 * @throws DemucsError `ERR_MODEL_GRAPH` in `'full'` mode for a graph with subgraphs or an
 *   operator whose output types are not known to this tool.
 *
 * @example
 * ```ts
 * import { readFileSync, writeFileSync } from 'node:fs';
 * import { readModel, toFloat16, writeModel } from 'demucs-mobile/quant';
 *
 * const model = readModel(readFileSync('htdemucs.onnx'));
 * const report = toFloat16(model, { mode: 'weights' });
 * writeFileSync('htdemucs-fp16.onnx', writeModel(model)); // 87 MB instead of 174 MB
 * report.clamped; // 0
 * ```
 */
export function toFloat16(model: ModelProto, options: Float16Options = {}): Float16Report {
  const { mode, keep, minElements } = validateOptions(options);
  const graph = model.graph;
  if (graph === undefined) throw new DemucsError('ERR_MODEL_LOAD', 'the model has no graph');
  if (model.metadataProps.some((p) => p.key === FLOAT16_METADATA_KEY)) {
    throw new DemucsError('ERR_MODEL_GRAPH', 'the model was already converted to float16; convert the float32 original');
  }
  const tally: Tally = { converted: 0, elements: 0, kept: 0, clamped: 0, flushed: 0, casts: 0 };
  let nodes: { fp16: number; fp32: Record<string, number> } = { fp16: 0, fp32: {} };
  if (mode === 'weights') toFloat16Weights(graph, keep, minElements, tally);
  else nodes = toFloat16Full(graph, keep, minElements, tally);
  model.metadataProps.push(create(StringStringEntryProtoSchema, { key: FLOAT16_METADATA_KEY, value: JSON.stringify({ mode }) }));
  return Object.freeze({
    mode,
    tensorsConverted: tally.converted,
    elementsConverted: tally.elements,
    tensorsKept: tally.kept,
    clamped: tally.clamped,
    flushedToZero: tally.flushed,
    castsInserted: tally.casts,
    float16Nodes: nodes.fp16,
    float32Nodes: Object.freeze(Object.fromEntries(Object.entries(nodes.fp32).sort((a, b) => b[1] - a[1]))),
    nodeCount: graph.node.length,
  });
}
