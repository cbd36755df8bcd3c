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

/** A constant tensor of the graph: float32 or int64 values with their dims. */
export interface InitializerSpec {
  readonly name: string;
  readonly dims: readonly number[];
  readonly float32?: readonly number[];
  readonly int64?: readonly number[];
}

function initializer(t: InitializerSpec): number[] {
  const raw =
    t.float32 !== undefined
      ? new Uint8Array(Float32Array.from(t.float32).buffer)
      : new Uint8Array(BigInt64Array.from(t.int64!.map((v) => BigInt(v))).buffer);
  // TensorProto: dims = 1, data_type = 2 (FLOAT 1, INT64 7), name = 8, raw_data = 9.
  return [...t.dims.flatMap((d) => vint(1, d)), ...vint(2, t.float32 !== undefined ? 1 : 7), ...str(8, t.name), ...bytes(9, raw)];
}

/**
 * Encodes a model (IR version 8, opset 17) with the given nodes and graph signature.
 *
 * @param spec - nodes, inputs, outputs and constant initializers.
 * @returns the `.onnx` bytes.
 */
export function buildOnnxModel(spec: {
  nodes: NodeSpec[];
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  initializers?: InitializerSpec[];
  /** `metadata_props` entries (ModelProto field 14). */
  metadata?: Readonly<Record<string, string>>;
}): Uint8Array {
  const graph = [
    ...spec.nodes.flatMap((n) => bytes(1, node(n))),
    ...str(2, 'test'),
    ...(spec.initializers ?? []).flatMap((t) => bytes(5, initializer(t))),
    ...spec.inputs.flatMap((i) => bytes(11, valueInfo(i))),
    ...spec.outputs.flatMap((o) => bytes(12, valueInfo(o))),
  ];
  const opset = [...str(1, ''), ...vint(2, 17)];
  const metadata = Object.entries(spec.metadata ?? {}).flatMap(([k, v]) => bytes(14, [...str(1, k), ...str(2, v)]));
  return Uint8Array.from([...vint(1, 8), ...str(2, 'demucs-mobile-tests'), ...bytes(7, graph), ...bytes(8, opset), ...metadata]);
}

/** An image-classifier-shaped model: one input [1, 3, 8, 8], output its ReduceMean [1, 3]. Not HTDemucs. */
export function notHtdemucsModel(): Uint8Array {
  return buildOnnxModel({
    nodes: [{ op: 'ReduceMean', inputs: ['pixels'], outputs: ['logits'], attributes: { axes: [2, 3], keepdims: 0 } }],
    inputs: [{ name: 'pixels', dims: [1, 3, 8, 8] }],
    outputs: [{ name: 'logits', dims: [1, 3] }],
  });
}

/** Options of {@link standinSeparationModel}. */
export interface StandinModelOptions {
  /** Window length in samples. @defaultValue 44100 */
  readonly segment?: number;
  /** Per source: the factor on the waveform input that forms the time-branch output. */
  readonly waveGains: readonly number[];
  /** Per source: the factor on the spectrogram input that forms the spectral output. */
  readonly specGains: readonly number[];
  /** ONNX `metadata_props` to store. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * A linear stand-in with HTDemucs's I/O signature and S = `waveGains.length` sources:
 * time output `[1,S,2,L]` = waveGains[s] · wave, spectral output `[1,S,4,2048,T]` =
 * specGains[s] · spec. Through the host pipeline, source s comes out as about
 * `(waveGains[s] + specGains[s]) · mix`.
 *
 * @param options - window length and gains.
 * @returns the `.onnx` bytes.
 */
export function standinSeparationModel(options: StandinModelOptions): Uint8Array {
  const L = options.segment ?? 44100;
  const T = Math.ceil(L / 1024);
  const S = options.waveGains.length;
  if (options.specGains.length !== S) throw new RangeError('waveGains and specGains differ in length');
  return buildOnnxModel({
    nodes: [
      { op: 'Unsqueeze', inputs: ['wave', 'axis1'], outputs: ['wave5'] },
      { op: 'Mul', inputs: ['wave5', 'wave_gains'], outputs: ['time_out'] },
      { op: 'Unsqueeze', inputs: ['spec', 'axis1'], outputs: ['spec5'] },
      { op: 'Mul', inputs: ['spec5', 'spec_gains'], outputs: ['spec_out'] },
    ],
    inputs: [
      { name: 'wave', dims: [1, 2, L] },
      { name: 'spec', dims: [1, 4, 2048, T] },
    ],
    outputs: [
      { name: 'spec_out', dims: [1, S, 4, 2048, T] },
      { name: 'time_out', dims: [1, S, 2, L] },
    ],
    initializers: [
      { name: 'axis1', dims: [1], int64: [1] },
      { name: 'wave_gains', dims: [1, S, 1, 1], float32: options.waveGains },
      { name: 'spec_gains', dims: [1, S, 1, 1, 1], float32: options.specGains },
    ],
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
  });
}
