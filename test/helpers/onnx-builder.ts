/**
 * Builds tiny ONNX models in tests (one op per output), encoded by hand with the few
 * protobuf rules ONNX needs, so tests can load graphs of any input/output signature.
 * Field numbers are those of onnx/onnx.proto3.
 */

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

const enc = new TextEncoder();
const key = (field: number, wire: number) => varint(field * 8 + wire);
const vint = (field: number, n: number) => [...key(field, 0), ...varint(n)];
const bytes = (field: number, b: number[] | Uint8Array) => [...key(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string) => bytes(field, enc.encode(s));

/** A tensor signature: name and dims (numbers, or strings for symbolic dims). */
export interface ValueSpec {
  readonly name: string;
  readonly dims: readonly (number | string)[];
}

function valueInfo(v: ValueSpec): number[] {
  const dims = v.dims.flatMap((d) => bytes(1, typeof d === 'number' ? vint(1, d) : str(2, d)));
  const tensorType = [...vint(1, 1 /* FLOAT */), ...bytes(2, dims)];
  return [...str(1, v.name), ...bytes(2, bytes(1, tensorType))];
}

/** One node: op type, inputs, outputs, and integer attributes (a number is INT, a list INTS). */
export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: Readonly<Record<string, number | readonly number[]>>;
}

function node(n: NodeSpec): number[] {
  const attrs = Object.entries(n.attributes ?? {}).flatMap(([name, value]) =>
    bytes(
      5,
      typeof value === 'number'
        ? [...str(1, name), ...vint(20, 2 /* INT */), ...vint(3, value)]
        : [...str(1, name), ...vint(20, 7 /* INTS */), ...value.flatMap((i) => vint(8, i))],
    ),
  );
  return [...n.inputs.flatMap((i) => str(1, i)), ...n.outputs.flatMap((o) => str(2, o)), ...str(4, n.op), ...attrs];
}

/**
 * Encodes a model (IR version 8, opset 17) with the given nodes and graph signature.
 *
 * @param spec - nodes, inputs and outputs.
 * @returns the `.onnx` bytes.
 */
export function buildOnnxModel(spec: { nodes: NodeSpec[]; inputs: ValueSpec[]; outputs: ValueSpec[] }): Uint8Array {
  const graph = [
    ...spec.nodes.flatMap((n) => bytes(1, node(n))),
    ...str(2, 'test'),
    ...spec.inputs.flatMap((i) => bytes(11, valueInfo(i))),
    ...spec.outputs.flatMap((o) => bytes(12, valueInfo(o))),
  ];
  const opset = [...str(1, ''), ...vint(2, 17)];
  return Uint8Array.from([...vint(1, 8), ...str(2, 'demucs-mobile-tests'), ...bytes(7, graph), ...bytes(8, opset)]);
}

/** An image-classifier-shaped model: one input [1, 3, 8, 8], output its ReduceMean [1, 3]. Not HTDemucs. */
export function notHtdemucsModel(): Uint8Array {
  return buildOnnxModel({
    nodes: [{ op: 'ReduceMean', inputs: ['pixels'], outputs: ['logits'], attributes: { axes: [2, 3], keepdims: 0 } }],
    inputs: [{ name: 'pixels', dims: [1, 3, 8, 8] }],
    outputs: [{ name: 'logits', dims: [1, 3] }],
  });
}
