/**
 * The shapes of a graph's values that follow from its declared input shapes and constant
 * operands alone, without running it: enough for the rewrites of this folder to know the
 * normalised size of a GroupNorm. Only the operators listed in {@link staticShapes} are
 * followed; the outputs of any other operator have no known shape, and neither has what is
 * computed from them.
 */
import { getAttribute, valueInfoDims } from './onnx-io.js';
import type { GraphProto, NodeProto } from './gen/onnx_pb.js';
import { intsAttribute, type GraphConstants } from './graph-constants.js';

/** A shape whose rank is known: each dimension a number, or `undefined` when unknown. */
export type StaticShape = readonly (number | undefined)[];

/** Operators whose output has its (first) input's shape. */
const SAME_SHAPE = new Set([
  'Abs', 'Cast', 'Dropout', 'Erf', 'Exp', 'Gelu', 'Identity', 'InstanceNormalization', 'LayerNormalization',
  'Log', 'Neg', 'Relu', 'Sigmoid', 'Softmax', 'Sqrt', 'Tanh',
]);

/** Operators that broadcast their inputs (numpy rules). */
const BROADCAST = new Set(['Add', 'Div', 'Mul', 'Pow', 'Sub', 'Where']);

/** An `int` attribute as a number, or `fallback` when absent. */
function intAttribute(node: NodeProto, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  return a === undefined ? fallback : Number(a.i);
}

const known = (s: StaticShape): s is readonly number[] => s.every((d) => d !== undefined);
const product = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Numpy broadcasting of known-rank shapes; a dimension stays unknown unless one side settles it. */
function broadcast(shapes: readonly StaticShape[]): StaticShape | undefined {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: (number | undefined)[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: number | undefined = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i];
      if (s.length - rank + i < 0 || d === 1) continue;
      if (d === undefined) {
        // Unknown against 1 (or nothing yet) stays unknown; against n > 1 it must be n.
        if (dim === 1) dim = undefined;
      } else if (dim === 1 || dim === undefined) {
        dim = d;
      } else if (dim !== d) {
        return undefined; // incompatible: the graph is invalid here; claim nothing
      }
    }
    out.push(dim);
  }
  return out;
}

/** The output of a Reshape to a constant target shape (`allowzero` 0: 0 copies the input's dimension). */
function reshape(input: StaticShape | undefined, target: readonly number[], allowZero: boolean): StaticShape | undefined {
  const out = target.map((d, i) => (d === 0 && !allowZero ? input?.[i] : d === -1 ? undefined : d));
  const inferred = target.indexOf(-1);
  if (inferred >= 0 && input !== undefined && known(input)) {
    const rest = out.filter((_, i) => i !== inferred);
    if (known(rest) && product(rest) > 0) out[inferred] = product(input) / product(rest);
  }
  return out;
}

/** Output spatial size of a Conv or ConvTranspose along one axis, `undefined` when unknown. */
function spatial(node: NodeProto, inSize: number | undefined, axis: number, kernel: number | undefined, transposed: boolean): number | undefined {
  const autoPad = getAttribute(node, 'auto_pad');
  if (inSize === undefined || kernel === undefined || (autoPad !== undefined && new TextDecoder().decode(autoPad.s) !== 'NOTSET')) return undefined;
  const rank = (intsAttribute(node, 'kernel_shape') ?? []).length;
  const pads = intsAttribute(node, 'pads');
  const begin = pads?.[axis] ?? 0;
  const end = pads?.[axis + (pads.length >> 1)] ?? 0;
  const stride = intsAttribute(node, 'strides')?.[axis] ?? 1;
  const dilation = intsAttribute(node, 'dilations')?.[axis] ?? 1;
  const extent = dilation * (kernel - 1) + 1;
  if (rank !== 0 && pads !== undefined && pads.length !== 2 * rank) return undefined;
  if (transposed) {
    if (getAttribute(node, 'output_shape') !== undefined) return undefined;
    const outputPadding = intsAttribute(node, 'output_padding')?.[axis] ?? 0;
    return stride * (inSize - 1) + outputPadding + extent - begin - end;
  }
  return Math.floor((inSize + begin + end - extent) / stride) + 1;
}

/** The output shapes of one node, given its inputs' shapes (`undefined` for unknown outputs). */
function outputShapes(node: NodeProto, shapeOf: (value: string) => StaticShape | undefined, constants: GraphConstants, opset: number): (StaticShape | undefined)[] {
  const x = node.input[0] === undefined ? undefined : shapeOf(node.input[0]);
  if (node.domain !== '' && node.domain !== 'ai.onnx') return [];
  if (SAME_SHAPE.has(node.opType)) return [x];
  if (BROADCAST.has(node.opType)) {
    const inputs = node.input.map(shapeOf);
    return inputs.every((s) => s !== undefined) ? [broadcast(inputs as StaticShape[])] : [];
  }
  switch (node.opType) {
    case 'Reshape': {
      const target = constants.ints(node.input[1]);
      if (target !== undefined) return [reshape(x, target, intAttribute(node, 'allowzero', 0) === 1)];
      // Back to the shape of another value: `Reshape(f(y), Shape(y))`, as PyTorch exports GroupNorm.
      const shape = constants.producer.get(node.input[1] ?? '');
      const whole = shape?.opType === 'Shape' && getAttribute(shape, 'start') === undefined && getAttribute(shape, 'end') === undefined;
      return whole ? [shapeOf(shape.input[0]!)] : [];
    }
    case 'Transpose': {
      if (x === undefined) return [];
      const perm = intsAttribute(node, 'perm') ?? x.map((_, i) => x.length - 1 - i);
      return [perm.map((p) => x[p])];
    }
    case 'Conv':
    case 'ConvTranspose': {
      const w = shapeOf(node.input[1] ?? '');
      if (x === undefined || w === undefined || x.length !== w.length) return [];
      const transposed = node.opType === 'ConvTranspose';
      const group = intAttribute(node, 'group', 1);
      const channels = transposed ? (w[1] === undefined ? undefined : w[1] * group) : w[0];
      return [[x[0], channels, ...x.slice(2).map((d, i) => spatial(node, d, i, w[2 + i], transposed))]];
    }
    case 'Split': {
      if (x === undefined) return [];
      const axis = intAttribute(node, 'axis', 0);
      const a = axis < 0 ? axis + x.length : axis;
      const sizes = opset >= 13 ? constants.ints(node.input[1]) : intsAttribute(node, 'split');
      const whole = x[a];
      const parts = sizes ?? (whole === undefined || whole % node.output.length !== 0 ? undefined : node.output.map(() => whole / node.output.length));
      return node.output.map((_, i) => x.map((d, j) => (j === a ? parts?.[i] : d)));
    }
    case 'ReduceMean': {
      if (x === undefined) return [];
      const axes = (opset >= 18 ? constants.ints(node.input[1]) : intsAttribute(node, 'axes'))?.map((a) => (a < 0 ? a + x.length : a));
      if (axes === undefined) return [];
      const keep = intAttribute(node, 'keepdims', 1) === 1;
      return [keep ? x.map((d, i) => (axes.includes(i) ? 1 : d)) : x.filter((_, i) => !axes.includes(i))];
    }
    default:
      return [];
  }
}

/**
 * Known-rank shapes of a graph's values: graph inputs as declared (symbolic dimensions
 * unknown), initializers and `Constant` outputs, then in graph order the outputs of
 * element-wise operators (numpy broadcasting), `Reshape` to a constant shape or to the whole
 * `Shape` of another value, `Transpose`,
 * `Conv` and `ConvTranspose` (explicit pads), `Split` and `ReduceMean` with constant sizes
 * and axes. Values of unknown rank are absent.
 *
 * @param graph - a topologically sorted graph.
 * @param constants - its constant lookups.
 * @param opset - the graph's default-domain operator set version (where `Split` sizes and
 *   `ReduceMean` axes are inputs or attributes).
 * @returns shapes by value name.
 * @internal
 */
export function staticShapes(graph: GraphProto, constants: GraphConstants, opset: number): ReadonlyMap<string, StaticShape> {
  const shapes = new Map<string, StaticShape>();
  for (const v of graph.input) {
    const dims = valueInfoDims(v);
    if (dims !== undefined) shapes.set(v.name, dims.map((d) => (typeof d === 'number' ? d : undefined)));
  }
  for (const t of graph.initializer) shapes.set(t.name, t.dims.map(Number));
  const shapeOf = (value: string): StaticShape | undefined => {
    const s = shapes.get(value);
    if (s !== undefined) return s;
    const t = constants.tensor(value);
    return t === undefined ? undefined : t.dims.map(Number);
  };
  for (const node of graph.node) {
    const out = outputShapes(node, shapeOf, constants, opset);
    node.output.forEach((o, i) => {
      const s = out[i];
      if (o !== '' && s !== undefined) shapes.set(o, s);
    });
  }
  return shapes;
}
