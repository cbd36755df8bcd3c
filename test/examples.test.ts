/**
 * Every file in `examples/` runs as its header says (`npx tsx examples/<file> …`, from the
 * repository root) against the real model, and what it writes is checked: formats, rates,
 * exact lengths, and the stems against the PyTorch reference of `e2e/mix.wav`. An example
 * without a check here fails the first test, so none can rot unnoticed.
 *
 * tsx resolves `demucs-mobile/*` through tsconfig `paths`, so the examples run against the
 * sources, as the rest of the suite does; `test/package/tarball.test.ts` covers the build.
 */
import { decodeWav } from '../src/io/wav.js';
import { HubEmulator } from './hub/emulator/emulator.js';
import type { CompileJob } from '../src/backends/qualcomm-hub/gen/hub_pb.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio, type DecodedAudio } from '../src/io/decode.js';
import { encodeAudio } from '../src/io/encode.js';
import { resample, resampledLength } from '../src/io/resample.js';
import { e2eMix } from './helpers/e2e-input.js';
import { fixturePath, readF32, REPO_ROOT, snrDb } from './helpers/fixtures.js';
import { runProcess, type CliRun } from './helpers/cli.js';
import { realModelPath } from './helpers/model.js';

const FRAMES = 441000;
const SOURCES = ['drums', 'bass', 'other', 'vocals'] as const;

/** Reference stem `k`, channel `c`, of `e2e/mix.wav` (PyTorch, shifts = 0). */
function torchStem(k: number, c: number): Float32Array {
  const ref = readF32('e2e/stems_torch.f32', [4, 2, FRAMES]);
  return ref.slice((k * 2 + c) * FRAMES, (k * 2 + c + 1) * FRAMES);
}

/** `npx tsx examples/<file> ...args` from the repository root, as a reader would run it. */
function runExample(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return runProcess('npx', ['tsx', join('examples', file), ...args], { env });
}

/** stdout lines, without npm's own configuration warnings (they go to stderr anyway). */
const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

/** Decodes a file written by an example with the library's own decoder. */
async function decodeFile(path: string): Promise<DecodedAudio> {
  return decodeAudio(new Uint8Array(readFileSync(path)), { name: path });
}

let dir: string;
/** A private model cache: the examples resolve the model by name and must not touch the user's cache. */
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'demucs-examples-'));
  env = { DEMUCS_MOBILE_CACHE: join(dir, 'cache') };
  await realModelPath(); // fail here, clearly, when the model is not installed
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One check per example file; the test below insists the two lists are the same. */
const CHECKS: Record<string, () => Promise<void>> = {
  async 'separate.ts'() {
    const out = join(dir, 'separate');
    const run = await runExample('separate.ts', [fixturePath('e2e/mix.wav'), out], env);
    expect(run.code, run.stderr).toBe(0);
    const expected = SOURCES.map((s) => join(out, 'mix', `${s}.wav`));
    expect(lines(run.stdout)).toEqual(expected);
    for (const [k, path] of expected.entries()) {
      const stem = await decodeFile(path);
      expect(stem.info).toMatchObject({ container: 'wav', codec: 'pcm-s16', sampleRate: 44100, channelCount: 2, frames: FRAMES });
      // One seeded shift against PyTorch's unshifted pass: measured 22.8–27.6 dB. A wrong
      // stem order, channel swap or misaligned overlap-add scores near or below 0 dB.
      for (const c of [0, 1]) expect(snrDb(torchStem(k, c), stem.channels[c]!), `${SOURCES[k]}[${c}]`).toBeGreaterThan(15);
    }
  },

  async 'stream-to-files.ts'() {
    // The input is not what the model wants: FLAC at 48 kHz, so every stage of
    // prepareInput and StemFiles (decode, resample in and out, exact length) runs.
    const input = join(dir, 'song-48k.flac');
    const mix48 = resample({ sampleRate: 44100, channels: e2eMix() }, 48000);
    writeFileSync(input, await encodeAudio(mix48, { format: 'flac', bitDepth: 24 }));
    const frames = resampledLength(FRAMES, 44100, 48000);

    const out = join(dir, 'stream');
    const run = await runExample('stream-to-files.ts', [input, out], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`flac/flac, 48000 Hz, 2 ch, ${frames} frames`);
    const expected = ['vocals', 'no_vocals'].map((s) => join(out, 'song-48k', `${s}.flac`));
    expect(lines(run.stdout)).toEqual(expected);

    const noVocals = [0, 1].map((c) => {
      const sum = new Float32Array(FRAMES);
      for (const k of [0, 1, 2]) torchStem(k, c).forEach((v, i) => (sum[i]! += v));
      return sum;
    });
    const references = {
      vocals: resample({ sampleRate: 44100, channels: [torchStem(3, 0), torchStem(3, 1)] }, 48000),
      no_vocals: resample({ sampleRate: 44100, channels: noVocals }, 48000),
    };
    for (const [i, name] of (['vocals', 'no_vocals'] as const).entries()) {
      const stem = await decodeFile(expected[i]!);
      expect(stem.info).toMatchObject({ container: 'flac', sampleRate: 48000, channelCount: 2, frames });
      // shifts: 0 as the reference, through 48 kHz and back: measured 49.9–51.4 dB.
      for (const c of [0, 1]) expect(snrDb(references[name].channels[c]!, stem.channels[c]!), `${name}[${c}]`).toBeGreaterThan(40);
    }
  },

  async 'convert.ts'() {
    const out = join(dir, 'mix-48k.mp3');
    const flac = join(dir, 'mix-48k.flac');
    const run = await runExample('convert.ts', [fixturePath('e2e/mix.wav'), flac, '48000'], env);
    expect(run.code, run.stderr).toBe(0);
    const frames = resampledLength(FRAMES, 44100, 48000);
    expect(lines(run.stdout)).toEqual([
      `read ${fixturePath('e2e/mix.wav')}: wav/pcm-f32, 44100 Hz, 2 ch, ${FRAMES} frames`,
      `wrote ${flac}: flac, 48000 Hz, 2 ch, ${frames} frames`,
    ]);
    const converted = await decodeFile(flac);
    expect(converted.info).toMatchObject({ container: 'flac', sampleRate: 48000, channelCount: 2, frames });
    // 16-bit FLAC of the library's own resampling: only quantisation noise (measured 76.3 dB).
    const expected = resample({ sampleRate: 44100, channels: e2eMix() }, 48000);
    for (const c of [0, 1]) expect(snrDb(expected.channels[c]!, converted.channels[c]!)).toBeGreaterThan(70);

    // And an MP3 at the input's rate, the other encoder path.
    const mp3Run = await runExample('convert.ts', [flac, out], env);
    expect(mp3Run.code, mp3Run.stderr).toBe(0);
    const mp3 = await decodeFile(out);
    expect(mp3.info).toMatchObject({ container: 'mp3', sampleRate: 48000, channelCount: 2, frames });
  },
  async 'qualcomm-hub.ts'() {
    // Against the local AI Hub emulator, through the client's own configuration file: what a
    // user with a real token runs, with the API URL pointed at loopback.
    const emu = await HubEmulator.start({ ortThreads: 2 });
    try {
      const ini = join(dir, 'client.ini');
      writeFileSync(ini, `[api]\napi_token = ${emu.token}\napi_url = ${emu.url}\n`);
      const out = join(dir, 'hub');
      const run = await runExample('qualcomm-hub.ts', [fixturePath('e2e/mix.wav'), out, '--int8'], { ...env, QAIHUB_CLIENT_INI: ini, QAIHUB_API_TOKEN: '' });
      expect(run.code, run.stderr).toBe(0);
      const expected = SOURCES.map((s) => join(out, 'mix', `${s}.wav`));
      expect(run.stdout.trim().split('\n')).toEqual(expected);
      for (const path of expected) {
        const wav = decodeWav(new Uint8Array(readFileSync(path)));
        expect([wav.sampleRate, wav.channels.length, wav.format.frames]).toEqual([44100, 2, 441000]);
      }
      // One INT8 compile for the S24, calibrated on the windows buildCalibrationSet picked (all
      // 14 of this 10 s song, as it asks for up to 64), and every window in one inference job.
      const jobs = [...emu.jobs.values()];
      const compiles = jobs.filter((j) => j.type === 'compile');
      expect(compiles).toHaveLength(1);
      const compile = compiles[0]!.message.job.value as CompileJob;
      expect(compile.options).toBe('--target_runtime qnn_dlc --quantize_full_type int8');
      const calibration = emu.datasets.get(compile.calibrationDataset!.datasetId!)!.entries!;
      expect(calibration.map((e) => e.samples.length)).toEqual([14, 14]);
      expect(jobs.filter((j) => j.type === 'inference')).toHaveLength(1);
      expect(run.stderr).toMatch(/inference job .*: 14 windows/);
      expect(run.stderr).not.toContain(emu.token);
    } finally {
      await emu.close();
    }
  },
};

describe('examples/', () => {
  it('has a check for every example file', () => {
    // examples/web (a page, not a script) is run in chromium by test/browser/demo.test.ts.
    const files = readdirSync(join(REPO_ROOT, 'examples'), { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort();
    expect(Object.keys(CHECKS).sort()).toEqual(files);
  });

  for (const [file, check] of Object.entries(CHECKS)) it(`runs ${file} and writes what it says`, check);
});
