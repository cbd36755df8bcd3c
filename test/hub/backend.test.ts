/**
 * QualcommHubBackend against the emulator with a tiny linear stand-in of HTDemucs (1 s
 * window, 4 sources): compile options and caching, INT8/w8a16 calibration datasets, the run()
 * path through the Separator (one inference job per track, same stems as onnxruntime-node),
 * profiling, and job-level faults: failed compile, device OOM, timed-out jobs, rate-limited
 * submission, stuck jobs — each ends in a retry that succeeds or a clear error naming the job
 * and state, without uploading the model again.
 */
import { timestampMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOBILE_PROFILE, Separator } from '../../src/index.js';
import { OrtNodeBackend } from '../../src/node.js';
import { hubCompileOptions, QualcommHubBackend, type HubEvent } from '../../src/backends/qualcomm-hub/backend.js';
import { FileHubCache, MemoryHubCache, type HubCache } from '../../src/backends/qualcomm-hub/cache.js';
import { QaiHubClient } from '../../src/backends/qualcomm-hub/client.js';
import { QualcommHubError } from '../../src/backends/qualcomm-hub/errors.js';
import { JobFailureType, JobState } from '../../src/backends/qualcomm-hub/gen/hub_pb.js';
import { buildOnnxModel, notHtdemucsModel, standinSeparationModel } from '../helpers/onnx-builder.js';
import { snrDb } from '../helpers/fixtures.js';
import { HubEmulator } from './emulator/emulator.js';
import { noise } from '../helpers/noise.js';
import { everythingIn, fastOptions, noiseWindows } from './helpers.js';

const model = standinSeparationModel({ segment: 44100, waveGains: [0.5, 0.25, 0.125, 1], specGains: [0.25, 0.5, 0, -0.5] });
const track = { sampleRate: 44100, channels: [noise(5 * 44100, 11), noise(5 * 44100, 12)] };

let emu: HubEmulator;
let client: QaiHubClient;
const logs: string[] = [];
const errors: unknown[] = [];

beforeAll(async () => {
  emu = await HubEmulator.start();
  client = new QaiHubClient(fastOptions(emu, logs));
});
afterAll(() => emu.close());

function backend(events: HubEvent[] = [], cache: HubCache = new MemoryHubCache()): QualcommHubBackend {
  return new QualcommHubBackend({ client, cache, onEvent: (e) => events.push(e) });
}

const count = (method: string, path: RegExp) => emu.requestsFor(method, path).length;
const jobPosts = () => count('POST', /^\/api\/v1\/jobs\/$/);
const modelPosts = () => count('POST', /^\/api\/v1\/models\/$/);
const datasetPosts = () => count('POST', /^\/api\/v1\/datasets\/$/);

async function failing(p: Promise<unknown>): Promise<QualcommHubError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(QualcommHubError);
  errors.push(e);
  return e as QualcommHubError;
}

describe('compile', () => {
  it('builds the options string from precision and runtime', () => {
    expect(hubCompileOptions('fp16')).toBe('--target_runtime qnn_dlc --quantize_full_type float16');
    expect(hubCompileOptions('int8', 'qnn_context_binary', ' --truncate_64bit_tensors ')).toBe('--target_runtime qnn_context_binary --quantize_full_type int8 --truncate_64bit_tensors');
    expect(hubCompileOptions('w8a16')).toBe('--target_runtime qnn_dlc --quantize_full_type w8a16');
    expect(() => hubCompileOptions('int4' as 'int8')).toThrow("precision (\"int4\") must be one of 'fp16', 'int8', 'w8a16'");
  });

  it('fp16: uploads once, compiles for the S24 with input specs, and a second compile is a cache hit', async () => {
    const events: HubEvent[] = [];
    const hub = backend(events);
    const compiled = await hub.compile(model, { device: 'Samsung Galaxy S24', precision: 'fp16' });
    expect(compiled).toMatchObject({ precision: 'fp16', options: '--target_runtime qnn_dlc --quantize_full_type float16', calibrationDatasetId: undefined });
    expect(compiled.device).toEqual({ name: 'Samsung Galaxy S24', os: '14', attributes: expect.arrayContaining(['chipset:qualcomm-snapdragon-8gen3', 'htp-supports-fp16:true']) });
    expect(compiled.inputs).toEqual([
      { name: 'wave', shape: [1, 2, 44100], dtype: 'float32' },
      { name: 'spec', shape: [1, 4, 2048, 44], dtype: 'float32' },
    ]);
    expect(compiled.spec).toMatchObject({ segmentSamples: 44100, frames: 44, sources: ['drums', 'bass', 'other', 'vocals'] });
    const job = emu.requestsFor('POST', /^\/api\/v1\/jobs\/$/).at(-1)!.job!;
    expect(job.job.case).toBe('compileJob');
    const c = job.job.value as import('../../src/backends/qualcomm-hub/gen/hub_pb.js').CompileJob;
    expect(c.devices!.devices.map((d) => d.name)).toEqual(['Samsung Galaxy S24']);
    expect(c.tensorTypeList!.types.map((t) => [t.name, t.tensorType!.shape.map(Number)])).toEqual([
      ['wave', [1, 2, 44100]],
      ['spec', [1, 4, 2048, 44]],
    ]);
    expect(c.calibrationDataset).toBeUndefined();
    expect(emu.models.get(compiled.targetModelId)!.record.modelType).toBe(15); // QNN_DLC
    const download = await hub.downloadCompiledModel(compiled);
    expect(download.filename).toBe('htdemucs.dlc');
    expect(download.bytes.byteLength).toBe(model.byteLength); // the emulator's "compiled" model is the ONNX it runs

    const [posts, uploads] = [jobPosts(), modelPosts()];
    const again = await hub.compile(model, { device: 'Samsung Galaxy S24', precision: 'fp16' });
    expect(again).toEqual(compiled);
    expect([jobPosts() - posts, modelPosts() - uploads]).toEqual([0, 0]);
    expect(events.filter((e) => e.type === 'cached').map((e) => e.type === 'cached' && e.what)).toEqual(['compiled model']);
    // Another precision of the same file: a new compile job, but no new upload.
    await hub.compile(model, { precision: 'w8a16', calibration: noiseWindows(2) });
    expect(modelPosts() - uploads).toBe(0);
    expect(events.filter((e) => e.type === 'cached').map((e) => e.type === 'cached' && e.what)).toEqual(['compiled model', 'model']);
  });

  it('int8: uploads the calibration windows as a dataset in the model\'s input order and references it in the compile job', async () => {
    const calibration = noiseWindows(3, 44100, 100);
    const compiled = await backend().compile(model, { precision: 'int8', calibration });
    expect(compiled.options).toBe('--target_runtime qnn_dlc --quantize_full_type int8');
    expect(compiled.calibrationDatasetId).toMatch(/^d[a-z0-9]{8}$/);
    const c = emu.requestsFor('POST', /^\/api\/v1\/jobs\/$/).at(-1)!.job!.job.value as import('../../src/backends/qualcomm-hub/gen/hub_pb.js').CompileJob;
    expect(c.options).toContain('--quantize_full_type int8');
    expect(c.calibrationDataset?.datasetId).toBe(compiled.calibrationDatasetId);
    const entries = emu.datasets.get(compiled.calibrationDatasetId!)!.entries!;
    expect(entries.map((e) => [e.name, e.samples.length, e.samples[0]!.shape])).toEqual([
      ['wave', 3, [1, 2, 44100]],
      ['spec', 3, [1, 4, 2048, 44]],
    ]);
    expect(Buffer.compare(Buffer.from(entries[1]!.samples[2]!.data.buffer), Buffer.from(calibration[2]!.spec.buffer))).toBe(0);
    await expect(backend().compile(model, { precision: 'int8' })).rejects.toThrow("precision 'int8' needs calibration windows (options.calibration); none were given");
    await expect(backend().compile(model, { precision: 'int8', calibration: noiseWindows(1, 22050) })).rejects.toThrow(
      'calibration window has wave 44100 and spec 180224 values; the model\'s window needs 88200 and 360448',
    );
  });

  it('refuses a model with a dynamic window and one that is not HTDemucs', async () => {
    const dynamic = buildOnnxModel({
      nodes: [
        { op: 'Unsqueeze', inputs: ['wave', 'axis1'], outputs: ['time_out'] },
        { op: 'Unsqueeze', inputs: ['spec', 'axis1'], outputs: ['spec_out'] },
      ],
      inputs: [
        { name: 'wave', dims: [1, 2, 'L'] },
        { name: 'spec', dims: [1, 4, 2048, 'T'] },
      ],
      outputs: [
        { name: 'spec_out', dims: [1, 1, 4, 2048, 'T'] },
        { name: 'time_out', dims: [1, 1, 2, 'L'] },
      ],
      initializers: [{ name: 'axis1', dims: [1], int64: [1] }],
    });
    await expect(backend().compile(dynamic)).rejects.toThrow(
      'AI Hub needs fixed input shapes: retarget the model to a fixed window first (retargetSegment(model, 44100) for the mobile profile)',
    );
    await expect(backend().compile(notHtdemucsModel())).rejects.toThrow(/model does not look like HTDemucs/);
  });
});

describe('the compile cache on disk', () => {
  it('lets a new process (a new backend on the same file) reuse the upload and the compiled model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hub-cache-'));
    try {
      const m = standinSeparationModel({ segment: 44100, waveGains: [3, 1, 1, 1], specGains: [0, 0, 0, 0] });
      const first = await backend([], new FileHubCache(join(dir, 'hub.json'))).compile(m);
      const [posts, uploads] = [jobPosts(), modelPosts()];
      const events: HubEvent[] = [];
      const again = await backend(events, new FileHubCache(join(dir, 'hub.json'))).compile(m);
      expect(again).toEqual(first);
      expect([jobPosts() - posts, modelPosts() - uploads]).toEqual([0, 0]);
      expect(Object.keys(JSON.parse(readFileSync(join(dir, 'hub.json'), 'utf8'))).map((k) => k.split(':')[0]).sort()).toEqual(['compile', 'model']);
      expect(readFileSync(join(dir, 'hub.json'), 'utf8')).not.toContain(emu.token);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('run through the Separator', () => {
  it('separates a track in one inference job and matches onnxruntime-node on the same model', async () => {
    const events: HubEvent[] = [];
    const hub = backend(events);
    const session = await hub.load(model, { precision: 'fp16' });
    expect(session.spec.segmentSamples).toBe(MOBILE_PROFILE.segmentSamples);
    expect(session.windowsPerJob).toBe(74);
    expect(session.maxBatch).toBe(296);
    const before = emu.jobsOfType('inference').length;
    const hubStems = (await new Separator(session, { shifts: 0, overlap: MOBILE_PROFILE.overlap }).separate(track)).stems;
    const jobs = emu.jobsOfType('inference').slice(before);
    expect(jobs).toHaveLength(1);
    const windows = emu.datasets.get((jobs[0]!.message.job.value as { dataset: { datasetId: string } }).dataset.datasetId)!.entries![0]!.samples.length;
    expect(windows).toBe(Math.ceil((5 * 44100 - 44100) / 33075) + 1);
    expect(session.jobs).toEqual([{ jobId: jobs[0]!.id, datasetId: expect.any(String), outputDatasetId: expect.any(String), windows, submissions: 1, resumed: false }]);

    const local = await new OrtNodeBackend({ threads: 1 }).load(model);
    const localStems = (await new Separator(local, { shifts: 0, overlap: 0.25 }).separate(track)).stems;
    await local.dispose();
    for (const name of ['drums', 'bass', 'other', 'vocals']) {
      for (let c = 0; c < 2; c++) expect(snrDb(localStems[name]![c]!, hubStems[name]![c]!), name).toBeGreaterThan(100);
    }
    // Which intermediate states a poll sees depends on timing; the uploads, downloads and end states do not.
    expect(events.filter((e) => e.type !== 'job').map((e) => `${e.type} ${'what' in e ? e.what : ''}`)).toEqual(['upload model', 'upload dataset', 'download output dataset']);
    expect(events.filter((e) => e.type === 'job' && e.state === 'DONE').map((e) => e.type === 'job' && e.jobType)).toEqual(['compile', 'inference']);
  });

  it('packs windows into as few jobs as maxJobBytes allows, balanced, run concurrently', async () => {
    const session = await backend().load(model, { maxJobBytes: 4 * 7_225_344, maxConcurrentJobs: 2, maxBatch: 12 });
    expect(session.windowsPerJob).toBe(4);
    expect(session.maxBatch).toBe(12);
    const before = emu.jobsOfType('inference').length;
    const windows = noiseWindows(9, 44100, 200);
    // The first job stays running long enough for the second to be created meanwhile.
    emu.failJobs({ jobType: 'inference', state: JobState.RUNNING_INFERENCE, holdMs: 2000 });
    const out = await session.run(windows);
    const jobs = emu.jobsOfType('inference').slice(before);
    expect(jobs.map((j) => emu.datasets.get((j.message.job.value as { dataset: { datasetId: string } }).dataset.datasetId)!.entries![0]!.samples.length)).toEqual([3, 3, 3]);
    // Two jobs in flight at once: the second was created before the first completed.
    const times = jobs.map((j) => j.message.job.value as { creationTime: Timestamp; completionTime: Timestamp });
    expect(timestampMs(times[1]!.creationTime)).toBeLessThan(timestampMs(times[0]!.completionTime));
    // Output i is window i through the stand-in: source 3's time branch is 1 × the wave.
    expect(out).toHaveLength(9);
    out.forEach((o, i) => expect([...o.wave.subarray(3 * 88200, 3 * 88200 + 5)]).toEqual([...windows[i]!.wave.subarray(0, 5)]));
  });

  it('profile() reports latency and memory of one window', async () => {
    const hub = backend();
    const compiled = await hub.compile(model);
    const p = await hub.profile(compiled);
    expect(p.jobId).toMatch(/^j[a-z0-9]{8}$/);
    expect(p.inferenceMs).toBeGreaterThan(0);
    expect(p.coldLoadMs).toBe(1200);
    expect(p.layers).toEqual({ NPU: 1 });
  });
});

describe('job faults', () => {
  it('a failed compile is a clear error naming the job and state; compiling again does not upload again', async () => {
    const m = standinSeparationModel({ segment: 44100, waveGains: [1, 1, 1, 2], specGains: [0, 0, 0, 0] });
    const hub = backend();
    emu.failJobs({ jobType: 'compile', failureType: JobFailureType.UNSUPPORTED, reason: "Op type 'Unsqueeze' is not supported by the target runtime." });
    const uploads = modelPosts();
    const e = await failing(hub.compile(m));
    expect(e.code).toBe('ERR_HUB_JOB');
    expect(e.message).toMatch(
      new RegExp(`^compile job (j[a-z0-9]{8}) FAILED \\(UNSUPPORTED\\): Op type 'Unsqueeze' is not supported by the target runtime\\. \\(${emu.url}/jobs/j[a-z0-9]{8}/\\)$`),
    );
    expect(e.details).toMatchObject({ jobType: 'compile', jobState: 'FAILED', failureType: 'UNSUPPORTED' });
    const compiled = await hub.compile(m);
    expect(compiled.targetModelId).toMatch(/^m/);
    expect(modelPosts() - uploads).toBe(1);
  });

  it('device OOM fails the run with the job, its state and the mobile-profile hint; a second run re-submits without uploading again', async () => {
    const hub = backend();
    const session = await hub.load(model);
    const windows = noiseWindows(5, 44100, 300);
    emu.failJobs({ jobType: 'inference', failureType: JobFailureType.RUNTIME_DEVICE_OOM, reason: 'Failed to allocate memory on the HTP.' });
    const e = await failing(session.run(windows));
    expect(e.message).toMatch(
      /^inference job j[a-z0-9]{8} FAILED \(RUNTIME_DEVICE_OOM\): Failed to allocate memory on the HTP\. \(.*\)\. The 44100-sample window does not fit the device's memory: use the 1 s mobile profile/,
    );
    expect(e.details).toMatchObject({ jobType: 'inference', jobState: 'FAILED', failureType: 'RUNTIME_DEVICE_OOM' });
    const [uploads, datasets, posts] = [modelPosts(), datasetPosts(), jobPosts()];
    const out = await session.run(windows);
    expect(out).toHaveLength(5);
    expect([modelPosts() - uploads, datasetPosts() - datasets, jobPosts() - posts]).toEqual([0, 0, 1]);
  });

  it('re-submitting after a failure whose dataset has since expired uploads the windows again, once', async () => {
    const session = await backend().load(model);
    const windows = noiseWindows(2, 44100, 350);
    emu.failJobs({ jobType: 'inference', failureType: JobFailureType.RUNTIME_DEVICE_OOM, reason: 'out of memory' });
    await failing(session.run(windows));
    const failed = emu.jobsOfType('inference').at(-1)!;
    emu.expireDataset((failed.message.job.value as { dataset: { datasetId: string } }).dataset.datasetId);
    const [datasets, posts] = [datasetPosts(), jobPosts()];
    expect(await session.run(windows)).toHaveLength(2);
    // One refused submission (expired dataset), one upload, one accepted submission.
    expect([datasetPosts() - datasets, jobPosts() - posts]).toEqual([1, 2]);
    expect(emu.requestsFor('POST', /^\/api\/v1\/jobs\/$/).at(-2)!.status).toBe(200);
  });

  it('an unknown device is refused at submission with AI Hub\'s reason', async () => {
    const e = await failing(backend().compile(model, { device: 'Pixel 99' }));
    expect(e.message).toBe('AI Hub refused to create the compile job: No device matches name="Pixel 99" os="" attributes=[].');
  });

  it('a timed-out job (transient) is re-submitted automatically with the same dataset', async () => {
    const session = await backend().load(model);
    emu.failJobs({ jobType: 'inference', state: JobState.PROVISIONING_DEVICE, failureType: JobFailureType.RUNTIME_TIMEOUT, reason: 'Job timed out after 8h' });
    const datasets = datasetPosts();
    const out = await session.run(noiseWindows(2, 44100, 400));
    expect(out).toHaveLength(2);
    expect(session.jobs[0]).toMatchObject({ submissions: 2, resumed: false });
    expect(datasetPosts() - datasets).toBe(1);
  });

  it('transient failures beyond jobRetries end in an error naming the last job', async () => {
    const session = await backend().load(model, { jobRetries: 1 });
    emu.failJobs({ jobType: 'inference', times: 2, failureType: JobFailureType.RUNTIME_INTERNAL_SERVICE_BUSY, reason: 'Service busy' });
    const e = await failing(session.run(noiseWindows(1, 44100, 500)));
    expect(e.message).toMatch(/^inference job j[a-z0-9]{8} FAILED \(RUNTIME_INTERNAL_SERVICE_BUSY\): Service busy/);
    emu.clearFaults();
  });

  it('rate-limited job creation (429) backs off and succeeds', async () => {
    const session = await backend().load(model);
    emu.inject({ method: 'POST', path: /^\/api\/v1\/jobs\/$/, times: 2, action: { status: 429, body: '{"detail":"Request was throttled. Expected available in 1 second."}' } });
    const t0 = performance.now();
    await session.run(noiseWindows(1, 44100, 600));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90); // 30 ms + 60 ms of back-off
    expect(logs.filter((l) => l.startsWith('submit a inference job: rate limited (HTTP 429); retry in'))).toHaveLength(2);
  });

  it('5xx bursts while polling are retried', async () => {
    const session = await backend().load(model);
    emu.inject({ method: 'GET', path: /^\/api\/v1\/jobs\/j[a-z0-9]+\/$/, skip: 1, times: 3, action: { status: 503 } });
    expect(await session.run(noiseWindows(1, 44100, 700))).toHaveLength(1);
  });

  it('a job that outlasts the wait limit is ERR_HUB_TIMEOUT; running again resumes the same job', async () => {
    const hub = new QualcommHubBackend({ client: new QaiHubClient(fastOptions(emu, logs, { poll: { intervalMs: 5, maxIntervalMs: 20, timeoutMs: 150 } })), cache: new MemoryHubCache() });
    const session = await hub.load(model);
    emu.failJobs({ jobType: 'inference', state: JobState.RUNNING_INFERENCE, holdMs: 600 });
    const windows = noiseWindows(2, 44100, 800);
    const e = await failing(session.run(windows));
    expect(e.code).toBe('ERR_HUB_TIMEOUT');
    expect(e.message).toMatch(/^inference job j[a-z0-9]{8} is still (PROVISIONING_DEVICE|RUNNING_INFERENCE) after \d+\.\d s \(the wait limit\); it keeps running on AI Hub/);
    const posts = jobPosts();
    await emu.jobs.get(e.details.jobId!)!.finished;
    const out = await session.run(windows);
    expect(out).toHaveLength(2);
    expect(jobPosts() - posts).toBe(0);
    expect(session.jobs.at(-1)).toMatchObject({ jobId: e.details.jobId, resumed: true, submissions: 0 });
  });

  it('the 7.8 s window runs where memory allows and fails with OOM where it does not', async () => {
    const full = standinSeparationModel({ segment: 343980, waveGains: [1, 0, 0, 0], specGains: [0, 0, 0, 1] });
    const roomy = await backend().load(full);
    expect(roomy.windowsPerJob).toBe(9);
    expect(await roomy.run(noiseWindows(1, 343980, 900))).toHaveLength(1);
    const small = await HubEmulator.start({ oomAboveInputElements: 4 * 2048 * 44 });
    try {
      const hub = new QualcommHubBackend({ client: new QaiHubClient(fastOptions(small, logs)), cache: new MemoryHubCache() });
      const e = await failing((await hub.load(full)).run(noiseWindows(1, 343980, 901)));
      expect(e.message).toMatch(/FAILED \(RUNTIME_DEVICE_OOM\): Failed to run the model: the device ran out of memory .*The 343980-sample window does not fit the device's memory: use the 1 s mobile profile/);
      expect(await (await hub.load(model)).run(noiseWindows(1, 44100, 902))).toHaveLength(1);
    } finally {
      await small.close();
    }
  });

  it('no error carries the token', () => {
    expect(errors.length).toBeGreaterThanOrEqual(7);
    for (const e of errors) expect(everythingIn(e)).not.toContain(emu.token);
    expect(logs.join('\n')).not.toContain(emu.token);
  });
});
