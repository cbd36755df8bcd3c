/**
 * Reading, editing and writing ONNX models in TypeScript, on the schema in `onnx.proto`
 * (generated code in `gen/onnx_pb.ts`, by protobuf-es).
 *
 * Decoding keeps unknown fields and encoding writes them back, so a model read and written
 * without edits is byte-identical to the file (checked on the 174 MB htdemucs.onnx).
 */
import { clearField, create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { DemucsError } from '../core/errors.js';
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './gen/onnx_pb.js';

/**
 * Decodes an `.onnx` file.
 *
 * The returned model's `raw_data` byte fields are views into `bytes` (not copies, which keeps
 * decoding of a 174 MB model under 0.1 s): do not modify `bytes` while the model is in use.
 *
 * @param bytes - the file's contents.
 * @returns the model, with unknown fields kept for {@link writeModel}.
 * @throws DemucsError `ERR_MODEL_LOAD` when the bytes are not a protobuf-encoded ONNX model
 *   with a graph.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { readModel } from 'demucs-mobile/quant';
 * const model = readModel(readFileSync('htdemucs.onnx'));
 * model.graph?.node.length; // 3268
 * ```
 */
export function readModel(bytes: Uint8Array): ModelProto {
  let model: ModelProto;
  try {
    // A plain Uint8Array view (not a Node Buffer, whose slice() does not copy) for the byte fields.
    const plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    model = fromBinary(ModelProtoSchema, plain, { readUnknownFields: true });
  } catch (cause) {
    throw new DemucsError('ERR_MODEL_LOAD', `not an ONNX model (${bytes.byteLength} bytes): ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
  if (model.graph === undefined) {
    throw new DemucsError('ERR_MODEL_LOAD', `not an ONNX model (${bytes.byteLength} bytes): it has no graph`);
  }
  return model;
}

/**
 * Encodes a model to `.onnx` bytes, unknown fields included.
 *
 * @param model - the model.
 * @returns the file's contents.
 */
export function writeModel(model: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, model, { writeUnknownFields: true });
}

// #region Tensors

/** How a tensor stores its elements: in `raw_data`, or in the typed field (`int64_data`, `float_data`). */
export type TensorEncoding = 'raw' | 'typed';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function dataTypeName(t: number): string {
  return TensorProto_DataType[t] ?? `data type ${t}`;
}

function describeTensor(t: TensorProto): string {
  return t.name === '' ? 'tensor' : `tensor ${JSON.stringify(t.name)}`;
}

function expectInline(t: TensorProto): void {
  if (t.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    throw new DemucsError('ERR_MODEL_LOAD', `${describeTensor(t)} keeps its data in an external file, which is not supported here`);
  }
}

function expectType(t: TensorProto, type: TensorProto_DataType): void {
  if (t.dataType !== type) {
    throw new TypeError(`${describeTensor(t)} has element type ${dataTypeName(t.dataType)}, not ${dataTypeName(type)}`);
  }
}

/**
 * The number of elements of a tensor: the product of its dims (1 for a scalar).
 *
 * @param t - the tensor.
 * @returns the element count.
 */
export function tensorElementCount(t: TensorProto): number {
  let n = 1;
  for (const d of t.dims) n *= Number(d);
  return n;
}

/**
 * Where a tensor keeps its elements.
 *
 * @param t - the tensor.
 * @returns `'raw'` when `raw_data` is set, `'typed'` otherwise.
 */
export function tensorEncoding(t: TensorProto): TensorEncoding {
  return t.rawData.byteLength > 0 ? 'raw' : 'typed';
}

function checkCount(t: TensorProto, count: number): void {
  const expected = tensorElementCount(t);
  if (count !== expected) {
    throw new DemucsError('ERR_MODEL_LOAD', `${describeTensor(t)} holds ${count} elements but its dims [${t.dims.join(', ')}] need ${expected}`);
  }
}

/**
 * The elements of an INT64 tensor, from `raw_data` or `int64_data` (a copy).
 *
 * @param t - an INT64 tensor.
 * @returns its elements in row-major order.
 * @throws TypeError when the tensor is not INT64.
 */
export function int64Values(t: TensorProto): BigInt64Array {
  expectType(t, TensorProto_DataType.INT64);
  expectInline(t);
  let out: BigInt64Array;
  if (tensorEncoding(t) === 'raw') {
    const raw = t.rawData;
    if (raw.byteLength % 8 !== 0) throw new DemucsError('ERR_MODEL_LOAD', `${describeTensor(t)} has ${raw.byteLength} raw bytes, not a multiple of 8`);
    if (LITTLE_ENDIAN) {
      out = new BigInt64Array(new Uint8Array(raw).buffer);
    } else {
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      out = BigInt64Array.from({ length: raw.byteLength / 8 }, (_, i) => view.getBigInt64(i * 8, true));
    }
  } else {
    out = BigInt64Array.from(t.int64Data);
  }
  checkCount(t, out.length);
  return out;
}

/**
 * The elements of a FLOAT tensor, from `raw_data` or `float_data` (a copy).
 *
 * @param t - a FLOAT tensor.
 * @returns its elements in row-major order.
 * @throws TypeError when the tensor is not FLOAT.
 */
export function float32Values(t: TensorProto): Float32Array {
  expectType(t, TensorProto_DataType.FLOAT);
  expectInline(t);
  let out: Float32Array;
  if (tensorEncoding(t) === 'raw') {
    const raw = t.rawData;
    if (raw.byteLength % 4 !== 0) throw new DemucsError('ERR_MODEL_LOAD', `${describeTensor(t)} has ${raw.byteLength} raw bytes, not a multiple of 4`);
    if (LITTLE_ENDIAN) {
      out = new Float32Array(new Uint8Array(raw).buffer);
    } else {
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      out = Float32Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
    }
  } else {
    out = Float32Array.from(t.floatData);
  }
  checkCount(t, out.length);
  return out;
}

function toBigInts(values: ArrayLike<bigint> | ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`values[${i}] (${v}) must be a safe integer`);
    out[i] = BigInt(v);
  }
  return out;
}

function littleEndianBytes(values: BigInt64Array | Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  if (values instanceof BigInt64Array) values.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  else values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

function setDims(t: TensorProto, dims: readonly number[] | undefined, count: number): void {
  if (dims !== undefined) {
    for (const d of dims) if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`dims [${dims.join(', ')}] must be non-negative integers`);
    t.dims = dims.map((d) => BigInt(d));
  }
  const expected = tensorElementCount(t);
  if (count !== expected) throw new RangeError(`${count} values do not fill dims [${t.dims.join(', ')}] (${expected} elements)`);
}

/**
 * Replaces the elements (and optionally the dims) of an INT64 tensor, keeping its
 * {@link TensorEncoding}: `raw_data` stays `raw_data`, `int64_data` stays `int64_data`.
 *
 * @param t - an INT64 tensor, edited in place.
 * @param values - the new elements (bigints, or safe-integer numbers).
 * @param dims - new dims; by default the old ones.
 * @throws TypeError when the tensor is not INT64; RangeError when the values do not fill the dims.
 */
export function setInt64Values(t: TensorProto, values: ArrayLike<bigint> | ArrayLike<number>, dims?: readonly number[]): void {
  expectType(t, TensorProto_DataType.INT64);
  expectInline(t);
  const encoding = tensorEncoding(t);
  const data = toBigInts(values);
  setDims(t, dims, data.length);
  if (encoding === 'raw' || data.length === 0) {
    t.rawData = littleEndianBytes(data);
    t.int64Data = [];
  } else {
    t.int64Data = Array.from(data);
    // proto2 keeps presence: an assigned empty raw_data would still be written.
    clearField(t, TensorProtoSchema.field.rawData);
  }
}

/**
 * Replaces the elements (and optionally the dims) of a FLOAT tensor, keeping its
 * {@link TensorEncoding}. Values are rounded to float32.
 *
 * @param t - a FLOAT tensor, edited in place.
 * @param values - the new elements.
 * @param dims - new dims; by default the old ones.
 * @throws TypeError when the tensor is not FLOAT; RangeError when the values do not fill the dims.
 */
export function setFloat32Values(t: TensorProto, values: ArrayLike<number>, dims?: readonly number[]): void {
  expectType(t, TensorProto_DataType.FLOAT);
  expectInline(t);
  const encoding = tensorEncoding(t);
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  setDims(t, dims, data.length);
  if (encoding === 'raw' || data.length === 0) {
    t.rawData = littleEndianBytes(data);
    t.floatData = [];
  } else {
    t.floatData = Array.from(data);
    clearField(t, TensorProtoSchema.field.rawData);
  }
}

/** Options of {@link int64Tensor} and {@link float32Tensor}. */
export interface TensorOptions {
  /** The tensor's name. @defaultValue none (empty) */
  readonly name?: string;
  /** Where to store the elements. @defaultValue 'raw' */
  readonly encoding?: TensorEncoding;
}

function newTensor(dataType: TensorProto_DataType, options: TensorOptions): TensorProto {
  const t = create(TensorProtoSchema, { dataType });
  if (options.name !== undefined) t.name = options.name;
  // A placeholder element marks the chosen encoding for the setters; they overwrite it.
  if ((options.encoding ?? 'raw') === 'raw') t.rawData = new Uint8Array(8);
  return t;
}

/**
 * Creates an INT64 tensor.
 *
 * @param values - the elements, row-major.
 * @param dims - the dims (`[]` for a scalar).
 * @param options - name and encoding.
 * @returns the tensor.
 * @throws RangeError when the values do not fill the dims.
 *
 * @example
 * ```ts
 * const shape = int64Tensor([1, 8, 44, 64], [4]);
 * ```
 */
export function int64Tensor(values: ArrayLike<bigint> | ArrayLike<number>, dims: readonly number[], options: TensorOptions = {}): TensorProto {
  const t = newTensor(TensorProto_DataType.INT64, options);
  setInt64Values(t, values, dims);
  return t;
}

/**
 * Creates a FLOAT tensor (values rounded to float32).
 *
 * @param values - the elements, row-major.
 * @param dims - the dims (`[]` for a scalar).
 * @param options - name and encoding.
 * @returns the tensor.
 * @throws RangeError when the values do not fill the dims.
 */
export function float32Tensor(values: ArrayLike<number>, dims: readonly number[], options: TensorOptions = {}): TensorProto {
  const t = newTensor(TensorProto_DataType.FLOAT, options);
  setFloat32Values(t, values, dims);
  return t;
}

// #endregion

// #region Attributes and nodes

/**
 * An attribute value for {@link makeAttribute} and {@link makeNode}. JavaScript numbers do not
 * tell integers from floats, so the type decides: `bigint` is INT, `number` is FLOAT, `string`
 * is STRING, a tensor is TENSOR, `bigint[]` is INTS, `number[]` is FLOATS, `string[]` is
 * STRINGS.
 */
export type AttributeInit = bigint | number | string | TensorProto | readonly bigint[] | readonly number[] | readonly string[];

const utf8 = new TextEncoder();

/**
 * Creates an attribute; see {@link AttributeInit} for how the value picks the type.
 *
 * @param name - the attribute name.
 * @param value - the value.
 * @returns the attribute.
 *
 * @example
 * ```ts
 * makeAttribute('axis', 0n);      // INT
 * makeAttribute('alpha', 0.2);    // FLOAT
 * makeAttribute('axes', [1n]);    // INTS
 * ```
 */
export function makeAttribute(name: string, value: AttributeInit): AttributeProto {
  const a = create(AttributeProtoSchema, { name });
  if (typeof value === 'bigint') {
    a.type = AttributeProto_AttributeType.INT;
    a.i = value;
  } else if (typeof value === 'number') {
    a.type = AttributeProto_AttributeType.FLOAT;
    a.f = value;
  } else if (typeof value === 'string') {
    a.type = AttributeProto_AttributeType.STRING;
    a.s = utf8.encode(value);
  } else if (Array.isArray(value)) {
    const list = value as readonly (bigint | number | string)[];
    if (list.every((v) => typeof v === 'bigint')) {
      a.type = AttributeProto_AttributeType.INTS;
      a.ints = [...(list as readonly bigint[])];
    } else if (list.every((v) => typeof v === 'number')) {
      a.type = AttributeProto_AttributeType.FLOATS;
      a.floats = [...(list as readonly number[])];
    } else if (list.every((v) => typeof v === 'string')) {
      a.type = AttributeProto_AttributeType.STRINGS;
      a.strings = (list as readonly string[]).map((s) => utf8.encode(s));
    } else {
      throw new TypeError(`attribute ${JSON.stringify(name)}: a list must hold only bigints, only numbers or only strings`);
    }
  } else {
    a.type = AttributeProto_AttributeType.TENSOR;
    a.t = value as TensorProto;
  }
  return a;
}

/**
 * The attribute of a node with a given name.
 *
 * @param node - the node.
 * @param name - the attribute name.
 * @returns the attribute, or `undefined` when the node has none of that name.
 */
export function getAttribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

/** A decoded attribute value, as {@link attributeValue} returns it. */
export type AttributeValue =
  | number
  | bigint
  | string
  | TensorProto
  | GraphProto
  | readonly number[]
  | readonly bigint[]
  | readonly string[]
  | readonly TensorProto[]
  | readonly GraphProto[];

const utf8Decoder = new TextDecoder();

/**
 * The value of an attribute, by its `type`: a number (FLOAT), bigint (INT), string (STRING,
 * decoded as UTF-8), tensor, graph, or a list of these.
 *
 * @param a - the attribute.
 * @returns its value.
 * @throws TypeError for sparse-tensor and type-proto attributes, or an unset type.
 */
export function attributeValue(a: AttributeProto): AttributeValue {
  const T = AttributeProto_AttributeType;
  switch (a.type) {
    case T.FLOAT:
      return a.f;
    case T.INT:
      return a.i;
    case T.STRING:
      return utf8Decoder.decode(a.s);
    case T.TENSOR:
      if (a.t === undefined) break;
      return a.t;
    case T.GRAPH:
      if (a.g === undefined) break;
      return a.g;
    case T.FLOATS:
      return a.floats;
    case T.INTS:
      return a.ints;
    case T.STRINGS:
      return a.strings.map((s) => utf8Decoder.decode(s));
    case T.TENSORS:
      return a.tensors;
    case T.GRAPHS:
      return a.graphs;
    default:
      break;
  }
  throw new TypeError(`attribute ${JSON.stringify(a.name)} has type ${AttributeProto_AttributeType[a.type] ?? a.type}, which attributeValue does not decode`);
}

/**
 * The tensor a `Constant` node produces (its `value` attribute).
 *
 * @param node - any node.
 * @returns the tensor, or `undefined` when the node is not a `Constant` with a tensor value.
 */
export function constantTensor(node: NodeProto): TensorProto | undefined {
  if (node.opType !== 'Constant' || node.domain !== '') return undefined;
  const a = getAttribute(node, 'value');
  return a?.type === AttributeProto_AttributeType.TENSOR ? a.t : undefined;
}

/** What {@link makeNode} needs. */
export interface NodeInit {
  /** The operator, for example `'Mod'`. */
  readonly opType: string;
  /** The node name. */
  readonly name: string;
  /** Input value names. */
  readonly inputs: readonly string[];
  /** Output value names. */
  readonly outputs: readonly string[];
  /** Attributes by name; see {@link AttributeInit}. @defaultValue none */
  readonly attributes?: Readonly<Record<string, AttributeInit>>;
  /** The operator set domain. @defaultValue '' (the default ONNX domain) */
  readonly domain?: string;
}

/**
 * Creates a node.
 *
 * @param init - operator, name, inputs, outputs and attributes.
 * @returns the node.
 *
 * @example
 * ```ts
 * makeNode({ opType: 'Mod', name: '/pad/Mod', inputs: ['x', 'four'], outputs: ['x_mod4'], attributes: { fmod: 0n } });
 * ```
 */
export function makeNode(init: NodeInit): NodeProto {
  const node = create(NodeProtoSchema, { opType: init.opType, name: init.name, input: [...init.inputs], output: [...init.outputs] });
  if (init.domain !== undefined) node.domain = init.domain;
  for (const [name, value] of Object.entries(init.attributes ?? {})) node.attribute.push(makeAttribute(name, value));
  return node;
}

/**
 * Creates a `Constant` node holding a tensor.
 *
 * @param name - node name; its output is `${name}_output_0`.
 * @param value - the tensor.
 * @returns the node.
 */
export function makeConstantNode(name: string, value: TensorProto): NodeProto {
  return makeNode({ opType: 'Constant', name, inputs: [], outputs: [`${name}_output_0`], attributes: { value } });
}

// #endregion

// #region Graph queries

/**
 * The node with a given name.
 *
 * @param graph - the graph.
 * @param name - the node name (for example `/tencoder.1/Sub`).
 * @returns the first node of that name, or `undefined`.
 */
export function findNode(graph: GraphProto, name: string): NodeProto | undefined {
  return graph.node.find((n) => n.name === name);
}

/**
 * The node that produces a value.
 *
 * @param graph - the graph.
 * @param value - the value name (for example `/Div_3_output_0`).
 * @returns the producing node, or `undefined` for graph inputs, initializers and unknown names.
 */
export function findProducer(graph: GraphProto, value: string): NodeProto | undefined {
  return graph.node.find((n) => n.output.includes(value));
}

/**
 * The nodes that consume a value, in graph order.
 *
 * @param graph - the graph.
 * @param value - the value name.
 * @returns the consuming nodes (empty when none).
 */
export function findConsumers(graph: GraphProto, value: string): NodeProto[] {
  return graph.node.filter((n) => n.input.includes(value));
}

/**
 * Lookup tables over a graph's nodes, for many queries on a graph that does not change.
 * Build it again after editing the graph.
 */
export class GraphIndex {
  /** Nodes by name (nodes without a name are left out). */
  readonly byName: ReadonlyMap<string, NodeProto>;
  /** The producing node of each value. */
  readonly producer: ReadonlyMap<string, NodeProto>;
  /** The consuming nodes of each value, in graph order. */
  readonly consumers: ReadonlyMap<string, readonly NodeProto[]>;

  /** @param graph - the graph to index. */
  constructor(graph: GraphProto) {
    const byName = new Map<string, NodeProto>();
    const producer = new Map<string, NodeProto>();
    const consumers = new Map<string, NodeProto[]>();
    for (const n of graph.node) {
      if (n.name !== '' && !byName.has(n.name)) byName.set(n.name, n);
      for (const o of n.output) if (o !== '') producer.set(o, n);
      for (const i of n.input) {
        if (i === '') continue;
        const list = consumers.get(i);
        if (list === undefined) consumers.set(i, [n]);
        else if (list[list.length - 1] !== n) list.push(n);
      }
    }
    this.byName = byName;
    this.producer = producer;
    this.consumers = consumers;
  }
}

/**
 * Sorts a graph's nodes topologically, in place and stably: a node moves only when one of its
 * inputs is produced later, and then just far enough (its producers are placed first).
 *
 * @param graph - the graph, edited in place.
 * @returns how many nodes changed position.
 * @throws DemucsError `ERR_MODEL_LOAD` when the nodes form a cycle.
 */
export function topologicalSort(graph: GraphProto): number {
  const index = new GraphIndex(graph);
  const state = new Map<NodeProto, 1 | 2>(); // 1: being placed, 2: placed
  const order: NodeProto[] = [];
  for (const root of graph.node) {
    if (state.has(root)) continue;
    // Iterative depth-first placement: producers before consumers.
    const stack: { node: NodeProto; next: number }[] = [{ node: root, next: 0 }];
    state.set(root, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.node.input.length) {
        const input = top.node.input[top.next++]!;
        const p = input === '' ? undefined : index.producer.get(input);
        if (p === undefined || p === top.node) continue;
        const s = state.get(p);
        if (s === 2) continue;
        if (s === 1) throw new DemucsError('ERR_MODEL_LOAD', `the graph has a cycle through node ${JSON.stringify(p.name)}`);
        state.set(p, 1);
        stack.push({ node: p, next: 0 });
      } else {
        state.set(top.node, 2);
        order.push(top.node);
        stack.pop();
      }
    }
  }
  let moved = 0;
  order.forEach((n, i) => {
    if (graph.node[i] !== n) moved++;
  });
  graph.node = order;
  return moved;
}

/**
 * Removes the nodes none of whose outputs is read (by a node or as a graph output), repeatedly
 * until none is left, then the initializers nothing reads.
 *
 * @param graph - the graph, edited in place.
 * @internal
 */
export function pruneDead(graph: GraphProto): void {
  const outputs = new Set(graph.output.map((o) => o.name));
  for (;;) {
    const used = new Set<string>(outputs);
    for (const n of graph.node) for (const i of n.input) used.add(i);
    const before = graph.node.length;
    graph.node = graph.node.filter((n) => n.output.some((o) => o !== '' && used.has(o)));
    if (graph.node.length === before) {
      graph.initializer = graph.initializer.filter((t) => used.has(t.name));
      return;
    }
  }
}

// #endregion

// #region Value infos and opsets

/** A dimension of a value's shape: a number, a symbolic name, or `undefined` when unknown. */
export type ValueDim = number | string | undefined;

/**
 * The dims of a tensor-typed value.
 *
 * @param info - a graph input, output or value info.
 * @returns its dims, or `undefined` when it has no tensor type or no shape.
 */
export function valueInfoDims(info: ValueInfoProto): ValueDim[] | undefined {
  const type = info.type?.value;
  if (type?.case !== 'tensorType' || type.value.shape === undefined) return undefined;
  return type.value.shape.dim.map((d) =>
    d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : undefined,
  );
}

/**
 * Replaces the shape of a tensor-typed value.
 *
 * @param info - a graph input, output or value info with a tensor type, edited in place.
 * @param dims - numbers for fixed sizes, strings for symbolic ones.
 * @throws TypeError when the value is not tensor-typed.
 */
export function setValueInfoDims(info: ValueInfoProto, dims: readonly (number | string)[]): void {
  const type = info.type?.value;
  if (type?.case !== 'tensorType') throw new TypeError(`value ${JSON.stringify(info.name)} is not a tensor`);
  type.value.shape = create(TensorShapeProtoSchema, {
    dim: dims.map((d) =>
      create(TensorShapeProto_DimensionSchema, {
        value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
      }),
    ),
  });
}

/**
 * The version of an operator set the model imports.
 *
 * @param model - the model.
 * @param domain - the domain. @defaultValue '' (the default ONNX operators; `ai.onnx` is the same)
 * @returns the version, or `undefined` when the model does not import that domain.
 */
export function opsetVersion(model: ModelProto, domain = ''): number | undefined {
  const d = domain === 'ai.onnx' ? '' : domain;
  const entry = model.opsetImport.find((o) => (o.domain === 'ai.onnx' ? '' : o.domain) === d);
  return entry === undefined ? undefined : Number(entry.version);
}

// #endregion
