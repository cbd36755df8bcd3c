/**
 * Element types of every value of a graph, inferred from the graph inputs, initializers,
 * constants and a table of operator rules. The precision passes need them to tell float
 * tensors from shape and index tensors; the exported graphs carry no `value_info`.
 *
 * @internal
 */
import { DemucsError } from '../core/errors.js';
import { AttributeProto_AttributeType, TensorProto_DataType, type GraphProto, type NodeProto } from './gen/onnx_pb.js';
import { getAttribute } from './onnx-io.js';

const T = TensorProto_DataType;

/** Operators whose outputs all have the element type of their first input. */
const SAME_AS_FIRST = new Set([
  'Abs', 'Add', 'AveragePool', 'BatchNormalization', 'Ceil', 'Clip', 'Concat', 'Conv', 'ConvTranspose', 'Cos', 'CumSum',
  'DepthToSpace', 'Div', 'Einsum', 'Elu', 'Erf', 'Exp', 'Expand', 'Flatten', 'Floor', 'Gather', 'GatherElements', 'GatherND',
  'Gelu', 'Gemm', 'GlobalAveragePool', 'GroupNormalization', 'HardSigmoid', 'Identity', 'InstanceNormalization', 'LeakyRelu',
  'Log', 'LogSoftmax', 'MatMul', 'Max', 'MaxPool', 'Mean', 'Min', 'Mod', 'Mul', 'Neg', 'Pad', 'Pow', 'Range', 'Reciprocal',
  'ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare',
  'Relu', 'Reshape', 'Resize', 'Round', 'ScatterElements', 'ScatterND', 'Selu', 'Sigmoid', 'Sign', 'Sin', 'Slice', 'Softmax',
  'Softplus', 'SpaceToDepth', 'Split', 'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tanh', 'Tile', 'Transpose', 'Trilu', 'Unsqueeze',
  'Upsample',
]);

/** Operators whose outputs are all BOOL. */
const BOOLEAN = new Set(['And', 'Equal', 'Greater', 'GreaterOrEqual', 'IsInf', 'IsNaN', 'Less', 'LessOrEqual', 'Not', 'Or', 'Xor']);

/** Operators whose outputs are all INT64. */
const INT64 = new Set(['ArgMax', 'ArgMin', 'NonZero', 'Shape', 'Size']);

function constantType(node: NodeProto): TensorProto_DataType | undefined {
  for (const a of node.attribute) {
    if (a.name === 'value' && a.type === AttributeProto_AttributeType.TENSOR && a.t !== undefined) return a.t.dataType;
    if (a.name === 'value_float' || a.name === 'value_floats') return T.FLOAT;
    if (a.name === 'value_int' || a.name === 'value_ints') return T.INT64;
    if (a.name === 'value_string' || a.name === 'value_strings') return T.STRING;
  }
  return undefined;
}

/**
 * The element type of each output of a node, given the types of its inputs.
 *
 * @returns one type per output (`undefined` for an absent optional output).
 * @throws DemucsError `ERR_MODEL_GRAPH` for an operator this table does not know.
 */
function outputTypes(node: NodeProto, typeOf: (value: string) => TensorProto_DataType | undefined): (TensorProto_DataType | undefined)[] {
  const op = node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}::${node.opType}`;
  const first = node.input[0] === undefined ? undefined : typeOf(node.input[0]);
  const all = (t: TensorProto_DataType | undefined) => node.output.map(() => t);
  if (SAME_AS_FIRST.has(op)) return all(first);
  if (BOOLEAN.has(op)) return all(T.BOOL);
  if (INT64.has(op)) return all(T.INT64);
  switch (op) {
    case 'Cast': {
      const to = getAttribute(node, 'to');
      return all(to === undefined ? undefined : Number(to.i));
    }
    case 'CastLike': // the type of `target_type`
    case 'Where': // the type of X
      return all(typeOf(node.input[1] ?? ''));
    case 'Constant':
      return all(constantType(node));
    case 'ConstantOfShape': {
      const value = getAttribute(node, 'value');
      return all(value?.t?.dataType ?? T.FLOAT);
    }
    case 'LayerNormalization': {
      // Y has the input's type; Mean and InvStdDev the stash type (FLOAT by default).
      const stash = getAttribute(node, 'stash_type');
      return node.output.map((_, i) => (i === 0 ? first : stash === undefined || Number(stash.i) === 1 ? T.FLOAT : T.UNDEFINED));
    }
    case 'Dropout':
      return node.output.map((_, i) => (i === 0 ? first : T.BOOL));
    case 'TopK':
      return node.output.map((_, i) => (i === 0 ? first : T.INT64));
    case 'DequantizeLinear':
      return all(node.input[1] === undefined ? T.FLOAT : typeOf(node.input[1]));
    case 'QuantizeLinear':
      return all(node.input[2] === undefined ? T.UINT8 : typeOf(node.input[2]));
    case 'DynamicQuantizeLinear':
      return [T.UINT8, T.FLOAT, T.UINT8];
    case 'MatMulInteger':
    case 'ConvInteger':
      return all(T.INT32);
    default:
      throw new DemucsError('ERR_MODEL_GRAPH', `node ${JSON.stringify(node.name)} has operator ${op}, whose output types this tool does not know`);
  }
}

/**
 * Infers the element type of every value of a graph: graph inputs and initializers as
 * declared, then each node's outputs from its inputs, in graph order.
 *
 * @param graph - a topologically sorted graph without subgraphs.
 * @returns element type by value name; values of unknown type are absent.
 * @throws DemucsError `ERR_MODEL_GRAPH` for an operator with subgraphs or of unknown typing.
 * @internal
 */
export function inferElementTypes(graph: GraphProto): Map<string, TensorProto_DataType> {
  const types = new Map<string, TensorProto_DataType>();
  for (const v of [...graph.input, ...graph.valueInfo, ...graph.output]) {
    const type = v.type?.value;
    if (type?.case === 'tensorType') types.set(v.name, type.value.elemType);
  }
  for (const t of graph.initializer) types.set(t.name, t.dataType);
  const typeOf = (value: string) => types.get(value);
  for (const node of graph.node) {
    if (node.attribute.some((a) => a.type === AttributeProto_AttributeType.GRAPH || a.type === AttributeProto_AttributeType.GRAPHS)) {
      throw new DemucsError('ERR_MODEL_GRAPH', `node ${JSON.stringify(node.name)} (${node.opType}) has subgraphs, which this tool does not edit`);
    }
    const out = outputTypes(node, typeOf);
    node.output.forEach((name, i) => {
      const t = out[i];
      if (name !== '' && t !== undefined && !types.has(name)) types.set(name, t);
    });
  }
  return types;
}
