/**
 * End to end with the real HTDemucs retargeted to 1 s (the mobile profile): the e2e fixture
 * song separated through QualcommHubBackend and the emulator (which runs the uploaded ONNX
 * with onnxruntime-node) equals the same profile run locally on onnxruntime-node, in one
 * inference job, after an INT8 compile job that carried the quantisation options and the
 * calibration dataset; a second song reuses the compiled model.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOBILE_PROFILE, Separator, type WindowInput } from '../../src/index.js';
import { OrtNodeBackend } from '../../src/node.js';
import { buildCalibrationSet, modelSpecOf, readModel, retargetSegment, writeModel } from '../../src/quant.js';
import { QualcommHubBackend, type HubEvent } from '../../src/backends/qualcomm-hub/backend.js';
import { MemoryHubCache } from '../../src/backends/qualcomm-hub/cache.js';
import { QaiHubClient } from '../../src/backends/qualcomm-hub/client.js';
import type { CompileJob, InferenceJob } from '../../src/backends/qualcomm-hub/gen/hub_pb.js';
import { readF32, snrDb } from '../helpers/fixtures.js';
import { e2eMix } from '../helpers/e2e-input.js';
import { realModelPath } from '../helpers/model.js';
import { HubEmulator } from './emulator/emulator.js';
import { fastOptions } from './helpers.js';

const FRAMES = 441000;
const SOURCES = ['drums', 'bass', 'other', 'vocals'];
const modelPath = join(tmpdir(), `demucs-mobile-hub-e2e-${process.pid}-1s.onnx`);
const mix = e2eMix();
const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const audio = { sampleRate: 44100, channels: mix };

let emu: HubEmulator;
let hub: QualcommHubBackend;
let calibration: WindowInput[];
const events: HubEvent[] = [];
const eventTimes: number[] = [];

beforeAll(async () => {
  const model = readModel(new Uint8Array(await readFile(await realModelPath())));
  retargetSegment(model, MOBILE_PROFILE.segmentSamples);
  writeFileSync(modelPath, writeModel(model));
  // The quant tools' calibration set, as a host would build it: 8 windows of the song picked by
  // loudness strata, bit for bit what the separator feeds the model. Made once: the compile
  // cache is keyed by the calibration bytes, which depend on the FFT engine.
  calibration = await buildCalibrationSet([audio], modelSpecOf(model), { windows: 8 });
  emu = await HubEmulator.start({ ortThreads: 2 });
  // onnxruntime loads the 170 MB model inside the emulator: give requests the real client's 28 s.
  hub = new QualcommHubBackend({ client: new QaiHubClient(fastOptions(emu, [], { timeoutMs: 28_000 })), cache: new MemoryHubCache(), onEvent: (e) => eventTimes.push(events.push(e) && performance.now()) });
});
afterAll(async () => {
  await emu?.close();
  rmSync(modelPath, { force: true });
});

describe('the e2e song through the AI Hub emulator with the 1 s mobile profile', () => {
  let hubStems: Record<string, readonly Float32Array[]>;
  let localStems: Record<string, readonly Float32Array[]>;
  let compiledId = '';

  it('INT8 compile with calibration, one inference job, stems equal to local onnxruntime-node (≥ 60 dB)', async () => {
    let t0 = performance.now();
    const session = await hub.load(modelPath, { device: 'Samsung Galaxy S24', precision: 'int8', calibration });
    compiledId = session.compiled.targetModelId;
    expect(session.spec).toMatchObject({ segmentSamples: 44100, frames: 44, sources: SOURCES });
    const hubResult = await new Separator(session, { shifts: 0, overlap: MOBILE_PROFILE.overlap }).separate(audio);
    const hubSeconds = (performance.now() - t0) / 1000;
    console.info(
      `hub path timeline: ${events.map((e, i) => `${((eventTimes[i]! - t0) / 1000).toFixed(1)} s ${e.type}${'what' in e ? ` ${e.what}` : ''}${'state' in e ? ` ${e.jobType} ${e.state}` : ''}`).join('; ')}`,
    );
    hubStems = hubResult.stems;

    // The compile job carried the INT8 options and referenced the calibration dataset.
    const compileJobs = emu.jobsOfType('compile');
    expect(compileJobs).toHaveLength(1);
    const c = compileJobs[0]!.message.job.value as CompileJob;
    expect(c.options).toBe('--target_runtime qnn_dlc --quantize_full_type int8');
    expect(c.calibrationDataset?.datasetId).toBe(session.compiled.calibrationDatasetId);
    const calibrationData = emu.datasets.get(session.compiled.calibrationDatasetId!)!.entries!;
    expect(calibrationData.map((e) => [e.name, e.samples.length, e.samples[0]!.shape])).toEqual([
      ['input', 8, [1, 2, 44100]],
      ['onnx::ReduceMean_1', 8, [1, 4, 2048, 44]],
    ]);
    // …holding exactly the windows buildCalibrationSet picked, in order.
    for (let k = 0; k < 8; k++) {
      expect(Buffer.compare(bytesOf(calibrationData[0]!.samples[k]!.data), bytesOf(calibration[k]!.wave))).toBe(0);
      expect(Buffer.compare(bytesOf(calibrationData[1]!.samples[k]!.data), bytesOf(calibration[k]!.spec))).toBe(0);
    }

    // One inference job for the whole song: all 14 windows in one dataset.
    const inference = emu.jobsOfType('inference');
    expect(inference).toHaveLength(1);
    const input = emu.datasets.get((inference[0]!.message.job.value as InferenceJob).dataset!.datasetId!)!.entries!;
    expect(input.map((e) => e.samples.length)).toEqual([14, 14]);
    expect(emu.inferenceSamples).toBe(14);
    expect(emu.requestsFor('POST', /^\/api\/v1\/models\/$/)).toHaveLength(1);

    t0 = performance.now();
    const local = await new OrtNodeBackend({ threads: 2 }).load(modelPath);
    try {
      localStems = (await new Separator(local, { shifts: 0, overlap: 0.25 }).separate(audio)).stems;
    } finally {
      await local.dispose();
    }
    const localSeconds = (performance.now() - t0) / 1000;
    const snr = SOURCES.map((name) => Math.min(...[0, 1].map((ch) => snrDb(localStems[name]![ch]!, hubStems[name]![ch]!))));
    console.info(
      `hub (emulator) vs local onnxruntime-node, 1 s profile: ${SOURCES.map((n, i) => `${n} ${snr[i]!.toFixed(1)} dB`).join(', ')}; ` +
        `hub path ${hubSeconds.toFixed(1)} s (compile, uploads, one inference job of 14 windows), local ${localSeconds.toFixed(1)} s`,
    );
    for (const x of snr) expect(x).toBeGreaterThanOrEqual(60);
  });

  it('costs quality against the 7.8 s PyTorch reference (measured, logged)', () => {
    const ref = readF32('e2e/stems_torch.f32', [4, 2, FRAMES]);
    const snr = SOURCES.map((name, s) => {
      const est = new Float32Array(2 * FRAMES);
      est.set(localStems[name]![0]!, 0);
      est.set(localStems[name]![1]!, FRAMES);
      return snrDb(ref.subarray(s * 2 * FRAMES, (s + 1) * 2 * FRAMES), est);
    });
    console.info(`1 s profile (overlap 0.25, shifts 0) vs the 7.8 s PyTorch reference: ${SOURCES.map((n, i) => `${n} ${snr[i]!.toFixed(1)} dB`).join(', ')}`);
    for (const x of snr) expect(x).toBeGreaterThan(5);
  });

  it('a second song reuses the compiled model: no upload, no compile, one more inference job', async () => {
    const posts = emu.requestsFor('POST', /^\/api\/v1\/jobs\/$/).length;
    const session = await hub.load(modelPath, { device: 'Samsung Galaxy S24', precision: 'int8', calibration });
    expect(session.compiled.targetModelId).toBe(compiledId);
    // The last 2.5 s: 4 windows.
    const second = { sampleRate: 44100, channels: mix.map((c) => c.slice(FRAMES - 110250)) };
    const { stems } = await new Separator(session, { shifts: 0, overlap: MOBILE_PROFILE.overlap }).separate(second);
    expect(stems.vocals![0]!.length).toBe(110250);
    expect(session.jobs.map((j) => j.windows)).toEqual([4]);
    expect(emu.jobsOfType('compile')).toHaveLength(1);
    expect(emu.requestsFor('POST', /^\/api\/v1\/models\/$/)).toHaveLength(1);
    expect(emu.requestsFor('POST', /^\/api\/v1\/jobs\/$/).length - posts).toBe(1);
    expect(events.filter((e) => e.type === 'cached').map((e) => e.type === 'cached' && e.what)).toEqual(['compiled model']);
  });

  it('profile() measures one window (host numbers in the emulator)', async () => {
    const compiled = (await hub.load(modelPath, { precision: 'int8', calibration })).compiled;
    const p = await hub.profile(compiled);
    console.info(`emulator profile of the 1 s model (host CPU, not the S24): ${p.inferenceMs.toFixed(0)} ms per window, peak +${(p.peakMemoryBytes / 2 ** 20).toFixed(0)} MiB`);
    expect(p.inferenceMs).toBeGreaterThan(1);
  });
});
