/**
 * A Qualcomm AI Hub client over HTTP (axios) with binary protobuf bodies, following the wire
 * protocol of the `qai-hub` 0.42.0 Python client (docs/qualcomm-ai-hub.md §2–4): endpoints
 * under `/api/v1/…/` with trailing slashes, `Authorization: token …`, presigned object-store
 * URLs for uploads and downloads, retries on 429/5xx and network errors, a longer back-off for
 * rate-limited job creation, and bounded job polling. Node only.
 *
 * The API token is sent only in the `Authorization` header of API calls (never to storage
 * URLs) and never appears in log lines, error messages or error causes.
 */
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { randomBytes } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveHubConfig, type HubConfigOptions } from './config.js';
import { QualcommHubError, type QualcommHubErrorCode, type QualcommHubErrorDetails } from './errors.js';
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
  TensorDtype,
  UserSchema,
  type CompileJob,
  type CreateUpdateResponse,
  type Dataset,
  type Device,
  type Framework,
  type InferenceJob,
  type Job,
  type JobResult,
  type LinkJob,
  type Model,
  type ProfileJob,
  type QuantizeJob,
  type User,
} from './gen/hub_pb.js';

/** The `qai-hub` release whose protocol this client speaks. */
export const QAI_HUB_PROTOCOL_VERSION = '0.42.0';

/** Retries of single requests (qai-hub: urllib3 `Retry(total=6, backoff_factor=0.75)`, waits capped at 10 s). */
export interface HubRetryOptions {
  /**
   * Retries after the first attempt, on 429/500/502/503/504 and network errors.
   * @defaultValue 6
   */
  readonly retries?: number;
  /**
   * Wait before retry n (1-based) is `backoffMs · 2^(n−1)`, at most `maxBackoffMs`; a
   * `Retry-After` header is honoured instead, up to 60 s.
   * @defaultValue 750
   */
  readonly backoffMs?: number;
  /**
   * Longest wait between two attempts.
   * @defaultValue 10000
   */
  readonly maxBackoffMs?: number;
}

/** Back-off of job creation when AI Hub answers 429 (qai-hub: 20 s, 40 s, then 60 s, for up to 10 min). */
export interface HubRateLimitOptions {
  /**
   * Waits between attempts; the last one repeats.
   * @defaultValue [20000, 40000, 60000]
   */
  readonly delaysMs?: readonly number[];
  /**
   * Give up after this long.
   * @defaultValue 600000 (10 min)
   */
  readonly timeoutMs?: number;
}

/** How jobs are polled. */
export interface HubPollOptions {
  /**
   * First wait between two status requests.
   * @defaultValue 5000
   */
  readonly intervalMs?: number;
  /**
   * Each wait is the previous one times this factor (1 = fixed, as qai-hub's 10 s).
   * @defaultValue 1.5
   */
  readonly backoff?: number;
  /**
   * Longest wait between two status requests.
   * @defaultValue 30000
   */
  readonly maxIntervalMs?: number;
  /**
   * Longest wait for one job. AI Hub fails a job a fixed time after creation (8 h was seen),
   * so this only bounds how long this process waits; the job keeps running.
   * @defaultValue 3600000 (1 h)
   */
  readonly timeoutMs?: number;
}

/** Options of {@link QaiHubClient}. */
export interface QaiHubClientOptions extends HubConfigOptions {
  /**
   * Idle timeout of one API request (qai-hub: the server drops connections after 26 s).
   * @defaultValue 28000
   */
  readonly timeoutMs?: number;
  /**
   * Idle timeout of one storage (presigned URL) request.
   * @defaultValue 30000
   */
  readonly storageTimeoutMs?: number;
  /** Retries of single requests. */
  readonly retry?: HubRetryOptions;
  /** Back-off of rate-limited job creation. */
  readonly rateLimit?: HubRateLimitOptions;
  /** Job polling. */
  readonly poll?: HubPollOptions;
  /**
   * Ask for S3 Transfer Acceleration URLs (`use_acceleration`).
   * @defaultValue true
   */
  readonly useAcceleration?: boolean;
  /**
   * The `User-Agent` header. AI Hub answers HTTP 426 to clients it no longer supports.
   * @defaultValue `'qai_hub/0.42.0 (compatible; demucs-mobile)'`
   */
  readonly userAgent?: string;
  /**
   * Called with one line per request, retry and job state change. Lines never contain the
   * token or presigned URL signatures.
   * @defaultValue none
   */
  readonly onLog?: (line: string) => void;
}

/** A device query: an exact name, and/or an OS interval and attributes (ANDed). */
export interface DeviceQuery {
  /** Exact device name, e.g. `'Samsung Galaxy S24'`. */
  readonly name?: string;
  /** OS version or interval, e.g. `'14'` or `'[14,15)'`. */
  readonly os?: string;
  /** Attributes such as `'chipset:qualcomm-snapdragon-8gen3'`. */
  readonly attributes?: readonly string[];
}

/** A model input as compile jobs want it (`input_specs`). */
export interface HubTensorSpec {
  /** Input name. */
  readonly name: string;
  /** Fixed shape, batch dimension included. */
  readonly shape: readonly number[];
  /**
   * Element type.
   * @defaultValue `'float32'`
   */
  readonly dtype?: HubDtype;
}

/** Element types of `input_specs` (qai-hub's dtype strings). */
export type HubDtype = 'float32' | 'float16' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'int64' | 'bool';

const DTYPE_ENUM: Readonly<Record<HubDtype, TensorDtype>> = {
  float32: TensorDtype.FLOAT32,
  float16: TensorDtype.FLOAT16,
  int8: TensorDtype.INT8,
  uint8: TensorDtype.UINT8,
  int16: TensorDtype.INT16,
  uint16: TensorDtype.UINT16,
  int32: TensorDtype.INT32,
  int64: TensorDtype.INT64,
  bool: TensorDtype.BOOL,
};

/** The kind of a job, by its oneof case. */
export type HubJobType = 'compile' | 'profile' | 'inference' | 'quantize' | 'link';

/** A job's fields whatever its kind. */
export type AnyHubJob = CompileJob | ProfileJob | InferenceJob | QuantizeJob | LinkJob;

/** A job state change seen while polling. */
export interface HubJobStateEvent {
  /** The job. */
  readonly jobId: string;
  /** Its kind. */
  readonly jobType: HubJobType;
  /** Its new state, e.g. `'RUNNING_INFERENCE'`. */
  readonly state: string;
}

/** Options of {@link QaiHubClient.waitForJob}. */
export interface WaitForJobOptions extends HubPollOptions {
  /** Stops waiting (the job keeps running on AI Hub). */
  readonly signal?: AbortSignal | undefined;
  /** Called when the job's state changes. */
  readonly onState?: ((event: HubJobStateEvent) => void) | undefined;
}

/** Options of uploads. */
export interface HubUploadOptions {
  /** Object name on AI Hub. */
  readonly name?: string;
  /** Cancels the upload. */
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link QaiHubClient.uploadModel}. */
export interface UploadModelOptions extends HubUploadOptions {
  /**
   * The model's type.
   * @defaultValue ONNX
   */
  readonly modelType?: ModelType;
  /**
   * Whether the bytes are a zipped model directory.
   * @defaultValue false
   */
  readonly isDirectory?: boolean;
}

/** Options of {@link QaiHubClient.uploadDataset}. */
export interface UploadDatasetOptions extends HubUploadOptions {
  /**
   * Keep the dataset forever (otherwise AI Hub deletes it after 30 days).
   * @defaultValue false
   */
  readonly permanent?: boolean;
}

/** A compile job to submit. */
export interface CompileJobRequest {
  /** The uploaded source model. */
  readonly modelId: string;
  /** Device(s) to compile for (the compile job's `devices` list). */
  readonly device: DeviceQuery;
  /** Input names, shapes and dtypes, in the model's input order. */
  readonly inputSpecs?: readonly HubTensorSpec[];
  /** CLI-style options, e.g. `'--target_runtime qnn_dlc --quantize_full_type int8'`. */
  readonly options?: string;
  /** A calibration dataset for quantisation. */
  readonly calibrationDatasetId?: string | undefined;
  /** Job name. */
  readonly name?: string;
}

/** A profile job to submit. */
export interface ProfileJobRequest {
  /** The (compiled) model. */
  readonly modelId: string;
  /** The device. */
  readonly device: DeviceQuery;
  /** CLI-style options, e.g. `'--max_profiler_iterations 10'`. */
  readonly options?: string;
  /** Job name. */
  readonly name?: string;
}

/** An inference job to submit. */
export interface InferenceJobRequest {
  /** The (compiled) model. */
  readonly modelId: string;
  /** The device. */
  readonly device: DeviceQuery;
  /** The input dataset. */
  readonly datasetId: string;
  /** CLI-style options. */
  readonly options?: string;
  /** Job name. */
  readonly name?: string;
}

/** A downloaded file. */
export interface HubDownload {
  /** The bytes. */
  readonly bytes: Uint8Array;
  /** The file name AI Hub gave. */
  readonly filename: string;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT';

/** Statuses retried at request level (urllib3 `status_forcelist`). */
const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);
/** Job creation handles 429 itself, with the longer rate-limit back-off. */
const JOB_RETRY_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504]);
/** Network errors worth retrying for any method: the request never reached the server. */
const CONNECT_ERRORS: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);
/** Failure types after which the same job may succeed when submitted again. */
const TRANSIENT_FAILURES: ReadonlySet<JobFailureType> = new Set([
  JobFailureType.INTERNAL_UNKNOWN,
  JobFailureType.INTERNAL_LOGIC,
  JobFailureType.RUNTIME_UNKNOWN,
  JobFailureType.RUNTIME_CRASH,
  JobFailureType.RUNTIME_OUT_OF_DISK,
  JobFailureType.CLOUD_API_ERROR,
  JobFailureType.CLOUD_RESOURCE_MISSING,
  JobFailureType.QDC_API_ERROR,
  JobFailureType.RUNTIME_TIMEOUT,
  JobFailureType.CLOUD_THROTTLED,
  JobFailureType.RUNTIME_INTERNAL_SERVICE_BUSY,
]);

/** A job's kind, fields and id, whatever its kind. */
export interface HubJobParts {
  /** The kind. */
  readonly type: HubJobType;
  /** The fields of that kind (state, failure reason, …). */
  readonly fields: AnyHubJob;
  /** The job id. */
  readonly id: string;
}

/**
 * The kind and fields of a job.
 *
 * @param job - a job as AI Hub returns it.
 * @returns its kind, the fields of that kind and its id.
 * @throws Error when the job's oneof is empty.
 */
export function jobParts(job: Job): HubJobParts {
  const j = job.job;
  switch (j.case) {
    case 'compileJob':
      return { type: 'compile', fields: j.value, id: j.value.compileJobId };
    case 'profileJob':
      return { type: 'profile', fields: j.value, id: j.value.profileJobId };
    case 'inferenceJob':
      return { type: 'inference', fields: j.value, id: j.value.inferenceJobId };
    case 'quantizeJob':
      return { type: 'quantize', fields: j.value, id: j.value.quantizeJobId };
    case 'linkJob':
      return { type: 'link', fields: j.value, id: j.value.linkJobId };
    default:
      throw new Error('AI Hub returned a job with no job body');
  }
}

/**
 * A state's name, as AI Hub's enum spells it (`'RUNNING_INFERENCE'`); unknown values read
 * as `'UNSPECIFIED'` (still running).
 *
 * @param state - a job state.
 * @returns its name.
 */
export function jobStateName(state: JobState): string {
  return JobState[state] ?? 'UNSPECIFIED';
}

/**
 * Whether a failed job may succeed when submitted again (timeouts, throttling, crashes and
 * service errors), as opposed to failures of the model or inputs (out of memory, invalid
 * inputs, unsupported ops).
 *
 * @param failureType - the job's `failure_type`.
 * @returns true for transient failures.
 */
export function isTransientFailure(failureType: JobFailureType): boolean {
  return TRANSIENT_FAILURES.has(failureType);
}

/** The path of a URL with no query string (presigned URLs carry signatures there). */
function safePath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return '(invalid URL)';
  }
}

function headerValue(res: AxiosResponse, name: string): string | undefined {
  const v = (res.headers as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? String(v[0]) : undefined;
}

function bodyBytes(res: AxiosResponse): Uint8Array {
  const d = res.data as unknown;
  if (d instanceof Uint8Array) return d;
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  if (typeof d === 'string') return new TextEncoder().encode(d);
  return new Uint8Array(0);
}

/** `Retry-After` in ms (seconds or an HTTP date), at most 60 s. */
function retryAfterMs(res: AxiosResponse): number | undefined {
  const v = headerValue(res, 'retry-after');
  if (v === undefined) return undefined;
  const seconds = Number(v);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) ? Math.min(60_000, Math.max(0, ms)) : undefined;
}

/** An S3-style XML error's code and message. */
function s3Error(text: string): { code: string; message: string } | undefined {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  if (code === undefined) return undefined;
  return { code, message: /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '' };
}

/** Whether a storage answer says its presigned URL expired. */
function isExpired(status: number, text: string): boolean {
  if (status !== 403 && status !== 400) return false;
  const e = s3Error(text);
  if (e === undefined) return false;
  return e.code === 'ExpiredToken' || e.code === 'RequestExpired' || /expired/i.test(e.message);
}

/** A presigned URL that expired: the caller asks for a new one. */
class ExpiredUrl extends Error {}

/**
 * A Qualcomm AI Hub client.
 *
 * @example
 * ```ts
 * import { QaiHubClient } from 'demucs-mobile/qualcomm';
 *
 * const hub = new QaiHubClient(); // token from QAIHUB_API_TOKEN or ~/.qai_hub/client.ini
 * const devices = await hub.listDevices({ name: 'Samsung Galaxy S24' });
 * ```
 */
export class QaiHubClient {
  /** The API's base URL. */
  readonly apiUrl: string;
  /** The web site's base URL. */
  readonly webUrl: string;
  readonly #token: string;
  readonly #http: AxiosInstance;
  readonly #timeoutMs: number;
  readonly #storageTimeoutMs: number;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #rateDelays: readonly number[];
  readonly #rateTimeoutMs: number;
  readonly #poll: Required<HubPollOptions>;
  readonly #acceleration: boolean;
  readonly #userAgent: string;
  readonly #log: ((line: string) => void) | undefined;

  /**
   * @param options - token and URLs (else the environment and `~/.qai_hub/client.ini`),
   *   timeouts, retries, polling and a log callback.
   * @throws QualcommHubError `ERR_HUB_AUTH` when no token is found.
   */
  constructor(options: QaiHubClientOptions = {}) {
    const config = resolveHubConfig(options);
    this.#token = config.token;
    this.apiUrl = config.apiUrl;
    this.webUrl = config.webUrl;
    this.#timeoutMs = options.timeoutMs ?? 28_000;
    this.#storageTimeoutMs = options.storageTimeoutMs ?? 30_000;
    this.#retries = options.retry?.retries ?? 6;
    this.#backoffMs = options.retry?.backoffMs ?? 750;
    this.#maxBackoffMs = options.retry?.maxBackoffMs ?? 10_000;
    this.#rateDelays = options.rateLimit?.delaysMs ?? [20_000, 40_000, 60_000];
    this.#rateTimeoutMs = options.rateLimit?.timeoutMs ?? 600_000;
    this.#poll = {
      intervalMs: options.poll?.intervalMs ?? 5_000,
      backoff: options.poll?.backoff ?? 1.5,
      maxIntervalMs: options.poll?.maxIntervalMs ?? 30_000,
      timeoutMs: options.poll?.timeoutMs ?? 3_600_000,
    };
    for (const [name, v] of [
      ['timeoutMs', this.#timeoutMs],
      ['storageTimeoutMs', this.#storageTimeoutMs],
      ['retry.retries', this.#retries],
      ['retry.backoffMs', this.#backoffMs],
      ['poll.intervalMs', this.#poll.intervalMs],
      ['poll.timeoutMs', this.#poll.timeoutMs],
      ['rateLimit.timeoutMs', this.#rateTimeoutMs],
    ] as const) {
      if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`${name} (${v}) must be a finite number ≥ 0`);
    }
    if (this.#rateDelays.length === 0) throw new RangeError('rateLimit.delaysMs must not be empty');
    this.#acceleration = options.useAcceleration ?? true;
    this.#userAgent = options.userAgent ?? `qai_hub/${QAI_HUB_PROTOCOL_VERSION} (compatible; demucs-mobile)`;
    this.#log = options.onLog;
    this.#http = axios.create({
      // No connection reuse: a pooled socket the server has closed meanwhile (a 5 s keep-alive
      // timeout against minutes of HDF5 work between requests) fails the next request with
      // ECONNRESET, which must not be retried for job creation. A handshake per request costs
      // little next to jobs that take minutes.
      httpAgent: new HttpAgent({ keepAlive: false }),
      httpsAgent: new HttpsAgent({ keepAlive: false }),
      validateStatus: () => true,
      responseType: 'arraybuffer',
      transformResponse: [(d: unknown) => d],
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
      maxRedirects: 0,
    });
  }

  // #region Transport

  /** Logs a line with any occurrence of the token removed. */
  #emit(line: string): void {
    if (this.#log !== undefined) this.#log(this.#redact(line));
  }

  #redact(text: string): string {
    return this.#token.length >= 4 ? text.split(this.#token).join('<token>') : text;
  }

  #backoff(retry: number): number {
    return Math.min(this.#maxBackoffMs, this.#backoffMs * 2 ** (retry - 1));
  }

  #error(code: QualcommHubErrorCode, message: string, details: QualcommHubErrorDetails = {}, cause?: string): QualcommHubError {
    return new QualcommHubError(code, this.#redact(message), details, cause === undefined ? undefined : new Error(this.#redact(cause)));
  }

  /**
   * One HTTP exchange with retries on network errors (idempotent methods, or errors before
   * the request was sent) and on the given statuses.
   */
  async #send(request: {
    method: Method;
    url: string;
    headers: Record<string, string>;
    data?: Uint8Array | undefined;
    timeoutMs: number;
    idempotent: boolean;
    retryStatuses: ReadonlySet<number>;
    what: string;
    signal?: AbortSignal | undefined;
  }): Promise<AxiosResponse> {
    const { signal } = request;
    const label = `${request.method} ${safePath(request.url)}`;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const started = performance.now();
      let res: AxiosResponse;
      try {
        res = await this.#http.request({
          method: request.method,
          url: request.url,
          headers: request.headers,
          data: request.data === undefined ? undefined : Buffer.from(request.data.buffer, request.data.byteOffset, request.data.byteLength),
          timeout: request.timeoutMs,
          ...(signal === undefined ? {} : { signal }),
        });
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        const code = (e as { code?: string }).code ?? 'ERR_NETWORK';
        const text = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? `no answer within ${request.timeoutMs} ms` : `${code}: ${(e as Error).message}`;
        const retryable = request.idempotent || CONNECT_ERRORS.has(code);
        if (retryable && attempt <= this.#retries) {
          const wait = this.#backoff(attempt);
          this.#emit(`${label}: ${text}; retry ${attempt}/${this.#retries} in ${wait} ms`);
          await sleep(wait, undefined, signal === undefined ? {} : { signal });
          continue;
        }
        throw this.#error(
          'ERR_HUB_REQUEST',
          `${request.what} failed (${label}): ${text}${attempt > 1 ? ` after ${attempt} attempts` : ''}`,
          { request: label, attempts: attempt },
          text,
        );
      }
      this.#emit(`${label} → ${res.status} (${Math.round(performance.now() - started)} ms)`);
      if (request.retryStatuses.has(res.status) && attempt <= this.#retries) {
        const wait = retryAfterMs(res) ?? this.#backoff(attempt);
        this.#emit(`${label}: HTTP ${res.status}; retry ${attempt}/${this.#retries} in ${wait} ms`);
        await sleep(wait, undefined, signal === undefined ? {} : { signal });
        continue;
      }
      (res as AxiosResponse & { attempts: number }).attempts = attempt;
      return res;
    }
  }

  #url(segments: readonly string[], query?: readonly (readonly [string, string])[]): string {
    const path = ['api', 'v1', ...segments.map((s) => encodeURIComponent(s)), ''].join('/');
    const q = query === undefined || query.length === 0 ? '' : `?${new URLSearchParams(query.map(([k, v]) => [k, v])).toString()}`;
    return `${this.apiUrl}/${path}${q}`;
  }

  #apiHeaders(): Record<string, string> {
    return { Authorization: `token ${this.#token}`, 'Content-Type': 'application/x-protobuf', 'User-Agent': this.#userAgent };
  }

  /** Turns a non-2xx API answer into an error naming the request and status. */
  #statusError(res: AxiosResponse, what: string, label: string): QualcommHubError {
    const status = res.status;
    const text = new TextDecoder().decode(bodyBytes(res).subarray(0, 2000));
    let detail = text.trim();
    try {
      const json = JSON.parse(text) as { detail?: unknown };
      if (typeof json.detail === 'string') detail = json.detail;
    } catch {
      // not JSON: keep the text
    }
    if (detail.length > 300) detail = `${detail.slice(0, 300)}…`;
    const attempts = (res as AxiosResponse & { attempts?: number }).attempts ?? 1;
    const details = { status, request: label, attempts };
    const suffix = detail === '' ? '' : `: ${detail}`;
    if (status === 401 || status === 403) {
      return this.#error('ERR_HUB_AUTH', `${what}: AI Hub rejected the API token (HTTP ${status}, ${label})${suffix}`, details);
    }
    if (status === 426) {
      return this.#error(
        'ERR_HUB_REQUEST',
        `${what}: AI Hub no longer supports this client (HTTP 426 Upgrade Required, ${label}; User-Agent ${JSON.stringify(this.#userAgent)})${suffix}` +
          `${/[.!?]$/.test(suffix) ? '' : '.'} Upgrade demucs-mobile, or pass a newer userAgent`,
        details,
      );
    }
    if (status === 413) return this.#error('ERR_HUB_REQUEST', `${what}: the upload is too large for AI Hub (HTTP 413, ${label})${suffix}`, details);
    if (status === 404) return this.#error('ERR_HUB_REQUEST', `${what}: not found on AI Hub (HTTP 404, ${label})${suffix}`, details);
    const retried = RETRY_STATUSES.has(status) && attempts > 1 ? ` after ${attempts} attempts` : '';
    return this.#error('ERR_HUB_REQUEST', `${what}: AI Hub answered HTTP ${status}${retried} (${label})${suffix}`, details);
  }

  /** One API call: a protobuf body out, a protobuf reply in. */
  async #api<Out extends DescMessage>(
    method: Method,
    segments: readonly string[],
    reply: Out,
    what: string,
    options: {
      query?: readonly (readonly [string, string])[];
      body?: Uint8Array;
      signal?: AbortSignal | undefined;
      retryStatuses?: ReadonlySet<number>;
    } = {},
  ): Promise<MessageShape<Out>> {
    const url = this.#url(segments, options.query);
    const label = `${method} ${safePath(url)}`;
    const res = await this.#send({
      method,
      url,
      headers: this.#apiHeaders(),
      data: options.body ?? (method === 'GET' ? undefined : new Uint8Array(0)),
      timeoutMs: this.#timeoutMs,
      // Creating models or datasets twice leaves an unused object; only job creation (which
      // would run twice) must not be repeated after a request may have reached the server.
      idempotent: method !== 'POST' || segments[0] !== 'jobs',
      retryStatuses: options.retryStatuses ?? RETRY_STATUSES,
      what,
      signal: options.signal,
    });
    return this.#decode(res, reply, what, label);
  }

  #decode<Out extends DescMessage>(res: AxiosResponse, reply: Out, what: string, label: string): MessageShape<Out> {
    if (res.status < 200 || res.status >= 300) throw this.#statusError(res, what, label);
    const type = headerValue(res, 'content-type');
    if (type !== 'application/x-protobuf') {
      const excerpt = new TextDecoder().decode(bodyBytes(res).subarray(0, 120)).replace(/\s+/g, ' ').trim();
      throw this.#error(
        'ERR_HUB_REQUEST',
        `${what}: AI Hub answered HTTP ${res.status} with content type ${type === undefined ? '(none)' : JSON.stringify(type)}, not application/x-protobuf (${label})${excerpt === '' ? '' : `: ${excerpt}`}`,
        { status: res.status, request: label },
      );
    }
    try {
      return fromBinary(reply, bodyBytes(res));
    } catch (e) {
      throw this.#error('ERR_HUB_REQUEST', `${what}: AI Hub's reply is not a valid ${reply.typeName} (${label})`, { status: res.status, request: label }, (e as Error).message);
    }
  }

  /** A storage request (presigned URL): no token, its own timeout, retries on 5xx/network. */
  async #storage(method: Method, url: string, what: string, options: { data?: Uint8Array; headers?: Record<string, string>; signal?: AbortSignal | undefined }): Promise<AxiosResponse> {
    return this.#send({
      method,
      url,
      headers: options.headers ?? {},
      data: options.data,
      timeoutMs: this.#storageTimeoutMs,
      // Re-sending the same bytes to the same presigned URL writes the same object.
      idempotent: true,
      retryStatuses: RETRY_STATUSES,
      what,
      signal: options.signal,
    });
  }

  /** An error for a storage answer, with the S3 XML code and message when present. */
  #storageError(res: AxiosResponse, what: string, url: string): QualcommHubError {
    const text = new TextDecoder().decode(bodyBytes(res).subarray(0, 2000));
    const e = s3Error(text);
    const label = `${res.config.method?.toUpperCase() ?? ''} ${safePath(url)}`;
    return this.#error('ERR_HUB_REQUEST', `${what}: storage answered HTTP ${res.status} (${label})${e === undefined ? '' : `: ${e.code}: ${e.message}`}`, {
      status: res.status,
      request: label,
    });
  }

  // #endregion

  // #region Account and devices

  /**
   * The current user (a cheap way to check the token).
   *
   * @param signal - cancels the request.
   * @returns the user.
   */
  async getUser(signal?: AbortSignal): Promise<User> {
    return this.#api('GET', ['users', 'auth', 'user'], UserSchema, 'get the current user', { signal });
  }

  /**
   * Devices matching a query (only those available now when `select` is true).
   *
   * @param query - name, OS and attributes.
   * @param select - ask for available devices only (as the Python client before submitting).
   * @param signal - cancels the request.
   * @returns the matching devices.
   */
  async listDevices(query: DeviceQuery = {}, select = false, signal?: AbortSignal): Promise<Device[]> {
    const q: [string, string][] = [
      ['name', query.name ?? ''],
      ['os', query.os ?? ''],
      ['select', select ? 'True' : 'False'],
      ...(query.attributes ?? []).map((a): [string, string] => ['attributes', a]),
    ];
    const list = await this.#api('GET', ['devices'], DeviceListSchema, 'list devices', { query: q, signal });
    return list.devices;
  }

  /**
   * The QAIRT framework versions AI Hub offers.
   *
   * @param signal - cancels the request.
   * @returns the frameworks.
   */
  async listFrameworks(signal?: AbortSignal): Promise<Framework[]> {
    return (await this.#api('GET', ['frameworks'], FrameworkListSchema, 'list frameworks', { signal })).frameworks;
  }

  // #endregion

  // #region Models and datasets

  /**
   * A model's record.
   *
   * @param modelId - the model (`m…`).
   * @param signal - cancels the request.
   * @returns the model.
   */
  async getModel(modelId: string, signal?: AbortSignal): Promise<Model> {
    return this.#api('GET', ['models', modelId], ModelSchema, `get model ${modelId}`, { signal });
  }

  /**
   * A dataset's record.
   *
   * @param datasetId - the dataset (`d…`).
   * @param signal - cancels the request.
   * @returns the dataset.
   */
  async getDataset(datasetId: string, signal?: AbortSignal): Promise<Dataset> {
    return this.#api('GET', ['datasets', datasetId], DatasetSchema, `get dataset ${datasetId}`, { signal });
  }

  #created(res: CreateUpdateResponse, what: string): string {
    if (res.id === '') {
      const v = res.validationError;
      const fields = v === undefined ? [] : [...v.fieldErrors.map((f) => `${f.field}: ${f.messages.join(' ')}`), ...v.nonFieldErrors];
      throw this.#error('ERR_HUB_REQUEST', `${what}: AI Hub refused it: ${[res.status, ...fields].filter((s) => s !== '').join('; ') || 'no reason given'}`);
    }
    return res.id;
  }

  /**
   * Uploads a model: creates it, PUTs its parts to presigned URLs (keeping each part's
   * ETag), and completes the multipart upload. Parts are retried on 5xx and network errors;
   * when a URL has expired, new URLs are requested and the upload starts again.
   *
   * @param bytes - the model file (an `.onnx`, or a zipped directory with `isDirectory`).
   * @param options - name, type, signal.
   * @returns the model id (`m…`).
   * @throws QualcommHubError `ERR_HUB_REQUEST` when a request fails for good.
   */
  async uploadModel(bytes: Uint8Array, options: UploadModelOptions = {}): Promise<string> {
    const { signal } = options;
    const model = create(ModelSchema, { name: options.name ?? 'model.onnx', modelType: options.modelType ?? ModelType.ONNX, isDirectory: options.isDirectory ?? false });
    const id = this.#created(
      await this.#api('POST', ['models'], CreateUpdateResponseSchema, 'create a model', { body: toBinary(ModelSchema, model), signal }),
      'create a model',
    );
    for (let refresh = 0; ; refresh++) {
      const what = `upload model ${id}`;
      const urls = await this.#api('GET', ['models', id, 'multipart_upload'], FileMultipartUploadURLSchema, what, {
        query: [
          ['file_size', String(bytes.byteLength)],
          ['use_acceleration', String(this.#acceleration)],
        ],
        signal,
      });
      const partSize = Number(urls.maxPartSize);
      if (urls.urls.length === 0 || !(partSize > 0) || urls.urls.length * partSize < bytes.byteLength) {
        throw this.#error('ERR_HUB_REQUEST', `${what}: AI Hub gave ${urls.urls.length} part URLs of ${partSize} bytes for ${bytes.byteLength} bytes`);
      }
      try {
        const etags: string[] = [];
        for (let i = 0; i < urls.urls.length; i++) {
          const part = bytes.subarray(i * partSize, Math.min(bytes.byteLength, (i + 1) * partSize));
          etags.push(await this.#putPart(urls.urls[i]!, part, `${what}, part ${i + 1} of ${urls.urls.length}`, signal));
        }
        const complete = create(FileMultipartUploadCompleteSchema, { uploadId: urls.uploadId, etags });
        this.#created(
          await this.#api('POST', ['models', id, 'multipart_upload'], CreateUpdateResponseSchema, `complete ${what}`, {
            body: toBinary(FileMultipartUploadCompleteSchema, complete),
            signal,
          }),
          `complete ${what}`,
        );
        return id;
      } catch (e) {
        if (!(e instanceof ExpiredUrl) || refresh >= 3) {
          if (e instanceof ExpiredUrl) throw this.#error('ERR_HUB_REQUEST', `${what}: the presigned upload URLs kept expiring (${refresh + 1} sets)`);
          throw e;
        }
        this.#emit(`${what}: upload URL expired; asking for new URLs`);
      }
    }
  }

  async #putPart(url: string, part: Uint8Array, what: string, signal: AbortSignal | undefined): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.#storage('PUT', url, what, { data: part, signal });
      const text = res.status >= 300 ? new TextDecoder().decode(bodyBytes(res).subarray(0, 2000)) : '';
      if (isExpired(res.status, text)) throw new ExpiredUrl(what);
      if (res.status < 200 || res.status >= 300) throw this.#storageError(res, what, url);
      const etag = headerValue(res, 'etag');
      if (etag !== undefined && etag !== '') return etag;
      if (attempt > this.#retries) throw this.#error('ERR_HUB_REQUEST', `${what}: storage returned no ETag (${attempt} attempts)`, { status: res.status, request: `PUT ${safePath(url)}` });
      this.#emit(`${what}: no ETag in the answer; retry ${attempt}/${this.#retries}`);
      await sleep(this.#backoff(attempt), undefined, signal === undefined ? {} : { signal });
    }
  }

  /**
   * Uploads a dataset file (see `writeDataset`): creates the dataset, POSTs the file as the
   * presigned form asks, and confirms the upload. An expired form URL is replaced and the
   * POST repeated.
   *
   * @param h5 - the `.h5` file.
   * @param options - name, permanence, signal.
   * @returns the dataset id (`d…`).
   * @throws QualcommHubError `ERR_HUB_REQUEST` when a request fails for good.
   */
  async uploadDataset(h5: Uint8Array, options: UploadDatasetOptions = {}): Promise<string> {
    const { signal } = options;
    const dataset = create(DatasetSchema, { name: options.name ?? 'h5-dataset', permanent: options.permanent ?? false });
    const id = this.#created(
      await this.#api('POST', ['datasets'], CreateUpdateResponseSchema, 'create a dataset', { body: toBinary(DatasetSchema, dataset), signal }),
      'create a dataset',
    );
    const what = `upload dataset ${id}`;
    for (let refresh = 0; ; refresh++) {
      const form = await this.#api('GET', ['datasets', id, 'upload_url'], FileUploadURLSchema, what, {
        query: [
          ['use_acceleration', String(this.#acceleration)],
          ['file_size', String(h5.byteLength)],
        ],
        signal,
      });
      const { body, contentType } = multipartForm(form.fields, form.fileFieldName || 'file', 'model', h5);
      const res = await this.#storage('POST', form.url, what, { data: body, headers: { 'Content-Type': contentType }, signal });
      const text = res.status >= 300 ? new TextDecoder().decode(bodyBytes(res).subarray(0, 2000)) : '';
      if (isExpired(res.status, text)) {
        if (refresh >= 3) throw this.#error('ERR_HUB_REQUEST', `${what}: the presigned upload form kept expiring (${refresh + 1} forms)`);
        this.#emit(`${what}: upload form expired; asking for a new one`);
        continue;
      }
      if (res.status < 200 || res.status >= 300) throw this.#storageError(res, what, form.url);
      break;
    }
    const done = create(DatasetSchema, { fileUploadComplete: true });
    this.#created(
      await this.#api('PATCH', ['datasets', id], CreateUpdateResponseSchema, `confirm ${what}`, { body: toBinary(DatasetSchema, done), signal }),
      `confirm ${what}`,
    );
    return id;
  }

  /** GETs a presigned download URL, asking for a new one when it has expired. */
  async #download(segments: readonly string[], what: string, signal: AbortSignal | undefined, query: readonly (readonly [string, string])[] = []): Promise<HubDownload> {
    for (let refresh = 0; ; refresh++) {
      const link = await this.#api('GET', segments, FileDownloadURLSchema, what, { query, signal });
      const res = await this.#storage('GET', link.url, what, { signal });
      const bytes = bodyBytes(res);
      if (isExpired(res.status, res.status >= 300 ? new TextDecoder().decode(bytes.subarray(0, 2000)) : '')) {
        if (refresh >= 3) throw this.#error('ERR_HUB_REQUEST', `${what}: the presigned download URL kept expiring`);
        continue;
      }
      if (res.status < 200 || res.status >= 300) throw this.#storageError(res, what, link.url);
      return { bytes, filename: link.filename };
    }
  }

  /**
   * Downloads a model file (a compiled model: `.dlc`, `.bin`, `.tflite` or `.onnx.zip`).
   *
   * @param modelId - the model.
   * @param signal - cancels the download.
   * @returns the bytes and file name.
   */
  async downloadModel(modelId: string, signal?: AbortSignal): Promise<HubDownload> {
    return this.#download(['models', modelId, 'download'], `download model ${modelId}`, signal, [['use_acceleration', String(this.#acceleration)]]);
  }

  /**
   * Downloads a dataset file (read it with `readDataset`).
   *
   * @param datasetId - the dataset.
   * @param signal - cancels the download.
   * @returns the `.h5` bytes and file name.
   */
  async downloadDataset(datasetId: string, signal?: AbortSignal): Promise<HubDownload> {
    return this.#download(['datasets', datasetId, 'download_data'], `download dataset ${datasetId}`, signal, [['use_acceleration', String(this.#acceleration)]]);
  }

  // #endregion

  // #region Jobs

  /**
   * Submits a job (the body of POST /jobs/). A 429 answer is retried with the rate-limit
   * back-off (20 s, 40 s, 60 s, … for up to 10 min by default); 5xx answers as any request.
   *
   * @param job - the job message with one of its oneof cases set.
   * @param signal - cancels the submission.
   * @returns the job id (`j…`).
   * @throws QualcommHubError `ERR_HUB_JOB` when AI Hub refuses the job (its reason in the
   *   message), `ERR_HUB_REQUEST` when the request fails for good.
   */
  async submitJob(job: MessageInitShape<typeof JobSchema>, signal?: AbortSignal): Promise<string> {
    const message = create(JobSchema, job);
    const kind = message.job.case?.replace(/Job$/, '') ?? 'unknown';
    const what = `submit a ${kind} job`;
    const body = toBinary(JobSchema, message);
    const url = this.#url(['jobs']);
    const label = `POST ${safePath(url)}`;
    const started = Date.now();
    for (let round = 0; ; round++) {
      const res = await this.#send({
        method: 'POST',
        url,
        headers: this.#apiHeaders(),
        data: body,
        timeoutMs: this.#timeoutMs,
        idempotent: false,
        retryStatuses: JOB_RETRY_STATUSES,
        what,
        signal,
      });
      if (res.status === 429) {
        const wait = retryAfterMs(res) ?? this.#rateDelays[Math.min(round, this.#rateDelays.length - 1)]!;
        if (Date.now() - started + wait <= this.#rateTimeoutMs) {
          this.#emit(`${what}: rate limited (HTTP 429); retry in ${wait} ms`);
          await sleep(wait, undefined, signal === undefined ? {} : { signal });
          continue;
        }
      }
      const reply = this.#decode(res, CreateUpdateResponseSchema, what, label);
      if (reply.id === '') {
        const v = reply.validationError;
        const fields = v === undefined ? [] : [...v.fieldErrors.map((f) => `${f.field}: ${f.messages.join(' ')}`), ...v.nonFieldErrors];
        throw this.#error('ERR_HUB_JOB', `AI Hub refused to create the ${kind} job: ${[reply.status, ...fields].filter((s) => s !== '').join('; ') || 'no reason given'}`, {
          jobType: kind,
          request: label,
        });
      }
      this.#emit(`${kind} job ${reply.id} created: ${this.jobUrl(reply.id)}`);
      return reply.id;
    }
  }

  /**
   * Submits a compile job.
   *
   * @param request - model, device, input specs, options and calibration data.
   * @param signal - cancels the submission.
   * @returns the job id.
   */
  async submitCompileJob(request: CompileJobRequest, signal?: AbortSignal): Promise<string> {
    return this.submitJob(
      {
        job: {
          case: 'compileJob',
          value: {
            model: { modelId: request.modelId },
            name: request.name ?? '',
            devices: { devices: [deviceMessage(request.device)] },
            ...(request.inputSpecs === undefined
              ? {}
              : { tensorTypeList: { types: request.inputSpecs.map((s) => ({ name: s.name, tensorType: { shape: s.shape.map(BigInt), dtype: DTYPE_ENUM[s.dtype ?? 'float32'] } })) } }),
            options: (request.options ?? '').trim(),
            ...(request.calibrationDatasetId === undefined ? {} : { calibrationDataset: { datasetId: request.calibrationDatasetId } }),
          },
        },
      },
      signal,
    );
  }

  /**
   * Submits a profile job.
   *
   * @param request - model, device and options.
   * @param signal - cancels the submission.
   * @returns the job id.
   */
  async submitProfileJob(request: ProfileJobRequest, signal?: AbortSignal): Promise<string> {
    return this.submitJob(
      { job: { case: 'profileJob', value: { model: { modelId: request.modelId }, name: request.name ?? '', device: deviceMessage(request.device), options: (request.options ?? '').trim() } } },
      signal,
    );
  }

  /**
   * Submits an inference job.
   *
   * @param request - model, device, input dataset and options.
   * @param signal - cancels the submission.
   * @returns the job id.
   */
  async submitInferenceJob(request: InferenceJobRequest, signal?: AbortSignal): Promise<string> {
    return this.submitJob(
      {
        job: {
          case: 'inferenceJob',
          value: {
            model: { modelId: request.modelId },
            name: request.name ?? '',
            device: deviceMessage(request.device),
            dataset: { datasetId: request.datasetId },
            options: (request.options ?? '').trim(),
          },
        },
      },
      signal,
    );
  }

  /**
   * A job's current record.
   *
   * @param jobId - the job (`j…`).
   * @param signal - cancels the request.
   * @returns the job.
   */
  async getJob(jobId: string, signal?: AbortSignal): Promise<Job> {
    return this.#api('GET', ['jobs', jobId], JobSchema, `get job ${jobId}`, { signal });
  }

  /**
   * A finished job's result.
   *
   * @param jobId - the job.
   * @param signal - cancels the request.
   * @returns the result (its oneof case matches the job's kind).
   */
  async getJobResult(jobId: string, signal?: AbortSignal): Promise<JobResult> {
    return this.#api('GET', ['jobs', jobId, 'result'], JobResultSchema, `get the result of job ${jobId}`, { signal });
  }

  /**
   * Polls a job until it is DONE, with a growing interval and a bounded total wait.
   *
   * @param jobId - the job.
   * @param options - intervals, the wait limit, a signal and a state callback.
   * @returns the finished job.
   * @throws QualcommHubError `ERR_HUB_JOB` when the job ends FAILED (naming the job, its
   *   state, failure type and reason), `ERR_HUB_TIMEOUT` when the wait limit passes first
   *   (the job keeps running; wait again to resume).
   */
  async waitForJob(jobId: string, options: WaitForJobOptions = {}): Promise<Job> {
    const intervalMs = options.intervalMs ?? this.#poll.intervalMs;
    const factor = options.backoff ?? this.#poll.backoff;
    const maxIntervalMs = options.maxIntervalMs ?? this.#poll.maxIntervalMs;
    const timeoutMs = options.timeoutMs ?? this.#poll.timeoutMs;
    const { signal } = options;
    const started = Date.now();
    let wait = intervalMs;
    let last: string | undefined;
    for (;;) {
      const job = await this.getJob(jobId, signal);
      const { type, fields } = jobParts(job);
      const state = jobStateName(fields.jobState);
      if (state !== last) {
        last = state;
        this.#emit(`${type} job ${jobId}: ${state}`);
        options.onState?.({ jobId, jobType: type, state });
      }
      if (fields.jobState === JobState.DONE) return job;
      if (fields.jobState === JobState.FAILED) throw this.jobFailure(job);
      const elapsed = Date.now() - started;
      if (elapsed >= timeoutMs) {
        throw this.#error(
          'ERR_HUB_TIMEOUT',
          `${type} job ${jobId} is still ${state} after ${(elapsed / 1000).toFixed(1)} s (the wait limit); it keeps running on AI Hub: wait again to resume (${this.jobUrl(jobId)})`,
          { jobId, jobType: type, jobState: state },
        );
      }
      await sleep(Math.min(wait, timeoutMs - elapsed), undefined, signal === undefined ? {} : { signal });
      wait = Math.min(maxIntervalMs, wait * factor);
    }
  }

  /**
   * The error for a FAILED job: its kind, id, state, failure type and reason, and its link.
   *
   * @param job - a job in state FAILED.
   * @returns an `ERR_HUB_JOB` error.
   */
  jobFailure(job: Job): QualcommHubError {
    const { type, fields, id } = jobParts(job);
    const failureType = JobFailureType[job.failureType] ?? String(job.failureType);
    const reason = fields.failureReason ?? '';
    const state = jobStateName(fields.jobState);
    return this.#error(
      'ERR_HUB_JOB',
      `${type} job ${id} ${state}${job.failureType === JobFailureType.UNSPECIFIED ? '' : ` (${failureType})`}: ${reason || 'no reason given'} (${this.jobUrl(id)})`,
      { jobId: id, jobType: type, jobState: state, failureType, failureReason: reason },
    );
  }

  /**
   * The web page of a job.
   *
   * @param jobId - the job.
   * @returns `{webUrl}/jobs/{jobId}/`.
   */
  jobUrl(jobId: string): string {
    return `${this.webUrl}/jobs/${jobId}/`;
  }

  // #endregion
}

/** A `Device` message for a query. */
function deviceMessage(query: DeviceQuery): MessageInitShape<typeof DeviceSchema> {
  return { name: query.name ?? '', os: query.os ?? '', attributes: [...(query.attributes ?? [])] };
}

/**
 * A multipart/form-data body as an S3 presigned POST wants it: the policy fields first, then
 * the file (qai-hub sends the file name `model` and guesses the content type from it).
 */
function multipartForm(fields: Record<string, string>, fileField: string, filename: string, file: Uint8Array): { body: Uint8Array; contentType: string } {
  const boundary = `----demucs-mobile-${randomBytes(12).toString('hex')}`;
  const enc = new TextEncoder();
  const quote = (s: string) => s.replace(/["\r\n]/g, (c) => encodeURIComponent(c));
  const parts: Uint8Array[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`));
  }
  parts.push(enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${quote(fileField)}"; filename="${quote(filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
  parts.push(file);
  parts.push(enc.encode(`\r\n--${boundary}--\r\n`));
  const body = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.byteLength;
  }
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}
