/**
 * A summary of an ONNX model for people: window length, sources, weight precision, operators.
 */
import { SAMPLE_RATE_HZ } from '../core/constants.js';
import { readModelSpec } from '../core/model-spec.js';
import { isDemucsError } from '../core/errors.js';
import { TensorProto_DataType, type ModelProto, type TensorProto } from './gen/onnx_pb.js';
import { tensorElementCount, valueInfoDims } from './onnx-io.js';
import { RETARGET_METADATA_KEY } from './retarget.js';

/** Initializer (weight tensor) counts by precision. */
export interface InitializerPrecision {
  /** FLOAT tensors. */
  readonly fp32: number;
  /** FLOAT16 tensors. */
  readonly fp16: number;
  /** INT8 and UINT8 tensors (quantized weights use either). */
  readonly int8: number;
  /** Tensors of any other element type. */
  readonly other: number;
}

/** Tensors and elements of one element type. */
export interface TypeTally {
  /** Number of tensors. */
  readonly tensors: number;
  /** Total elements. */
  readonly elements: number;
}

/** What {@link inspectModel} reports. */
export interface ModelInspection {
  /** Whether the graph inputs and outputs are those of an HTDemucs export. */
  readonly htdemucs: boolean;
  /** Why it is not HTDemucs, when {@link ModelInspection.htdemucs} is false. */
  readonly notHtdemucsReason: string | undefined;
  /** Window length in samples, `'dynamic'` for a symbolic length, `undefined` when not HTDemucs. */
  readonly segmentSamples: number | 'dynamic' | undefined;
  /** Window length in seconds at 44.1 kHz (fixed lengths only). */
  readonly segmentSeconds: number | undefined;
  /** STFT frames per window, ⌈samples / 1024⌉ (fixed lengths only). */
  readonly frames: number | undefined;
  /** Number of sources, when the graph declares it. */
  readonly sources: number | undefined;
  /** Default source names for that count. */
  readonly sourceNames: readonly string[] | undefined;
  /** Initializer counts by precision. */
  readonly precision: InitializerPrecision;
  /** Initializers by element type name (`float32`, `float16`, `int8`, …). */
  readonly initializerTypes: Readonly<Record<string, TypeTally>>;
  /** All initializers. */
  readonly initializers: TypeTally;
  /** The file size in bytes, when given. */
  readonly fileBytes: number | undefined;
  /** Number of nodes in the main graph. */
  readonly nodeCount: number;
  /** Nodes per operator (`domain::op` outside the default domain), most frequent first. */
  readonly ops: Readonly<Record<string, number>>;
  /** Imported operator sets: domain (`ai.onnx` for the default) → version. */
  readonly opsets: Readonly<Record<string, number>>;
  /** The IR version. */
  readonly irVersion: number;
  /** The producing tool and its version, for example `pytorch 2.8.0`. */
  readonly producer: string;
  /** The retarget record (`demucs-mobile.retarget` metadata) when the model was retargeted. */
  readonly retarget: string | undefined;
}

/** Options of {@link inspectModel}. */
export interface InspectOptions {
  /** The model file's size in bytes, to include in the report. @defaultValue not reported */
  readonly fileBytes?: number;
}

const TYPE_NAMES: Readonly<Partial<Record<TensorProto_DataType, string>>> = {
  [TensorProto_DataType.FLOAT]: 'float32',
  [TensorProto_DataType.FLOAT16]: 'float16',
  [TensorProto_DataType.BFLOAT16]: 'bfloat16',
  [TensorProto_DataType.DOUBLE]: 'float64',
  [TensorProto_DataType.INT8]: 'int8',
  [TensorProto_DataType.UINT8]: 'uint8',
  [TensorProto_DataType.INT16]: 'int16',
  [TensorProto_DataType.UINT16]: 'uint16',
  [TensorProto_DataType.INT32]: 'int32',
  [TensorProto_DataType.INT64]: 'int64',
  [TensorProto_DataType.BOOL]: 'bool',
  [TensorProto_DataType.INT4]: 'int4',
  [TensorProto_DataType.UINT4]: 'uint4',
};

function typeName(t: TensorProto): string {
  return TYPE_NAMES[t.dataType as TensorProto_DataType] ?? (TensorProto_DataType[t.dataType]?.toLowerCase() ?? `type${t.dataType}`);
}

/**
 * Summarises a model: window length and sources (read from the graph I/O as the backends do),
 * initializer precision, operator histogram, operator sets and size.
 *
 * @param model - the model.
 * @param options - the file size, if known.
 * @returns the summary; a model that is not HTDemucs is still summarised, with the reason.
 *
 * @example
 * ```ts
 * const info = inspectModel(readModel(bytes), { fileBytes: bytes.byteLength });
 * info.segmentSamples; // 343980
 * info.precision;      // { fp32: 537, fp16: 0, int8: 0, other: 0 }
 * ```
 */
export function inspectModel(model: ModelProto, options: InspectOptions = {}): ModelInspection {
  const graph = model.graph;
  const nodes = graph?.node ?? [];
  const io = (list: NonNullable<typeof graph>['input']) => list.map((v) => ({ name: v.name, shape: valueInfoDims(v) }));
  let htdemucs = false;
  let reason: string | undefined;
  let segmentSamples: number | 'dynamic' | undefined;
  let frames: number | undefined;
  let sources: number | undefined;
  let sourceNames: readonly string[] | undefined;
  try {
    const { spec } = readModelSpec(io(graph?.input ?? []), io(graph?.output ?? []));
    htdemucs = true;
    segmentSamples = spec.dynamicSegment ? 'dynamic' : spec.segmentSamples;
    frames = spec.dynamicSegment ? undefined : spec.frames;
    sources = spec.sources.length;
    sourceNames = spec.sources;
  } catch (e) {
    if (!isDemucsError(e) && !(e instanceof RangeError)) throw e;
    reason = e.message;
  }

  const byType: Record<string, { tensors: number; elements: number }> = {};
  const precision = { fp32: 0, fp16: 0, int8: 0, other: 0 };
  let elements = 0;
  for (const t of graph?.initializer ?? []) {
    const name = typeName(t);
    const n = tensorElementCount(t);
    const tally = (byType[name] ??= { tensors: 0, elements: 0 });
    tally.tensors++;
    tally.elements += n;
    elements += n;
    if (t.dataType === TensorProto_DataType.FLOAT) precision.fp32++;
    else if (t.dataType === TensorProto_DataType.FLOAT16) precision.fp16++;
    else if (t.dataType === TensorProto_DataType.INT8 || t.dataType === TensorProto_DataType.UINT8) precision.int8++;
    else precision.other++;
  }

  const counts = new Map<string, number>();
  for (const n of nodes) {
    const key = n.domain === '' || n.domain === 'ai.onnx' ? n.opType : `${n.domain}::${n.opType}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const ops = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  const opsets = Object.fromEntries(model.opsetImport.map((o) => [o.domain === '' ? 'ai.onnx' : o.domain, Number(o.version)]));
  const producer = [model.producerName, model.producerVersion].filter((s) => s !== '').join(' ');
  return {
    htdemucs,
    notHtdemucsReason: reason,
    segmentSamples,
    segmentSeconds: typeof segmentSamples === 'number' ? segmentSamples / SAMPLE_RATE_HZ : undefined,
    frames,
    sources,
    sourceNames,
    precision,
    initializerTypes: byType,
    initializers: { tensors: graph?.initializer.length ?? 0, elements },
    fileBytes: options.fileBytes,
    nodeCount: nodes.length,
    ops,
    opsets,
    irVersion: Number(model.irVersion),
    producer,
    retarget: model.metadataProps.find((p) => p.key === RETARGET_METADATA_KEY)?.value,
  };
}
