/**
 * Fusing PyTorch's exported `GroupNorm(1, C)` into one `LayerNormalization`.
 *
 * PyTorch exports `nn.GroupNorm(1, C)` on `x` `[N, C, …]` as five operators: Reshape to
 * `[N, 1, C·…]`, InstanceNormalization (scale 1, bias 0), Reshape back to `Shape(x)`, then Mul by
 * γ and Add of β (`[C, 1, …]`, per channel). onnxruntime's CPU InstanceNormalization runs its
 * instances on one thread, in three passes, and the Mul and Add are two more passes over the
 * tensor. One group normalises all of `x[n]`, which is exactly what `LayerNormalization` with
 * `axis = 1` computes; its scale and bias have the shape of `x[n]`, so γ and β are repeated
 * along the trailing dimensions into `[C, …]` initializers. onnxruntime runs it in two passes,
 * rows in parallel. In HTDemucs this is every GroupNorm of the frequency branch's DConv
 * residual blocks (32 of them, `[N = frequency rows, C, frames]`): in an onnxruntime profile
 * of one 7.8 s window, 377 ms of InstanceNormalization, Mul and Add became 190 ms.
 *
 * When a fused GroupNorm feeds a GLU (`Split` in halves, `Sigmoid` of the second, `Mul`) whose
 * product is only multiplied by a per-channel constant (HTDemucs's `LayerScale`), that
 * constant is folded into the first half of the new scale and bias — `s·(a·σ(b)) = (s·a)·σ(b)`
 * — and its Mul removed.
 *
 * A GroupNorm is fused only when `x`'s trailing shape `[C, …]` is static (see
 * `static-shapes.ts`) and its batch is not known to be 1: with one row LayerNormalization
 * gains no parallelism and its scale would be as large as the tensor (HTDemucs's time branch,
 * whose shapes the static pass does not follow, is left alone). The results differ from
 * the five operators by float32 rounding only.
 */
import { TensorProto_DataType, type ModelProto, type NodeProto } from './gen/onnx_pb.js';
import { float32Tensor, getAttribute, makeNode, opsetVersion, pruneDead } from './onnx-io.js';
import { GraphConstants } from './graph-constants.js';
import type { SkippedNode } from './skipped-node.js';
import { staticShapes, type StaticShape } from './static-shapes.js';

/** What {@link fuseGroupNorm} did. */
export interface FuseGroupNormReport {
  /** InstanceNormalization nodes whose GroupNorm became one `LayerNormalization`, in graph order. */
  readonly fused: readonly string[];
  /** The per-channel Mul nodes (LayerScale) folded into a fused GroupNorm's scale and bias. */
  readonly foldedScales: readonly string[];
  /** InstanceNormalization nodes left as they were, each with the reason. */
  readonly skipped: readonly SkippedNode[];
}

/** The matched operators of one exported GroupNorm. */
interface GroupNorm {
  /** The normalised value `x`. */
  readonly x: string;
  /** Its shape. */
  readonly shape: StaticShape;
  readonly gamma: Float32Array;
  readonly beta: Float32Array;
  readonly epsilon: number;
  /**
   * Its Reshape, InstanceNormalization, Reshape, Mul and Add, the Add (whose output the
   * LayerNormalization takes over) last; the `Shape(x)` is left to dead-node pruning (it may
   * have other readers).
   */
  readonly nodes: readonly NodeProto[];
}

/** A GLU + per-channel Mul after a GroupNorm, which can fold into its affine. */
interface LayerScale {
  readonly scale: Float32Array;
  /** The GLU's Mul, which takes over the scale Mul's output name. */
  readonly glu: NodeProto;
  /** The scale's Mul, removed. */
  readonly mul: NodeProto;
}

const same = (a: readonly (number | undefined)[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** A per-channel constant `[C, 1, …, 1]` of `rank` dims for an `[N, C, …]` tensor, as float32 values. */
function perChannel(c: GraphConstants, value: string, channels: number, rank: number): Float32Array | undefined {
  const t = c.tensor(value);
  if (t === undefined || t.dataType !== TensorProto_DataType.FLOAT) return undefined;
  const dims = t.dims.map(Number);
  return same(dims, [channels, ...Array<number>(rank - 2).fill(1)]) ? c.floats(value) : undefined;
}

/** Matches one exported GroupNorm(1, C) around an InstanceNormalization; a reason when it is not one. */
function match(c: GraphConstants, shapes: ReadonlyMap<string, StaticShape>, norm: NodeProto): GroupNorm | string {
  const flatten = c.producer.get(norm.input[0]!);
  if (flatten?.opType !== 'Reshape' || !same(c.ints(flatten.input[1]) ?? [], [0, 1, -1])) return 'its input is not a Reshape of x to [0, 1, -1]';
  const x = flatten.input[0]!;
  const unit = c.floats(norm.input[1]);
  const zero = c.floats(norm.input[2]);
  if (unit?.length !== 1 || unit[0] !== 1 || zero?.length !== 1 || zero[0] !== 0) return 'its scale and bias are not the constants 1 and 0';
  const back = c.soleConsumer(norm.output[0]!);
  const shapeOfX = back?.opType === 'Reshape' ? c.producer.get(back.input[1]!) : undefined;
  if (back === undefined || shapeOfX?.opType !== 'Shape' || shapeOfX.input[0] !== x || shapeOfX.attribute.length > 0) return 'its output is not reshaped back to Shape(x)';
  const mul = c.soleConsumer(back.output[0]!);
  const add = mul?.opType === 'Mul' ? c.soleConsumer(mul.output[0]!) : undefined;
  if (mul === undefined || add?.opType !== 'Add' || mul.input[0] !== back.output[0] || add.input[0] !== mul.output[0]) return 'it is not followed by Mul(γ) and Add(β)';
  if (c.soleConsumer(flatten.output[0]!) !== norm) return 'the flattened x has other readers';
  const shape = shapes.get(x);
  if (shape === undefined || shape.length < 3 || shape.slice(1).some((d) => d === undefined)) return `the shape of x is not static past the batch (${JSON.stringify(shape)})`;
  if (shape[0] === 1) return `x has one row (shape ${JSON.stringify(shape)}): LayerNormalization would not be faster`;
  const gamma = perChannel(c, mul.input[1]!, shape[1]!, shape.length);
  const beta = perChannel(c, add.input[1]!, shape[1]!, shape.length);
  if (gamma === undefined || beta === undefined) return `γ and β are not float32 constants of shape [${shape[1]}, 1…]`;
  const eps = getAttribute(norm, 'epsilon');
  return { x, shape, gamma, beta, epsilon: eps === undefined ? 1e-5 : eps.f, nodes: [flatten, norm, back, mul, add] };
}

/** A GLU of the GroupNorm's output whose only reader multiplies it by a per-channel constant. */
function matchLayerScale(c: GraphConstants, gn: GroupNorm, outputs: ReadonlySet<string>): LayerScale | undefined {
  const split = c.soleConsumer(gn.nodes[gn.nodes.length - 1]!.output[0]!);
  const channels = gn.shape[1]!;
  if (split?.opType !== 'Split' || split.output.length !== 2 || channels % 2 !== 0) return undefined;
  const axis = getAttribute(split, 'axis');
  const sizes = c.ints(split.input[1]);
  if (axis === undefined || Number(axis.i) !== 1 || (split.input[1] !== undefined && split.input[1] !== '' && !same(sizes ?? [], [channels / 2, channels / 2]))) return undefined;
  if (getAttribute(split, 'split') !== undefined) return undefined;
  const sigmoid = c.soleConsumer(split.output[1]!);
  const glu = c.soleConsumer(split.output[0]!);
  if (sigmoid?.opType !== 'Sigmoid' || glu?.opType !== 'Mul' || c.soleConsumer(sigmoid.output[0]!) !== glu) return undefined;
  const mul = c.soleConsumer(glu.output[0]!);
  if (mul?.opType !== 'Mul' || outputs.has(glu.output[0]!)) return undefined;
  const other = mul.input[0] === glu.output[0] ? mul.input[1]! : mul.input[0]!;
  const scale = perChannel(c, other, channels / 2, gn.shape.length);
  return scale === undefined ? undefined : { scale, glu, mul };
}

/**
 * Replaces each `GroupNorm(1, C)` PyTorch exported (Reshape, InstanceNormalization, Reshape,
 * Mul, Add) whose trailing shape is static and whose batch is not 1 by one
 * `LayerNormalization` (axis 1), and folds a following GLU's per-channel scale (LayerScale)
 * into it. The value each GroupNorm produced keeps its name (a folded scale's output keeps its
 * own); nodes and initializers nothing reads any more are removed. Run it after
 * {@link retargetSegment}, on a float32 model; it is for onnxruntime's CPU (another runtime
 * may run InstanceNormalization as fast).
 *
 * @param model - the model, edited in place.
 * @returns the fused and skipped InstanceNormalization nodes and the folded scales.
 *
 * @example
 * ```ts
 * const model = readModel(readFileSync('htdemucs.onnx'));
 * fuseGroupNorm(model).fused.length; // 32 (the frequency branch)
 * writeFileSync('htdemucs-ln.onnx', writeModel(model));
 * ```
 */
export function fuseGroupNorm(model: ModelProto): FuseGroupNormReport {
  const graph = model.graph!;
  const c = new GraphConstants(graph);
  const shapes = staticShapes(graph, c, opsetVersion(model) ?? 17);
  const outputs = new Set(graph.output.map((o) => o.name));
  const fused: string[] = [];
  const foldedScales: string[] = [];
  const skipped: SkippedNode[] = [];
  const removed = new Set<NodeProto>();
  const replaced = new Map<NodeProto, NodeProto>();
  for (const norm of graph.node.filter((n) => n.opType === 'InstanceNormalization' && n.domain === '')) {
    const gn = match(c, shapes, norm);
    if (typeof gn === 'string') {
      skipped.push({ node: norm.name, reason: gn });
      continue;
    }
    const channels = gn.shape[1]!;
    const inner = (gn.shape.slice(2) as number[]).reduce((a, b) => a * b, 1);
    const scale = new Float32Array(channels * inner);
    const bias = new Float32Array(channels * inner);
    const ls = matchLayerScale(c, gn, outputs);
    for (let ch = 0; ch < channels; ch++) {
      const s = ls !== undefined && ch < channels / 2 ? ls.scale[ch]! : 1;
      scale.fill(gn.gamma[ch]! * s, ch * inner, (ch + 1) * inner);
      bias.fill(gn.beta[ch]! * s, ch * inner, (ch + 1) * inner);
    }
    const p = `/demucs_mobile/gn_${fused.length}`;
    const dims = gn.shape.slice(1) as number[];
    graph.initializer.push(float32Tensor(scale, dims, { name: `${p}/scale` }), float32Tensor(bias, dims, { name: `${p}/bias` }));
    const add = gn.nodes[gn.nodes.length - 1]!;
    replaced.set(
      add,
      makeNode({
        opType: 'LayerNormalization',
        name: `${p}/LayerNormalization`,
        inputs: [gn.x, `${p}/scale`, `${p}/bias`],
        outputs: [add.output[0]!],
        attributes: { axis: 1n, epsilon: gn.epsilon },
      }),
    );
    for (const n of gn.nodes) if (n !== add) removed.add(n);
    if (ls !== undefined) {
      ls.glu.output[0] = ls.mul.output[0]!;
      removed.add(ls.mul);
      foldedScales.push(ls.mul.name);
    }
    fused.push(norm.name);
  }
  if (fused.length > 0) {
    graph.node = graph.node.flatMap((n) => (removed.has(n) ? [] : [replaced.get(n) ?? n]));
    pruneDead(graph);
  }
  return { fused, foldedScales, skipped };
}
