/**
 * download(): a real HTTP server on the loopback interface with injected faults. Each case
 * checks the file that ends up on disk, what the server saw (Range, If-Range, bytes sent) and
 * that nothing that looks complete is left behind on failure.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download, type DownloadProgress } from '../../src/node/download.js';
import { TestServer } from '../helpers/http-server.js';
import { rejection } from '../helpers/rejection.js';

const dir = mkdtempSync(join(tmpdir(), 'download-'));
const payload = randomBytes(3 * 1024 * 1024 + 4321);
const digest = createHash('sha256').update(payload).digest('hex');
/** Fast retries for tests. */
const fast = { retryDelayMs: 10, timeoutMs: 5000 } as const;
let server: TestServer;
let n = 0;

beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh path for the route and the destination. */
function fresh(): { path: string; dest: string } {
  n++;
  return { path: `/f${n}/model.onnx`, dest: join(dir, `d${n}`, 'model.onnx') };
}

/** Files left in the destination's folder. */
function leftovers(dest: string): string[] {
  const folder = join(dest, '..');
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}


describe('download', () => {
  it('downloads, verifies and renames into place, reporting progress', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload });
    const progress: DownloadProgress[] = [];
    const got = await download(url, dest, { sha256: digest, expectedBytes: payload.length, onProgress: (p) => progress.push(p), ...fast });
    expect(got).toEqual({ path: dest, bytes: payload.length, sha256: digest, resumes: 0 });
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(leftovers(dest)).toEqual(['model.onnx']);
    expect(progress.at(-1)).toEqual({ receivedBytes: payload.length, totalBytes: payload.length, resumedFromBytes: 0 });
    expect(progress.every((p, i) => i === 0 || p.receivedBytes > progress[i - 1]!.receivedBytes)).toBe(true);
    expect(server.requestsFor(path)).toHaveLength(1);
    expect(server.requestsFor(path)[0]!.range).toBeUndefined();
  });

  it('resumes a dropped connection with a Range request at the dropped offset, sending each byte once', async () => {
    const { path, dest } = fresh();
    const dropAt = 1_000_000;
    const url = server.route(path, { body: payload, drop: { afterBytes: dropAt } });
    const got = await download(url, dest, { sha256: digest, ...fast });
    expect(got.resumes).toBe(1);
    expect(readFileSync(dest).equals(payload)).toBe(true);
    const requests = server.requestsFor(path);
    expect(requests.map((r) => [r.status, r.range, r.ifRange])).toEqual([
      [200, undefined, undefined],
      [206, `bytes=${dropAt}-`, '"v1"'],
    ]);
    expect(server.bytesSent(path)).toBe(payload.length);
    expect(leftovers(dest)).toEqual(['model.onnx']);
  });

  it('keeps going while a connection that drops every 256 KB makes progress', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload, drop: { afterBytes: 256 * 1024, times: Infinity } });
    const got = await download(url, dest, { sha256: digest, retries: 1, ...fast });
    expect(got.resumes).toBe(Math.ceil(payload.length / (256 * 1024)) - 1);
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(server.bytesSent(path)).toBe(payload.length);
  });

  it('resumes in a later call after giving up, and hashes the kept prefix', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload, drop: { afterBytes: 777_777 } });
    const first = await rejection(download(url, dest, { sha256: digest, retries: 0, ...fast }));
    expect(first.code).toBe('ERR_MODEL_DOWNLOAD');
    expect(first.message).toContain(url);
    expect(first.message).toContain('777777 bytes are kept');
    // Nothing at dest: only the partial file and its state.
    expect(leftovers(dest)).toEqual(['model.onnx.partial', 'model.onnx.partial.json']);
    expect(statSync(`${dest}.partial`).size).toBe(777_777);

    const got = await download(url, dest, { sha256: digest, ...fast });
    expect(got).toMatchObject({ sha256: digest, resumes: 1 });
    expect(server.requestsFor(path).at(-1)!.range).toBe('bytes=777777-');
    expect(server.bytesSent(path)).toBe(payload.length);
    expect(leftovers(dest)).toEqual(['model.onnx']);
  });

  it('throws ERR_MODEL_DOWNLOAD naming the status and the URL on a 404, leaving no file', async () => {
    const { path, dest } = fresh();
    const url = server.url(path);
    const e = await rejection(download(url, dest, { sha256: digest, ...fast }));
    expect(e.code).toBe('ERR_MODEL_DOWNLOAD');
    expect(e.message).toContain('HTTP 404');
    expect(e.message).toContain(url);
    expect(leftovers(dest)).toEqual([]);
    expect(server.requestsFor(path)).toHaveLength(1); // a 404 is not retried
  });

  it('retries a 500 and then succeeds; gives up with the status after the retries', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload, status: { code: 500, times: 2 } });
    await download(url, dest, { sha256: digest, ...fast });
    expect(server.requestsFor(path).map((r) => r.status)).toEqual([500, 500, 200]);

    const other = fresh();
    const url2 = server.route(other.path, { status: { code: 503 } });
    const e = await rejection(download(url2, other.dest, { retries: 2, ...fast }));
    expect(e.code).toBe('ERR_MODEL_DOWNLOAD');
    expect(e.message).toContain('HTTP 503');
    expect(e.message).toContain(url2);
    expect(e.message).toContain('after 3 attempts');
    expect(leftovers(other.dest)).toEqual([]);
  });

  it('deletes a download whose sha256 is wrong and throws ERR_MODEL_CHECKSUM naming both digests and the URL', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload, corruptAt: 2_000_000 });
    const e = await rejection(download(url, dest, { sha256: digest, ...fast }));
    expect(e.code).toBe('ERR_MODEL_CHECKSUM');
    expect(e.message).toContain(digest);
    expect(e.message).toContain(url);
    const corrupted = Buffer.from(payload);
    corrupted[2_000_000] = corrupted[2_000_000]! ^ 0xff;
    expect(e.message).toContain(createHash('sha256').update(corrupted).digest('hex'));
    expect(leftovers(dest)).toEqual([]);
  });

  it('catches a checksum mismatch in a resumed download (the prefix is hashed too)', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload, corruptAt: 10, drop: { afterBytes: 500_000 } });
    const first = await rejection(download(url, dest, { retries: 0, ...fast }));
    expect(first.code).toBe('ERR_MODEL_DOWNLOAD');
    server.route(path, { body: payload }); // the server is fixed, but the kept prefix is bad
    const e = await rejection(download(url, dest, { sha256: digest, ...fast }));
    expect(e.code).toBe('ERR_MODEL_CHECKSUM');
    expect(server.requestsFor(path).at(-1)!.range).toBe('bytes=500000-');
    expect(leftovers(dest)).toEqual([]);
  });

  it('times out a stalled response, then resumes from what arrived', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload, stall: { afterBytes: 600_000 } });
    const started = performance.now();
    const e = await rejection(download(url, dest, { sha256: digest, retries: 0, retryDelayMs: 10, timeoutMs: 300 }));
    expect(performance.now() - started).toBeLessThan(3000);
    expect(e.code).toBe('ERR_MODEL_DOWNLOAD');
    expect(e.message).toContain('no data from 127.0.0.1');
    expect(e.message).toContain('300 ms');
    expect(statSync(`${dest}.partial`).size).toBe(600_000);
    expect(existsSync(dest)).toBe(false);

    await download(url, dest, { sha256: digest, timeoutMs: 300 });
    expect(server.requestsFor(path).at(-1)!.range).toBe('bytes=600000-');
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });

  it('recovers from a stall within one call when retries are allowed', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload, stall: { afterBytes: 100_000 } });
    const got = await download(url, dest, { sha256: digest, retryDelayMs: 10, timeoutMs: 300 });
    expect(got.resumes).toBe(1);
    expect(server.bytesSent(path)).toBe(payload.length);
  });

  it('follows redirects (relative and absolute), bounded', async () => {
    const { path, dest } = fresh();
    server.route(path, { body: payload });
    server.route(`${path}/r1`, { redirect: { to: path, status: 301 } });
    const start = server.route(`${path}/r2`, { redirect: { to: server.url(`${path}/r1`), status: 307 } });
    await download(start, dest, { sha256: digest, ...fast });
    expect(readFileSync(dest).equals(payload)).toBe(true);

    const loop = fresh();
    const url = server.route(loop.path, { redirect: { to: loop.path } });
    const e = await rejection(download(url, loop.dest, { maxRedirects: 3, ...fast }));
    expect(e).toMatchObject({ code: 'ERR_MODEL_DOWNLOAD', message: expect.stringContaining('more than 3 redirects') });
    expect(server.requestsFor(loop.path)).toHaveLength(4);
  });

  it('resumes through a redirect against the final response', async () => {
    const { path, dest } = fresh();
    server.route(path, { body: payload, drop: { afterBytes: 1_234_567 } });
    const start = server.route(`${path}/go`, { redirect: { to: path } });
    const got = await download(start, dest, { sha256: digest, ...fast });
    expect(got.resumes).toBe(1);
    expect(server.requestsFor(path).map((r) => r.range)).toEqual([undefined, 'bytes=1234567-']);
  });

  it('starts again when the file changed between attempts (If-Range with another ETag)', async () => {
    const { path, dest } = fresh();
    const old = randomBytes(payload.length);
    const url = server.route(path, { body: old, etag: '"old"', drop: { afterBytes: 1_000_000 } });
    await rejection(download(url, dest, { retries: 0, ...fast }));
    server.route(path, { body: payload, etag: '"new"' });
    const got = await download(url, dest, { sha256: digest, ...fast });
    expect(got.resumes).toBe(0);
    const last = server.requestsFor(path).at(-1)!;
    expect([last.range, last.ifRange, last.status]).toEqual(['bytes=1000000-', '"old"', 200]);
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });

  it('starts again when the server ignores Range, without validators, and with chunked bodies', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload, ranges: false, drop: { afterBytes: 800_000 } });
    await download(url, dest, { sha256: digest, ...fast });
    expect(server.requestsFor(path).map((r) => [r.status, r.range])).toEqual([
      [200, undefined],
      [200, 'bytes=800000-'],
    ]);

    const plain = fresh();
    const url2 = server.route(plain.path, { body: payload, etag: false, drop: { afterBytes: 900_000 } });
    const got = await download(url2, plain.dest, { sha256: digest, ...fast });
    expect(got.resumes).toBe(1);
    expect(server.requestsFor(plain.path).at(-1)!.ifRange).toBeUndefined();

    const chunked = fresh();
    const url3 = server.route(chunked.path, { body: payload, chunked: true });
    expect((await download(url3, chunked.dest, { sha256: digest, ...fast })).bytes).toBe(payload.length);
  });

  it('completes a partial file that already holds every byte (416 on resume)', async () => {
    const { path, dest } = fresh();
    // A chunked body (no size) cut after its last byte but before its end: the client cannot
    // know it has everything, asks for the rest and learns the size from the 416.
    const url = server.route(path, { body: payload, chunked: true, drop: { afterBytes: payload.length } });
    await download(url, dest, { sha256: digest, ...fast });
    expect(server.requestsFor(path).map((r) => [r.status, r.range])).toEqual([
      [200, undefined],
      [416, `bytes=${payload.length}-`],
    ]);
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });

  it('rejects a size other than expectedBytes before writing', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload });
    const e = await rejection(download(url, dest, { expectedBytes: 1000, ...fast }));
    expect(e).toMatchObject({ code: 'ERR_MODEL_DOWNLOAD', message: expect.stringContaining(`sends ${payload.length} bytes, expected 1000`) });
    expect(leftovers(dest)).toEqual([]);
  });

  it('stops on abort, keeping the partial file for a later resume', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload, stall: { afterBytes: 300_000 } });
    const controller = new AbortController();
    const p = download(url, dest, {
      signal: controller.signal,
      onProgress: (p) => p.receivedBytes >= 300_000 && controller.abort(new DOMException('stop', 'AbortError')),
      ...fast,
    });
    const e = await rejection(p);
    expect(e.name).toBe('AbortError');
    expect(existsSync(dest)).toBe(false);
    expect(statSync(`${dest}.partial`).size).toBe(300_000);
    await download(url, dest, { sha256: digest, ...fast });
    expect(server.requestsFor(path).at(-1)!.range).toBe('bytes=300000-');
  });

  it('refuses a second download to the same file while one is running', async () => {
    const { path, dest } = fresh();
    const url = server.route(path, { body: payload, stall: { afterBytes: 1000 } });
    const first = download(url, dest, { retries: 0, retryDelayMs: 10, timeoutMs: 1000 });
    for (let i = 0; i < 200 && !existsSync(`${dest}.lock`); i++) await new Promise((r) => setTimeout(r, 10));
    const e = await rejection(download(url, dest, fast));
    expect(e).toMatchObject({ code: 'ERR_MODEL_DOWNLOAD', message: expect.stringContaining(`(pid ${process.pid})`) });
    await rejection(first);
    expect(existsSync(`${dest}.lock`)).toBe(false);
  });

  it('rejects URLs other than http and https', async () => {
    const e = await rejection(download('ftp://127.0.0.1/x.onnx', join(dir, 'ftp.onnx'), fast));
    expect(e).toMatchObject({ code: 'ERR_MODEL_DOWNLOAD', message: expect.stringContaining('only http and https') });
  });
});
