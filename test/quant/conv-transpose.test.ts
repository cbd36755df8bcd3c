/**
 * ConvTranspose as Conv: a strided ConvTranspose whose kernel is a multiple of its stride
 * becomes a Conv and a depth-to-space copy that onnxruntime runs to the same values (1-D and
 * 2-D, with and without bias, batch 1 and 2), other forms are left alone with a reason, and
 * the real model's eight decoders are rewritten and separate the e2e song within the
 * fixtures' tolerance of the PyTorch stems.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convTransposeAsConv, float32Tensor, makeNode, readModel, writeModel, type AttributeInit, type ModelProto } from '../../src/quant.js';
import { realModelPath } from '../helpers/model.js';
import { noise } from '../helpers/noise.js';
import { buildModel, e2eSnrs, floatValue, runModel, separateE2e } from '../helpers/quant-models.js';

/** One ConvTranspose: input `[N, Cin, L(, W)]`, weight `[Cin, Cout, k(, kw)]`. */
interface Layer {
  input: number[];
  cout: number;
  kernel: number[];
  strides: number[];
  bias?: boolean;
  attributes?: Record<string, AttributeInit>;
}

/** The ConvTranspose's output dims, by the operator's formula (no padding). */
function outputDims(l: Layer): number[] {
  return [l.input[0]!, l.cout, ...l.input.slice(2).map((d, i) => l.strides[i]! * (d - 1) + l.kernel[i]!)];
}

function layerModel(l: Layer): ModelProto {
  const cin = l.input[1]!;
  const w = float32Tensor(noise(cin * l.cout * l.kernel.reduce((a, b) => a * b, 1), 11), [cin, l.cout, ...l.kernel], { name: 'w' });
  const initializers = [w, ...(l.bias === false ? [] : [float32Tensor(noise(l.cout, 12), [l.cout], { name: 'b' })])];
  const node = makeNode({
    opType: 'ConvTranspose',
    name: '/dec/ConvTranspose',
    inputs: ['x', 'w', ...(l.bias === false ? [] : ['b'])],
    outputs: ['y'],
    attributes: { kernel_shape: l.kernel.map(BigInt), strides: l.strides.map(BigInt), ...l.attributes },
  });
  return buildModel({ nodes: [node], initializers, inputs: [floatValue('x', l.input)], outputs: [floatValue('y', [])] });
}

async function run(model: ModelProto, l: Layer): Promise<Float32Array> {
  const [y] = await runModel(model, { x: { data: noise(l.input.reduce((a, b) => a * b, 1), 13, 2), dims: l.input } });
  return y!;
}

const ops = (m: ModelProto) => m.graph!.node.map((n) => n.opType);

describe('convTransposeAsConv', () => {
  it.each([
    ['1-D, k 8, stride 4 (a time decoder)', { input: [1, 6, 9], cout: 3, kernel: [8], strides: [4] }],
    ['1-D, k 4, stride 2, batch 2, no bias', { input: [2, 3, 5], cout: 2, kernel: [4], strides: [2], bias: false }],
    ['1-D, k 3, stride 3 (one tap per phase)', { input: [1, 4, 6], cout: 5, kernel: [3], strides: [3] }],
    ['2-D, k (8, 1), stride (4, 1) (a frequency decoder)', { input: [1, 6, 7, 5], cout: 4, kernel: [8, 1], strides: [4, 1] }],
  ] as [string, Layer][])('%s: a Conv and a rearrangement, the same values', async (_, l) => {
    const original = layerModel(l);
    const rewritten = layerModel(l);
    expect(convTransposeAsConv(rewritten)).toEqual({ rewritten: ['/dec/ConvTranspose'], skipped: [] });
    expect(ops(rewritten)).not.toContain('ConvTranspose');
    expect(ops(rewritten)).toContain('Conv');
    expect(ops(rewritten)).toContain('Transpose');
    const [want, got] = [await run(original, l), await run(rewritten, l)];
    expect(want.length).toBe(outputDims(l).reduce((a, b) => a * b, 1));
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - got[i]!));
    expect(worst).toBeLessThan(1e-5);
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0.5);
  });

  it('leaves other forms alone, saying why', () => {
    const base = { input: [1, 4, 6], cout: 2, kernel: [8], strides: [4] };
    const cases: [Layer, string][] = [
      [{ ...base, attributes: { pads: [1n, 1n] } }, 'it has dilations, pads or an output padding'],
      [{ ...base, kernel: [6] }, 'its kernel 6 is not a multiple of its stride 4 ≥ 2'],
      [{ ...base, strides: [1] }, 'its kernel 8 is not a multiple of its stride 1 ≥ 2'],
      [{ ...base, input: [1, 4, 6], attributes: { group: 2n } }, 'it is grouped'],
      [{ input: [1, 4, 5, 5], cout: 2, kernel: [8, 2], strides: [4, 2] }, 'its second axis has a kernel or stride other than 1'],
    ];
    for (const [l, reason] of cases) {
      const m = layerModel(l);
      const before = writeModel(m);
      expect(convTransposeAsConv(m)).toEqual({ rewritten: [], skipped: [{ node: '/dec/ConvTranspose', reason }] });
      expect(writeModel(m)).toEqual(before);
    }
  });

  it("rewrites the eight decoders of htdemucs.onnx; the e2e song stays within the fixtures' 1e-4 of the PyTorch stems", async () => {
    const model = readModel(readFileSync(await realModelPath()));
    const report = convTransposeAsConv(model);
    expect(report.skipped).toEqual([]);
    expect(report.rewritten).toHaveLength(8);
    expect(report.rewritten).toContain('/decoder.3/conv_tr/ConvTranspose');
    expect(report.rewritten).toContain('/tdecoder.0/conv_tr/ConvTranspose');
    expect(ops(model)).not.toContain('ConvTranspose');
    const { stems } = await separateE2e(writeModel(model));
    const snrs = e2eSnrs(stems);
    console.info('ConvTranspose as Conv, e2e SNR vs PyTorch (dB):', snrs.map((s) => s.toFixed(1)).join(', '));
    for (const s of snrs) expect(s).toBeGreaterThan(80);
  });
});
