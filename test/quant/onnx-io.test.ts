/**
 * ONNX model IO on the real htdemucs.onnx (174 MB): byte-identical round trip, decode speed,
 * tensor and attribute helpers, graph queries; unknown fields kept on hand-built models.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attributeValue,
  constantTensor,
  findConsumers,
  findNode,
  findProducer,
  float32Tensor,
  float32Values,
  getAttribute,
  GraphIndex,
  int64Tensor,
  int64Values,
  makeAttribute,
  makeNode,
  opsetVersion,
  readModel,
  setFloat32Values,
  setInt64Values,
  setValueInfoDims,
  tensorEncoding,
  topologicalSort,
  valueInfoDims,
  writeModel,
} from '../../src/quant/onnx-io.js';
import { toBinary } from '@bufbuild/protobuf';
import { AttributeProto_AttributeType, TensorProto_DataType, TensorProtoSchema, type ModelProto } from '../../src/quant/gen/onnx_pb.js';
import { fixturePath } from '../helpers/fixtures.js';
import { realModelPath } from '../helpers/model.js';
import { buildOnnxModel } from '../helpers/onnx-builder.js';

let bytes: Uint8Array;
let model: ModelProto;
let decodeMs = 0;

beforeAll(async () => {
  bytes = new Uint8Array(readFileSync(await realModelPath()));
  const t0 = performance.now();
  model = readModel(bytes);
  decodeMs = performance.now() - t0;
});

// Minimal protobuf writing, to put fields this schema does not know inside nested messages.
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
const key = (field: number, wire: number) => varint(field * 8 + wire);
const vint = (field: number, n: number) => [...key(field, 0), ...varint(n)];
const len = (field: number, b: number[]) => [...key(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string) => len(field, [...new TextEncoder().encode(s)]);

describe('readModel / writeModel', () => {
  it('decodes the real model quickly and re-encodes it to byte-identical bytes', () => {
    const t0 = performance.now();
    const out = writeModel(model);
    const encodeMs = performance.now() - t0;
    console.info(`htdemucs.onnx (${bytes.byteLength} bytes): decode ${decodeMs.toFixed(0)} ms, encode ${encodeMs.toFixed(0)} ms`);
    expect(out.byteLength).toBe(bytes.byteLength);
    expect(Buffer.compare(Buffer.from(out.buffer, out.byteOffset, out.byteLength), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))).toBe(0);
    // Measured 70–110 ms on the 2-core test machine: the byte fields are views, not copies.
    expect(decodeMs).toBeLessThan(2000);
    expect(model.graph!.node.length).toBe(3268);
    expect(model.graph!.initializer.length).toBe(537);
    expect(model.irVersion).toBe(8n);
    expect(model.producerName).toBe('pytorch');
    expect(opsetVersion(model)).toBe(17);
    expect(opsetVersion(model, 'com.microsoft')).toBeUndefined();
  });

  it('keeps fields it does not know (top level and nested) and writes them back in place', () => {
    const node = [...str(1, 'x'), ...str(2, 'y'), ...str(4, 'Identity'), ...len(10, [...str(1, 'conf0')])]; // NodeProto.device_configurations (IR 11)
    const graph = [...len(1, node), ...str(2, 'g')];
    const withUnknown = Uint8Array.from([...vint(1, 11), ...len(7, graph), ...len(8, vint(2, 21)), ...len(26, str(1, 'conf0')), ...vint(99, 7)]);
    const m = readModel(withUnknown);
    expect(m.graph!.node[0]!.opType).toBe('Identity');
    expect(m.graph!.node[0]!.$unknown?.map((f) => f.no)).toEqual([10]);
    expect(m.$unknown?.map((f) => f.no)).toEqual([26, 99]);
    expect(Array.from(writeModel(m))).toEqual(Array.from(withUnknown));
  });

  it('refuses bytes that are not an ONNX model with ERR_MODEL_LOAD', () => {
    const wav = new Uint8Array(readFileSync(fixturePath('e2e/mix.wav')).subarray(0, 4096));
    expect(() => readModel(wav)).toThrow(expect.objectContaining({ code: 'ERR_MODEL_LOAD', message: expect.stringMatching(/^not an ONNX model \(4096 bytes\)/) }));
    expect(() => readModel(new Uint8Array(0))).toThrow(/not an ONNX model \(0 bytes\): it has no graph/);
  });
});

describe('tensors', () => {
  it('reads int64 constants (raw_data; typed int64_data is covered below)', () => {
    const g = model.graph!;
    const raw = constantTensor(findNode(g, '/encoder.0/Constant_3')!)!;
    expect(tensorEncoding(raw)).toBe('raw');
    expect(Array.from(int64Values(raw))).toEqual([-1n, 48n, 336n]);
    // The file's only constant without raw_data is an empty vector (dims [0]).
    const empty = constantTensor(findNode(g, '/crosstransformer/Constant_22')!)!;
    expect(empty.dims).toEqual([0n]);
    expect(Array.from(int64Values(empty))).toEqual([]);
  });

  it('reads float32 constants, and the div_term row equals row 1 of the stored width phases', () => {
    const g = model.graph!;
    const div = float32Values(constantTensor(findNode(g, '/crosstransformer/Constant_44')!)!);
    const phases = float32Values(constantTensor(findNode(g, '/crosstransformer/Constant_1')!)!);
    expect(div.length).toBe(8 * 128);
    expect(phases.length).toBe(336 * 128);
    expect(Array.from(phases.subarray(128, 256))).toEqual(Array.from(div.subarray(128, 256)));
    expect(div[128]).toBe(1); // div_term[0] = exp(0)
  });

  it('writes values in the encoding the tensor already uses', () => {
    const raw = int64Tensor([1, 2, 3], [3]);
    const typed = int64Tensor([1n, 2n, 3n], [3], { encoding: 'typed', name: 'shape' });
    expect(tensorEncoding(raw)).toBe('raw');
    expect(raw.rawData.byteLength).toBe(24);
    expect(tensorEncoding(typed)).toBe('typed');
    expect(typed.int64Data).toEqual([1n, 2n, 3n]);
    setInt64Values(typed, [7, -8], [2]);
    expect(tensorEncoding(typed)).toBe('typed');
    expect(Array.from(int64Values(typed))).toEqual([7n, -8n]);
    setInt64Values(raw, [-1n, 9007199254740993n], [2]);
    expect(() => setInt64Values(raw, [1, 2, 3])).toThrow(/3 values do not fill dims \[2\] \(2 elements\)/);
    expect(Array.from(int64Values(raw))).toEqual([-1n, 9007199254740993n]);

    const f = float32Tensor([0.1, -2], [2, 1]);
    expect(Array.from(float32Values(f))).toEqual([Math.fround(0.1), -2]);
    const ft = float32Tensor([1], [], { encoding: 'typed' });
    setFloat32Values(ft, [0.5, 0.25], [2]);
    expect(ft.floatData).toEqual([0.5, 0.25]);
    // No empty raw_data (field 9, key 0x4a) is left next to the typed field: proto2 keeps presence.
    expect(Array.from(toBinary(TensorProtoSchema, ft))).toEqual([0x08, 2, 0x10, 1, 0x22, 8, 0, 0, 0, 0x3f, 0, 0, 0x80, 0x3e]);
  });

  it('throws TypeError naming the tensor and both element types on a type mismatch', () => {
    const f = float32Tensor([1], [1], { name: 'w' });
    expect(() => int64Values(f)).toThrow(new TypeError('tensor "w" has element type FLOAT, not INT64'));
    expect(() => setFloat32Values(int64Tensor([1], [1]), [1])).toThrow(TypeError);
    expect(() => int64Tensor([1.5], [1])).toThrow(/values\[0\] \(1.5\) must be a safe integer/);
  });
});

describe('attributes and nodes', () => {
  it('reads attributes of real nodes', () => {
    const g = model.graph!;
    expect(attributeValue(getAttribute(findNode(g, '/tencoder.1/Mod')!, 'fmod')!)).toBe(0n);
    expect(attributeValue(getAttribute(findNode(g, '/tencoder.0/conv/Conv')!, 'strides')!)).toEqual([4n]);
    expect(getAttribute(findNode(g, '/tencoder.0/conv/Conv')!, 'nope')).toBeUndefined();
    expect(constantTensor(findNode(g, '/tencoder.1/Mod')!)).toBeUndefined();
  });

  it('builds attributes whose type follows the JavaScript type', () => {
    const T = AttributeProto_AttributeType;
    expect(makeAttribute('axis', 0n).type).toBe(T.INT);
    expect(makeAttribute('alpha', 0.2).type).toBe(T.FLOAT);
    expect(makeAttribute('mode', 'constant').type).toBe(T.STRING);
    expect(attributeValue(makeAttribute('mode', 'constant'))).toBe('constant');
    expect(makeAttribute('axes', [1n, 2n]).type).toBe(T.INTS);
    expect(makeAttribute('scales', [0.5]).type).toBe(T.FLOATS);
    expect(attributeValue(makeAttribute('names', ['a', 'b']))).toEqual(['a', 'b']);
    expect(makeAttribute('value', int64Tensor([4], [])).t?.dataType).toBe(TensorProto_DataType.INT64);
    expect(() => makeAttribute('mixed', [1n, 2] as unknown as bigint[])).toThrow(/attribute "mixed": a list must hold only bigints/);
  });
});

describe('graph queries', () => {
  it('finds nodes by name, producer and consumers on the real graph', () => {
    const g = model.graph!;
    const sub = findNode(g, '/tencoder.1/Sub')!;
    expect(sub.opType).toBe('Sub');
    expect(findProducer(g, '/tencoder.1/Sub_output_0')).toBe(sub);
    expect(findProducer(g, 'input')).toBeUndefined();
    expect(findConsumers(g, '/Div_3_output_0').map((n) => n.name)).toEqual(['/tencoder.0/conv/Conv']);
    const index = new GraphIndex(g);
    expect(index.byName.get('/tencoder.1/Sub')).toBe(sub);
    expect(index.producer.get('/tencoder.1/Sub_output_0')).toBe(sub);
    expect(index.consumers.get('/Div_3_output_0')?.map((n) => n.name)).toEqual(['/tencoder.0/conv/Conv']);
  });

  it('reads and writes graph I/O dims', () => {
    const g = model.graph!;
    expect(g.input.map(valueInfoDims)).toEqual([
      [1, 2, 343980],
      [1, 4, 2048, 336],
    ]);
    expect(valueInfoDims(g.output[1]!)).toEqual(['Add5073_dim_0', 'Add5073_dim_1', 'Add5073_dim_2', 'Add5073_dim_3']);
    const copy = readModel(bytes);
    setValueInfoDims(copy.graph!.input[0]!, [1, 2, 'samples']);
    expect(valueInfoDims(copy.graph!.input[0]!)).toEqual([1, 2, 'samples']);
  });

  it('sorts nodes topologically and stably, and throws on a cycle', () => {
    const g = readModel(
      buildOnnxModel({
        nodes: [
          { op: 'Relu', inputs: ['b'], outputs: ['c'] },
          { op: 'Neg', inputs: ['x'], outputs: ['a'] },
          { op: 'Abs', inputs: ['a'], outputs: ['b'] },
          { op: 'Exp', inputs: ['x'], outputs: ['d'] },
        ],
        inputs: [{ name: 'x', dims: [1] }],
        outputs: [{ name: 'c', dims: [1] }],
      }),
    ).graph!;
    expect(topologicalSort(g)).toBe(3);
    expect(g.node.map((n) => n.opType)).toEqual(['Neg', 'Abs', 'Relu', 'Exp']);
    expect(topologicalSort(g)).toBe(0);
    g.node.push(makeNode({ opType: 'Add', name: 'loop1', inputs: ['x', 'q'], outputs: ['p'] }));
    g.node.push(makeNode({ opType: 'Add', name: 'loop2', inputs: ['p'], outputs: ['q'] }));
    expect(() => topologicalSort(g)).toThrow(/the graph has a cycle through node "loop\d"/);
  });
});
