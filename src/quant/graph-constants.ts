/**
 * Constant operands of a graph's nodes: the value of an initializer or of a `Constant` node's
 * output, looked up by value name. The graph rewrites of this folder ask for them (shapes,
 * axes, per-channel weights) before they change anything.
 */
import { TensorProto_DataType, type GraphProto, type NodeProto, type TensorProto } from './gen/onnx_pb.js';
import { constantTensor, float32Values, getAttribute, GraphIndex, int64Values } from './onnx-io.js';

/**
 * An `ints` attribute as numbers, or `undefined` when the node does not have it.
 * @internal
 */
export function intsAttribute(node: NodeProto, name: string): number[] | undefined {
  const a = getAttribute(node, name);
  return a === undefined ? undefined : a.ints.map(Number);
}

/**
 * A graph's index with its initializers by name, for constant lookups. Build it again after
 * editing the graph.
 * @internal
 */
export class GraphConstants extends GraphIndex {
  /** Initializers by name. */
  readonly initializers: ReadonlyMap<string, TensorProto>;

  /** @param graph - the graph to index. */
  constructor(graph: GraphProto) {
    super(graph);
    this.initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  }

  /** The one node consuming `value`, or `undefined` when there are none or several. */
  soleConsumer(value: string): NodeProto | undefined {
    const list = this.consumers.get(value);
    return list?.length === 1 ? list[0] : undefined;
  }

  /** The tensor behind `value` (an initializer or a `Constant` node's output), or `undefined`. */
  tensor(value: string | undefined): TensorProto | undefined {
    if (value === undefined || value === '') return undefined;
    const t = this.initializers.get(value);
    if (t !== undefined) return t;
    const node = this.producer.get(value);
    return node === undefined ? undefined : constantTensor(node);
  }

  /** The elements of a constant INT64 `value` as numbers, or `undefined` when it is not one. */
  ints(value: string | undefined): number[] | undefined {
    const t = this.tensor(value);
    return t?.dataType === TensorProto_DataType.INT64 ? Array.from(int64Values(t), Number) : undefined;
  }

  /** The elements of a constant FLOAT `value`, or `undefined` when it is not one. */
  floats(value: string | undefined): Float32Array | undefined {
    const t = this.tensor(value);
    return t?.dataType === TensorProto_DataType.FLOAT ? float32Values(t) : undefined;
  }
}
