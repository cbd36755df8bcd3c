/**
 * A local emulator of the Qualcomm AI Hub API (docs/qualcomm-ai-hub.md §11), for tests: a
 * node:http server on 127.0.0.1 that the real client talks to unchanged.
 *
 * - `/api/v1/…/` routes with trailing slashes, `Authorization: token …` (401 otherwise), binary
 *   protobuf bodies (`application/x-protobuf`), the hub.proto schema.
 * - Presigned storage on the same server at `/storage/…`, no auth, HMAC-signed URLs that
 *   expire: multipart model PUTs answered with ETags and assembled on completion; dataset
 *   uploads as S3-style presigned POST forms with a signed, expiring policy; downloads. Storage
 *   errors are S3 XML (`<Code>`, `<Message>`).
 * - Devices (Galaxy S24 and S24 (Family) with their attributes), frameworks, the user.
 * - Jobs with a timed state machine per type; compile creates a target model (the ONNX bytes,
 *   so inference can run them) with its tensor types; inference reads the input HDF5 dataset,
 *   runs every sample through the model with onnxruntime-node and writes the output dataset;
 *   profile measures one run on this host.
 * - Faults: any status (429 with Retry-After, 5xx, 413, 426), hung or reset connections, a
 *   wrong content type, a missing ETag, expired URLs and datasets, jobs that fail in a given
 *   state with a given failure type (compile failure, device OOM, timeout), jobs held running.
 * - Every request is recorded (method, path, query, headers that matter, decoded job bodies).
 */
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as ort from 'onnxruntime-node';
import { readDataset, writeDataset, type DatasetEntry, type HubTensor } from '../../../src/backends/qualcomm-hub/datasets.js';
import {
  CreateUpdateResponseSchema,
  DatasetSchema,
  DeviceListSchema,
  DeviceSchema,
  FileDownloadURLSchema,
  FileMultipartUploadCompleteSchema,
  FileMultipartUploadURLSchema,
  FileUploadURLSchema,
  FrameworkListSchema,
  JobFailureType,
  JobResultSchema,
  JobSchema,
  JobState,
  ModelSchema,
  ModelType,
  Notice_Severity,
  TensorDtype,
  UserSchema,
  type Dataset,
  type Device,
  type Job,
  type JobResult,
  type Model,
  type NamedTensorType,
} from '../../../src/backends/qualcomm-hub/gen/hub_pb.js';
import { parseMultipart } from './multipart.js';

/** Durations of job states, in ms. */
export interface EmulatorTiming {
  /** Time in CREATED. */
  readonly createdMs: number;
  /** Time in OPTIMIZING_MODEL. */
  readonly compileMs: number;
  /** Time in PROVISIONING_DEVICE. */
  readonly provisionMs: number;
  /** Least time in RUNNING_INFERENCE / MEASURING_PERFORMANCE (plus the real model runs). */
  readonly runMs: number;
}

/** Options of {@link HubEmulator.start}. */
export interface EmulatorOptions {
  /** The API token to accept. */
  readonly token?: string;
  /** Job state durations. */
  readonly timing?: Partial<EmulatorTiming>;
  /** Part size of multipart model uploads. Default 8 MiB. */
  readonly maxPartSize?: number;
  /** Lifetime of presigned URLs. Default 60 s. */
  readonly urlTtlMs?: number;
  /** onnxruntime threads for inference jobs. Default 2. */
  readonly ortThreads?: number;
  /**
   * Fail inference with RUNTIME_DEVICE_OOM when one sample of an input has more elements than
   * this (a device memory model: 1 s HTDemucs windows fit the S24, 2 s and 7.8 s did not).
   */
  readonly oomAboveInputElements?: number;
}

/** How a matching request is answered instead of normally. */
export type HttpFaultAction =
  | { readonly status: number; readonly body?: string; readonly contentType?: string; readonly headers?: Readonly<Record<string, string>> }
  | { readonly hang: true }
  | { readonly reset: true }
  | { readonly wrongContentType: true }
  | { readonly noEtag: true };

/** A fault for requests matching a method and path. */
export interface HttpFault {
  /** Method to match; any when absent. */
  readonly method?: string;
  /** Path (no query) to match. */
  readonly path: RegExp;
  /** Matching requests to let through first. Default 0. */
  readonly skip?: number;
  /** Matching requests to fault. Default 1. */
  readonly times?: number;
  /** What to do. */
  readonly action: HttpFaultAction;
}

/** A job that fails or stalls. */
export interface JobFault {
  /** Which jobs. */
  readonly jobType: 'compile' | 'profile' | 'inference';
  /** Jobs to affect (the next ones created). Default 1. */
  readonly times?: number;
  /** Fail when this state's time is up. Default: the last running state. */
  readonly state?: JobState;
  /** Failure category. Default UNKNOWN. */
  readonly failureType?: JobFailureType;
  /** Failure text. */
  readonly reason?: string;
  /** Instead of failing, stay in the running state this much longer (ms). */
  readonly holdMs?: number;
}

/** One request as the emulator saw it. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, readonly string[]>>;
  /** The Authorization header as sent (tests check it never reaches storage). */
  readonly authorization: string | undefined;
  readonly userAgent: string | undefined;
  readonly contentType: string | undefined;
  readonly bodyBytes: number;
  /** The decoded body of POST /jobs/. */
  job?: Job;
  status: number;
  /** Set when a fault answered the request. */
  fault?: string;
}

/** A model object. */
export interface EmuModel {
  readonly record: Model;
  bytes?: Buffer;
  upload?: { readonly uploadId: string; readonly size: number; readonly parts: (Buffer | undefined)[] };
}

/** A dataset object. */
export interface EmuDataset {
  readonly record: Dataset;
  bytes?: Buffer;
  entries?: DatasetEntry[];
}

/** A job object. */
export interface EmuJob {
  readonly id: string;
  readonly type: 'compile' | 'profile' | 'inference';
  readonly message: Job;
  result?: JobResult;
  /** Resolves when the job reaches DONE or FAILED. */
  readonly finished: Promise<void>;
}

const DEFAULT_TIMING: EmulatorTiming = { createdMs: 20, compileMs: 40, provisionMs: 30, runMs: 20 };
const S24_ATTRIBUTES = [
  'chipset:qualcomm-snapdragon-8gen3',
  'os:android',
  'framework:qnn',
  'framework:onnx',
  'framework:tflite',
  'format:phone',
  'vendor:samsung',
  'hexagon:v75',
  'htp-supports-fp16:true',
];
const DEVICES: readonly MessageShape<typeof DeviceSchema>[] = [
  create(DeviceSchema, { name: 'Samsung Galaxy S24', os: '14', attributes: S24_ATTRIBUTES, socDescription: 'Qualcomm® Snapdragon™ 8 Gen 3 Mobile' }),
  create(DeviceSchema, { name: 'Samsung Galaxy S24 (Family)', os: '14', attributes: S24_ATTRIBUTES, socDescription: 'Qualcomm® Snapdragon™ 8 Gen 3 Mobile' }),
  create(DeviceSchema, {
    name: 'Samsung Galaxy S23',
    os: '13',
    attributes: ['chipset:qualcomm-snapdragon-8gen2', 'os:android', 'framework:qnn', 'framework:onnx', 'framework:tflite', 'format:phone', 'vendor:samsung', 'hexagon:v73'],
    socDescription: 'Qualcomm® Snapdragon™ 8 Gen 2 Mobile',
  }),
];
const CALIBRATED = new Set(['int8', 'int16', 'w8a16', 'w4a8', 'w4a16']);
const RUNTIME_TYPES: Readonly<Record<string, [ModelType, string]>> = {
  qnn_dlc: [ModelType.QNN_DLC, '.dlc'],
  qnn_context_binary: [ModelType.QNN_CONTEXT_BINARY, '.bin'],
  tflite: [ModelType.TFLITE, '.tflite'],
  onnx: [ModelType.ONNX, '.onnx.zip'],
  precompiled_qnn_onnx: [ModelType.ONNX, '.onnx.zip'],
};
const DAY_MS = 24 * 3600 * 1000;

/** A client-visible refusal: the reply's `status` with an empty id. */
class Refusal extends Error {}
/** An HTTP error answer. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly contentType = 'application/json',
  ) {
    super(body);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const alnum = 'abcdefghijklmnopqrstuvwxyz0123456789';
function newId(prefix: string): string {
  const bytes = randomBytes(8);
  return prefix + Array.from(bytes, (b) => alnum[b % alnum.length]).join('');
}
const s3Xml = (code: string, message: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`;
const detail = (text: string) => JSON.stringify({ detail: text });

/** Does a device satisfy a query (exact name, OS interval, attributes ANDed)? */
function deviceMatches(device: Device, query: { name: string; os: string; attributes: readonly string[] }): boolean {
  if (query.name !== '' && query.name !== device.name) return false;
  if (query.os !== '') {
    const m = /^([[(])\s*([\d.]*)\s*,\s*([\d.]*)\s*([\])])$/.exec(query.os);
    const v = Number(device.os);
    if (m === null) {
      if (query.os !== device.os) return false;
    } else {
      const lo = m[2] === '' ? -Infinity : Number(m[2]);
      const hi = m[3] === '' ? Infinity : Number(m[3]);
      if (!(m[1] === '[' ? v >= lo : v > lo) || !(m[4] === ']' ? v <= hi : v < hi)) return false;
    }
  }
  return query.attributes.every((a) => device.attributes.includes(a));
}

/** The emulator. */
export class HubEmulator {
  /** The accepted token. */
  readonly token: string;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Objects by id. */
  readonly models = new Map<string, EmuModel>();
  /** Objects by id. */
  readonly datasets = new Map<string, EmuDataset>();
  /** Jobs by id, in creation order. */
  readonly jobs = new Map<string, EmuJob>();
  /** Model runs executed for inference jobs (samples), for tests. */
  inferenceSamples = 0;

  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #timing: EmulatorTiming;
  readonly #secret = randomBytes(16);
  readonly #maxPartSize: number;
  readonly #urlTtlMs: number;
  readonly #threads: number;
  readonly #oomAbove: number | undefined;
  readonly #httpFaults: { fault: HttpFault; seen: number; used: number }[] = [];
  readonly #jobFaults: { fault: JobFault; used: number }[] = [];
  readonly #expireNext = { upload: 0, download: 0 };
  readonly #sessions = new Map<string, Promise<ort.InferenceSession>>();
  readonly #pendingUploads = new Map<string, Buffer>();
  #closed = false;

  private constructor(server: Server, options: EmulatorOptions) {
    this.#server = server;
    this.token = options.token ?? `emu-${randomBytes(12).toString('hex')}`;
    this.#timing = { ...DEFAULT_TIMING, ...options.timing };
    this.#maxPartSize = options.maxPartSize ?? 8 * 1024 * 1024;
    this.#urlTtlMs = options.urlTtlMs ?? 60_000;
    this.#threads = options.ortThreads ?? 2;
    this.#oomAbove = options.oomAboveInputElements;
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  /**
   * Starts an emulator on 127.0.0.1 at a random port.
   *
   * @param options - token, timing, limits.
   */
  static async start(options: EmulatorOptions = {}): Promise<HubEmulator> {
    const server = createServer();
    const emu = new HubEmulator(server, options);
    server.on('request', (req, res) => void emu.#handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return emu;
  }

  /** Base URL (`http://127.0.0.1:<port>`). */
  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Adds an HTTP fault. */
  inject(fault: HttpFault): void {
    this.#httpFaults.push({ fault, seen: 0, used: 0 });
  }

  /** Makes the next jobs of a type fail (or stall). */
  failJobs(fault: JobFault): void {
    this.#jobFaults.push({ fault, used: 0 });
  }

  /** Removes every pending fault. */
  clearFaults(): void {
    this.#httpFaults.length = 0;
    this.#jobFaults.length = 0;
    this.#expireNext.upload = 0;
    this.#expireNext.download = 0;
  }

  /** The next `n` presigned upload (or download) URLs are issued already expired. */
  expireNextUrls(n: number, kind: 'upload' | 'download' = 'upload'): void {
    this.#expireNext[kind] += n;
  }

  /** Makes a dataset expired (its 30 days are over). */
  expireDataset(id: string): void {
    const d = this.datasets.get(id);
    if (d !== undefined) d.record.expirationTime = timestampFromMs(Date.now() - 1000);
  }

  /** Recorded requests matching a method and path pattern. */
  requestsFor(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  /** Jobs of a type, in creation order. */
  jobsOfType(type: EmuJob['type']): EmuJob[] {
    return [...this.jobs.values()].filter((j) => j.type === type);
  }

  /** Stops the server, cutting open connections. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
    for (const p of this.#sessions.values()) await (await p.catch(() => undefined))?.release();
  }

  // #region Plumbing

  #sign(method: string, path: string, expires: number): string {
    return createHmac('sha256', this.#secret).update(`${method} ${path} ${expires}`).digest('hex');
  }

  #presign(method: string, path: string, kind: 'upload' | 'download'): string {
    let expires = Date.now() + this.#urlTtlMs;
    if (this.#expireNext[kind] > 0) {
      this.#expireNext[kind]--;
      expires = Date.now() - 1000;
    }
    return `${this.url}${path}?X-Amz-Expires=${expires}&X-Amz-Signature=${this.#sign(method, path, expires)}`;
  }

  /** Checks a presigned URL: signature, then expiry. */
  #checkPresigned(method: string, path: string, query: URLSearchParams): void {
    const expires = Number(query.get('X-Amz-Expires'));
    if (query.get('X-Amz-Signature') !== this.#sign(method, path, expires)) {
      throw new HttpError(403, s3Xml('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.'), 'application/xml');
    }
    if (!(expires > Date.now())) throw new HttpError(403, s3Xml('AccessDenied', 'Request has expired'), 'application/xml');
  }

  async #body(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  #send(res: ServerResponse, log: RecordedRequest, status: number, body: Uint8Array | string, contentType: string, headers: Record<string, string> = {}): void {
    log.status = status;
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    res.writeHead(status, { 'content-type': contentType, 'content-length': String(bytes.byteLength), ...headers });
    res.end(bytes);
  }

  #pb<D extends DescMessage>(res: ServerResponse, log: RecordedRequest, schema: D, message: MessageShape<D>, status = 200): void {
    this.#send(res, log, status, toBinary(schema, message), 'application/x-protobuf');
  }

  #decode<D extends DescMessage>(schema: D, body: Buffer): MessageShape<D> {
    try {
      return fromBinary(schema, new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    } catch (e) {
      throw new HttpError(400, detail(`malformed ${schema.typeName}: ${(e as Error).message}`));
    }
  }

  /** The first fault matching a request, consumed; undefined when none applies. */
  #fault(method: string, path: string): HttpFaultAction | undefined {
    for (const entry of this.#httpFaults) {
      const f = entry.fault;
      if (f.method !== undefined && f.method !== method) continue;
      if (!f.path.test(path)) continue;
      entry.seen++;
      if (entry.seen <= (f.skip ?? 0)) continue;
      if (entry.used >= (f.times ?? 1)) continue;
      entry.used++;
      return f.action;
    }
    return undefined;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const query: Record<string, string[]> = {};
    for (const [k, v] of url.searchParams) (query[k] ??= []).push(v);
    const method = req.method ?? 'GET';
    const log: RecordedRequest = {
      method,
      path: url.pathname,
      query,
      authorization: req.headers.authorization,
      userAgent: req.headers['user-agent'],
      contentType: req.headers['content-type'],
      bodyBytes: 0,
      status: 0,
    };
    this.requests.push(log);
    const action = this.#fault(method, url.pathname);
    if (action !== undefined && 'reset' in action) {
      log.fault = 'reset';
      req.socket.destroy();
      return;
    }
    const body = await this.#body(req);
    (log as { bodyBytes: number }).bodyBytes = body.byteLength;
    if (action !== undefined) {
      if ('hang' in action) {
        log.fault = 'hang';
        return; // never answered; the client times out
      }
      if ('wrongContentType' in action) {
        log.fault = 'wrong content type';
        return this.#send(res, log, 200, '<html><body>Scheduled maintenance</body></html>', 'text/html; charset=utf-8');
      }
      if ('status' in action) {
        log.fault = `status ${action.status}`;
        return this.#send(res, log, action.status, action.body ?? detail(`emulated HTTP ${action.status}`), action.contentType ?? 'application/json', { ...action.headers });
      }
    }
    try {
      if (url.pathname.startsWith('/storage/')) {
        await this.#storage(method, url, req, body, res, log, action !== undefined && 'noEtag' in action);
      } else if (url.pathname.startsWith('/api/v1/')) {
        if (!url.pathname.endsWith('/')) throw new HttpError(404, detail('Not found.'));
        if (req.headers.authorization !== `token ${this.token}`) {
          throw new HttpError(401, detail(req.headers.authorization === undefined ? 'Authentication credentials were not provided.' : 'Invalid token.'));
        }
        if (req.headers['content-type'] !== 'application/x-protobuf') throw new HttpError(415, detail('Unsupported media type.'));
        await this.#api(method, url.pathname.slice('/api/v1/'.length, -1).split('/'), url.searchParams, body, res, log);
      } else {
        throw new HttpError(404, detail('Not found.'));
      }
    } catch (e) {
      if (e instanceof HttpError) return this.#send(res, log, e.status, e.body, e.contentType);
      this.#send(res, log, 500, detail(`emulator error: ${(e as Error).stack ?? String(e)}`), 'application/json');
    }
  }

  // #endregion

  // #region API

  async #api(method: string, seg: string[], query: URLSearchParams, body: Buffer, res: ServerResponse, log: RecordedRequest): Promise<void> {
    const route = `${method} ${seg.map((s, i) => (i === 1 && /^[mdj][a-z0-9]{8}$/.test(s) ? ':id' : s)).join('/')}`;
    const id = seg[1] ?? '';
    const now = Date.now();
    switch (route) {
      case 'GET users/auth/user':
        return this.#pb(res, log, UserSchema, create(UserSchema, { id: 42n, firstName: 'Emu', lastName: 'Lator', email: 'emulator@example.invalid', orgId: 7n }));
      case 'GET devices': {
        const q = { name: query.get('name') ?? '', os: query.get('os') ?? '', attributes: query.getAll('attributes') };
        const devices = DEVICES.filter((d) => deviceMatches(d, q));
        return this.#pb(res, log, DeviceListSchema, create(DeviceListSchema, { devices, totalQueryCount: BigInt(devices.length) }));
      }
      case 'GET frameworks':
        return this.#pb(
          res,
          log,
          FrameworkListSchema,
          create(FrameworkListSchema, {
            frameworks: [
              { name: 'QAIRT', apiVersion: '2.36', apiTags: ['default'], fullVersion: '2.36.0.250627130125_125384' },
              { name: 'QAIRT', apiVersion: '2.37', apiTags: ['latest'], fullVersion: '2.37.0.250724175447_124859' },
            ],
            totalQueryCount: 2n,
          }),
        );
      case 'POST models': {
        const m = this.#decode(ModelSchema, body);
        const mid = newId('m');
        const record = create(ModelSchema, {
          modelId: mid,
          name: m.name ?? 'model',
          modelType: m.modelType ?? ModelType.UNSPECIFIED,
          isDirectory: m.isDirectory ?? false,
          fileUploadComplete: false,
          creationTime: timestampFromMs(now),
        });
        this.models.set(mid, { record });
        return this.#pb(res, log, CreateUpdateResponseSchema, create(CreateUpdateResponseSchema, { id: mid, status: 'created', creationTime: timestampFromMs(now) }));
      }
      case 'GET models/:id':
        return this.#pb(res, log, ModelSchema, this.#model(id).record);
      case 'GET models/:id/multipart_upload': {
        const model = this.#model(id);
        const size = Number(query.get('file_size'));
        if (!(Number.isInteger(size) && size > 0)) throw new HttpError(400, detail('file_size must be a positive integer.'));
        const count = Math.ceil(size / this.#maxPartSize);
        const uploadId = randomBytes(12).toString('hex');
        model.upload = { uploadId, size, parts: new Array(count).fill(undefined) };
        const urls = Array.from({ length: count }, (_, i) => this.#presign('PUT', `/storage/models/${id}/${uploadId}/${i}`, 'upload'));
        return this.#pb(res, log, FileMultipartUploadURLSchema, create(FileMultipartUploadURLSchema, { urls, uploadId, maxPartSize: BigInt(this.#maxPartSize) }));
      }
      case 'POST models/:id/multipart_upload': {
        const model = this.#model(id);
        const c = this.#decode(FileMultipartUploadCompleteSchema, body);
        const up = model.upload;
        if (up === undefined || up.uploadId !== c.uploadId) throw new HttpError(400, detail(`unknown upload_id ${JSON.stringify(c.uploadId)}`));
        if (c.etags.length !== up.parts.length) throw new HttpError(400, detail(`${c.etags.length} ETags for ${up.parts.length} parts`));
        up.parts.forEach((p, i) => {
          if (p === undefined) throw new HttpError(400, detail(`part ${i + 1} was never uploaded`));
          if (c.etags[i] !== etagOf(p)) throw new HttpError(400, detail(`ETag of part ${i + 1} does not match (InvalidPart)`));
        });
        const bytes = Buffer.concat(up.parts as Buffer[]);
        if (bytes.byteLength !== up.size) throw new HttpError(400, detail(`assembled ${bytes.byteLength} bytes, announced ${up.size}`));
        model.bytes = bytes;
        model.record.fileUploadComplete = true;
        delete model.upload;
        // Load it now, in the background, so a job's creation does not wait for onnxruntime.
        this.#session(bytes).catch(() => undefined);
        return this.#pb(res, log, CreateUpdateResponseSchema, create(CreateUpdateResponseSchema, { id, status: 'upload complete' }));
      }
      case 'GET models/:id/download': {
        const model = this.#model(id);
        if (model.bytes === undefined) throw new HttpError(400, detail('model file not uploaded'));
        // Compiled models are named with their runtime's extension (.dlc, .bin, …) at creation.
        return this.#pb(res, log, FileDownloadURLSchema, create(FileDownloadURLSchema, { url: this.#presign('GET', `/storage/blobs/models/${id}`, 'download'), filename: model.record.name ?? id }));
      }
      case 'POST datasets': {
        const d = this.#decode(DatasetSchema, body);
        const did = newId('d');
        const record = create(DatasetSchema, {
          datasetId: did,
          name: d.name ?? 'h5-dataset',
          permanent: d.permanent ?? false,
          fileUploadComplete: false,
          creationTime: timestampFromMs(now),
          expirationTime: timestampFromMs(now + 30 * DAY_MS),
        });
        this.datasets.set(did, { record });
        return this.#pb(res, log, CreateUpdateResponseSchema, create(CreateUpdateResponseSchema, { id: did, creationTime: timestampFromMs(now), expirationTime: record.expirationTime! }));
      }
      case 'GET datasets/:id':
        return this.#pb(res, log, DatasetSchema, this.#dataset(id).record);
      case 'GET datasets/:id/upload_url': {
        this.#dataset(id);
        const key = `datasets/${id}/model`;
        let expires = now + this.#urlTtlMs;
        if (this.#expireNext.upload > 0) {
          this.#expireNext.upload--;
          expires = now - 1000;
        }
        const policy = Buffer.from(JSON.stringify({ expiration: new Date(expires).toISOString(), conditions: [{ key }] })).toString('base64');
        const signature = createHmac('sha256', this.#secret).update(policy).digest('hex');
        return this.#pb(res, log, FileUploadURLSchema, create(FileUploadURLSchema, { url: `${this.url}/storage/datasets`, fileFieldName: 'file', fields: { key, policy, 'x-amz-signature': signature } }));
      }
      case 'PATCH datasets/:id': {
        const d = this.#dataset(id);
        const update = this.#decode(DatasetSchema, body);
        if (update.fileUploadComplete === true) {
          const bytes = this.#pendingUploads.get(`datasets/${id}/model`);
          if (bytes === undefined) throw new HttpError(400, detail('no file was uploaded for this dataset'));
          try {
            d.entries = await readDataset(new Uint8Array(bytes));
          } catch (e) {
            throw new HttpError(400, detail(`not a valid h5 dataset: ${(e as Error).message}`));
          }
          d.bytes = bytes;
          d.record.fileUploadComplete = true;
        }
        if (update.name !== undefined) d.record.name = update.name;
        return this.#pb(res, log, CreateUpdateResponseSchema, create(CreateUpdateResponseSchema, { id, status: 'updated' }));
      }
      case 'GET datasets/:id/download_data': {
        const d = this.#dataset(id);
        if (d.bytes === undefined) throw new HttpError(400, detail('dataset file not uploaded'));
        return this.#pb(res, log, FileDownloadURLSchema, create(FileDownloadURLSchema, { url: this.#presign('GET', `/storage/blobs/datasets/${id}`, 'download'), filename: `${id}.h5` }));
      }
      case 'POST jobs': {
        const job = this.#decode(JobSchema, body);
        log.job = job;
        try {
          const jid = await this.#createJob(job);
          return this.#pb(res, log, CreateUpdateResponseSchema, create(CreateUpdateResponseSchema, { id: jid, status: 'created', creationTime: timestampFromMs(now) }));
        } catch (e) {
          if (!(e instanceof Refusal)) throw e;
          return this.#pb(res, log, CreateUpdateResponseSchema, create(CreateUpdateResponseSchema, { id: '', status: e.message }));
        }
      }
      case 'GET jobs/:id':
        return this.#pb(res, log, JobSchema, this.#job(id).message);
      case 'GET jobs/:id/result': {
        const job = this.#job(id);
        if (job.result === undefined) throw new HttpError(400, detail(`Job ${id} has no result yet.`));
        return this.#pb(res, log, JobResultSchema, job.result);
      }
      default:
        throw new HttpError(404, detail('Not found.'));
    }
  }

  #model(id: string): EmuModel {
    const m = this.models.get(id);
    if (m === undefined) throw new HttpError(404, detail(`Model ID '${id}' could not be found.`));
    return m;
  }

  #dataset(id: string): EmuDataset {
    const d = this.datasets.get(id);
    if (d === undefined) throw new HttpError(404, detail(`Dataset ID '${id}' could not be found.`));
    return d;
  }

  #job(id: string): EmuJob {
    const j = this.jobs.get(id);
    if (j === undefined) throw new HttpError(404, detail(`Job ID '${id}' could not be found.`));
    return j;
  }

  // #endregion

  // #region Storage

  async #storage(method: string, url: URL, req: IncomingMessage, body: Buffer, res: ServerResponse, log: RecordedRequest, noEtag: boolean): Promise<void> {
    const path = url.pathname;
    let m = /^\/storage\/models\/(m[a-z0-9]+)\/([0-9a-f]+)\/(\d+)$/.exec(path);
    if (method === 'PUT' && m !== null) {
      this.#checkPresigned('PUT', path, url.searchParams);
      const model = this.models.get(m[1]!);
      const up = model?.upload;
      const part = Number(m[3]);
      if (up === undefined || up.uploadId !== m[2] || part >= up.parts.length) throw new HttpError(404, s3Xml('NoSuchUpload', 'The specified upload does not exist.'), 'application/xml');
      up.parts[part] = body;
      return this.#send(res, log, 200, '', 'text/plain', noEtag ? {} : { etag: etagOf(body) });
    }
    if (method === 'POST' && path === '/storage/datasets') {
      let parts;
      try {
        parts = parseMultipart(body, req.headers['content-type']);
      } catch (e) {
        throw new HttpError(400, s3Xml('MalformedPOSTRequest', (e as Error).message), 'application/xml');
      }
      const field = (name: string) => parts.find((p) => p.name === name && p.filename === undefined)?.data.toString('utf8');
      const policy = field('policy') ?? '';
      if (field('x-amz-signature') !== createHmac('sha256', this.#secret).update(policy).digest('hex')) {
        throw new HttpError(403, s3Xml('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.'), 'application/xml');
      }
      const p = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as { expiration: string; conditions: { key: string }[] };
      if (!(Date.parse(p.expiration) > Date.now())) throw new HttpError(403, s3Xml('AccessDenied', 'Invalid according to Policy: Policy expired.'), 'application/xml');
      const key = field('key');
      if (key === undefined || key !== p.conditions[0]?.key) throw new HttpError(403, s3Xml('AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["eq", "$key"]'), 'application/xml');
      // The file must be the last field, as S3 requires.
      const file = parts[parts.length - 1];
      if (file === undefined || file.name !== 'file' || file.filename === undefined) throw new HttpError(400, s3Xml('InvalidArgument', 'POST requires exactly one file upload per request.'), 'application/xml');
      this.#pendingUploads.set(key, file.data);
      return this.#send(res, log, 204, '', 'text/plain');
    }
    m = /^\/storage\/blobs\/(models|datasets)\/([md][a-z0-9]+)$/.exec(path);
    if (method === 'GET' && m !== null) {
      this.#checkPresigned('GET', path, url.searchParams);
      const bytes = m[1] === 'models' ? this.models.get(m[2]!)?.bytes : this.datasets.get(m[2]!)?.bytes;
      if (bytes === undefined) throw new HttpError(404, s3Xml('NoSuchKey', 'The specified key does not exist.'), 'application/xml');
      return this.#send(res, log, 200, bytes, 'application/octet-stream', { etag: etagOf(bytes) });
    }
    throw new HttpError(404, s3Xml('NoSuchKey', 'The specified key does not exist.'), 'application/xml');
  }

  // #endregion

  // #region Jobs

  /** The onnxruntime session of a model's bytes (cached by content). */
  #session(bytes: Buffer): Promise<ort.InferenceSession> {
    const key = createHash('sha256').update(bytes).digest('hex');
    let p = this.#sessions.get(key);
    if (p === undefined) {
      p = ort.InferenceSession.create(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
        intraOpNumThreads: this.#threads,
        graphOptimizationLevel: 'all',
        enableCpuMemArena: false,
        enableMemPattern: false,
      });
      this.#sessions.set(key, p);
    }
    return p;
  }

  #device(query: Device | undefined): Device {
    const q = { name: query?.name ?? '', os: query?.os ?? '', attributes: query?.attributes ?? [] };
    const found = DEVICES.find((d) => deviceMatches(d, q));
    if (found === undefined) throw new Refusal(`No device matches name=${JSON.stringify(q.name)} os=${JSON.stringify(q.os)} attributes=${JSON.stringify(q.attributes)}.`);
    return found;
  }

  #readyModel(id: string | undefined): EmuModel {
    const m = id === undefined ? undefined : this.models.get(id);
    if (m === undefined) throw new Refusal(`Model ID '${id ?? ''}' could not be found.`);
    if (m.record.fileUploadComplete !== true || m.bytes === undefined) throw new Refusal(`Model ${id} has not finished uploading.`);
    return m;
  }

  #readyDataset(id: string | undefined, what: string): EmuDataset {
    const d = id === undefined ? undefined : this.datasets.get(id);
    if (d === undefined) throw new Refusal(`${what}: Dataset ID '${id ?? ''}' could not be found.`);
    if (d.record.fileUploadComplete !== true || d.entries === undefined) throw new Refusal(`${what}: dataset ${id} has not finished uploading.`);
    const expires = d.record.expirationTime;
    if (expires !== undefined && Number(expires.seconds) * 1000 < Date.now()) throw new Refusal(`${what}: dataset ${id} has expired.`);
    return d;
  }

  /** Checks that a dataset's entries match input names in order, with equal batch counts. */
  #checkInputs(d: EmuDataset, names: readonly string[], what: string): void {
    const got = d.entries!.map((e) => e.name);
    if (got.length !== names.length || got.some((n, i) => n !== names[i])) {
      throw new Refusal(`${what}: the dataset's inputs (${got.join(', ')}) do not match the model's inputs (${names.join(', ')}) in name and order.`);
    }
    const counts = new Set(d.entries!.map((e) => e.samples.length));
    if (counts.size !== 1) throw new Refusal(`${what}: the dataset's inputs have different sample counts.`);
  }

  #faultFor(type: EmuJob['type']): JobFault | undefined {
    for (const entry of this.#jobFaults) {
      if (entry.fault.jobType === type && entry.used < (entry.fault.times ?? 1)) {
        entry.used++;
        return entry.fault;
      }
    }
    return undefined;
  }

  async #createJob(job: Job): Promise<string> {
    const now = Date.now();
    const jid = newId('j');
    const stamp = timestampFromMs(now);
    const body = job.job;
    let type: EmuJob['type'];
    let work: (fields: { jobState: JobState; failureReason?: string | undefined }, setState: (s: JobState) => void, fault: JobFault | undefined) => Promise<void>;
    if (body.case === 'compileJob') {
      type = 'compile';
      const c = body.value;
      const model = this.#readyModel(c.model?.modelId);
      const devices = c.devices?.devices ?? [];
      if (devices.length === 0) throw new Refusal('A compile job needs at least one device.');
      const device = this.#device(devices[0]);
      const session = await this.#session(model.bytes!);
      const specs = c.tensorTypeList?.types ?? [];
      const inputNames = specs.length > 0 ? specs.map((t) => t.name) : [...session.inputNames];
      if (specs.length > 0 && (specs.length !== session.inputNames.length || specs.some((t, i) => t.name !== session.inputNames[i]))) {
        throw new Refusal(`input_specs (${specs.map((t) => t.name).join(', ')}) do not match the model's inputs (${session.inputNames.join(', ')}).`);
      }
      const options = c.options;
      const runtime = /--target_runtime[ =](\S+)/.exec(options)?.[1] ?? 'tflite';
      const runtimeType = RUNTIME_TYPES[runtime];
      if (runtimeType === undefined) throw new Refusal(`--target_runtime ${runtime} is not supported.`);
      const quantize = /--quantize_full_type[ =](\S+)/.exec(options)?.[1];
      const calibrationId = c.calibrationDataset?.datasetId;
      if (calibrationId !== undefined && calibrationId !== '') this.#checkInputs(this.#readyDataset(calibrationId, 'calibration_data'), inputNames, 'calibration_data');
      c.compileJobId = jid;
      c.device = device;
      c.name ||= model.record.name ?? '';
      if (quantize !== undefined && CALIBRATED.has(quantize) && (calibrationId === undefined || calibrationId === '')) {
        job.notices.push({ $typeName: 'qai_hub.api.Notice', context: 1, severity: Notice_Severity.WARNING, message: `--quantize_full_type ${quantize} without calibration_data: ranges from random data.` });
      }
      work = async (_fields, setState, fault) => {
        setState(JobState.OPTIMIZING_MODEL);
        await this.#stay(this.#timing.compileMs, fault, JobState.OPTIMIZING_MODEL);
        const tid = newId('m');
        const [modelType, ext] = runtimeType;
        const target = create(ModelSchema, {
          modelId: tid,
          name: `${(model.record.name ?? 'model').replace(/\.onnx$/, '')}${ext}`,
          modelType,
          fileUploadComplete: true,
          producerId: jid,
          creationTime: timestampFromMs(Date.now()),
        });
        this.models.set(tid, { record: target, bytes: model.bytes! });
        c.targetModel = target;
        c.targetTensorTypeList = { $typeName: 'qai_hub.api.NamedTensorTypeList', types: tensorTypes(session, 'input') };
        this.jobs.get(jid)!.result = create(JobResultSchema, {
          result: { case: 'compileJobResult', value: { compileJobId: jid, compileDetail: { toolVersions: [{ name: 'QAIRT', version: '2.36.0 (emulated)' }] } } },
        });
      };
    } else if (body.case === 'inferenceJob') {
      type = 'inference';
      const v = body.value;
      const model = this.#readyModel(v.model?.modelId);
      const device = this.#device(v.device);
      const session = await this.#session(model.bytes!);
      const dataset = this.#readyDataset(v.dataset?.datasetId, 'inputs');
      this.#checkInputs(dataset, session.inputNames, 'inputs');
      v.inferenceJobId = jid;
      v.device = device;
      work = async (fields, setState, fault) => {
        setState(JobState.PROVISIONING_DEVICE);
        await this.#stay(this.#timing.provisionMs, fault, JobState.PROVISIONING_DEVICE);
        setState(JobState.RUNNING_INFERENCE);
        const started = Date.now();
        const entries = dataset.entries!;
        const largest = Math.max(...entries.map((e) => e.samples[0]!.data.length));
        if (this.#oomAbove !== undefined && largest > this.#oomAbove) {
          await sleep(this.#timing.runMs);
          throw new JobFailure(JobFailureType.RUNTIME_DEVICE_OOM, `Failed to run the model: the device ran out of memory (an input of ${largest} elements).`);
        }
        const outputs: HubTensor[][] = session.outputNames.map(() => []);
        for (let b = 0; b < entries[0]!.samples.length; b++) {
          const feeds: Record<string, ort.Tensor> = {};
          entries.forEach((e) => {
            const t = e.samples[b]!;
            feeds[e.name] = new ort.Tensor('float32', t.data as Float32Array, [...t.shape]);
          });
          const result = await session.run(feeds);
          session.outputNames.forEach((name, o) => {
            const t = result[name]!;
            outputs[o]!.push({ data: t.data as Float32Array, shape: [...t.dims] });
          });
          this.inferenceSamples++;
          await sleep(0); // let polls through between samples
        }
        await this.#stay(Math.max(0, this.#timing.runMs - (Date.now() - started)), fault, JobState.RUNNING_INFERENCE);
        const h5 = Buffer.from(await writeDataset(session.outputNames.map((name, o) => ({ name, samples: outputs[o]! })), { compression: false }));
        const oid = newId('d');
        const record = create(DatasetSchema, {
          datasetId: oid,
          name: `${jid}-outputs`,
          fileUploadComplete: true,
          creationTime: timestampFromMs(Date.now()),
          expirationTime: timestampFromMs(Date.now() + 30 * DAY_MS),
        });
        this.datasets.set(oid, { record, bytes: h5, entries: session.outputNames.map((name, o) => ({ name, samples: outputs[o]! })) });
        this.jobs.get(jid)!.result = create(JobResultSchema, { result: { case: 'inferenceJobResult', value: { inferenceJobId: jid, outputDatasetId: oid } } });
        void fields;
      };
    } else if (body.case === 'profileJob') {
      type = 'profile';
      const v = body.value;
      const model = this.#readyModel(v.model?.modelId);
      const device = this.#device(v.device);
      const session = await this.#session(model.bytes!);
      v.profileJobId = jid;
      v.device = device;
      work = async (_fields, setState, fault) => {
        setState(JobState.PROVISIONING_DEVICE);
        await this.#stay(this.#timing.provisionMs, fault, JobState.PROVISIONING_DEVICE);
        setState(JobState.MEASURING_PERFORMANCE);
        // Host measurements of one run on zeros: emulator values, not device numbers.
        const feeds: Record<string, ort.Tensor> = {};
        for (const t of tensorTypes(session, 'input')) {
          const shape = t.tensorType!.shape.map(Number);
          feeds[t.name] = new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
        }
        const rss = process.memoryUsage().rss;
        const t0 = performance.now();
        await session.run(feeds);
        const us = BigInt(Math.round((performance.now() - t0) * 1000));
        const peak = BigInt(Math.max(0, process.memoryUsage().rss - rss));
        await this.#stay(this.#timing.runMs, fault, JobState.MEASURING_PERFORMANCE);
        v.executionTime = us;
        v.peakMemoryUsage = peak;
        this.jobs.get(jid)!.result = create(JobResultSchema, {
          result: {
            case: 'profileJobResult',
            value: {
              profileJobId: jid,
              profile: {
                executionTime: us,
                peakMemoryUsage: peak,
                coldLoadTime: 1_200_000n,
                warmLoadTime: 300_000n,
                allExecutionTimes: [us],
                executionMemory: { increase: { lower: peak, upper: peak }, peak: { lower: peak, upper: peak } },
                layerDetails: [{ name: 'emulated', computeUnit: 3, layerTypeName: 'onnxruntime-cpu' }],
              },
            },
          },
        });
      };
    } else {
      throw new Refusal(`The emulator does not run ${body.case ?? 'empty'} jobs.`);
    }

    const fields = body.value as { jobState: JobState; failureReason?: string | undefined; creationTime?: unknown; startTime?: unknown; completionTime?: unknown; lastUpdatedTime?: unknown };
    Object.assign(fields, { jobState: JobState.CREATED, creationTime: stamp, lastUpdatedTime: stamp });
    const setState = (s: JobState) => {
      fields.jobState = s;
      fields.lastUpdatedTime = timestampFromMs(Date.now());
      if (s !== JobState.CREATED && fields.startTime === undefined) fields.startTime = timestampFromMs(Date.now());
    };
    const fault = this.#faultFor(type);
    const finished = (async () => {
      await sleep(this.#timing.createdMs);
      try {
        if (this.#closed) return;
        await work(fields, setState, fault);
        setState(JobState.DONE);
        job.failureType = JobFailureType.SUCCESS;
      } catch (e) {
        if (this.#closed) return;
        const failure = e instanceof JobFailure ? e : new JobFailure(JobFailureType.INTERNAL_UNKNOWN, `emulator: ${(e as Error).message}`);
        fields.failureReason = failure.message;
        job.failureType = failure.type;
        setState(JobState.FAILED);
      }
      fields.completionTime = timestampFromMs(Date.now());
    })();
    this.jobs.set(jid, { id: jid, type, message: job, finished });
    return jid;
  }

  /** Stays in a state for `ms`, then applies a fault meant for this state (fail, or hold longer). */
  async #stay(ms: number, fault: JobFault | undefined, state: JobState): Promise<void> {
    await sleep(ms);
    if (fault === undefined) return;
    const lastRunning = fault.jobType === 'compile' ? JobState.OPTIMIZING_MODEL : fault.jobType === 'inference' ? JobState.RUNNING_INFERENCE : JobState.MEASURING_PERFORMANCE;
    if ((fault.state ?? lastRunning) !== state) return;
    if (fault.holdMs !== undefined) {
      await sleep(fault.holdMs);
      return;
    }
    throw new JobFailure(fault.failureType ?? JobFailureType.UNKNOWN, fault.reason ?? 'emulated failure');
  }

  // #endregion
}

/** A job failure with its category. */
class JobFailure extends Error {
  constructor(
    readonly type: JobFailureType,
    message: string,
  ) {
    super(message);
  }
}

/** The ETag S3 gives a single-part object: the quoted MD5 of its bytes. */
function etagOf(bytes: Buffer): string {
  return `"${createHash('md5').update(bytes).digest('hex')}"`;
}

/** A session's inputs or outputs as NamedTensorTypes (fixed float32 shapes). */
function tensorTypes(session: ort.InferenceSession, which: 'input' | 'output'): NamedTensorType[] {
  const names = which === 'input' ? session.inputNames : session.outputNames;
  const meta = which === 'input' ? session.inputMetadata : session.outputMetadata;
  return names.map((name, i) => {
    const m = meta[i];
    const shape = m !== undefined && m.isTensor ? m.shape.map((d) => (typeof d === 'number' ? BigInt(d) : -1n)) : [];
    return { $typeName: 'qai_hub.api.NamedTensorType', name, tensorType: { $typeName: 'qai_hub.api.TensorType', shape, dtype: TensorDtype.FLOAT32 } } as NamedTensorType;
  });
}
