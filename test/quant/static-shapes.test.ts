/**
 * Static shapes: the shapes the pass claims for a graph's values are the ones onnxruntime
 * computes when it runs the graph, for every operator the pass follows (Conv with pads,
 * strides and dilations, ConvTranspose, broadcasting, Reshape to constants and to Shape(y),
 * Transpose, Split, ReduceMean); what follows an operator it does not know has no shape.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphConstants } from '../../src/quant/graph-constants.js';
import { staticShapes } from '../../src/quant/static-shapes.js';
import { float32Tensor, int64Tensor, makeNode, writeModel, type ModelProto } from '../../src/quant.js';
import { noise } from '../helpers/noise.js';
import { buildModel, floatValue } from '../helpers/quant-models.js';

const f = (name: string, dims: number[]) => float32Tensor(noise(dims.reduce((a, b) => a * b, 1), dims.length, 0.5), dims, { name });

/** Every operator the pass follows, and one (Pad) it does not. */
function model(): ModelProto {
  const nodes = [
    makeNode({ opType: 'Conv', name: 'conv_strided', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attributes: { kernel_shape: [3n], pads: [1n, 1n], strides: [2n] } }),
    makeNode({ opType: 'Conv', name: 'conv_dilated', inputs: ['x', 'w1'], outputs: ['c2'], attributes: { kernel_shape: [3n], pads: [2n, 2n], dilations: [2n] } }),
    makeNode({ opType: 'Sigmoid', name: 'sigmoid', inputs: ['c2'], outputs: ['g'] }),
    makeNode({ opType: 'Add', name: 'add_per_channel', inputs: ['g', 'per_channel'], outputs: ['a'] }),
    makeNode({ opType: 'Reshape', name: 'reshape_const', inputs: ['a', 'target'], outputs: ['r'] }),
    makeNode({ opType: 'Transpose', name: 'transpose', inputs: ['r'], outputs: ['t'], attributes: { perm: [2n, 0n, 1n] } }),
    makeNode({ opType: 'Split', name: 'split', inputs: ['t'], outputs: ['s0', 's1'], attributes: { axis: 0n } }),
    makeNode({ opType: 'ReduceMean', name: 'mean', inputs: ['t'], outputs: ['m'], attributes: { axes: [1n], keepdims: 0n } }),
    makeNode({ opType: 'Conv', name: 'conv2d', inputs: ['spec', 'w2'], outputs: ['e'], attributes: { kernel_shape: [8n, 1n], pads: [2n, 0n, 2n, 0n], strides: [4n, 1n] } }),
    makeNode({ opType: 'ConvTranspose', name: 'conv_transpose', inputs: ['e', 'w3', 'b3'], outputs: ['d'], attributes: { kernel_shape: [8n, 1n], strides: [4n, 1n] } }),
    makeNode({ opType: 'Erf', name: 'erf', inputs: ['spec'], outputs: ['erf'] }),
    makeNode({ opType: 'Shape', name: 'shape', inputs: ['spec'], outputs: ['spec_shape'] }),
    makeNode({ opType: 'Reshape', name: 'reshape_back', inputs: ['erf', 'spec_shape'], outputs: ['back'] }),
    makeNode({ opType: 'Pad', name: 'pad', inputs: ['x', 'pads'], outputs: ['padded'] }),
    makeNode({ opType: 'Mul', name: 'after_pad', inputs: ['padded', 'per_channel_x'], outputs: ['unknown'] }),
  ];
  const outputs = ['c1', 'c2', 'g', 'a', 'r', 't', 's0', 's1', 'm', 'e', 'd', 'back', 'unknown'];
  const m = buildModel({
    nodes,
    initializers: [
      f('w1', [6, 4, 3]),
      f('b1', [6]),
      f('per_channel', [6, 1]),
      f('per_channel_x', [4, 1]),
      int64Tensor([0, 3, -1], [3], { name: 'target' }),
      f('w2', [5, 4, 8, 1]),
      f('w3', [5, 3, 8, 1]),
      f('b3', [3]),
      int64Tensor([0, 0, 1, 0, 0, 2], [6], { name: 'pads' }),
    ],
    inputs: [floatValue('x', [2, 4, 12]), floatValue('spec', [1, 4, 8, 6])],
    outputs: outputs.map((o) => floatValue(o, [])),
  });
  // Outputs declared without a shape: onnxruntime reports what it computes.
  for (const o of m.graph!.output) if (o.type?.value.case === 'tensorType') o.type.value.value.shape = undefined;
  return m;
}

describe('staticShapes', () => {
  it("claims onnxruntime's shapes for what it follows, nothing after an operator it does not", async () => {
    const m = model();
    const shapes = staticShapes(m.graph!, new GraphConstants(m.graph!), 17);
    const session = await ort.InferenceSession.create(writeModel(m));
    const out = await session.run({ x: new ort.Tensor('float32', noise(96, 1), [2, 4, 12]), spec: new ort.Tensor('float32', noise(192, 2), [1, 4, 8, 6]) });
    await session.release();
    const followed = ['c1', 'c2', 'g', 'a', 'r', 't', 's0', 's1', 'm', 'e', 'd', 'back'];
    for (const name of followed) expect(shapes.get(name), name).toEqual(out[name]!.dims);
    // A few by hand, so that a shared mistake cannot pass: stride 2 halves 12; k 8 s 4 pads 2 takes 8 to 2 and back to 12.
    expect(shapes.get('c1')).toEqual([2, 6, 6]);
    expect(shapes.get('e')).toEqual([1, 5, 2, 6]);
    expect(shapes.get('d')).toEqual([1, 3, 12, 6]);
    expect(shapes.get('padded')).toBeUndefined();
    expect(shapes.get('unknown')).toBeUndefined();
    expect(out.unknown!.dims).toEqual([2, 4, 15]);
  });

  it('keeps a symbolic batch unknown and still settles the dimensions it does not touch', () => {
    const m = model();
    const x = m.graph!.input[0]!;
    if (x.type?.value.case === 'tensorType') x.type.value.value.shape!.dim[0]!.value = { case: 'dimParam', value: 'batch' };
    const shapes = staticShapes(m.graph!, new GraphConstants(m.graph!), 17);
    expect(shapes.get('c1')).toEqual([undefined, 6, 6]);
    // [batch, 6, 12] → [0, 3, -1]: the -1 needs the batch, so it stays unknown.
    expect(shapes.get('r')).toEqual([undefined, 3, undefined]);
    expect(shapes.get('d')).toEqual([1, 3, 12, 6]);
  });
});
