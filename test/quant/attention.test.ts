/**
 * Attention fusion: the unfused scaled-dot-product attention PyTorch exports (√s on q and kᵀ,
 * MatMul, Softmax, MatMul, heads merged by Transpose + Reshape) becomes one
 * com.microsoft.MultiHeadAttention that onnxruntime runs to the same values, on tiny graphs
 * (self and cross attention, batch 1 and 2), blocks that differ are left alone with a reason,
 * and the real model fuses all ten blocks and separates the e2e song within the fixtures'
 * tolerance of the PyTorch stems.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { float32Tensor, fuseAttention, int64Tensor, makeConstantNode, makeNode, readModel, writeModel, type ModelProto, type NodeProto } from '../../src/quant.js';
import { realModelPath } from '../helpers/model.js';
import { noise } from '../helpers/noise.js';
import { buildModel, e2eSnrs, floatValue, runModel, separateE2e } from '../helpers/quant-models.js';

/** Shape and variations of a tiny attention block. */
interface Block {
  batch: number;
  heads: number;
  headSize: number;
  queries: number;
  keys: number;
  /** Softmax axis. @defaultValue -1 */
  axis?: number;
  /** Numerator of the scale's Div (1 is attention). @defaultValue 1 */
  numerator?: number;
}

/**
 * One block as PyTorch 2 exports `scaled_dot_product_attention` inside `nn.MultiheadAttention`:
 * inputs q0 `[B, H, Sq, d]`, k0 and v0 `[B, H, Sk, d]` through Reshapes (as in the model),
 * output `[Sq·B, H·d]`.
 */
function attentionModel(b: Block): ModelProto {
  const { batch: B, heads: H, headSize: d, queries: Sq, keys: Sk } = b;
  const c = (name: string, values: number[]): NodeProto => makeConstantNode(name, int64Tensor(values, [values.length]));
  const nodes: NodeProto[] = [
    c('/attn/q_shape', [B, H, Sq, d]),
    c('/attn/kv_shape', [B, H, Sk, d]),
    makeNode({ opType: 'Reshape', name: '/attn/Reshape_q', inputs: ['q0', '/attn/q_shape_output_0'], outputs: ['q'] }),
    makeNode({ opType: 'Reshape', name: '/attn/Reshape_k', inputs: ['k0', '/attn/kv_shape_output_0'], outputs: ['k'] }),
    makeNode({ opType: 'Reshape', name: '/attn/Reshape_v', inputs: ['v0', '/attn/kv_shape_output_0'], outputs: ['v'] }),
    // √(1 / √d), d from q's shape.
    makeNode({ opType: 'Shape', name: '/attn/Shape', inputs: ['q'], outputs: ['shape'] }),
    c('/attn/start', [-1]),
    c('/attn/end', [Number.MAX_SAFE_INTEGER]),
    makeNode({ opType: 'Slice', name: '/attn/Slice', inputs: ['shape', '/attn/start_output_0', '/attn/end_output_0'], outputs: ['d_int'] }),
    makeNode({ opType: 'Cast', name: '/attn/Cast', inputs: ['d_int'], outputs: ['d'], attributes: { to: 1n } }),
    makeNode({ opType: 'Sqrt', name: '/attn/Sqrt', inputs: ['d'], outputs: ['sqrt_d'] }),
    makeConstantNode('/attn/one', float32Tensor([b.numerator ?? 1], [])),
    makeNode({ opType: 'Div', name: '/attn/Div', inputs: ['/attn/one_output_0', 'sqrt_d'], outputs: ['scale0'] }),
    makeNode({ opType: 'Cast', name: '/attn/Cast_1', inputs: ['scale0'], outputs: ['scale'], attributes: { to: 1n } }),
    makeNode({ opType: 'Sqrt', name: '/attn/Sqrt_1', inputs: ['scale'], outputs: ['root_q'] }),
    makeNode({ opType: 'Sqrt', name: '/attn/Sqrt_2', inputs: ['scale'], outputs: ['root_k'] }),
    makeNode({ opType: 'Mul', name: '/attn/Mul', inputs: ['q', 'root_q'], outputs: ['q_scaled'] }),
    makeNode({ opType: 'Transpose', name: '/attn/Transpose_k', inputs: ['k'], outputs: ['kt'], attributes: { perm: [0n, 1n, 3n, 2n] } }),
    makeNode({ opType: 'Mul', name: '/attn/Mul_1', inputs: ['kt', 'root_k'], outputs: ['kt_scaled'] }),
    makeNode({ opType: 'MatMul', name: '/attn/MatMul_1', inputs: ['q_scaled', 'kt_scaled'], outputs: ['scores'] }),
    makeNode({ opType: 'Softmax', name: '/attn/Softmax', inputs: ['scores'], outputs: ['weights'], attributes: { axis: BigInt(b.axis ?? -1) } }),
    makeNode({ opType: 'MatMul', name: '/attn/MatMul_2', inputs: ['weights', 'v'], outputs: ['heads'] }),
    makeNode({ opType: 'Transpose', name: '/attn/Transpose_out', inputs: ['heads'], outputs: ['heads_sbhd'], attributes: { perm: [2n, 0n, 1n, 3n] } }),
    c('/attn/out_shape', [Sq * B, H * d]),
    makeNode({ opType: 'Reshape', name: '/attn/Reshape_out', inputs: ['heads_sbhd', '/attn/out_shape_output_0'], outputs: ['y'] }),
  ];
  return buildModel({
    nodes,
    initializers: [],
    inputs: [floatValue('q0', [B, H, Sq, d]), floatValue('k0', [B, H, Sk, d]), floatValue('v0', [B, H, Sk, d])],
    outputs: [floatValue('y', [Sq * B, H * d])],
  });
}

async function run(model: ModelProto, b: Block): Promise<Float32Array> {
  const { batch: B, heads: H, headSize: d, queries: Sq, keys: Sk } = b;
  const t = (seed: number, dims: number[]) => ({ data: noise(dims.reduce((x, y) => x * y, 1), seed, 4), dims });
  const [y] = await runModel(model, { q0: t(1, [B, H, Sq, d]), k0: t(2, [B, H, Sk, d]), v0: t(3, [B, H, Sk, d]) });
  return y!;
}

const ops = (m: ModelProto) => m.graph!.node.map((n) => n.opType);

describe('fuseAttention', () => {
  const cases: [string, Block][] = [
    ['self attention, batch 1', { batch: 1, heads: 4, headSize: 8, queries: 12, keys: 12 }],
    ['cross attention (12 queries, 20 keys)', { batch: 1, heads: 2, headSize: 16, queries: 12, keys: 20 }],
    ['batch 2 (the merged heads are sequence-major)', { batch: 2, heads: 3, headSize: 4, queries: 5, keys: 7 }],
  ];
  it.each(cases)('%s: one MultiHeadAttention, the same values', async (_, b) => {
    const original = attentionModel(b);
    const fused = attentionModel(b);
    const report = fuseAttention(fused);
    expect(report).toEqual({ fused: ['/attn/Softmax'], skipped: [] });
    expect(ops(fused).filter((o) => o === 'MultiHeadAttention')).toHaveLength(1);
    // The unfused operators and the scale's shape arithmetic are gone.
    for (const gone of ['Softmax', 'MatMul', 'Mul', 'Shape', 'Slice', 'Sqrt', 'Div', 'Cast']) expect(ops(fused)).not.toContain(gone);
    expect(fused.opsetImport.map((o) => o.domain)).toContain('com.microsoft');
    const [want, got] = [await run(original, b), await run(fused, b)];
    expect(got.length).toBe(b.batch * b.queries * b.heads * b.headSize);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - got[i]!));
    expect(worst).toBeLessThan(1e-5);
    // Not trivially equal: the output spans the values' range.
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0.5);
  });

  it('leaves a Softmax over another axis alone, saying why', () => {
    const m = attentionModel({ batch: 1, heads: 2, headSize: 4, queries: 6, keys: 6, axis: 2 });
    const before = ops(m);
    expect(fuseAttention(m)).toEqual({ fused: [], skipped: [{ node: '/attn/Softmax', reason: 'Softmax axis 2 is not the last' }] });
    expect(ops(m)).toEqual(before);
    expect(m.opsetImport.map((o) => o.domain)).not.toContain('com.microsoft');
  });

  it('leaves a block whose scale is not 1/√d alone, saying why', () => {
    const m = attentionModel({ batch: 1, heads: 2, headSize: 4, queries: 6, keys: 6, numerator: 2 });
    const { fused, skipped } = fuseAttention(m);
    expect(fused).toEqual([]);
    expect(skipped).toEqual([{ node: '/attn/Softmax', reason: "the scale's numerator is not the constant 1 ([2])" }]);
  });

  it('fuses the ten blocks of htdemucs.onnx; the e2e song stays within the fixtures\' 1e-4 of the PyTorch stems', async () => {
    const model = readModel(readFileSync(await realModelPath()));
    const softmaxes = ops(model).filter((o) => o === 'Softmax').length;
    const report = fuseAttention(model);
    expect(softmaxes).toBe(10);
    expect(report.skipped).toEqual([]);
    expect(report.fused).toHaveLength(10);
    expect(report.fused).toContain('/crosstransformer/layers_t.1/cross_attn/Softmax');
    expect(ops(model)).not.toContain('Softmax');
    const { stems } = await separateE2e(writeModel(model));
    const snrs = e2eSnrs(stems);
    console.info('fused attention, e2e SNR vs PyTorch (dB):', snrs.map((s) => s.toFixed(1)).join(', '));
    // Relative L2 error 1e-4 is 80 dB.
    for (const s of snrs) expect(s).toBeGreaterThan(80);
  });
});
