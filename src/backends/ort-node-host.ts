/**
 * The main-thread end of `ort-node-worker.cjs`: an {@link OrtSessionLike} whose `run` is
 * executed by an onnxruntime-node session on a worker thread, so the JavaScript thread stays
 * free while a window runs. Node only.
 *
 * @internal
 */
import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-common';
import { DemucsError } from '../core/errors.js';
import type { OrtModule, OrtSessionLike, TensorLike } from './ort-session.js';

/** A tensor as plain data, for posting to the worker. @internal */
class PlainTensor implements TensorLike {
  constructor(
    readonly type: 'float32',
    readonly data: Float32Array,
    readonly dims: readonly number[],
  ) {}
}

/** The {@link OrtModule} of worker-hosted sessions: tensors are plain data. @internal */
export const PLAIN_TENSORS: OrtModule = { Tensor: PlainTensor };

type WorkerReply =
  | {
      type: 'ready';
      inputNames: string[];
      outputNames: string[];
      inputMetadata: InferenceSession.ValueMetadata[];
      outputMetadata: InferenceSession.ValueMetadata[];
    }
  | { type: 'result'; id: number; outputs: Record<string, TensorLike> }
  | { type: 'error'; id?: number; stage: 'import' | 'load' | 'run'; message: string };

interface Pending {
  resolve(outputs: Record<string, TensorLike>): void;
  reject(e: unknown): void;
}

/**
 * An onnxruntime-node session living on a worker thread.
 *
 * @internal
 */
export class WorkerSession implements OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly InferenceSession.ValueMetadata[];
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: Error | undefined;

  private constructor(worker: Worker, ready: Extract<WorkerReply, { type: 'ready' }>) {
    this.#worker = worker;
    this.inputNames = ready.inputNames;
    this.outputNames = ready.outputNames;
    this.inputMetadata = ready.inputMetadata;
    this.outputMetadata = ready.outputMetadata;
    worker.on('message', (reply: WorkerReply) => this.#onReply(reply));
    worker.on('error', (e) => this.#fail(e));
    worker.on('exit', (code) => this.#fail(new Error(`the onnxruntime worker thread exited (code ${code})`)));
  }

  /**
   * Starts a worker and creates the session in it.
   *
   * @param ortPath - resolved path of the onnxruntime-node package.
   * @param model - a model path or bytes (bytes are copied to the worker).
   * @param sessionOptions - onnxruntime session options (plain data).
   * @returns the ready session.
   * @throws Error with the worker's message and `stage` ('import' or 'load').
   */
  static create(ortPath: string, model: string | Uint8Array, sessionOptions: InferenceSession.SessionOptions): Promise<WorkerSession> {
    const worker = new Worker(new URL('./ort-node-worker.cjs', import.meta.url), {
      workerData: { ortPath, model, sessionOptions },
      // The worker is plain CommonJS: no TypeScript loaders needed.
      execArgv: [],
    });
    return new Promise((resolve, reject) => {
      const onError = (e: unknown) => {
        cleanup();
        reject(e);
      };
      const onExit = (code: number) => onError(new Error(`the onnxruntime worker thread exited during load (code ${code})`));
      const onMessage = (reply: WorkerReply) => {
        cleanup();
        if (reply.type === 'ready') {
          resolve(new WorkerSession(worker, reply));
        } else {
          void worker.terminate();
          reject(Object.assign(new Error(reply.type === 'error' ? reply.message : 'unexpected worker reply'), {
            stage: reply.type === 'error' ? reply.stage : 'load',
          }));
        }
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  run(feeds: Record<string, TensorLike>, fetches: string[]): Promise<Record<string, TensorLike | undefined>> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const plain = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, { dims: t.dims, data: t.data }]));
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // Inputs are copied (≈14 MB per window, a few ms), so the caller may reuse its buffers.
      this.#worker.postMessage({ type: 'run', id, feeds: plain, fetches });
    });
  }

  async release(): Promise<void> {
    if (this.#failure !== undefined) return;
    this.#failure = new DemucsError('ERR_DISPOSED', 'model session used after dispose()');
    if (this.#pending.size > 0) {
      // A window is running natively; stop the thread rather than wait for it.
      await this.#worker.terminate();
      return;
    }
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage({ type: 'dispose' });
    await exited;
  }

  #onReply(reply: WorkerReply): void {
    if (reply.type === 'ready' || reply.id === undefined) return;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.type === 'result') pending.resolve(reply.outputs);
    else pending.reject(new Error(reply.message));
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }
}
