/**
 * Model bytes for browsers and workers: downloaded once with progress, checked against a
 * pinned sha256 with `crypto.subtle`, and kept in the Cache API for later visits.
 */
import { DemucsError, describeValue } from '../core/errors.js';

/** The Cache API cache {@link fetchModel} uses unless told otherwise. */
export const MODEL_CACHE_NAME = 'demucs-mobile-models';

/** Where a model download stands. */
export interface ModelDownloadProgress {
  /** Bytes received (or read from the cache) so far. */
  readonly loaded: number;
  /** Bytes in the whole file, when the server says (`Content-Length`) or the cache knows. */
  readonly total: number | undefined;
  /** Whether the bytes come from the cache rather than the network. */
  readonly fromCache: boolean;
}

/** Options of {@link fetchModel}. */
export interface FetchModelOptions {
  /**
   * The model's expected sha256 (64 hex digits). The bytes are checked with `crypto.subtle`
   * after the download and after every read from the cache, and the digest is part of the
   * cache key, so a new pin never reuses an old file.
   * @defaultValue no check, cached by URL alone
   */
  readonly sha256?: string;
  /**
   * The Cache API cache to keep the model in: a cache name, or `false` for no caching.
   * @defaultValue {@link MODEL_CACHE_NAME}
   */
  readonly cache?: string | false;
  /** Called as bytes arrive: at most every 100 ms or 1 %, and always once at the end. */
  readonly onProgress?: (progress: ModelDownloadProgress) => void;
  /** Cancels the download; the call then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** What {@link fetchModel} delivers. */
export interface FetchedModel {
  /** The model file. */
  readonly bytes: Uint8Array;
  /** Whether the bytes came from the cache. */
  readonly fromCache: boolean;
  /**
   * What happened with the cache: `'hit'` (read from it), `'stored'` (downloaded and kept),
   * `'off'` (`cache: false`), or `'unavailable'` (no Cache API here, or storing failed; see
   * {@link FetchedModel.cacheNote}).
   */
  readonly cache: 'hit' | 'stored' | 'off' | 'unavailable';
  /** Why the cache was not used, when {@link FetchedModel.cache} is `'unavailable'`. */
  readonly cacheNote?: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/** The part of the Cache API this module uses. */
interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete(request: string): Promise<boolean>;
}

/** The cache key of a model: its absolute URL, plus its pinned digest when there is one. */
function cacheKey(url: URL, sha256: string | undefined): string {
  if (sha256 === undefined) return url.href;
  const key = new URL(url.href);
  key.hash = '';
  key.searchParams.append('demucs-mobile-sha256', sha256.toLowerCase());
  return key.href;
}

function absoluteUrl(url: string | URL): URL {
  if (url instanceof URL) return url;
  if (typeof url !== 'string') throw new TypeError(`url must be a string or a URL (got ${describeValue(url)})`);
  const base = (globalThis as { location?: { href: string } }).location?.href;
  try {
    return base === undefined ? new URL(url) : new URL(url, base);
  } catch {
    throw new TypeError(`url (${JSON.stringify(url)}) is not a valid URL`);
  }
}

async function openCache(name: string | false): Promise<{ cache?: CacheLike; note?: string }> {
  if (name === false) return {};
  const storage = (globalThis as { caches?: { open(name: string): Promise<CacheLike> } }).caches;
  if (storage === undefined) {
    return { note: 'the Cache API is unavailable here (globalThis.caches is undefined; it needs a secure context: https or localhost)' };
  }
  try {
    return { cache: await storage.open(name) };
  } catch (e) {
    return { note: `caches.open(${JSON.stringify(name)}) failed: ${errorText(e)}` };
  }
}

/**
 * The sha256 of some bytes as lower-case hex, with `crypto.subtle` (browsers in a secure
 * context, workers, Node).
 *
 * @param bytes - the data.
 * @returns 64 hex digits.
 * @throws DemucsError `ERR_MODEL_CHECKSUM` when `crypto.subtle` is unavailable (an insecure
 *   context), since the model then cannot be checked.
 */
export async function sha256Digest(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) {
    throw new DemucsError(
      'ERR_MODEL_CHECKSUM',
      'cannot check the model\'s sha256: crypto.subtle is unavailable (the page is not a secure context; serve it over https or from localhost)',
    );
  }
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/**
 * Checks bytes against a pinned sha256.
 *
 * @throws DemucsError `ERR_MODEL_CHECKSUM` naming both digests.
 * @internal
 */
export async function checkSha256(bytes: Uint8Array, expected: string, what: string): Promise<void> {
  const actual = await sha256Digest(bytes);
  if (actual !== expected.toLowerCase()) {
    throw new DemucsError('ERR_MODEL_CHECKSUM', `${what} has sha256 ${actual}, expected ${expected.toLowerCase()}`);
  }
}

/**
 * Validates a sha256 option.
 *
 * @internal
 */
export function checkSha256Option(sha256: unknown): void {
  if (sha256 !== undefined && (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256))) {
    throw new TypeError(`sha256 (${describeValue(sha256)}) must be 64 hexadecimal digits`);
  }
}

/**
 * Downloads a model file, or reads it from the Cache API when an earlier call kept it.
 *
 * @remarks
 * The file is held in memory whole (the runtime needs it so). A cached copy that no longer
 * matches its pinned digest is deleted and downloaded again. When the cache cannot be used
 * (no Cache API in an insecure context, a full quota), the model is still returned and
 * {@link FetchedModel.cacheNote} says why it was not kept.
 *
 * @param url - the model's URL, absolute or relative to the page or worker.
 * @param options - pinned sha256, cache name, progress callback, signal.
 * @returns the bytes and how the cache was used.
 * @throws DemucsError `ERR_MODEL_DOWNLOAD` (an error status or a failed connection),
 *   `ERR_MODEL_CHECKSUM` (the bytes do not match `sha256`); TypeError for a bad `url` or
 *   `sha256`; the signal's reason when aborted.
 *
 * @example
 * ```ts
 * const { bytes, fromCache } = await fetchModel('/models/htdemucs.onnx', {
 *   sha256: 'da9e5101ee0804d04933974b59d8aae9c862e80e14f2f24e7c74cae76bdbe748',
 *   onProgress: ({ loaded, total }) => console.log(loaded, total),
 * });
 * ```
 */
export async function fetchModel(url: string | URL, options: FetchModelOptions = {}): Promise<FetchedModel> {
  const { sha256, signal, onProgress } = options;
  checkSha256Option(sha256);
  const target = absoluteUrl(url);
  signal?.throwIfAborted();
  const { cache, note } = await openCache(options.cache ?? MODEL_CACHE_NAME);
  const key = cacheKey(target, sha256);

  if (cache !== undefined) {
    const hit = await cache.match(key).catch(() => undefined);
    if (hit !== undefined) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      signal?.throwIfAborted();
      let valid = true;
      if (sha256 !== undefined) valid = (await sha256Digest(bytes)) === sha256.toLowerCase();
      if (valid) {
        onProgress?.({ loaded: bytes.byteLength, total: bytes.byteLength, fromCache: true });
        return { bytes, fromCache: true, cache: 'hit' };
      }
      await cache.delete(key).catch(() => false);
    }
  }

  const bytes = await download(target, signal, onProgress);
  if (sha256 !== undefined) await checkSha256(bytes, sha256, `the model downloaded from ${target.href}`);
  if (cache === undefined) {
    return options.cache === false ? { bytes, fromCache: false, cache: 'off' } : { bytes, fromCache: false, cache: 'unavailable', cacheNote: note ?? 'no cache' };
  }
  try {
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) };
    await cache.put(key, new Response(bytes as Uint8Array<ArrayBuffer>, { headers }));
    return { bytes, fromCache: false, cache: 'stored' };
  } catch (e) {
    return { bytes, fromCache: false, cache: 'unavailable', cacheNote: `storing the model in the cache failed: ${errorText(e)}` };
  }
}

/**
 * Removes a model that {@link fetchModel} kept.
 *
 * @param url - the URL it was fetched from.
 * @param options - the same `sha256` and `cache` as when it was fetched.
 * @returns whether an entry was removed.
 */
export async function deleteCachedModel(url: string | URL, options: Pick<FetchModelOptions, 'sha256' | 'cache'> = {}): Promise<boolean> {
  checkSha256Option(options.sha256);
  const { cache } = await openCache(options.cache ?? MODEL_CACHE_NAME);
  return cache === undefined ? false : cache.delete(cacheKey(absoluteUrl(url), options.sha256));
}

async function download(url: URL, signal: AbortSignal | undefined, onProgress: FetchModelOptions['onProgress']): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, signal === undefined ? {} : { signal });
  } catch (cause) {
    signal?.throwIfAborted();
    throw new DemucsError('ERR_MODEL_DOWNLOAD', `downloading the model from ${url.href} failed: ${errorText(cause)}`, { cause });
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new DemucsError('ERR_MODEL_DOWNLOAD', `downloading the model from ${url.href} failed: HTTP ${response.status} ${response.statusText}`.trim());
  }
  const length = Number(response.headers.get('content-length') ?? NaN);
  // A compressed response's Content-Length counts the compressed bytes, not what the reader yields.
  const total = Number.isSafeInteger(length) && length > 0 && response.headers.get('content-encoding') === null ? length : undefined;
  const reader = response.body?.getReader();
  if (reader === undefined) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ loaded: bytes.byteLength, total: bytes.byteLength, fromCache: false });
    return bytes;
  }
  let buffer = new Uint8Array(total ?? 16 * 1024 * 1024);
  let loaded = 0;
  let reportedAt = 0;
  let reportedBytes = 0;
  onProgress?.({ loaded: 0, total, fromCache: false });
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (cause) {
        signal?.throwIfAborted();
        throw new DemucsError('ERR_MODEL_DOWNLOAD', `downloading the model from ${url.href} failed after ${loaded} bytes: ${errorText(cause)}`, { cause });
      }
      signal?.throwIfAborted();
      if (chunk.done) break;
      const piece = chunk.value;
      if (loaded + piece.byteLength > buffer.byteLength) {
        const grown = new Uint8Array(Math.max(buffer.byteLength * 2, loaded + piece.byteLength));
        grown.set(buffer.subarray(0, loaded));
        buffer = grown;
      }
      buffer.set(piece, loaded);
      loaded += piece.byteLength;
      const now = performance.now();
      if (onProgress !== undefined && (now - reportedAt >= 100 || (total !== undefined && loaded - reportedBytes >= total / 100))) {
        reportedAt = now;
        reportedBytes = loaded;
        onProgress({ loaded, total, fromCache: false });
      }
    }
  } finally {
    reader.releaseLock();
  }
  if (total !== undefined && loaded !== total) {
    throw new DemucsError('ERR_MODEL_DOWNLOAD', `downloading the model from ${url.href} stopped at ${loaded} of ${total} bytes`);
  }
  onProgress?.({ loaded, total: loaded, fromCache: false });
  return loaded === buffer.byteLength ? buffer : buffer.slice(0, loaded);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
