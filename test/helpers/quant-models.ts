/**
 * Helpers for the precision tests: tiny HTDemucs-shaped graphs built with the quant API, and
 * the e2e song separated by a model variant, compared with the float32 PyTorch stems.
 */
import { create } from '@bufbuild/protobuf';
import * as ort from 'onnxruntime-node';
import { Separator } from '../../src/index.js';
import { OrtNodeBackend } from '../../src/node.js';
import {
  float32Tensor,
  int64Tensor,
  makeNode,
  ModelProtoSchema,
  GraphProtoSchema,
  OperatorSetIdProtoSchema,
  setValueInfoDims,
  TensorProto_DataType,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  writeModel,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../../src/quant.js';
import { e2eMix } from './e2e-input.js';
import { readF32, snrDb } from './fixtures.js';
import { noise } from './noise.js';

/** A float tensor value declaration. */
export function floatValue(name: string, dims: readonly (number | string)[]): ValueInfoProto {
  const v = create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: TensorProto_DataType.FLOAT }) } }),
  });
  setValueInfoDims(v, dims);
  return v;
}

/** Float32 inputs of {@link runModel}, by name. */
export type Feeds = Record<string, { data: Float32Array; dims: number[] }>;

/** Runs a model once in onnxruntime-node (one thread) and returns its outputs in order. */
export async function runModel(model: ModelProto, feeds: Feeds): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(writeModel(model), { intraOpNumThreads: 1 });
  try {
    const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)])));
    return session.outputNames.map((n) => out[n]!.data as Float32Array);
  } finally {
    await session.release();
  }
}

/** A model (IR 8, opset 17) from nodes, initializers and the graph signature. */
export function buildModel(spec: { nodes: NodeProto[]; initializers: TensorProto[]; inputs: ValueInfoProto[]; outputs: ValueInfoProto[] }): ModelProto {
  return create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'demucs-mobile-tests',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph: create(GraphProtoSchema, { name: 'test', node: spec.nodes, initializer: spec.initializers, input: spec.inputs, output: spec.outputs }),
  });
}

/** Window length and frames of {@link tinyHtdemucs}. */
export const TINY = { samples: 4096, frames: 4 } as const;

/**
 * A tiny graph with HTDemucs's inputs and outputs (one source): the spectrogram through a
 * 1×1 Conv (4 → 4 channels, with a LayerNormalization-free path), the waveform through a
 * MatMul whose weight is a Slice + Transpose of an initializer (as PyTorch exports
 * `in_proj_weight[a:b].T`), then a Softmax (a float32-block-list op) on a side path added back.
 */
export function tinyHtdemucs(): ModelProto {
  const { samples: L, frames: T } = TINY;
  const nodes = [
    makeNode({ opType: 'Conv', name: '/enc/Conv', inputs: ['spec', 'conv.weight', 'conv.bias'], outputs: ['spec_conv'] }),
    makeNode({ opType: 'Unsqueeze', name: '/Unsqueeze_spec', inputs: ['spec_conv', 'axes1'], outputs: ['spec_out'] }),
    makeNode({ opType: 'Transpose', name: '/Transpose_in', inputs: ['wave'], outputs: ['wave_t'], attributes: { perm: [0n, 2n, 1n] } }),
    makeNode({ opType: 'Slice', name: '/attn/Slice', inputs: ['in_proj', 'starts', 'ends', 'axes0'], outputs: ['in_proj_part'] }),
    makeNode({ opType: 'Transpose', name: '/attn/Transpose', inputs: ['in_proj_part'], outputs: ['in_proj_t'], attributes: { perm: [1n, 0n] } }),
    makeNode({ opType: 'MatMul', name: '/attn/MatMul', inputs: ['wave_t', 'in_proj_t'], outputs: ['proj'] }),
    makeNode({ opType: 'Softmax', name: '/attn/Softmax', inputs: ['proj'], outputs: ['probs'], attributes: { axis: -1n } }),
    makeNode({ opType: 'Add', name: '/attn/Add', inputs: ['proj', 'probs'], outputs: ['mixed'] }),
    makeNode({ opType: 'Transpose', name: '/Transpose_out', inputs: ['mixed'], outputs: ['wave_back'], attributes: { perm: [0n, 2n, 1n] } }),
    makeNode({ opType: 'Unsqueeze', name: '/Unsqueeze_wave', inputs: ['wave_back', 'axes1'], outputs: ['wave_out'] }),
  ];
  const initializers = [
    float32Tensor(noise(16, 1, 0.5), [4, 4, 1, 1], { name: 'conv.weight' }),
    float32Tensor(noise(4, 2, 0.1), [4], { name: 'conv.bias' }),
    float32Tensor(noise(8, 3, 0.8), [4, 2], { name: 'in_proj' }),
    int64Tensor([1], [1], { name: 'axes1' }),
    int64Tensor([0], [1], { name: 'axes0' }),
    int64Tensor([2], [1], { name: 'starts' }),
    int64Tensor([4], [1], { name: 'ends' }),
  ];
  return buildModel({
    nodes,
    initializers,
    inputs: [floatValue('wave', [1, 2, L]), floatValue('spec', [1, 4, 2048, T])],
    outputs: [floatValue('spec_out', [1, 1, 4, 2048, T]), floatValue('wave_out', [1, 1, 2, L])],
  });
}

/** Stems of the e2e song (10 s) from a model's bytes, 2 threads, shifts 0: `[source][channel]`. */
export async function separateE2e(model: Uint8Array): Promise<{ stems: Float32Array[][]; seconds: number }> {
  const session = await new OrtNodeBackend({ threads: 2, worker: false }).load(model);
  try {
    const t0 = performance.now();
    const result = await new Separator(session, { shifts: 0 }).separate({ sampleRate: 44100, channels: e2eMix() });
    const seconds = (performance.now() - t0) / 1000;
    return { stems: session.spec.sources.map((name) => [...result.stems[name]!]), seconds };
  } finally {
    await session.dispose();
  }
}

/** Per-stem SNR (dB, both channels) of e2e stems against the float32 PyTorch stems. */
export function e2eSnrs(stems: Float32Array[][]): number[] {
  const frames = 441000;
  const ref = readF32('e2e/stems_torch.f32', [4, 2, frames]);
  return stems.map((channels, s) => {
    const est = new Float32Array(2 * frames);
    est.set(channels[0]!, 0);
    est.set(channels[1]!, frames);
    return snrDb(ref.subarray(s * 2 * frames, (s + 1) * 2 * frames), est);
  });
}
