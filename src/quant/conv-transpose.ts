/**
 * Rewriting a strided `ConvTranspose` whose kernel is a multiple of its stride as a `Conv`
 * followed by a depth-to-space rearrangement.
 *
 * With stride s, kernel k = m·s and no padding, output position `s·f + r` (0 ≤ r < s) of a
 * ConvTranspose only ever reads input positions `f − j` through kernel tap `r + s·j`,
 * j = 0 … m − 1. That is an ordinary Conv with m taps over the input padded by m − 1 on both
 * sides, with s·C_out output channels (one per phase r), followed by interleaving the s phases
 * along the axis: Reshape `[N, C_out, s, F + m − 1, …]`, Transpose the phase behind the
 * position, Reshape to `[N, C_out, s·(F + m − 1), …]`, which is the ConvTranspose's output
 * length `s·(F − 1) + k`. The sums are the same products in another order (float32 rounding).
 *
 * onnxruntime's CPU ConvTranspose multiplies into a column buffer k/s times the output's size
 * and scatters it back on one thread (col2im), then adds the bias in another pass; the Conv
 * runs in its blocked, threaded kernels (2-D) or as one GEMM (1-D), and the rearrangement is
 * one copy. In HTDemucs (8 decoders, k = 8, s = 4) the ConvTransposes took 501 ms of a window
 * in an onnxruntime profile; the Conv and the copy 244 ms.
 */
import { TensorProto_DataType, type ModelProto, type NodeProto } from './gen/onnx_pb.js';
import { float32Tensor, getAttribute, int64Tensor, makeNode, opsetVersion, pruneDead } from './onnx-io.js';
import { GraphConstants, intsAttribute } from './graph-constants.js';
import type { SkippedNode } from './skipped-node.js';

/** What {@link convTransposeAsConv} did. */
export interface ConvTransposeReport {
  /** ConvTranspose nodes that became a Conv and a rearrangement, in graph order. */
  readonly rewritten: readonly string[];
  /** ConvTranspose nodes left as they were, each with the reason. */
  readonly skipped: readonly SkippedNode[];
}

/** `Shape(x, start)` needs operator set 15. */
const SHAPE_START_OPSET = 15;

/** A ConvTranspose in the form rewritten. */
interface Plan {
  readonly weight: Float32Array;
  readonly bias: Float32Array | undefined;
  /** Input channels, output channels, stride, taps per phase m = k / s. */
  readonly cin: number;
  readonly cout: number;
  readonly stride: number;
  readonly taps: number;
  /** 1-D (`[N, C, L]`) or 2-D with the second axis unstrided and of kernel 1 (`[N, C, F, T]`). */
  readonly rank: 1 | 2;
}

/** Checks one ConvTranspose; a reason when it is not in the form rewritten. */
function plan(c: GraphConstants, node: NodeProto): Plan | string {
  const w = c.tensor(node.input[1]);
  if (w === undefined || w.dataType !== TensorProto_DataType.FLOAT) return 'its weight is not a float32 constant';
  const b = node.input[2] === undefined || node.input[2] === '' ? undefined : c.tensor(node.input[2]);
  if (b !== undefined ? b.dataType !== TensorProto_DataType.FLOAT : node.input.length > 2 && node.input[2] !== '') return 'its bias is not a float32 constant';
  const dims = w.dims.map(Number);
  if (dims.length !== 3 && dims.length !== 4) return `its weight has ${dims.length} dims; only 1-D and 2-D are rewritten`;
  const [cin, cout, k] = dims as [number, number, number];
  const rank = dims.length === 3 ? 1 : 2;
  const strides = intsAttribute(node, 'strides') ?? Array<number>(rank).fill(1);
  const s = strides[0]!;
  const flat = (name: string, value: number) => (intsAttribute(node, name) ?? []).every((v) => v === value);
  const autoPad = getAttribute(node, 'auto_pad');
  if (Number(getAttribute(node, 'group')?.i ?? 1n) !== 1) return 'it is grouped';
  if (!flat('dilations', 1) || !flat('pads', 0) || !flat('output_padding', 0)) return 'it has dilations, pads or an output padding';
  if (getAttribute(node, 'output_shape') !== undefined || (autoPad !== undefined && new TextDecoder().decode(autoPad.s) !== 'NOTSET')) return 'its output shape is given, not computed';
  if (rank === 2 && (dims[3] !== 1 || strides[1] !== 1)) return 'its second axis has a kernel or stride other than 1';
  if (s < 2 || k % s !== 0) return `its kernel ${k} is not a multiple of its stride ${s} ≥ 2`;
  if (b !== undefined && b.dims.map(Number).join() !== String(cout)) return `its bias is not [${cout}]`;
  return { weight: c.floats(node.input[1])!, bias: b === undefined ? undefined : c.floats(node.input[2])!, cin, cout, stride: s, taps: k / s, rank };
}

/**
 * Replaces each ConvTranspose with stride s ≥ 2 on its first spatial axis, kernel a multiple
 * of s, no padding, dilation or groups, 1-D or 2-D with an unstrided kernel-1 second axis (all
 * of HTDemucs's decoders), and constant float32 weights, by a Conv and a depth-to-space
 * rearrangement that compute the same values. The output keeps its name; the old weights
 * are removed. For onnxruntime's CPU; run it after {@link retargetSegment}, on a float32
 * model.
 *
 * @param model - the model, edited in place.
 * @returns the rewritten and skipped ConvTranspose nodes.
 *
 * @example
 * ```ts
 * const model = readModel(readFileSync('htdemucs.onnx'));
 * convTransposeAsConv(model).rewritten.length; // 8
 * ```
 */
export function convTransposeAsConv(model: ModelProto): ConvTransposeReport {
  const graph = model.graph!;
  const c = new GraphConstants(graph);
  const twoDimensional = (opsetVersion(model) ?? 0) >= SHAPE_START_OPSET;
  const rewritten: string[] = [];
  const skipped: SkippedNode[] = [];
  const replaced = new Map<NodeProto, NodeProto[]>();
  for (const node of graph.node.filter((n) => n.opType === 'ConvTranspose' && n.domain === '')) {
    const pl = plan(c, node);
    if (typeof pl === 'string' || (pl.rank === 2 && !twoDimensional)) {
      skipped.push({ node: node.name, reason: typeof pl === 'string' ? pl : `2-D needs operator set ${SHAPE_START_OPSET} (Shape with start)` });
      continue;
    }
    const { cin, cout, stride: s, taps: m, rank } = pl;
    const k = s * m;
    // Conv weight [cout·s, cin, m (, 1)]: channel (co, r), tap j reads input f − (m − 1) + j, the ConvTranspose's tap r + s·(m − 1 − j).
    const weight = new Float32Array(cout * s * cin * m);
    for (let co = 0; co < cout; co++) {
      for (let r = 0; r < s; r++) {
        for (let ci = 0; ci < cin; ci++) {
          const to = ((co * s + r) * cin + ci) * m;
          const from = (ci * cout + co) * k + r;
          for (let j = 0; j < m; j++) weight[to + j] = pl.weight[from + s * (m - 1 - j)]!;
        }
      }
    }
    const p = `/demucs_mobile/convtr_${rewritten.length}`;
    const inits = [float32Tensor(weight, rank === 1 ? [cout * s, cin, m] : [cout * s, cin, m, 1], { name: `${p}/weight` })];
    if (pl.bias !== undefined) {
      const bias = new Float32Array(cout * s);
      for (let co = 0; co < cout; co++) bias.fill(pl.bias[co]!, co * s, (co + 1) * s);
      inits.push(float32Tensor(bias, [cout * s], { name: `${p}/bias` }));
    }
    // [N, cout·s, F'(, T)] → [N, cout, s, F'(, T)] → [N, cout, F', s(, T)] → [N, cout, s·F'(, T)].
    inits.push(int64Tensor([0, cout, s, -1], [4], { name: `${p}/phases` }), int64Tensor([0, cout, -1], [3], { name: `${p}/merged` }));
    graph.initializer.push(...inits);
    const pad = BigInt(m - 1);
    const nodes = [
      makeNode({
        opType: 'Conv',
        name: `${p}/Conv`,
        inputs: [node.input[0]!, `${p}/weight`, ...(pl.bias === undefined ? [] : [`${p}/bias`])],
        outputs: [`${p}/phases_first`],
        attributes: rank === 1 ? { kernel_shape: [BigInt(m)], pads: [pad, pad] } : { kernel_shape: [BigInt(m), 1n], pads: [pad, 0n, pad, 0n] },
      }),
    ];
    let phases = `${p}/phases`;
    let merged = `${p}/merged`;
    if (rank === 2) {
      // The trailing axis T is kept: append Shape(z)[3:] to both targets (folded by onnxruntime when static).
      nodes.push(
        makeNode({ opType: 'Shape', name: `${p}/Shape`, inputs: [`${p}/phases_first`], outputs: [`${p}/trailing`], attributes: { start: 3n } }),
        makeNode({ opType: 'Concat', name: `${p}/Concat_phases`, inputs: [phases, `${p}/trailing`], outputs: [`${phases}_t`], attributes: { axis: 0n } }),
        makeNode({ opType: 'Concat', name: `${p}/Concat_merged`, inputs: [merged, `${p}/trailing`], outputs: [`${merged}_t`], attributes: { axis: 0n } }),
      );
      phases = `${phases}_t`;
      merged = `${merged}_t`;
    }
    nodes.push(
      makeNode({ opType: 'Reshape', name: `${p}/Reshape_phases`, inputs: [`${p}/phases_first`, phases], outputs: [`${p}/split_phases`] }),
      makeNode({
        opType: 'Transpose',
        name: `${p}/Transpose`,
        inputs: [`${p}/split_phases`],
        outputs: [`${p}/phases_last`],
        attributes: { perm: rank === 1 ? [0n, 1n, 3n, 2n] : [0n, 1n, 3n, 2n, 4n] },
      }),
      makeNode({ opType: 'Reshape', name: `${p}/Reshape_merged`, inputs: [`${p}/phases_last`, merged], outputs: [node.output[0]!] }),
    );
    replaced.set(node, nodes);
    rewritten.push(node.name);
  }
  if (rewritten.length > 0) {
    graph.node = graph.node.flatMap((n) => replaced.get(n) ?? [n]);
    pruneDead(graph);
  }
  return { rewritten, skipped };
}
