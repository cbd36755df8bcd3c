/**
 * The onnxruntime-node backend. onnxruntime-node is an optional peer dependency, loaded with
 * a dynamic import the first time a model is loaded, so importing this module costs nothing.
 */
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InferenceSession } from 'onnxruntime-common';
import { DemucsError } from '../core/errors.js';
import type { Backend, LoadOptions, ModelSession, ModelSource } from './backend.js';
import { OrtModelSession, type OrtModule } from './ort-session.js';
import { verifySha256 } from '../node/sha256.js';

/** The onnxruntime-node module, as much of it as this backend uses. */
interface OrtNode extends OrtModule {
  readonly InferenceSession: {
    create(model: string | Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
}

/** Options of {@link OrtNodeBackend}. */
export interface OrtNodeBackendOptions {
  /**
   * Threads onnxruntime uses inside one operator (`intraOpNumThreads`).
   * @defaultValue the number of cores (`os.availableParallelism()`)
   */
  readonly threads?: number;
  /**
   * Raw onnxruntime session options, applied last (they override this backend's choices).
   * @defaultValue none
   */
  readonly sessionOptions?: InferenceSession.SessionOptions;
}

/** Options of {@link OrtNodeBackend.load}. */
export interface OrtNodeLoadOptions extends LoadOptions {
  /**
   * The model file's expected sha256 (hex). When given, the file is hashed before it is
   * loaded and a mismatch throws `ERR_MODEL_CHECKSUM`.
   * @defaultValue no check
   */
  readonly sha256?: string;
}

let ortPromise: Promise<OrtNode> | undefined;

/**
 * Loads onnxruntime-node once.
 *
 * @internal
 */
export function loadOrtNode(): Promise<OrtNode> {
  ortPromise ??= import('onnxruntime-node').then(
    (mod) => ((mod as { default?: unknown }).default ?? mod) as OrtNode,
    (cause: unknown) => {
      ortPromise = undefined;
      throw new DemucsError(
        'ERR_RUNTIME_MISSING',
        'onnxruntime-node is not installed; install it with `npm install onnxruntime-node`',
        { cause },
      );
    },
  );
  return ortPromise;
}

/**
 * Runs HTDemucs on the CPU through onnxruntime-node. Node only.
 *
 * @example
 * ```ts
 * import { Separator } from 'demucs-mobile';
 * import { OrtNodeBackend } from 'demucs-mobile/node';
 *
 * const session = await new OrtNodeBackend({ threads: 2 }).load('htdemucs.onnx');
 * const { stems } = await new Separator(session).separate(audio);
 * ```
 */
export class OrtNodeBackend implements Backend {
  /** `'onnxruntime-node'`. */
  readonly name = 'onnxruntime-node';
  readonly #options: OrtNodeBackendOptions;

  /**
   * @param options - threads and raw session options.
   * @throws RangeError for a non-positive thread count.
   */
  constructor(options: OrtNodeBackendOptions = {}) {
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) {
      throw new RangeError(`threads (${options.threads}) must be a positive integer`);
    }
    this.#options = options;
  }

  /**
   * Loads a model file or model bytes.
   *
   * @param model - a path, a `file:` URL, or the ONNX bytes.
   * @param options - source names, an expected sha256, a signal.
   * @returns a session with `maxBatch` 1.
   * @throws DemucsError `ERR_MODEL_NOT_FOUND` (no such file), `ERR_MODEL_CHECKSUM`,
   *   `ERR_MODEL_LOAD` (onnxruntime rejected the file), `ERR_MODEL_SHAPE` (not HTDemucs),
   *   `ERR_RUNTIME_MISSING` (onnxruntime-node not installed).
   */
  async load(model: ModelSource, options: OrtNodeLoadOptions = {}): Promise<ModelSession> {
    options.signal?.throwIfAborted();
    let input: string | Uint8Array;
    if (typeof model === 'string' || model instanceof URL) {
      const path = typeof model === 'string' ? model : fileURLToPath(model);
      if (!existsSync(path)) throw new DemucsError('ERR_MODEL_NOT_FOUND', `model file ${JSON.stringify(path)} does not exist`);
      if (options.sha256 !== undefined) await verifySha256(path, options.sha256);
      input = path;
    } else {
      input = model instanceof Uint8Array ? model : new Uint8Array(model);
      if (options.sha256 !== undefined) await verifySha256(input, options.sha256);
    }
    const ort = await loadOrtNode();
    options.signal?.throwIfAborted();
    const sessionOptions: InferenceSession.SessionOptions = {
      intraOpNumThreads: this.#options.threads ?? availableParallelism(),
      graphOptimizationLevel: 'all',
      ...this.#options.sessionOptions,
    };
    let session: InferenceSession;
    try {
      session = await ort.InferenceSession.create(input, sessionOptions);
    } catch (cause) {
      const what = typeof input === 'string' ? JSON.stringify(input) : `${input.byteLength} bytes`;
      throw new DemucsError('ERR_MODEL_LOAD', `onnxruntime could not load the model ${what}: ${String(cause)}`, { cause });
    }
    try {
      return new OrtModelSession(ort, session, options.sources);
    } catch (e) {
      await session.release();
      throw e;
    }
  }
}
