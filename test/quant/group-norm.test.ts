/**
 * GroupNorm fusion: PyTorch's exported GroupNorm(1, C) (Reshape, InstanceNormalization,
 * Reshape, Mul, Add) becomes one LayerNormalization that onnxruntime runs to the same values,
 * a GLU's LayerScale folds into it, GroupNorms of one row or unknown shape and look-alikes are
 * left alone with a reason, and the real model fuses its 32 frequency-branch GroupNorms and
 * separates the e2e song within the fixtures' tolerance of the PyTorch stems.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { float32Tensor, fuseGroupNorm, int64Tensor, makeConstantNode, makeNode, readModel, writeModel, type ModelProto, type NodeProto } from '../../src/quant.js';
import { realModelPath } from '../helpers/model.js';
import { noise } from '../helpers/noise.js';
import { buildModel, e2eSnrs, floatValue, runModel, separateE2e } from '../helpers/quant-models.js';

/** A DConv-like block on x `[N, C, T]`: GroupNorm(1, C), optionally a GLU and a LayerScale. */
interface Block {
  /** Declared dims of x (a string is symbolic). */
  dims: readonly (number | string)[];
  /** Feed dims (the declared ones when all numbers). */
  feed?: number[];
  glu?: boolean;
  /** InstanceNormalization's scale constant. @defaultValue 1 */
  unit?: number;
}

function groupNormModel(b: Block): ModelProto {
  const C = b.dims[1] as number;
  const glu = b.glu ?? false;
  const nodes: NodeProto[] = [
    makeConstantNode('/gn/flat', int64Tensor([0, 1, -1], [3])),
    makeConstantNode('/gn/one', float32Tensor([b.unit ?? 1], [1])),
    makeConstantNode('/gn/zero', float32Tensor([0], [1])),
    makeNode({ opType: 'Reshape', name: '/gn/Reshape', inputs: ['x', '/gn/flat_output_0'], outputs: ['flat'] }),
    makeNode({ opType: 'InstanceNormalization', name: '/gn/InstanceNormalization', inputs: ['flat', '/gn/one_output_0', '/gn/zero_output_0'], outputs: ['normed'], attributes: { epsilon: 1e-5 } }),
    makeNode({ opType: 'Shape', name: '/gn/Shape', inputs: ['x'], outputs: ['x_shape'] }),
    makeNode({ opType: 'Reshape', name: '/gn/Reshape_1', inputs: ['normed', 'x_shape'], outputs: ['back'] }),
    makeNode({ opType: 'Mul', name: '/gn/Mul', inputs: ['back', 'gamma'], outputs: ['scaled'] }),
    makeNode({ opType: 'Add', name: '/gn/Add', inputs: ['scaled', 'beta'], outputs: [glu ? 'gn' : 'y'] }),
  ];
  const initializers = [float32Tensor(noise(C, 5, 2), [C, 1], { name: 'gamma' }), float32Tensor(noise(C, 6), [C, 1], { name: 'beta' })];
  if (glu) {
    nodes.push(
      makeNode({ opType: 'Split', name: '/glu/Split', inputs: ['gn'], outputs: ['a', 'b'], attributes: { axis: 1n } }),
      makeNode({ opType: 'Sigmoid', name: '/glu/Sigmoid', inputs: ['b'], outputs: ['gate'] }),
      makeNode({ opType: 'Mul', name: '/glu/Mul', inputs: ['a', 'gate'], outputs: ['gated'] }),
      makeNode({ opType: 'Mul', name: '/scale/Mul', inputs: ['layer_scale', 'gated'], outputs: ['y'] }),
    );
    initializers.push(float32Tensor(noise(C / 2, 7, 3), [C / 2, 1], { name: 'layer_scale' }));
  }
  const out = [b.dims[0]!, glu ? C / 2 : C, b.dims[2]!];
  return buildModel({ nodes, initializers, inputs: [floatValue('x', b.dims)], outputs: [floatValue('y', out)] });
}

async function run(model: ModelProto, b: Block): Promise<Float32Array> {
  const dims = b.feed ?? (b.dims as number[]);
  // An offset and a spread per element, so that the normalisation has something to remove.
  const x = noise(dims.reduce((p, d) => p * d, 1), 3, 4).map((v, i) => v + (i % 7) - 3);
  const [y] = await runModel(model, { x: { data: x, dims } });
  return y!;
}

const ops = (m: ModelProto) => m.graph!.node.map((n) => n.opType);

describe('fuseGroupNorm', () => {
  it.each([
    ['GroupNorm alone', { dims: [4, 8, 10] }],
    ['GroupNorm, GLU and LayerScale (the scale folded in)', { dims: [4, 8, 10], glu: true }],
    ['a batch left symbolic', { dims: ['rows', 6, 12], feed: [3, 6, 12], glu: true }],
  ] as [string, Block][])('%s: one LayerNormalization, the same values', async (_, b) => {
    const original = groupNormModel(b);
    const fused = groupNormModel(b);
    const report = fuseGroupNorm(fused);
    expect(report.fused).toEqual(['/gn/InstanceNormalization']);
    expect(report.foldedScales).toEqual(b.glu === true ? ['/scale/Mul'] : []);
    expect(report.skipped).toEqual([]);
    expect(ops(fused)).toContain('LayerNormalization');
    for (const gone of ['InstanceNormalization', 'Shape', 'Reshape', 'Add']) expect(ops(fused)).not.toContain(gone);
    // Left: the GLU's Split, Sigmoid and Mul; the LayerScale's Mul is gone.
    expect(ops(fused).filter((o) => o === 'Mul')).toHaveLength(b.glu === true ? 1 : 0);
    expect(fused.graph!.initializer.map((t) => t.name).sort()).toEqual(['/demucs_mobile/gn_0/bias', '/demucs_mobile/gn_0/scale']);
    const [want, got] = [await run(original, b), await run(fused, b)];
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - got[i]!));
    expect(worst).toBeLessThan(1e-5);
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0.5);
  });

  it('leaves one-row, unknown-shape and look-alike GroupNorms alone, saying why', () => {
    const cases: [Block, RegExp][] = [
      [{ dims: [1, 8, 10] }, /x has one row \(shape \[1,8,10\]\): LayerNormalization would not be faster/],
      [{ dims: [4, 8, 'frames'] }, /the shape of x is not static past the batch \(\[4,8,null\]\)/],
      [{ dims: [4, 8, 10], unit: 2 }, /its scale and bias are not the constants 1 and 0/],
    ];
    for (const [b, reason] of cases) {
      const m = groupNormModel(b);
      const before = writeModel(m);
      const report = fuseGroupNorm(m);
      expect(report.fused).toEqual([]);
      expect(report.skipped).toHaveLength(1);
      expect(report.skipped[0]!.node).toBe('/gn/InstanceNormalization');
      expect(report.skipped[0]!.reason).toMatch(reason);
      expect(writeModel(m)).toEqual(before);
    }
  });

  it("fuses the 32 frequency-branch GroupNorms of htdemucs.onnx; the e2e song stays within the fixtures' 1e-4 of the PyTorch stems", async () => {
    const model = readModel(readFileSync(await realModelPath()));
    const report = fuseGroupNorm(model);
    expect(report.fused).toHaveLength(32);
    expect(report.fused).toContain('/encoder.0/dconv/layers.0/layers.0.1/InstanceNormalization');
    expect(report.fused).toContain('/decoder.3/dconv/layers.1/layers.1.4/InstanceNormalization');
    // Each DConv layer's second GroupNorm feeds a GLU and its LayerScale.
    expect(report.foldedScales).toHaveLength(16);
    // The time branch's and the transformer's GroupNorms: one row each, shapes not followed.
    expect(report.skipped).toHaveLength(42);
    expect(report.fused.some((n) => n.startsWith('/tencoder') || n.startsWith('/crosstransformer'))).toBe(false);
    expect(ops(model).filter((o) => o === 'InstanceNormalization')).toHaveLength(42);
    const { stems } = await separateE2e(writeModel(model));
    const snrs = e2eSnrs(stems);
    console.info('fused GroupNorm, e2e SNR vs PyTorch (dB):', snrs.map((s) => s.toFixed(1)).join(', '));
    for (const s of snrs) expect(s).toBeGreaterThan(80);
  });
});
