/**
 * The AI Hub client against the local emulator: configuration, the wire protocol (binary
 * protobuf, trailing slashes, token auth), multipart model uploads with ETags, HDF5 datasets
 * through presigned forms, downloads, and every request-level fault ending in a retry that
 * succeeds or a clear error, with the token in neither errors nor logs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDemucsError } from '../../src/index.js';
import { QaiHubClient } from '../../src/backends/qualcomm-hub/client.js';
import { parseIni, resolveHubConfig } from '../../src/backends/qualcomm-hub/config.js';
import { readDataset, writeDataset } from '../../src/backends/qualcomm-hub/datasets.js';
import { QualcommHubError } from '../../src/backends/qualcomm-hub/errors.js';
import { JobState } from '../../src/backends/qualcomm-hub/gen/hub_pb.js';
import { standinSeparationModel } from '../helpers/onnx-builder.js';
import { HubEmulator } from './emulator/emulator.js';
import { noise } from '../helpers/noise.js';
import { everythingIn, fastOptions } from './helpers.js';

describe('configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-config-'));
  const ini = join(dir, 'client.ini');
  writeFileSync(ini, '[api]\napi_token = file-token-123\napi_url = https://example.invalid/\nweb_url: https://web.example.invalid\n; comment\n');

  it('reads the INI file as configparser does', () => {
    expect(parseIni('# c\n[api]\nAPI_TOKEN = a=b\nx: y\n[other]\nz=1\n')).toEqual({ api: { api_token: 'a=b', x: 'y' }, other: { z: '1' } });
  });

  it('takes the token from options, then QAIHUB_API_TOKEN, then the client.ini [api] section', () => {
    expect(resolveHubConfig({ token: 'opt', configFile: ini, env: { QAIHUB_API_TOKEN: 'env' } })).toMatchObject({ token: 'opt', tokenSource: 'options' });
    expect(resolveHubConfig({ configFile: ini, env: { QAIHUB_API_TOKEN: 'env' } })).toMatchObject({ token: 'env', tokenSource: 'environment' });
    expect(resolveHubConfig({ env: { QAIHUB_CLIENT_INI: ini } })).toEqual({
      token: 'file-token-123',
      apiUrl: 'https://example.invalid',
      webUrl: 'https://web.example.invalid',
      tokenSource: ini,
    });
    expect(resolveHubConfig({ token: 't', configFile: join(dir, 'missing.ini'), env: {} }).apiUrl).toBe('https://workbench.aihub.qualcomm.com');
  });

  it('without a token, fails with ERR_HUB_AUTH naming every place it looked', () => {
    const missing = join(dir, 'missing.ini');
    expect(() => new QaiHubClient({ configFile: missing, env: {} })).toThrow(
      new RegExp(`^no Qualcomm AI Hub API token: none in the options, QAIHUB_API_TOKEN is not set, and "${missing.replace(/[.]/g, '\\.')}" is not found`),
    );
    try {
      resolveHubConfig({ configFile: missing, env: {} });
    } catch (e) {
      expect(isDemucsError(e) && e.code).toBe('ERR_HUB_AUTH');
    }
  });
});

describe('the client against the emulator', () => {
  let emu: HubEmulator;
  let client: QaiHubClient;
  const logs: string[] = [];
  const errors: unknown[] = [];
  /** Runs a call expected to fail, keeping the error for the token check. */
  const failing = async (p: Promise<unknown>): Promise<QualcommHubError> => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(QualcommHubError);
    errors.push(e);
    return e as QualcommHubError;
  };

  beforeAll(async () => {
    emu = await HubEmulator.start({ maxPartSize: 64 * 1024 });
    client = new QaiHubClient(fastOptions(emu, logs));
  });
  afterAll(() => emu.close());

  it('speaks binary protobuf on /api/v1/…/ paths with token auth and a qai_hub User-Agent', async () => {
    const user = await client.getUser();
    expect(user.email).toBe('emulator@example.invalid');
    const s24 = await client.listDevices({ name: 'Samsung Galaxy S24' });
    expect(s24.map((d) => d.name)).toEqual(['Samsung Galaxy S24']);
    expect(s24[0]!.attributes).toContain('htp-supports-fp16:true');
    const gen3 = await client.listDevices({ attributes: ['chipset:qualcomm-snapdragon-8gen3', 'framework:qnn'] });
    expect(gen3.map((d) => d.name)).toEqual(['Samsung Galaxy S24', 'Samsung Galaxy S24 (Family)']);
    expect(await client.listDevices({ name: 'Samsung Galaxy S24', os: '[15,16)' })).toEqual([]);
    expect((await client.listFrameworks()).map((f) => f.apiVersion)).toEqual(['2.36', '2.37']);
    const api = emu.requests.filter((r) => r.path.startsWith('/api/'));
    expect(api.length).toBe(5);
    for (const r of api) {
      expect(r.path).toMatch(/^\/api\/v1\/.*\/$/);
      expect(r.authorization).toBe(`token ${emu.token}`);
      expect(r.contentType).toBe('application/x-protobuf');
      expect(r.userAgent).toBe('qai_hub/0.42.0 (compatible; demucs-mobile)');
    }
    expect(emu.requests.find((r) => r.query.attributes !== undefined)!.query).toEqual({
      name: [''],
      os: [''],
      select: ['False'],
      attributes: ['chipset:qualcomm-snapdragon-8gen3', 'framework:qnn'],
    });
  });

  it('a wrong token is ERR_HUB_AUTH (HTTP 401), not retried', async () => {
    const bad = new QaiHubClient(fastOptions(emu, logs, { token: 'wrong-token-456' }));
    const before = emu.requests.length;
    const e = await failing(bad.getUser());
    expect(e.code).toBe('ERR_HUB_AUTH');
    expect(e.message).toBe('get the current user: AI Hub rejected the API token (HTTP 401, GET /api/v1/users/auth/user/): Invalid token.');
    expect(emu.requests.length - before).toBe(1);
    expect(everythingIn(e)).not.toContain('wrong-token-456');
  });

  it('uploads a model as presigned multipart PUTs with ETags, completes it, and downloads the same bytes', async () => {
    const bytes = new Uint8Array(noise(50_000, 3).buffer); // 200 kB: 4 parts of 64 KiB
    const id = await client.uploadModel(bytes, { name: 'tiny.onnx' });
    expect(id).toMatch(/^m[a-z0-9]{8}$/);
    const puts = emu.requestsFor('PUT', /^\/storage\/models\//);
    expect(puts.map((r) => r.bodyBytes)).toEqual([65536, 65536, 65536, 200_000 - 3 * 65536]);
    for (const r of puts) expect(r.authorization).toBeUndefined(); // the token never goes to storage
    expect(Buffer.compare(emu.models.get(id)!.bytes!, Buffer.from(bytes))).toBe(0);
    expect((await client.getModel(id)).fileUploadComplete).toBe(true);
    const down = await client.downloadModel(id);
    expect(Buffer.compare(Buffer.from(down.bytes), Buffer.from(bytes))).toBe(0);
    expect(down.filename).toBe('tiny.onnx');
  });

  it('writes HDF5 datasets in AI Hub\'s layout (data/<i> with name, order, batch_count; batch_<n> with the batch dim; gzip) and reads them back', async () => {
    const entries = [
      { name: 'input', samples: [0, 1, 2].map((i) => ({ data: noise(2 * 8, i), shape: [1, 2, 8] })) },
      { name: 'onnx::ReduceMean_1', samples: [0, 1, 2].map((i) => ({ data: noise(4 * 3 * 2, 10 + i), shape: [1, 4, 3, 2] })) },
    ];
    const h5 = await writeDataset(entries);
    expect([...h5.subarray(0, 8)]).toEqual([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]); // the HDF5 signature
    const back = await readDataset(h5);
    expect(back.map((e) => e.name)).toEqual(['input', 'onnx::ReduceMean_1']);
    back.forEach((e, i) => {
      expect(e.samples.map((s) => s.shape)).toEqual(entries[i]!.samples.map((s) => s.shape));
      e.samples.forEach((s, b) => expect([...s.data]).toEqual([...entries[i]!.samples[b]!.data]));
    });
    // The raw structure, read with h5wasm directly.
    const h5wasm = (await import('h5wasm')).default;
    const { FS } = await h5wasm.ready;
    FS.writeFile('/layout.h5', h5);
    const f = new h5wasm.File('/layout.h5', 'r');
    const g = f.get('data/1') as InstanceType<typeof h5wasm.Group>;
    expect(Object.fromEntries(Object.entries(g.attrs).map(([k, v]) => [k, v.value]))).toEqual({ batch_count: 3n, name: 'onnx::ReduceMean_1', order: 1n });
    expect(g.keys()).toEqual(['batch_0', 'batch_1', 'batch_2']);
    const ds = f.get('data/1/batch_2') as InstanceType<typeof h5wasm.Dataset>;
    expect(ds.shape).toEqual([1, 4, 3, 2]);
    expect(ds.dtype).toBe('<f');
    expect(ds.filters.map((x) => x.name)).toEqual(['deflate']);
    f.close();
    FS.unlink('/layout.h5');
    await expect(writeDataset([entries[0]!, { name: 'x', samples: entries[1]!.samples.slice(1) }])).rejects.toThrow(
      'dataset entry "x" has 2 samples; "input" has 3 (every entry needs the same count)',
    );
  });

  it('uploads a dataset through the presigned POST form, confirms it, and downloads it', async () => {
    const h5 = await writeDataset([{ name: 'input', samples: [{ data: noise(10, 1), shape: [1, 10] }] }]);
    const id = await client.uploadDataset(h5);
    expect(id).toMatch(/^d[a-z0-9]{8}$/);
    const post = emu.requestsFor('POST', /^\/storage\/datasets$/).at(-1)!;
    expect(post.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(post.authorization).toBeUndefined();
    expect(emu.datasets.get(id)!.entries![0]!.name).toBe('input');
    expect((await client.getDataset(id)).fileUploadComplete).toBe(true);
    expect(Buffer.compare(Buffer.from((await client.downloadDataset(id)).bytes), Buffer.from(h5))).toBe(0);
  });

  describe('faults', () => {
    it('429 then success: backs off (honouring Retry-After) and succeeds', async () => {
      emu.inject({ method: 'GET', path: /^\/api\/v1\/devices\/$/, times: 2, action: { status: 429, body: '{"detail":"Request was throttled."}', headers: { 'retry-after': '0.05' } } });
      const t0 = performance.now();
      expect(await client.listDevices({ name: 'Samsung Galaxy S24' })).toHaveLength(1);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
      expect(emu.requests.slice(-3).map((r) => r.status)).toEqual([429, 429, 200]);
    });

    it('5xx bursts are retried; when retries run out the error names the request, status and attempts', async () => {
      emu.inject({ method: 'GET', path: /^\/api\/v1\/users\/auth\/user\/$/, times: 3, action: { status: 503, body: 'upstream connect error' } });
      await client.getUser();
      expect(emu.requests.slice(-4).map((r) => r.status)).toEqual([503, 503, 503, 200]);
      emu.inject({ method: 'GET', path: /^\/api\/v1\/users\/auth\/user\/$/, times: 99, action: { status: 502, body: 'Bad Gateway' } });
      const e = await failing(client.getUser());
      expect(e.message).toBe('get the current user: AI Hub answered HTTP 502 after 5 attempts (GET /api/v1/users/auth/user/): Bad Gateway');
      expect(e.details).toMatchObject({ status: 502, attempts: 5 });
      emu.clearFaults();
    });

    it('a request that hangs times out (bounded) and is retried', async () => {
      const quick = new QaiHubClient(fastOptions(emu, logs, { timeoutMs: 300 }));
      emu.inject({ method: 'GET', path: /^\/api\/v1\/frameworks\/$/, action: { hang: true } });
      const t0 = performance.now();
      expect(await quick.listFrameworks()).toHaveLength(2);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
      expect(logs.some((l) => l.startsWith('GET /api/v1/frameworks/: no answer within 300 ms; retry 1/4'))).toBe(true);
      emu.inject({ method: 'GET', path: /^\/api\/v1\/frameworks\/$/, times: 99, action: { hang: true } });
      const e = await failing(quick.listFrameworks());
      expect(e.message).toBe('list frameworks failed (GET /api/v1/frameworks/): no answer within 300 ms after 5 attempts');
      emu.clearFaults();
    });

    it('a connection reset mid-upload is retried on the same part', async () => {
      emu.inject({ method: 'PUT', path: /^\/storage\/models\//, skip: 1, action: { reset: true } });
      const id = await client.uploadModel(new Uint8Array(150_000).fill(7), { name: 'reset.onnx' });
      expect(emu.models.get(id)!.bytes!.byteLength).toBe(150_000);
      const puts = emu.requestsFor('PUT', /^\/storage\/models\//).slice(-4);
      expect(puts.map((r) => r.fault ?? r.status)).toEqual([200, 'reset', 200, 200]);
    });

    it('an expired upload URL is replaced with a new one, for models and for datasets', async () => {
      const before = emu.requestsFor('GET', /multipart_upload\/$/).length;
      emu.expireNextUrls(1);
      const id = await client.uploadModel(new Uint8Array(100_000).fill(1), { name: 'expired.onnx' });
      expect(emu.requestsFor('GET', /multipart_upload\/$/).length - before).toBe(2);
      expect(emu.models.get(id)!.record.fileUploadComplete).toBe(true);
      expect(logs).toContain(`upload model ${id}: upload URL expired; asking for new URLs`);

      emu.expireNextUrls(1);
      const h5 = await writeDataset([{ name: 'input', samples: [{ data: noise(4, 1), shape: [1, 4] }] }]);
      const did = await client.uploadDataset(h5);
      expect(emu.requestsFor('GET', new RegExp(`/datasets/${did}/upload_url/$`))).toHaveLength(2);
      expect(emu.requestsFor('POST', /^\/storage\/datasets$/).slice(-2).map((r) => r.status)).toEqual([403, 204]);

      emu.expireNextUrls(1, 'download');
      expect((await client.downloadDataset(did)).bytes.byteLength).toBe(h5.byteLength);
    });

    it('a missing ETag is retried, and is a clear error when it stays missing', async () => {
      emu.inject({ method: 'PUT', path: /^\/storage\/models\//, action: { noEtag: true } });
      await client.uploadModel(new Uint8Array(1000), { name: 'etag.onnx' });
      emu.inject({ method: 'PUT', path: /^\/storage\/models\//, times: 99, action: { noEtag: true } });
      const e = await failing(client.uploadModel(new Uint8Array(1000), { name: 'etag2.onnx' }));
      expect(e.message).toMatch(/^upload model m[a-z0-9]{8}, part 1 of 1: storage returned no ETag \(5 attempts\)$/);
      emu.clearFaults();
    });

    it('HTTP 426 (client too old) is a clear error and is not retried', async () => {
      emu.inject({ path: /^\/api\//, action: { status: 426, body: '{"detail":"This version of the client is no longer supported. Please upgrade."}' } });
      const before = emu.requests.length;
      const e = await failing(client.getUser());
      expect(emu.requests.length - before).toBe(1);
      expect(e.code).toBe('ERR_HUB_REQUEST');
      expect(e.message).toBe(
        'get the current user: AI Hub no longer supports this client (HTTP 426 Upgrade Required, GET /api/v1/users/auth/user/; User-Agent "qai_hub/0.42.0 (compatible; demucs-mobile)"): ' +
          'This version of the client is no longer supported. Please upgrade. Upgrade demucs-mobile, or pass a newer userAgent',
      );
    });

    it('a 200 reply that is not protobuf is an error naming the content type', async () => {
      emu.inject({ path: /^\/api\/v1\/devices\/$/, action: { wrongContentType: true } });
      const e = await failing(client.listDevices());
      expect(e.message).toBe(
        'list devices: AI Hub answered HTTP 200 with content type "text/html; charset=utf-8", not application/x-protobuf (GET /api/v1/devices/): <html><body>Scheduled maintenance</body></html>',
      );
    });

    it('a job wait is bounded: ERR_HUB_TIMEOUT names the job and its state, and waiting again resumes it', async () => {
      // A job that stays in PROVISIONING_DEVICE long enough to hit a 150 ms wait limit.
      const mid = await client.uploadModel(standinSeparationModel({ segment: 4096, waveGains: [1], specGains: [0] }), { name: 'standin.onnx' });
      emu.failJobs({ jobType: 'profile', state: JobState.PROVISIONING_DEVICE, holdMs: 400 });
      const jid = await client.submitProfileJob({ modelId: mid, device: { name: 'Samsung Galaxy S24' } });
      const e = await failing(client.waitForJob(jid, { timeoutMs: 150 }));
      expect(e.code).toBe('ERR_HUB_TIMEOUT');
      expect(e.message).toMatch(new RegExp(`^profile job ${jid} is still PROVISIONING_DEVICE after \\d+\\.\\d s \\(the wait limit\\); it keeps running on AI Hub: wait again to resume \\(${emu.url}/jobs/${jid}/\\)$`));
      expect(e.details).toMatchObject({ jobId: jid, jobType: 'profile', jobState: 'PROVISIONING_DEVICE' });
      const done = await client.waitForJob(jid);
      expect(done.job.case).toBe('profileJob');
    });

    it('never puts the token in an error or a log line', () => {
      expect(errors.length).toBeGreaterThanOrEqual(7);
      for (const e of errors) expect(everythingIn(e)).not.toContain(emu.token);
      expect(logs.length).toBeGreaterThan(20);
      expect(logs.join('\n')).not.toContain(emu.token);
      // Presigned signatures stay out of the logs too.
      expect(logs.join('\n')).not.toMatch(/X-Amz-Signature/);
    });
  });
});
