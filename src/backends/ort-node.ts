/**
 * The onnxruntime-node backend. onnxruntime-node is an optional peer dependency, loaded the
 * first time a model is loaded, so importing this module costs nothing.
 */
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InferenceSession } from 'onnxruntime-common';
import { DemucsError } from '../core/errors.js';
import { readOnnxMetadata, sourcesFromMetadata } from '../core/onnx-metadata.js';
import type { Backend, LoadOptions, ModelSession, ModelSource } from './backend.js';
import { OrtModelSession, type OrtModule, type OrtSessionLike } from './ort-session.js';
import { PLAIN_TENSORS, WorkerSession } from './ort-node-host.js';
import { verifySha256 } from '../node/sha256.js';
import { OPTIMIZED_COPY_SUFFIX, PARTIAL_SUFFIX, pruneOptimizedCopies, touchCopy } from '../node/optimized-copies.js';

/** Optimised copies kept by default (`optimizedModelCacheEntries`). */
const DEFAULT_CACHE_ENTRIES = 8;

/** The onnxruntime-node module, as much of it as this backend uses. */
interface OrtNode extends OrtModule {
  readonly InferenceSession: {
    create(model: string | Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
  readonly env: { readonly versions: { readonly node?: string; readonly common?: string } };
}

/** onnxruntime graph optimisation levels. */
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/**
 * Options of {@link OrtNodeBackend}. The defaults are the measured best on a 2-core CPU for
 * peak memory at full speed (see docs/benchmarks.md).
 */
export interface OrtNodeBackendOptions {
  /**
   * Threads onnxruntime uses inside one operator (`intraOpNumThreads`).
   * @defaultValue the number of cores (`os.availableParallelism()`)
   */
  readonly threads?: number;
  /**
   * Run the session on a worker thread. onnxruntime-node's `run` blocks the calling thread
   * for the whole window; on a worker, the JavaScript thread prepares the next window and
   * writes the previous one meanwhile.
   * @defaultValue true
   */
  readonly worker?: boolean;
  /**
   * onnxruntime's CPU memory arena (`enableCpuMemArena`). On, a window's peak memory doubles
   * (5.1 GB instead of 2.6 GB for htdemucs) for no speed gain once the process's allocator
   * keeps freed memory (the CLI sets the variables of `MALLOC_TUNING`); with
   * glibc's default allocator, on is about 25% faster.
   * @defaultValue false
   */
  readonly arena?: boolean;
  /**
   * onnxruntime's memory pattern planning (`enableMemPattern`): one contiguous block per run.
   * @defaultValue false (it raises the peak to 3.6–5 GB for htdemucs)
   */
  readonly memoryPattern?: boolean;
  /**
   * Graph optimisation level.
   * @defaultValue 'all'
   */
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  /**
   * A directory in which to keep an optimised copy of each model file (optimised at the
   * hardware-independent `extended` level, keyed by the file's identity and the onnxruntime
   * version), so later loads skip most of the graph optimisation (about 0.5 s for htdemucs).
   * Applies to models given as paths.
   * @defaultValue none (no cache)
   */
  readonly optimizedModelCache?: string;
  /**
   * Optimised copies kept in `optimizedModelCache`: after writing a new copy, all but this
   * many most recently used ones are removed (a reinstalled model file makes a new copy of
   * about 210 MB for htdemucs, and the old one would otherwise stay forever).
   * @defaultValue 8 (a four-member bag, fused or not, plus a few single models)
   */
  readonly optimizedModelCacheEntries?: number;
  /**
   * Whether onnxruntime's worker threads spin-wait for work between operators and after a
   * run (session config `session.intra_op.allow_spinning`). Spinning shaves a little latency
   * off one busy session; with several sessions in one process (a bag of models, several
   * jobs) the idle sessions' spinning threads take cores from the one that is running.
   * @defaultValue true
   */
  readonly spinning?: boolean;
  /**
   * Rewrite the model's attention blocks into onnxruntime's `com.microsoft.MultiHeadAttention`
   * before loading (`fuseAttention` of `demucs-mobile/quant`), which the CPU runs as flash
   * attention. For htdemucs: about 350 MB less peak memory (the score tensors are never held
   * whole), outputs within 115 dB of the unfused graph, no speed gain shown outside this
   * machine's noise (docs/benchmarks.md). The model is rewritten in
   * memory on every load, or once into `optimizedModelCache` when that is set. A model without
   * such blocks loads unchanged. The CLI turns it on (`--no-fuse-attention` turns it off); off
   * here because without a cache the rewrite costs every load about a second (reading,
   * rewriting and writing the 174 MB file) and a transient copy of the model in memory.
   * @defaultValue false
   */
  readonly fuseAttention?: boolean;
  /**
   * Rewrite operators that onnxruntime's CPU runs slowly into equivalent faster ones before
   * loading (`demucs-mobile/quant`): each exported `GroupNorm(1, C)` of several rows into one
   * `LayerNormalization` with a following LayerScale folded in (`fuseGroupNorm`), and each
   * strided `ConvTranspose` into a `Conv` and a depth-to-space copy (`convTransposeAsConv`).
   * For htdemucs: 32 GroupNorms and 8 ConvTransposes, about 10 % less time per window on two
   * cores (docs/benchmarks.md), outputs within 100 dB of the graph as exported. Rewritten in
   * memory on every load, or once into `optimizedModelCache`, like `fuseAttention`; the CLI
   * turns it on (`--no-rewrite-for-cpu` turns it off), off here for the same reason.
   * @defaultValue false
   */
  readonly rewriteForCpu?: boolean;
  /**
   * Raw onnxruntime session options, applied last (they override this backend's choices).
   * @defaultValue none
   */
  readonly sessionOptions?: InferenceSession.SessionOptions;
}

/** Options of {@link OrtNodeBackend.load}. */
export interface OrtNodeLoadOptions extends LoadOptions {
  /**
   * The model's expected sha256 (hex). When given, the file is hashed before it is loaded and
   * a mismatch throws `ERR_MODEL_CHECKSUM`.
   * @defaultValue no check
   */
  readonly sha256?: string;
}

let ortPromise: Promise<{ ort: OrtNode; path: string }> | undefined;

/**
 * Loads onnxruntime-node once.
 *
 * @internal
 */
export function loadOrtNode(): Promise<{ ort: OrtNode; path: string }> {
  ortPromise ??= (async () => {
    try {
      const path = createRequire(import.meta.url).resolve('onnxruntime-node');
      const mod = (await import('onnxruntime-node')) as { default?: unknown };
      return { ort: (mod.default ?? mod) as OrtNode, path };
    } catch (cause) {
      ortPromise = undefined;
      throw new DemucsError('ERR_RUNTIME_MISSING', 'onnxruntime-node is not installed; install it with `npm install onnxruntime-node`', {
        cause,
      });
    }
  })();
  return ortPromise;
}

/**
 * Runs HTDemucs on the CPU through onnxruntime-node, on a worker thread. Node only.
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
   * @param options - threads, worker, memory settings, optimisation level and cache.
   * @throws RangeError for a non-positive thread count or an unknown optimisation level.
   */
  constructor(options: OrtNodeBackendOptions = {}) {
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) {
      throw new RangeError(`threads (${options.threads}) must be a positive integer`);
    }
    const entries = options.optimizedModelCacheEntries;
    if (entries !== undefined && !(Number.isInteger(entries) && entries >= 1)) {
      throw new RangeError(`optimizedModelCacheEntries (${entries}) must be a positive integer`);
    }
    const level = options.graphOptimizationLevel;
    if (level !== undefined && !['disabled', 'basic', 'extended', 'all'].includes(level)) {
      throw new RangeError(`graphOptimizationLevel (${JSON.stringify(level)}) must be one of 'disabled', 'basic', 'extended', 'all'`);
    }
    this.#options = options;
  }

  /** The session options this backend uses for a load. */
  #sessionOptions(): InferenceSession.SessionOptions {
    const o = this.#options;
    return {
      intraOpNumThreads: o.threads ?? availableParallelism(),
      enableCpuMemArena: o.arena ?? false,
      enableMemPattern: o.memoryPattern ?? false,
      graphOptimizationLevel: o.graphOptimizationLevel ?? 'all',
      ...(o.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } } : {}),
      ...o.sessionOptions,
    };
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
    const { ort, path: ortPath } = await loadOrtNode();
    options.signal?.throwIfAborted();
    const sessionOptions = this.#sessionOptions();
    const what = typeof input === 'string' ? JSON.stringify(input) : `${input.byteLength} bytes`;
    let session: OrtSessionLike;
    const original = input;
    try {
      const rewrites: Rewrites = { attention: this.#options.fuseAttention ?? false, cpu: this.#options.rewriteForCpu ?? false };
      if (typeof input === 'string' && this.#options.optimizedModelCache !== undefined) {
        const keep = this.#options.optimizedModelCacheEntries ?? DEFAULT_CACHE_ENTRIES;
        input = await optimizedCopy(ort, input, this.#options.optimizedModelCache, sessionOptions, rewrites, keep);
      } else if (rewrites.attention || rewrites.cpu) {
        input = await rewrittenModel(input, rewrites);
      }
      if (this.#options.worker ?? true) {
        session = await WorkerSession.create(ortPath, input, sessionOptions);
      } else {
        session = (await ort.InferenceSession.create(input, sessionOptions)) as unknown as OrtSessionLike;
      }
    } catch (cause) {
      if (cause instanceof DemucsError) throw cause;
      throw new DemucsError('ERR_MODEL_LOAD', `onnxruntime could not load the model ${what}: ${errorText(cause)}`, { cause });
    }
    try {
      const sources = options.sources ?? (await metadataSources(original));
      return new OrtModelSession(this.#options.worker ?? true ? PLAIN_TENSORS : ort, session, sources);
    } catch (e) {
      await session.release();
      throw e;
    }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The graph rewrites a load applies. */
interface Rewrites {
  /** `OrtNodeBackendOptions.fuseAttention`. */
  readonly attention: boolean;
  /** `OrtNodeBackendOptions.rewriteForCpu`. */
  readonly cpu: boolean;
}

/**
 * The model with the chosen rewrites applied (see `OrtNodeBackendOptions.fuseAttention` and
 * `rewriteForCpu`); the input itself when none of them changed anything. The ONNX tools are
 * imported on first use.
 */
async function rewrittenModel(model: string | Uint8Array, rewrites: Rewrites): Promise<string | Uint8Array> {
  const [{ readModel, writeModel }, { fuseAttention }, { fuseGroupNorm }, { convTransposeAsConv }] = await Promise.all([
    import('../quant/onnx-io.js'),
    import('../quant/attention.js'),
    import('../quant/group-norm.js'),
    import('../quant/conv-transpose.js'),
  ]);
  const bytes = typeof model === 'string' ? new Uint8Array(await readFile(model)) : model;
  let parsed: ReturnType<typeof readModel>;
  try {
    parsed = readModel(bytes);
  } catch (e) {
    // The parser names the byte count; the user needs the file too.
    if (!(e instanceof DemucsError) || typeof model !== 'string') throw e;
    throw new DemucsError(e.code, `model file ${JSON.stringify(model)}: ${e.message}`, { cause: e });
  }
  let changed = false;
  if (rewrites.attention) changed = fuseAttention(parsed).fused.length > 0 || changed;
  if (rewrites.cpu) {
    changed = fuseGroupNorm(parsed).fused.length > 0 || changed;
    changed = convTransposeAsConv(parsed).rewritten.length > 0 || changed;
  }
  return changed ? writeModel(parsed) : model;
}

/**
 * The path of an optimised copy of `path` in `cacheDir`, made on first use: optimised at the
 * `extended` level (no hardware-specific layout changes), so loading it with `all` applies
 * only the fast layout passes; from the model with the chosen `rewrites` applied. Keyed by
 * the file's size, modification time, inode, the onnxruntime version and the rewrites, so a changed
 * file, runtime or choice gets a new copy. A copy in use is touched, and after a new one is
 * written only the `keep` most recently used stay.
 */
async function optimizedCopy(
  ort: OrtNode,
  path: string,
  cacheDir: string,
  sessionOptions: InferenceSession.SessionOptions,
  rewrites: Rewrites,
  keep: number,
): Promise<string> {
  const s = await stat(path);
  const version = ort.env.versions.node ?? ort.env.versions.common ?? 'unknown';
  const key = `${s.size}-${Math.round(s.mtimeMs)}-${s.ino}-ort${version}`;
  const target = join(cacheDir, `${key}${rewrites.attention ? '.mha' : ''}${rewrites.cpu ? '.cpu' : ''}${OPTIMIZED_COPY_SUFFIX}`);
  if (existsSync(target)) {
    await touchCopy(target);
    return target;
  }
  await mkdir(cacheDir, { recursive: true });
  const partial = `${target}.${process.pid}${PARTIAL_SUFFIX}`;
  try {
    const source = rewrites.attention || rewrites.cpu ? await rewrittenModel(path, rewrites) : path;
    const options = { ...sessionOptions, graphOptimizationLevel: 'extended', optimizedModelFilePath: partial } as const;
    const session = typeof source === 'string' ? await ort.InferenceSession.create(source, options) : await ort.InferenceSession.create(source, options);
    await session.release();
    await rename(partial, target);
  } finally {
    await rm(partial, { force: true });
  }
  await pruneOptimizedCopies(cacheDir, keep);
  return target;
}

/**
 * Source names from the model file's ONNX metadata (`sources`), when it has them. The
 * original file is read (an optimised copy keeps no metadata).
 */
async function metadataSources(model: string | Uint8Array): Promise<string[] | undefined> {
  if (typeof model !== 'string') return sourcesFromMetadata(await readOnnxMetadata((o, n) => model.subarray(o, o + n), model.byteLength));
  const file = await open(model, 'r');
  try {
    const { size } = await file.stat();
    return sourcesFromMetadata(
      await readOnnxMetadata(async (o, n) => {
        const buf = new Uint8Array(Math.max(0, Math.min(n, size - o)));
        const { bytesRead } = await file.read(buf, 0, buf.length, o);
        return buf.subarray(0, bytesRead);
      }, size),
    );
  } finally {
    await file.close();
  }
}
