/**
 * fetchModel against a real HTTP server, with an in-memory Cache API standing in for the
 * browser's (Node has fetch, Response and crypto.subtle, but no `caches`).
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { deleteCachedModel, fetchModel, MODEL_CACHE_NAME, sha256Digest, type ModelDownloadProgress } from '../../src/web.js';
import { TestServer } from '../helpers/http-server.js';
import { rejection } from '../helpers/rejection.js';

const BYTES = new Uint8Array(3_000_000).map((_, i) => (i * 7919) % 251);
const SHA = createHash('sha256').update(BYTES).digest('hex');

/** An in-memory CacheStorage: cache name → key → bytes. */
function memoryCaches() {
  const stores = new Map<string, Map<string, Uint8Array>>();
  const caches = {
    async open(name: string) {
      let store = stores.get(name);
      if (store === undefined) stores.set(name, (store = new Map()));
      const s = store;
      return {
        async match(key: string) {
          const bytes = s.get(key);
          return bytes === undefined ? undefined : new Response(bytes.slice());
        },
        async put(key: string, response: Response) {
          s.set(key, new Uint8Array(await response.arrayBuffer()));
        },
        async delete(key: string) {
          return s.delete(key);
        },
      };
    },
  };
  return { caches, stores };
}

/** Byte equality without element-by-element diffing (vitest's deep equality is slow on MB arrays). */
const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.compare(a, b) === 0;

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(() => server.close());
afterEach(() => vi.unstubAllGlobals());

describe('fetchModel', () => {
  it('downloads with progress, checks the sha256, keeps the file, and reads it back from the cache', async () => {
    const { caches, stores } = memoryCaches();
    vi.stubGlobal('caches', caches);
    const url = server.route('/model.onnx', { body: BYTES });
    const progress: ModelDownloadProgress[] = [];
    const first = await fetchModel(url, { sha256: SHA.toUpperCase(), onProgress: (p) => progress.push(p) });
    expect(first).toMatchObject({ fromCache: false, cache: 'stored' });
    expect(same(first.bytes, BYTES)).toBe(true);
    expect(progress[0]).toEqual({ loaded: 0, total: BYTES.length, fromCache: false });
    expect(progress.at(-1)).toEqual({ loaded: BYTES.length, total: BYTES.length, fromCache: false });
    expect(progress.map((p) => p.loaded)).toEqual([...progress.map((p) => p.loaded)].sort((a, b) => a - b));
    expect([...stores.get(MODEL_CACHE_NAME)!.keys()]).toEqual([`${url}?demucs-mobile-sha256=${SHA}`]);

    const again: ModelDownloadProgress[] = [];
    const second = await fetchModel(url, { sha256: SHA, onProgress: (p) => again.push(p) });
    expect(second).toMatchObject({ fromCache: true, cache: 'hit' });
    expect(same(second.bytes, BYTES)).toBe(true);
    expect(again).toEqual([{ loaded: BYTES.length, total: BYTES.length, fromCache: true }]);
    expect(server.requestsFor('/model.onnx')).toHaveLength(1);

    expect(await deleteCachedModel(url, { sha256: SHA })).toBe(true);
    expect(stores.get(MODEL_CACHE_NAME)!.size).toBe(0);
  });

  it('downloads again when the cached copy no longer matches its digest', async () => {
    const { caches, stores } = memoryCaches();
    vi.stubGlobal('caches', caches);
    const url = server.route('/again.onnx', { body: BYTES });
    await fetchModel(url, { sha256: SHA, cache: 'mine' });
    const store = stores.get('mine')!;
    const key = [...store.keys()][0]!;
    store.set(key, BYTES.slice(0, 10));
    const fetched = await fetchModel(url, { sha256: SHA, cache: 'mine' });
    expect(fetched).toMatchObject({ fromCache: false, cache: 'stored' });
    expect(same(store.get(key), BYTES)).toBe(true);
    expect(server.requestsFor('/again.onnx')).toHaveLength(2);
  });

  it('refuses a download that does not match the pinned sha256, and keeps nothing', async () => {
    const { caches, stores } = memoryCaches();
    vi.stubGlobal('caches', caches);
    const url = server.route('/corrupt.onnx', { body: BYTES, corruptAt: 1000 });
    const r = await rejection(fetchModel(url, { sha256: SHA }));
    expect(r.code).toBe('ERR_MODEL_CHECKSUM');
    expect(r.message).toMatch(new RegExp(`^the model downloaded from ${url} has sha256 [0-9a-f]{64}, expected ${SHA}$`));
    expect(stores.get(MODEL_CACHE_NAME)?.size ?? 0).toBe(0);
  });

  it('names the status of a failed download, and works without a Cache API (saying why)', async () => {
    const missing = await rejection(fetchModel(server.route('/missing.onnx', { status: { code: 404 } }), { cache: false }));
    expect(missing.code).toBe('ERR_MODEL_DOWNLOAD');
    expect(missing.message).toMatch(/\/missing\.onnx failed: HTTP 404 Not Found$/);

    const url = server.route('/plain.onnx', { body: BYTES, chunked: true });
    const fetched = await fetchModel(url);
    expect(same(fetched.bytes, BYTES)).toBe(true);
    expect(fetched.cache).toBe('unavailable');
    expect(fetched.cacheNote).toMatch(/globalThis\.caches is undefined/);
    expect((await fetchModel(url, { cache: false })).cache).toBe('off');
  });

  it('stops when aborted, with the signal\'s reason', async () => {
    const url = server.route('/stall.onnx', { body: BYTES, stall: { afterBytes: 100_000 } });
    const controller = new AbortController();
    const p = fetchModel(url, {
      cache: false,
      signal: controller.signal,
      // Abort while the body is stalled, as a user's cancel does.
      onProgress: (pr) => {
        if (pr.loaded > 0) setTimeout(() => controller.abort(new Error('stop')), 50);
      },
    });
    await expect(p).rejects.toThrow('stop');
  });

  it('computes sha256 with crypto.subtle', async () => {
    expect(await sha256Digest(BYTES)).toBe(SHA);
    expect(await sha256Digest(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
