/**
 * A {@link ModelSession} over an onnxruntime `InferenceSession`, shared by the Node and web
 * backends: they differ only in how the runtime is loaded.
 *
 * @internal
 */
import type { InferenceSession } from 'onnxruntime-common';
import { DemucsError } from '../core/errors.js';
import { isFloat32Array } from '../core/typed-arrays.js';
import { readModelSpec, type ModelBinding, type ModelSpec, type TensorInfo } from '../core/model-spec.js';
import type { ModelSession, WindowInput, WindowOutput } from './backend.js';

/** A tensor as this binding reads and writes it: onnxruntime's `Tensor`, or plain data. @internal */
export interface TensorLike {
  readonly type: string;
  readonly data: unknown;
  readonly dims: readonly number[];
}

/** The part of an onnxruntime module this binding uses. @internal */
export interface OrtModule {
  readonly Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => TensorLike;
}

/**
 * The part of an onnxruntime `InferenceSession` this binding uses; also implemented by the
 * worker-thread proxy of the Node backend. @internal
 */
export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly InferenceSession.ValueMetadata[] | undefined;
  readonly outputMetadata?: readonly InferenceSession.ValueMetadata[] | undefined;
  run(feeds: Record<string, TensorLike>, fetches: string[]): Promise<Record<string, TensorLike | undefined>>;
  release(): Promise<void>;
}

/** Graph inputs or outputs as {@link readModelSpec} wants them. @internal */
export function tensorInfos(names: readonly string[], metadata: readonly InferenceSession.ValueMetadata[] | undefined): TensorInfo[] {
  return names.map((name, i) => {
    const meta = metadata?.[i];
    return meta !== undefined && meta.isTensor ? { name, shape: meta.shape } : { name };
  });
}

/**
 * Runs HTDemucs windows through an onnxruntime session, binding tensors by rank/position.
 *
 * @internal
 */
export class OrtModelSession implements ModelSession {
  readonly spec: ModelSpec;
  readonly maxBatch = 1;
  readonly #ort: OrtModule;
  readonly #binding: ModelBinding;
  #session: OrtSessionLike | null;
  readonly #inputNames: readonly string[];
  readonly #outputNames: readonly string[];

  /**
   * @param ort - the runtime module (for its `Tensor` class).
   * @param session - a created session; this object owns it from now on.
   * @param sources - optional source names.
   * @throws DemucsError `ERR_MODEL_SHAPE` when the graph is not an HTDemucs export.
   */
  constructor(ort: OrtModule, session: OrtSessionLike, sources?: readonly string[]) {
    const { spec, binding } = readModelSpec(
      tensorInfos(session.inputNames, session.inputMetadata),
      tensorInfos(session.outputNames, session.outputMetadata),
      sources === undefined ? {} : { sources },
    );
    this.spec = spec;
    this.#binding = binding;
    this.#ort = ort;
    this.#session = session;
    this.#inputNames = session.inputNames;
    this.#outputNames = session.outputNames;
  }

  async run(batch: readonly WindowInput[], signal?: AbortSignal): Promise<WindowOutput[]> {
    const out: WindowOutput[] = [];
    for (const window of batch) out.push(await this.#runOne(window, signal));
    return out;
  }

  async #runOne(window: WindowInput, signal: AbortSignal | undefined): Promise<WindowOutput> {
    signal?.throwIfAborted();
    const session = this.#session;
    if (session === null) throw new DemucsError('ERR_DISPOSED', 'model session used after dispose()');
    const { bins } = this.spec;
    const S = this.spec.sources.length;
    const L = window.wave.length / 2;
    const T = window.spec.length / (4 * bins);
    if (!Number.isInteger(L) || !Number.isInteger(T) || T !== Math.ceil(L / 1024)) {
      throw new RangeError(`window wave (${window.wave.length}) and spec (${window.spec.length}) lengths do not match one window`);
    }
    const b = this.#binding;
    const feeds: Record<string, TensorLike> = {
      [this.#inputNames[b.waveInput]!]: new this.#ort.Tensor('float32', window.wave, [1, 2, L]),
      [this.#inputNames[b.specInput]!]: new this.#ort.Tensor('float32', window.spec, [1, 4, bins, T]),
    };
    const specName = this.#outputNames[b.specOutput]!;
    const waveName = this.#outputNames[b.waveOutput]!;
    let results: Record<string, TensorLike | undefined>;
    try {
      results = await session.run(feeds, [specName, waveName]);
    } catch (cause) {
      throw new DemucsError('ERR_INFERENCE', `onnxruntime failed to run a ${L}-sample window: ${String(cause)}`, { cause });
    }
    signal?.throwIfAborted();
    const spec = floatData(results[specName], specName, S * 4 * bins * T);
    const wave = floatData(results[waveName], waveName, S * 2 * L);
    return { spec, wave };
  }

  async dispose(): Promise<void> {
    const session = this.#session;
    this.#session = null;
    await session?.release();
  }
}

function floatData(t: TensorLike | undefined, name: string, expected: number): Float32Array {
  if (t === undefined || t.type !== 'float32' || !isFloat32Array(t.data)) {
    throw new DemucsError('ERR_MODEL_SHAPE', `output ${JSON.stringify(name)} is ${t === undefined ? 'missing' : t.type}, not float32`);
  }
  if (t.data.length !== expected) {
    throw new DemucsError(
      'ERR_MODEL_SHAPE',
      `output ${JSON.stringify(name)} has ${t.data.length} values [${t.dims.join(', ')}], expected ${expected}`,
    );
  }
  return t.data;
}
