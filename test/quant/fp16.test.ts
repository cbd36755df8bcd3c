/**
 * Float16: the conversion is exact (round to nearest even, subnormals, clamped overflow) on
 * every float16 value and every midpoint; `toFloat16` rewrites graphs as documented (a tiny
 * graph run in onnxruntime), and the real model in both modes separates the e2e song within
 * a stated SNR of the float32 stems, from a file half the size.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_FLOAT32_OPS,
  float16BitsToFloat32,
  float16Values,
  float32ToFloat16Bits,
  FLOAT16_MAX,
  fromFloat16Bits,
  readModel,
  TensorProto_DataType,
  toFloat16,
  toFloat16Bits,
  writeModel,
  type ModelProto,
} from '../../src/quant.js';
import { realModelPath } from '../helpers/model.js';
import { noise } from '../helpers/noise.js';
import { e2eSnrs, separateE2e, tinyHtdemucs, TINY } from '../helpers/quant-models.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** The float32 neighbour of x towards +∞ (`up`) or −∞, for positive finite x. */
function nextFloat32(x: number, up: boolean): number {
  f32[0] = x;
  u32[0]! += up ? 1 : -1;
  return f32[0]!;
}

describe('float32 → float16 conversion', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66], // 0.0999755859375
    [FLOAT16_MAX, 0x7bff],
    [65519.99, 0x7bff], // below the midpoint to 65536: rounds down
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -14 - 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -14 - 2 ** -25, 0x0400], // tie between 0x03ff and 0x0400: to even
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2⁻²⁴: to even (0)
    [2 ** -25 * (1 + 2 ** -23), 0x0001], // just above the tie
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 ulps: to even (2)
    [2 ** -26, 0x0000],
    [-(2 ** -24), 0x8001],
    [1 + 2 ** -11, 0x3c00], // tie: to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie: to even (up)
    [1 + 2 ** -11 + 2 ** -23, 0x3c01], // just above the tie
    [2048 + 1, 0x6800], // 2049 is not a float16: tie to even 2048
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
  ])('%d → 0x%s', (value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
  });

  it('clamps finite overflow to ±65504 and keeps NaN a NaN', () => {
    expect(float32ToFloat16Bits(65520)).toBe(0x7bff); // round-to-nearest-even would give +∞
    expect(float32ToFloat16Bits(1e6)).toBe(0x7bff);
    expect(float32ToFloat16Bits(-3.4e38)).toBe(0xfbff);
    const nan = float32ToFloat16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x03ff).not.toBe(0);
    const { bits, clamped, flushedToZero } = toFloat16Bits(Float32Array.of(1, 70000, -1e30, 2 ** -26, -(2 ** -30), 0, Infinity, NaN));
    expect(Array.from(bits.subarray(0, 7))).toEqual([0x3c00, 0x7bff, 0xfbff, 0x0000, 0x8000, 0x0000, 0x7c00]);
    expect(clamped).toBe(2);
    expect(flushedToZero).toBe(2);
  });

  it('round-trips all 65536 float16 values and rounds every midpoint (and its neighbours) correctly', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const values = fromFloat16Bits(all);
    const scalars = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      scalars[h] = float16BitsToFloat32(h);
      if (Number.isNaN(values[h])) continue;
      expect(float32ToFloat16Bits(values[h]!)).toBe(h);
    }
    expect(values).toEqual(scalars);
    const back = toFloat16Bits(values).bits;
    for (let h = 0; h < 65536; h++) if (!Number.isNaN(values[h])) expect(back[h]).toBe(h);

    const mids: number[] = [];
    const expected: number[] = [];
    // Positive finite values: h and h + 1 are neighbours up to 0x7bff (65504).
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (values[h]! + values[h + 1]!) / 2; // exact in float32: one more bit
      mids.push(mid, nextFloat32(mid, true), h === 0 ? 0 : nextFloat32(mid, false));
      expected.push(h % 2 === 0 ? h : h + 1, h + 1, h === 0 ? 0 : h);
    }
    const got = toFloat16Bits(Float32Array.from(mids)).bits;
    const wrong = mids.flatMap((m, i) => (got[i] === expected[i] ? [] : [`${m} → ${got[i]} not ${expected[i]}`]));
    expect(wrong.slice(0, 5)).toEqual([]);
    // Negative values mirror the positive ones.
    const neg = toFloat16Bits(Float32Array.from(mids, (m) => -m)).bits;
    expect(Array.from(neg, (b) => b ^ 0x8000)).toEqual(expected);
  });
});

async function runTiny(model: Uint8Array, wave: Float32Array, spec: Float32Array): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({
      wave: new ort.Tensor('float32', wave, [1, 2, TINY.samples]),
      spec: new ort.Tensor('float32', spec, [1, 4, 2048, TINY.frames]),
    });
    return session.outputNames.map((n) => out[n]!.data as Float32Array);
  } finally {
    await session.release();
  }
}

function relError(ref: Float32Array, est: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (ref[i]! - est[i]!) ** 2;
    den += ref[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe('toFloat16 on a tiny graph', () => {
  const wave = noise(2 * TINY.samples, 11, 2);
  const spec = noise(4 * 2048 * TINY.frames, 12, 3);
  let reference: Float32Array[];
  beforeAll(async () => {
    reference = await runTiny(writeModel(tinyHtdemucs()), wave, spec);
  });

  it("'weights': each weight becomes a FLOAT16 initializer and one Cast to FLOAT before every node; outputs stay within float16 rounding", async () => {
    const m = tinyHtdemucs();
    const report = toFloat16(m, { mode: 'weights', minElements: 1 });
    const g = m.graph!;
    // conv.weight, conv.bias and in_proj (the int64 slice arguments stay).
    expect(report).toMatchObject({ mode: 'weights', tensorsConverted: 3, elementsConverted: 28, tensorsKept: 0, clamped: 0, castsInserted: 3, float16Nodes: 0 });
    const half = g.initializer.filter((t) => t.dataType === TensorProto_DataType.FLOAT16).map((t) => t.name);
    expect(half.sort()).toEqual(['conv.bias_fp16', 'conv.weight_fp16', 'in_proj_fp16']);
    expect(g.node.slice(0, 3).map((n) => [n.opType, n.input[0], n.output[0]])).toEqual([
      ['Cast', 'conv.weight_fp16', 'conv.weight'],
      ['Cast', 'conv.bias_fp16', 'conv.bias'],
      ['Cast', 'in_proj_fp16', 'in_proj'],
    ]);
    const w = float16Values(g.initializer.find((t) => t.name === 'conv.weight_fp16')!);
    expect(Array.from(w)).toEqual(Array.from(noise(16, 1, 0.5), (v) => float16BitsToFloat32(float32ToFloat16Bits(v))));
    expect(m.metadataProps.find((p) => p.key === 'demucs-mobile.float16')?.value).toBe('{"mode":"weights"}');
    const out = await runTiny(writeModel(m), wave, spec);
    out.forEach((o, i) => expect(relError(reference[i]!, o)).toBeLessThan(2e-3));
    // With the default minElements (16), only the 16-element conv weight is converted.
    expect(toFloat16(tinyHtdemucs()).tensorsConverted).toBe(1);
  });

  it("'full': float32 graph I/O with casts at the boundary, the block list (Softmax) in float32, the rest float16", async () => {
    const m = tinyHtdemucs();
    const report = toFloat16(m, { mode: 'full' });
    const g = m.graph!;
    expect(g.input.map((v) => v.type?.value.case === 'tensorType' && v.type.value.value.elemType)).toEqual([TensorProto_DataType.FLOAT, TensorProto_DataType.FLOAT]);
    expect(g.output.map((v) => v.type?.value.case === 'tensorType' && v.type.value.value.elemType)).toEqual([TensorProto_DataType.FLOAT, TensorProto_DataType.FLOAT]);
    expect(report.float32Nodes).toEqual({ Softmax: 1 });
    expect(report.float16Nodes).toBe(9); // Conv, MatMul, Add, 2 Unsqueeze, 2 Transpose, and the weight Slice + Transpose
    const casts = g.node.filter((n) => n.opType === 'Cast');
    // wave and spec in; the MatMul output up to the Softmax and its output down; two outputs.
    expect(casts).toHaveLength(6);
    expect(report.castsInserted).toBe(6);
    expect(g.output.map((o) => g.node.find((n) => n.output.includes(o.name))?.opType)).toEqual(['Cast', 'Cast']);
    expect(g.initializer.filter((t) => t.dataType === TensorProto_DataType.FLOAT16).map((t) => t.name).sort()).toEqual(['conv.bias', 'conv.weight', 'in_proj']);
    const out = await runTiny(writeModel(m), wave, spec);
    out.forEach((o, i) => expect(relError(reference[i]!, o)).toBeLessThan(2e-3));
  });

  it('keepFloat32 takes op types, node names and patterns; options are validated; a converted model is refused', () => {
    const byName = tinyHtdemucs();
    expect(toFloat16(byName, { mode: 'full', keepFloat32: ['/enc/Conv', /Softmax$/] }).float32Nodes).toEqual({ Conv: 1, Softmax: 1 });
    expect(DEFAULT_FLOAT32_OPS).toContain('LayerNormalization');
    expect(() => toFloat16(tinyHtdemucs(), { mode: 'half' as never })).toThrow(new RangeError(`mode ("half") must be one of 'weights', 'full'`));
    expect(() => toFloat16(tinyHtdemucs(), { minElements: 0 })).toThrow(new RangeError('minElements (0) must be a positive integer'));
    expect(() => toFloat16(byName)).toThrow(/already converted to float16/);
  });
});

describe('toFloat16 on htdemucs.onnx (e2e song, 2 windows of 7.8 s)', () => {
  let original: Uint8Array;
  beforeAll(async () => {
    original = new Uint8Array(readFileSync(await realModelPath()));
  });
  const convert = (mode: 'weights' | 'full'): { model: ModelProto; bytes: Uint8Array; report: ReturnType<typeof toFloat16> } => {
    const model = readModel(original);
    const report = toFloat16(model, { mode });
    return { model, bytes: writeModel(model), report };
  };

  // Measured (onnxruntime-node 1.30, 2 threads, x86-64 AVX2): weights drums 78.2, bass 85.5,
  // other 80.5, vocals 85.3 dB; full 60.8, 67.6, 58.8, 66.3 dB. Bounds are ~6 dB below the worst.
  it("'weights': half the file, float32 arithmetic: stems within 72 dB of float32", async () => {
    const { bytes, report } = convert('weights');
    expect(report).toMatchObject({ clamped: 0, flushedToZero: 0, float16Nodes: 0 });
    expect(bytes.byteLength / original.byteLength).toBeLessThan(0.51);
    const { stems } = await separateE2e(bytes);
    const snrs = e2eSnrs(stems);
    console.info('fp16 weights, e2e SNR vs float32 (dB):', snrs.map((s) => s.toFixed(1)).join(', '));
    for (const s of snrs) expect(s).toBeGreaterThan(72);
  });

  it("'full': onnxruntime's CPU runs it (casting around ops without float16 kernels): stems within 53 dB of float32", async () => {
    const { bytes, report } = convert('full');
    expect(report.float32Nodes).toMatchObject({ InstanceNormalization: 74, LayerNormalization: 26, Softmax: 10, ReduceMean: 6, Pow: 1 });
    expect(report.clamped).toBe(0);
    expect(bytes.byteLength / original.byteLength).toBeLessThan(0.51);
    const { stems } = await separateE2e(bytes);
    const snrs = e2eSnrs(stems);
    console.info('fp16 full, e2e SNR vs float32 (dB):', snrs.map((s) => s.toFixed(1)).join(', '));
    for (const s of snrs) expect(s).toBeGreaterThan(53);
  });
});
