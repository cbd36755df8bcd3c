/**
 * Fusing HTDemucs's attention into onnxruntime's `com.microsoft.MultiHeadAttention`.
 *
 * PyTorch exports each `nn.MultiheadAttention` of the cross-domain transformer as separate
 * operators: `q·√s`, `kᵀ·√s`, MatMul, Softmax, MatMul with `v`, a Transpose and a Reshape
 * (s = 1/√d, computed from the shape of `q`). onnxruntime runs them as written, materialising
 * the `[B, heads, S, S]` score tensor (231 MB per block at 2688 tokens); they are about a
 * fifth of a window's operator time in an onnxruntime CPU profile. `MultiHeadAttention`
 * computes the same function; on the CPU onnxruntime runs it as flash attention (scores in
 * tiles, online softmax), which never holds the whole score tensor. The result differs from the unfused graph only by float32
 * rounding (summation order, and s applied once instead of √s twice).
 *
 * The rewrite is for onnxruntime (the contrib operator is not standard ONNX): tested with
 * onnxruntime-node; onnxruntime-web's builds carry the contrib operators but are not tested
 * with it here; a model for another runtime (Qualcomm AI Hub) keeps the unfused form.
 */
import { create } from '@bufbuild/protobuf';
import { OperatorSetIdProtoSchema, type ModelProto, type NodeProto } from './gen/onnx_pb.js';
import { attributeValue, getAttribute, int64Tensor, makeConstantNode, makeNode, pruneDead } from './onnx-io.js';
import { GraphConstants, intsAttribute } from './graph-constants.js';
import type { SkippedNode } from './skipped-node.js';

/** The operator domain of `MultiHeadAttention`. */
export const MS_DOMAIN = 'com.microsoft';

/** A Softmax node {@link fuseAttention} left as it was (its name), and what in its block differs from the pattern fused. */
export type SkippedAttention = SkippedNode;

/** What {@link fuseAttention} did. */
export interface FuseAttentionReport {
  /** Softmax nodes whose attention became one `MultiHeadAttention`, in graph order. */
  readonly fused: readonly string[];
  /** Softmax nodes left as they were, each with the reason. */
  readonly skipped: readonly SkippedAttention[];
}

/** The graph's lookups the matcher needs (one-consumer queries, constants). */
type Links = GraphConstants;

/** An `ints` attribute as numbers (empty when absent). */
const ints = (node: NodeProto, name: string): number[] => intsAttribute(node, name) ?? [];

/** The values of a constant float tensor, or `undefined`. */
function constFloats(links: Links, value: string): number[] | undefined {
  const v = links.floats(value);
  return v === undefined ? undefined : Array.from(v);
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The producers of `value`, its producer's first input, and so on: `depth` nodes (`undefined` past a graph input). */
function chain(links: Links, value: string, depth: number): (NodeProto | undefined)[] {
  const nodes: (NodeProto | undefined)[] = [];
  let node = links.producer.get(value);
  for (let i = 0; i < depth; i++) {
    nodes.push(node);
    node = node === undefined ? undefined : links.producer.get(node.input[0]!);
  }
  return nodes;
}

const opTypes = (nodes: readonly (NodeProto | undefined)[]) => nodes.map((n) => n?.opType ?? 'none').join(' ← ');

/**
 * Checks that `value` is √(1/√d) with d the last dimension of `q`, as PyTorch's
 * `scaled_dot_product_attention` exports it: `Sqrt(Cast(Div(1, Sqrt(Cast(Slice(Shape(q), -1))))))`.
 * @returns a reason when it is not, else `undefined`.
 */
function checkScale(links: Links, value: string, q: string): string | undefined {
  const outer = chain(links, value, 3);
  if (opTypes(outer) !== 'Sqrt ← Cast ← Div') return `the scale is ${opTypes(outer)}, not Sqrt ← Cast ← Div`;
  const div = outer[2]!;
  const one = constFloats(links, div.input[0]!);
  if (one === undefined || !same(one, [1])) return `the scale's numerator is not the constant 1 (${JSON.stringify(one)})`;
  const inner = chain(links, div.input[1]!, 4);
  if (opTypes(inner) !== 'Sqrt ← Cast ← Slice ← Shape') return `the scale's denominator is ${opTypes(inner)}, not Sqrt ← Cast ← Slice ← Shape`;
  const [, , slice, shape] = inner as NodeProto[];
  if (shape!.input[0] !== q) return `the scale is taken from the shape of ${shape!.input[0]}, not of q (${q})`;
  const start = links.ints(slice!.input[1]);
  const end = links.ints(slice!.input[2]);
  // q is [B, heads, S, d]: the last dimension is [-1, ≥ 4).
  if (start === undefined || !same(start, [-1]) || end === undefined || end.length !== 1 || end[0]! < 4) {
    return `the scale's Slice takes [${JSON.stringify(start)}, ${JSON.stringify(end)}) of q's shape, not its last dimension`;
  }
  return undefined;
}

/** The head count of q's `[B, heads, S, d]` Reshape: a Constant shape, or a Concat whose second part is one. */
function headCount(links: Links, q: string): number | string {
  const reshape = links.producer.get(q);
  if (reshape?.opType !== 'Reshape') return `q (${q}) does not come from a Reshape`;
  const shape = reshape.input[1]!;
  const whole = links.ints(shape);
  if (whole !== undefined) return whole.length === 4 && whole[1]! > 0 ? whole[1]! : `q's shape ${JSON.stringify(whole)} is not [B, heads, S, d]`;
  const concat = links.producer.get(shape);
  if (concat?.opType === 'Concat' && concat.input.length === 4) {
    const heads = links.ints(concat.input[1]);
    if (heads !== undefined && heads.length === 1 && heads[0]! > 0) return heads[0]!;
  }
  return `the head count of q's Reshape (${reshape.name}) is not a constant`;
}

/** One matched attention block. */
interface Match {
  readonly q: string;
  readonly k: string;
  readonly v: string;
  readonly heads: number;
  /** The Reshape whose output the block produces, `[S·B, heads·d]`. */
  readonly reshape: NodeProto;
  readonly nodes: readonly NodeProto[];
}

/** Matches the unfused attention around one Softmax, or says why not. */
function match(links: Links, softmax: NodeProto): Match | string {
  const axis = getAttribute(softmax, 'axis');
  if (axis !== undefined && ![-1, 3].includes(Number(attributeValue(axis)))) return `Softmax axis ${String(attributeValue(axis))} is not the last`;
  const scores = links.producer.get(softmax.input[0]!);
  if (scores?.opType !== 'MatMul' || links.soleConsumer(scores.output[0]!) !== softmax) return 'the Softmax input is not a MatMul used only there';
  const [mq, mk] = [links.producer.get(scores.input[0]!), links.producer.get(scores.input[1]!)];
  if (mq?.opType !== 'Mul' || mk?.opType !== 'Mul') return 'the score MatMul inputs are not both scaled by a Mul';
  if (links.soleConsumer(mq.output[0]!) !== scores || links.soleConsumer(mk.output[0]!) !== scores) return 'a scaled q or k is used elsewhere';
  const kt = links.producer.get(mk.input[0]!);
  if (kt?.opType !== 'Transpose' || !same(ints(kt, 'perm'), [0, 1, 3, 2]) || links.soleConsumer(kt.output[0]!) !== mk) {
    return 'k is not transposed by perm [0, 1, 3, 2] for the scores alone';
  }
  const q = mq.input[0]!;
  const k = kt.input[0]!;
  for (const m of [mq, mk]) {
    const reason = checkScale(links, m.input[1]!, q);
    if (reason !== undefined) return reason;
  }
  const weighted = links.soleConsumer(softmax.output[0]!);
  if (weighted?.opType !== 'MatMul' || weighted.input[0] !== softmax.output[0]) return 'the Softmax output is not the left input of one MatMul';
  const merge = links.soleConsumer(weighted.output[0]!);
  if (merge?.opType !== 'Transpose' || !same(ints(merge, 'perm'), [2, 0, 1, 3])) return 'the heads are not merged by a Transpose with perm [2, 0, 1, 3]';
  const reshape = links.soleConsumer(merge.output[0]!);
  if (reshape?.opType !== 'Reshape') return 'the merged heads do not go to one Reshape';
  const heads = headCount(links, q);
  if (typeof heads === 'string') return heads;
  return { q, k, v: weighted.input[1]!, heads, reshape, nodes: [mq, mk, kt, scores, softmax, weighted, merge, reshape] };
}

/**
 * Replaces each unfused scaled-dot-product attention of the cross-domain transformer by one
 * `com.microsoft.MultiHeadAttention` node (onnxruntime's flash attention on the CPU). The
 * rest of the graph, and the value each block produces, keep their names; nodes and
 * initializers nothing reads any more (the scale's shape arithmetic) are removed. Run it after
 * {@link retargetSegment}, on a float32 model (the precision tools have not been tried on the
 * fused graph).
 *
 * Each block is matched in full (scale 1/√d from q's shape, Softmax on the last axis, heads
 * merged as PyTorch does) or left alone and reported in `skipped`.
 *
 * @param model - the model, edited in place.
 * @returns the fused and skipped Softmax nodes.
 *
 * @example
 * ```ts
 * const model = readModel(readFileSync('htdemucs.onnx'));
 * fuseAttention(model).fused.length; // 10
 * writeFileSync('htdemucs-mha.onnx', writeModel(model));
 * ```
 */
export function fuseAttention(model: ModelProto): FuseAttentionReport {
  const graph = model.graph!;
  const links = new GraphConstants(graph);
  const fused: string[] = [];
  const skipped: SkippedAttention[] = [];
  const removed = new Set<NodeProto>();
  const inserted = new Map<NodeProto, NodeProto[]>();
  let n = 0;
  for (const softmax of graph.node.filter((x) => x.opType === 'Softmax')) {
    const m = match(links, softmax);
    if (typeof m === 'string') {
      skipped.push({ node: softmax.name, reason: m });
      continue;
    }
    const p = `/demucs_mobile/mha_${n++}`;
    // [B, heads, S, d] → [B, S, heads·d]: MultiHeadAttention's query, key and value layout.
    const bsd = (x: string, tag: string): NodeProto[] => [
      makeNode({ opType: 'Transpose', name: `${p}/${tag}/Transpose`, inputs: [x], outputs: [`${p}/${tag}_bshd`], attributes: { perm: [0n, 2n, 1n, 3n] } }),
      makeNode({ opType: 'Reshape', name: `${p}/${tag}/Reshape`, inputs: [`${p}/${tag}_bshd`, `${p}/bsd_output_0`], outputs: [`${p}/${tag}_bsd`] }),
    ];
    inserted.set(m.reshape, [
      // Reshape's 0 copies the input's dimension: [B, S, -1].
      makeConstantNode(`${p}/bsd`, int64Tensor([0, 0, -1], [3])),
      ...bsd(m.q, 'q'),
      ...bsd(m.k, 'k'),
      ...bsd(m.v, 'v'),
      makeNode({
        opType: 'MultiHeadAttention',
        domain: MS_DOMAIN,
        name: `${p}/MultiHeadAttention`,
        inputs: [`${p}/q_bsd`, `${p}/k_bsd`, `${p}/v_bsd`],
        outputs: [`${p}/out_bsd`],
        attributes: { num_heads: BigInt(m.heads) },
      }),
      // [B, S, D] → [S, B, D], the order the unfused graph's Transpose gave its Reshape.
      makeNode({ opType: 'Transpose', name: `${p}/out/Transpose`, inputs: [`${p}/out_bsd`], outputs: [`${p}/out_sbd`], attributes: { perm: [1n, 0n, 2n] } }),
      makeNode({ opType: 'Reshape', name: `${p}/out/Reshape`, inputs: [`${p}/out_sbd`, m.reshape.input[1]!], outputs: [m.reshape.output[0]!] }),
    ]);
    for (const x of m.nodes) removed.add(x);
    fused.push(softmax.name);
  }
  if (fused.length > 0) {
    graph.node = graph.node.flatMap((x) => [...(inserted.get(x) ?? []), ...(removed.has(x) ? [] : [x])]);
    pruneDead(graph);
    if (!model.opsetImport.some((o) => o.domain === MS_DOMAIN)) model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: MS_DOMAIN, version: 1n }));
  }
  return { fused, skipped };
}
