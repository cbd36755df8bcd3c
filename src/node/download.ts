/**
 * Resumable, verified HTTP(S) downloads of model files. Node only.
 *
 * Bytes go to `<dest>.partial`, with the server's validator and size in
 * `<dest>.partial.json`; a dropped connection is resumed with a `Range` request (guarded by
 * `If-Range`), in this process or the next one. The file is renamed to `dest` only when it is
 * complete and its sha256 matches, so `dest` never holds a partial or wrong file.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DemucsError } from '../core/errors.js';

/** Progress of a {@link download}. */
export interface DownloadProgress {
  /** Bytes of the file received so far, a resumed prefix included. */
  readonly receivedBytes: number;
  /** Size of the file, when the server said. */
  readonly totalBytes: number | undefined;
  /** Where the current response started (0, or the offset of a resumed request). */
  readonly resumedFromBytes: number;
}

/** Options of {@link download}. */
export interface DownloadOptions {
  /**
   * Expected sha256 of the file, hex. On a mismatch the download is deleted and
   * `ERR_MODEL_CHECKSUM` thrown.
   * @defaultValue no check (the digest is still returned)
   */
  readonly sha256?: string | undefined;
  /**
   * Expected size in bytes; a server announcing or sending another size fails the download.
   * @defaultValue whatever the server sends
   */
  readonly expectedBytes?: number | undefined;
  /** Called as bytes arrive. */
  readonly onProgress?: ((progress: DownloadProgress) => void) | undefined;
  /** Stops the download; the partial file is kept so a later call resumes it. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Attempts after a failure (network error, stall, HTTP 5xx/429) before giving up. An
   * attempt that received bytes resets the count, so a connection that keeps dropping still
   * finishes while it makes progress.
   * @defaultValue 5
   */
  readonly retries?: number | undefined;
  /**
   * Milliseconds without a byte (while connecting, waiting for headers or reading the body)
   * after which an attempt fails.
   * @defaultValue 30000
   */
  readonly timeoutMs?: number | undefined;
  /**
   * Delay before the first retry; doubled for each further consecutive failure, at most 30 s
   * (a server's `Retry-After` of up to 60 s is honoured).
   * @defaultValue 1000
   */
  readonly retryDelayMs?: number | undefined;
  /**
   * Redirects followed per request.
   * @defaultValue 10
   */
  readonly maxRedirects?: number | undefined;
}

/** What {@link download} wrote. */
export interface DownloadResult {
  /** The destination path. */
  readonly path: string;
  /** Size in bytes. */
  readonly bytes: number;
  /** sha256 of the file, lower-case hex. */
  readonly sha256: string;
  /** How many times the transfer was resumed with a `Range` request. */
  readonly resumes: number;
}

/** What `<dest>.partial.json` remembers about a partial download. */
interface PartialState {
  readonly url: string;
  /** Strong ETag or Last-Modified of the response the partial bytes came from. */
  readonly validator?: string | undefined;
  readonly totalBytes?: number | undefined;
}

/** A failure worth another attempt (network, stall, 5xx). */
class RetryableError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { cause?: unknown; retryAfterMs?: number | undefined } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The transfer asked to start again from byte 0 (the resource changed, or a range was refused). */
class RestartSignal extends Error {}

const STATUS_TEXT: Record<number, string> = { 404: 'Not Found', 403: 'Forbidden', 401: 'Unauthorized', 410: 'Gone', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

function describeStatus(res: IncomingMessage): string {
  const status = res.statusCode ?? 0;
  const text = res.statusMessage || STATUS_TEXT[status] || '';
  return `HTTP ${status}${text === '' ? '' : ` ${text}`}`;
}

function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 425 || status === 429;
}

/** Network errors that are not worth retrying. */
const PERMANENT_NETWORK_CODES = new Set(['ENOTFOUND', 'ERR_INVALID_URL', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID']);

function retryAfterMs(res: IncomingMessage): number | undefined {
  const header = res.headers['retry-after'];
  if (header === undefined) return undefined;
  const seconds = /^\d+$/.test(header) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.min(Math.max(0, seconds), 60) * 1000 : undefined;
}

/** `Content-Range: bytes <start>-<end>/<total|*>` or `bytes *\/<total>`. */
function parseContentRange(header: string | undefined): { start?: number; total?: number } | undefined {
  const m = header === undefined ? null : /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(header.trim());
  if (m === null) return undefined;
  const out: { start?: number; total?: number } = {};
  if (m[1] !== undefined) out.start = Number(m[1]);
  if (m[3] !== '*') out.total = Number(m[3]);
  return out;
}

/** The validator to resume against: a strong ETag, else Last-Modified. */
function validatorOf(res: IncomingMessage): string | undefined {
  const etag = res.headers.etag;
  if (etag !== undefined && !etag.startsWith('W/')) return etag;
  return res.headers['last-modified'];
}

function contentLength(res: IncomingMessage): number | undefined {
  const header = res.headers['content-length'];
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
}

/** Sends a GET, following redirects; resolves with the final response. */
function get(url: URL, headers: Record<string, string>, options: { timeoutMs: number; maxRedirects: number; signal: AbortSignal | undefined }, redirects = 0): Promise<IncomingMessage> {
  return new Promise((resolvePromise, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
    if (send === undefined) {
      reject(new DemucsError('ERR_MODEL_DOWNLOAD', `cannot download ${url.href}: only http and https URLs are supported`));
      return;
    }
    const req = send(url, { method: 'GET', headers, agent: false, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    let response: IncomingMessage | undefined;
    // A socket timeout: it guards connecting, waiting for headers and every pause in the body.
    req.setTimeout(options.timeoutMs, () => {
      const e = new RetryableError(`no data from ${url.host} for ${options.timeoutMs} ms`);
      response?.destroy(e);
      req.destroy(e);
    });
    req.on('error', (e) => {
      if (e instanceof RetryableError || e.name === 'AbortError') reject(e);
      else if (PERMANENT_NETWORK_CODES.has((e as NodeJS.ErrnoException).code ?? '')) reject(new DemucsError('ERR_MODEL_DOWNLOAD', `cannot download ${url.href}: ${e.message}`, { cause: e }));
      else reject(new RetryableError(e.message, { cause: e }));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location !== undefined) {
        res.resume();
        req.destroy();
        if (redirects >= options.maxRedirects) {
          reject(new DemucsError('ERR_MODEL_DOWNLOAD', `download of ${url.href} failed: more than ${options.maxRedirects} redirects`));
          return;
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch (e) {
          reject(new DemucsError('ERR_MODEL_DOWNLOAD', `download of ${url.href} failed: bad redirect location ${JSON.stringify(location)}`, { cause: e }));
          return;
        }
        if (url.protocol === 'https:' && next.protocol !== 'https:') {
          reject(new DemucsError('ERR_MODEL_DOWNLOAD', `download of ${url.href} failed: refusing a redirect from https to ${next.href}`));
          return;
        }
        get(next, headers, options, redirects + 1).then(resolvePromise, reject);
        return;
      }
      response = res;
      resolvePromise(res);
    });
    req.end();
  });
}

/** Queued body bytes above which the response is paused (the disk is slower than the network). */
const QUEUE_HIGH_WATER = 8 * 1024 * 1024;

/**
 * The body's chunks, read eagerly into a queue. When a connection drops, Node discards what
 * is still buffered inside the response; taking every chunk as it arrives means whatever
 * reached this process is written and needs no second transfer. The error, if any, comes
 * after the last received chunk.
 */
function bodyChunks(res: IncomingMessage): AsyncIterator<Buffer> {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let error: unknown;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  res.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued >= QUEUE_HIGH_WATER) res.pause();
    notify();
  });
  res.on('end', () => {
    ended = true;
    notify();
  });
  res.on('error', (e) => {
    error ??= e;
    notify();
  });
  res.on('close', () => {
    if (!ended) error ??= new Error('connection closed before the end of the body');
    notify();
  });
  return {
    async next(): Promise<IteratorResult<Buffer>> {
      for (;;) {
        const chunk = queue.shift();
        if (chunk !== undefined) {
          queued -= chunk.length;
          if (res.isPaused() && queued < QUEUE_HIGH_WATER / 2) res.resume();
          return { done: false, value: chunk };
        }
        if (error !== undefined) throw error;
        if (ended) return { done: true, value: undefined };
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

/** One file's transfer: the partial file, its running hash and what is known of the resource. */
class Transfer {
  readonly url: URL;
  readonly dest: string;
  readonly partial: string;
  readonly statePath: string;
  readonly options: DownloadOptions;
  offset = 0;
  hash: Hash = createHash('sha256');
  state: PartialState | undefined;
  resumes = 0;

  constructor(url: URL, dest: string, options: DownloadOptions) {
    this.url = url;
    this.dest = dest;
    this.partial = `${dest}.partial`;
    this.statePath = `${dest}.partial.json`;
    this.options = options;
  }

  /** Picks up a partial file left by an earlier attempt at the same URL. */
  async load(): Promise<void> {
    const state = await readFile(this.statePath, 'utf8')
      .then((s) => JSON.parse(s) as PartialState)
      .catch(() => undefined);
    const size = (await stat(this.partial).catch(() => undefined))?.size ?? 0;
    const expected = this.options.expectedBytes;
    if (state?.url !== this.url.href || size === 0 || (expected !== undefined && size > expected) || (state.totalBytes !== undefined && size > state.totalBytes)) {
      await this.reset();
      return;
    }
    this.state = state;
    // The running hash must cover the bytes already on disk.
    for await (const chunk of createReadStream(this.partial, { end: size - 1 })) this.hash.update(chunk as Buffer);
    this.offset = size;
  }

  async reset(): Promise<void> {
    this.offset = 0;
    this.hash = createHash('sha256');
    this.state = undefined;
    await rm(this.partial, { force: true });
    await rm(this.statePath, { force: true });
  }

  /** Deletes every trace of the download. */
  async discard(): Promise<void> {
    await this.reset();
  }

  get complete(): boolean {
    return this.state?.totalBytes !== undefined && this.offset === this.state.totalBytes;
  }

  /** One request: appends what arrives; returns when the file is complete. */
  async attempt(timeoutMs: number, maxRedirects: number): Promise<void> {
    const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'demucs-mobile' };
    if (this.offset > 0) {
      headers.range = `bytes=${this.offset}-`;
      if (this.state?.validator !== undefined) headers['if-range'] = this.state.validator;
    }
    const res = await get(this.url, headers, { timeoutMs, maxRedirects, signal: this.options.signal });
    try {
      await this.#receive(res);
    } finally {
      res.destroy();
    }
  }

  async #receive(res: IncomingMessage): Promise<void> {
    const status = res.statusCode ?? 0;
    const href = this.url.href;
    const expected = this.options.expectedBytes;
    if (status === 416 && this.offset > 0) {
      // The range starts at or past the end: complete if the server's size is ours.
      const total = parseContentRange(res.headers['content-range'])?.total;
      if (total === this.offset && (expected === undefined || expected === total)) {
        this.state = { ...this.state!, totalBytes: total };
        return;
      }
      await this.reset();
      throw new RestartSignal();
    }
    if (status !== 200 && status !== 206) {
      const what = describeStatus(res);
      if (isRetryableStatus(status)) throw new RetryableError(what, { retryAfterMs: retryAfterMs(res) });
      await this.discard();
      throw new DemucsError('ERR_MODEL_DOWNLOAD', `download of ${href} failed: ${what}`);
    }
    const validator = validatorOf(res);
    let total: number | undefined;
    if (status === 206) {
      const range = parseContentRange(res.headers['content-range']);
      const known = this.state;
      const changed =
        range?.start !== this.offset ||
        (known?.totalBytes !== undefined && range.total !== undefined && range.total !== known.totalBytes) ||
        (known?.validator !== undefined && validator !== undefined && validator !== known.validator);
      if (changed) {
        // Not the continuation of our bytes (the file changed, or the server ignored If-Range).
        await this.reset();
        throw new RestartSignal();
      }
      total = range.total ?? known?.totalBytes;
      this.resumes++;
    } else {
      if (this.offset > 0) await this.reset(); // the server sent the whole file again
      const length = contentLength(res);
      total = length;
    }
    if (expected !== undefined && total !== undefined && total !== expected) {
      await this.discard();
      throw new DemucsError('ERR_MODEL_DOWNLOAD', `download of ${href} failed: the server sends ${total} bytes, expected ${expected}`);
    }
    this.state = { url: href, validator, totalBytes: total };
    await writeFile(this.statePath, JSON.stringify(this.state));

    const start = this.offset;
    const file: FileHandle = await open(this.partial, start === 0 ? 'w' : 'a');
    try {
      const chunks = bodyChunks(res);
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await chunks.next();
        } catch (e) {
          if (e instanceof RetryableError || (e instanceof Error && e.name === 'AbortError')) throw e;
          throw new RetryableError(`connection lost after ${this.offset} bytes (${e instanceof Error ? e.message : String(e)})`, { cause: e });
        }
        if (next.done) break;
        const chunk = next.value;
        if (total !== undefined && this.offset + chunk.length > total) {
          await this.reset();
          throw new RetryableError(`the server sent more than the ${total} bytes it announced`);
        }
        // Written before hashed: after a failure, the hash covers exactly the bytes on disk.
        await file.write(chunk);
        this.hash.update(chunk);
        this.offset += chunk.length;
        this.options.onProgress?.({ receivedBytes: this.offset, totalBytes: total, resumedFromBytes: start });
      }
      if (total !== undefined && this.offset < total) throw new RetryableError(`connection closed after ${this.offset} of ${total} bytes`);
      if (total === undefined) this.state = { ...this.state, totalBytes: this.offset };
      await file.datasync();
    } finally {
      await file.close();
    }
  }
}

/**
 * Takes `<target>.lock` (holding this process's id) so two processes never write the same
 * partial file; a lock left by a process that no longer runs is taken over.
 *
 * @param target - the file being produced.
 * @returns a function that releases the lock.
 * @throws DemucsError `ERR_MODEL_DOWNLOAD` while a live process holds the lock.
 * @internal
 */
export async function lockFile(target: string): Promise<() => Promise<void>> {
  const path = `${target}.lock`;
  for (let tries = 0; ; tries++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) throw e;
    }
    const pid = Number(await readFile(path, 'utf8').catch(() => ''));
    let alive = false;
    if (Number.isSafeInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (alive) {
      throw new DemucsError(
        'ERR_MODEL_DOWNLOAD',
        `${JSON.stringify(target)} is being downloaded by another process (pid ${pid}); wait for it, or delete ${JSON.stringify(path)} if that process is gone`,
      );
    }
    await rm(path, { force: true }); // left by a process that died
  }
}

/**
 * Downloads `url` to `dest`: streamed to `<dest>.partial`, resumed with HTTP `Range` after a
 * dropped or stalled connection (with backoff, here or in a later call), redirects followed,
 * the sha256 computed while streaming, and renamed into place only when complete and verified.
 *
 * @example
 * ```ts
 * const { path } = await download('https://example.com/model.onnx', '/tmp/model.onnx', {
 *   sha256: 'da9e51…',
 *   onProgress: (p) => console.log(p.receivedBytes, p.totalBytes),
 * });
 * ```
 *
 * @param url - an http or https URL.
 * @param dest - where the file goes; its folder is created.
 * @param options - checksum, size, progress, abort signal, retry and timeout settings.
 * @returns the path, size, sha256 and resume count.
 * @throws DemucsError `ERR_MODEL_CHECKSUM` naming the URL and both digests when the sha256
 * differs (nothing is kept); `ERR_MODEL_DOWNLOAD` naming the URL and the HTTP status or network
 * failure (after a network failure the partial file is kept, so a later call resumes).
 * @throws the signal's reason when aborted.
 */
export async function download(url: string | URL, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const target = new URL(url);
  target.hash = '';
  const expectedSha = options.sha256?.toLowerCase();
  if (expectedSha !== undefined && !/^[0-9a-f]{64}$/.test(expectedSha)) throw new TypeError(`sha256 (${JSON.stringify(options.sha256)}) must be 64 hex digits`);
  const retries = options.retries ?? 5;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const maxRedirects = options.maxRedirects ?? 10;
  if (!Number.isSafeInteger(retries) || retries < 0) throw new RangeError(`retries must be a non-negative integer (got ${retries})`);
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive (got ${timeoutMs})`);
  options.signal?.throwIfAborted();

  await mkdir(dirname(dest), { recursive: true });
  const unlock = await lockFile(dest);
  try {
    const transfer = new Transfer(target, dest, options);
    await transfer.load();
    let failures = 0;
    while (!transfer.complete) {
      const before = transfer.offset;
      try {
        await transfer.attempt(timeoutMs, maxRedirects);
        if (!transfer.complete) throw new RetryableError('the transfer ended early');
      } catch (e) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (e instanceof RestartSignal) continue;
        if (!(e instanceof RetryableError)) throw e;
        failures = transfer.offset > before ? 1 : failures + 1;
        if (failures > retries) {
          const kept = transfer.offset > 0 ? `; ${transfer.offset} bytes are kept in ${JSON.stringify(transfer.partial)} and the next attempt resumes from there` : '';
          throw new DemucsError('ERR_MODEL_DOWNLOAD', `download of ${target.href} failed after ${failures} attempt${failures === 1 ? '' : 's'}: ${e.message}${kept}`, { cause: e });
        }
        const delay = Math.max(Math.min(retryDelayMs * 2 ** (failures - 1), 30_000), e.retryAfterMs ?? 0);
        await sleep(delay, undefined, options.signal === undefined ? undefined : { signal: options.signal }).catch(() => {
          throw options.signal?.reason;
        });
      }
    }
    const bytes = transfer.offset;
    if (options.expectedBytes !== undefined && bytes !== options.expectedBytes) {
      await transfer.discard();
      throw new DemucsError('ERR_MODEL_DOWNLOAD', `download of ${target.href} failed: got ${bytes} bytes, expected ${options.expectedBytes}`);
    }
    const actual = transfer.hash.digest('hex');
    if (expectedSha !== undefined && actual !== expectedSha) {
      await transfer.discard();
      throw new DemucsError('ERR_MODEL_CHECKSUM', `sha256 of ${target.href} is ${actual}, expected ${expectedSha}; the download was deleted`);
    }
    await rename(transfer.partial, dest);
    await rm(transfer.statePath, { force: true });
    return { path: dest, bytes, sha256: actual, resumes: transfer.resumes };
  } finally {
    await unlock();
  }
}
