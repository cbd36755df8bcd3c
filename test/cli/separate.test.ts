/**
 * The `demucs-mobile separate` command, run as the built binary. Most cases use the 2 KB
 * stand-in model of fixtures/chunking (the real I/O signature, 2 sources) to stay fast; one
 * runs the real model with the default model resolution.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Separator } from '../../src/index.js';
import { decodeWav, encodeWav } from '../../src/io/wav.js';
import { OrtNodeBackend } from '../../src/node.js';
import { fixturePath, maxAbsDiff, readF32, snrDb } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { notHtdemucsModel } from '../helpers/onnx-builder.js';

const STANDIN = fixturePath('chunking/standin.onnx');
const dir = mkdtempSync(join(tmpdir(), 'cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = readF32('chunking/track_base.f32', [2, 700001]);
const left = base.subarray(0, 300000);
const right = base.subarray(700001, 700001 + 300000);

function write(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

function readStem(path: string): Float32Array[] {
  const wav = decodeWav(new Uint8Array(readFileSync(path)));
  expect(wav.sampleRate).toBe(44100);
  return [...wav.channels];
}

/** Files under `out`, recursively, to assert nothing was left behind. */
function listTree(out: string): string[] {
  if (!existsSync(out)) return [];
  return readdirSync(out, { recursive: true, encoding: 'utf8' }).sort();
}

describe('demucs-mobile separate (stand-in model)', () => {
  let stereoPath = '';
  let monoPath = '';
  beforeAll(() => {
    stereoPath = write('stereo.wav', encodeWav({ sampleRate: 44100, channels: [left, right] }, { bitDepth: 32, clipMode: 'none' }));
    monoPath = write('mono.wav', encodeWav({ sampleRate: 44100, channels: [left] }, { bitDepth: 24, clipMode: 'none' }));
  });

  it('streams two files to <out>/<name>/<source>.wav, identical to the in-memory Separator', async () => {
    const out = join(dir, 'out-basic');
    const run = await runCli(['separate', stereoPath, monoPath, '-o', out, '--model', STANDIN, '--shifts', '0', '--bit-depth', '32', '--clip-mode', 'none', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const reports = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(reports.map((r) => [r.input, r.ok])).toEqual([
      [stereoPath, true],
      [monoPath, true],
    ]);
    expect(reports[0].outputs).toEqual({ source0: join(out, 'stereo', 'source0.wav'), source1: join(out, 'stereo', 'source1.wav') });
    expect(listTree(out)).toEqual(['mono', 'mono/source0.wav', 'mono/source1.wav', 'stereo', 'stereo/source0.wav', 'stereo/source1.wav']);

    // The streaming CLI path (file source, block writers) against the in-memory API.
    const session = await new OrtNodeBackend({ threads: 1 }).load(STANDIN);
    const memory = await new Separator(session, { shifts: 0 }).separate({ sampleRate: 44100, channels: [left, right] });
    for (const name of ['source0', 'source1']) {
      const stem = readStem(join(out, 'stereo', `${name}.wav`));
      for (let c = 0; c < 2; c++) expect(maxAbsDiff(stem[c]!, memory.stems[name]![c]!).max).toBe(0);
    }
    await session.dispose();

    // Mono input becomes two identical channels, and the stand-in is linear in its input.
    const mono = readStem(join(out, 'mono', 'source0.wav'));
    expect(maxAbsDiff(mono[0]!, mono[1]!).max).toBe(0);
  });

  it('applies --seed, --shifts, --overlap and --segment: same seed, same stems; the draw is reported', async () => {
    const args = (out: string, seed: string) => ['separate', stereoPath, '-o', join(dir, out), '--model', STANDIN, '--shifts', '2', '--seed', seed, '--overlap', '0.5', '--segment', '5', '--json', '--bit-depth', '32'];
    const [a, b, c] = await Promise.all([runCli(args('seed-a', '42')), runCli(args('seed-b', '42')), runCli(args('seed-c', '7'))]);
    for (const r of [a, b, c]) expect(r.code, r.stderr).toBe(0);
    // CPython: random.seed(42); [random.randint(0, 22050) for _ in range(2)]
    expect(JSON.parse(a.stdout).shiftOffsets).toEqual([20952, 3648]);
    const sa = readFileSync(join(dir, 'seed-a', 'stereo', 'source0.wav'));
    expect(Buffer.compare(sa, readFileSync(join(dir, 'seed-b', 'stereo', 'source0.wav')))).toBe(0);
    expect(Buffer.compare(sa, readFileSync(join(dir, 'seed-c', 'stereo', 'source0.wav')))).not.toBe(0);
  });

  it('writes 16-bit with rescale by default and prints progress lines when not a TTY', async () => {
    const out = join(dir, 'out-default');
    const run = await runCli(['separate', stereoPath, '-o', out, '--model', STANDIN, '--shifts', '0']);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/stereo\.wav: 0% \(0\/2 windows\)\n/);
    expect(run.stderr).toMatch(/stereo\.wav: 100% \(2\/2 windows, ETA 0s\)\n/);
    const bytes = readFileSync(join(out, 'stereo', 'source1.wav'));
    expect(decodeWav(new Uint8Array(bytes)).format.bitsPerSample).toBe(16);
    const quiet = await runCli(['separate', stereoPath, '-o', out, '--model', STANDIN, '--shifts', '0', '--quiet']);
    expect([quiet.code, quiet.stderr, quiet.stdout]).toEqual([0, '', '']);
  });

  describe('bad input: one clear line, a non-zero exit, nothing left behind', () => {
    const cases: { name: string; file: () => string; code: number; message: RegExp }[] = [
      { name: 'an empty file', file: () => write('empty.wav', ''), code: 3, message: /empty\.wav: the file is empty \(0 bytes\) \[ERR_AUDIO_EMPTY\]/ },
      {
        name: 'a truncated WAV',
        file: () => {
          const p = join(dir, 'truncated.wav');
          copyFileSync(fixturePath('e2e/mix.wav'), p);
          truncateSync(p, 1_000_000);
          return p;
        },
        code: 3,
        message: /data chunk declares 3528000 bytes but only 999942 bytes are present.*\[ERR_AUDIO_TRUNCATED\]/,
      },
      {
        name: 'NaN samples',
        file: () => {
          const l = left.slice();
          l[123456] = NaN;
          return write('nan.wav', encodeWav({ sampleRate: 44100, channels: [l, right] }, { bitDepth: 32, clipMode: 'none' }));
        },
        code: 3,
        message: /audio sample 123456 of channel 0 is NaN.*\[ERR_NON_FINITE\]/,
      },
      { name: 'a text file', file: () => write('notes.wav', 'hello, this is not audio'), code: 3, message: /notes\.wav: not a recognised audio file: it starts with text "hello, this is not audio" \(supported: WAV, MP3, FLAC, .*\) \[ERR_AUDIO_FORMAT\]/ },
      { name: 'a missing file', file: () => join(dir, 'missing.wav'), code: 3, message: /missing\.wav: ENOENT/ },
    ];
    for (const c of cases) {
      it(`${c.name} → exit ${c.code}`, async () => {
        const out = join(dir, `out-${c.name.replace(/\W+/g, '-')}`);
        const run = await runCli(['separate', c.file(), '-o', out, '--model', STANDIN, '--shifts', '0']);
        expect(run.code).toBe(c.code);
        const lines = run.stderr.trim().split('\n').filter((l) => l.startsWith('demucs-mobile:'));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(c.message);
        expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
        expect(existsSync(out)).toBe(false);
      });
    }

    it('a bad file among good ones: the good ones are written, the exit code is the bad one’s', async () => {
      const out = join(dir, 'out-mixed');
      const run = await runCli(['separate', join(dir, 'missing.wav'), stereoPath, '-o', out, '--model', STANDIN, '--shifts', '0', '--quiet']);
      expect(run.code).toBe(3);
      expect(listTree(out)).toEqual(['stereo', 'stereo/source0.wav', 'stereo/source1.wav']);
    });

    it('bad flags exit 2 naming the flag and value', async () => {
      for (const [flag, value, message] of [
        ['--overlap', '1.5', /--overlap must be a number in \[0, 1\) \(got "1.5"\)/],
        ['--shifts', '-1', /--shifts must be an integer from 0 to 100 \(got "-1"\)/],
        ['--bit-depth', '8', /argument '8' is invalid. Allowed choices are 16, 24, 32/],
        ['--clip-mode', 'tanh', /Allowed choices are rescale, clamp, none/],
        ['--segment', '9', /segment \(9 s = 396900 samples\) must not exceed the model's window of 343980 samples/],
      ] as const) {
        const run = await runCli(['separate', stereoPath, '-o', join(dir, 'out-flags'), '--model', STANDIN, flag, value]);
        expect(run.code, `${flag} ${value}: ${run.stderr}`).toBe(2);
        expect(run.stderr).toMatch(message);
      }
      const unknown = await runCli(['separate', stereoPath, '--frobnicate']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/unknown option '--frobnicate'/);
      expect(listTree(join(dir, 'out-flags'))).toEqual([]);
    });

    it('a model that is not HTDemucs, not ONNX, or missing exits 4', async () => {
      const notHt = write('classifier.onnx', notHtdemucsModel());
      const shape = await runCli(['separate', stereoPath, '-o', join(dir, 'out-model'), '--model', notHt]);
      expect(shape.code).toBe(4);
      expect(shape.stderr).toMatch(/model does not look like HTDemucs: it has 1 inputs \(pixels\).*\[ERR_MODEL_SHAPE\]/);
      const notOnnx = await runCli(['separate', stereoPath, '-o', join(dir, 'out-model'), '--model', stereoPath]);
      expect(notOnnx.code).toBe(4);
      expect(notOnnx.stderr).toMatch(/model file ".*stereo\.wav": not an ONNX model \(2400058 bytes\): .*\[ERR_MODEL_LOAD\]/);
      // Loaded as exported (no rewrites), the file goes straight to onnxruntime, which refuses it.
      const notOnnxUnfused = await runCli(['separate', stereoPath, '-o', join(dir, 'out-model'), '--model', stereoPath, '--no-fuse-attention', '--no-rewrite-for-cpu']);
      expect(notOnnxUnfused.code).toBe(4);
      expect(notOnnxUnfused.stderr).toMatch(/onnxruntime could not load the model ".*stereo\.wav": .*\[ERR_MODEL_LOAD\]/);
      const missing = await runCli(['separate', stereoPath, '-o', join(dir, 'out-model'), '--model', join(dir, 'nope.onnx')]);
      expect(missing.code).toBe(4);
      expect(missing.stderr).toMatch(/model file ".*nope\.onnx" does not exist \[ERR_MODEL_NOT_FOUND\]/);
      expect(listTree(join(dir, 'out-model'))).toEqual([]);
    });

    it('an output path that is a file exits 2', async () => {
      const file = write('occupied', 'x');
      const run = await runCli(['separate', stereoPath, '-o', file, '--model', STANDIN]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/output ".*occupied" exists and is not a directory \[ERR_OUTPUT_EXISTS\]/);
    });
  });

  it('SIGINT stops the run, removes partial files and exits 130', async () => {
    // 60 s of audio: ~10 stand-in windows, long enough to interrupt after the first.
    const long = new Float32Array(44100 * 60).map((_, i) => 0.1 * Math.sin(i * 0.01));
    const input = write('long.wav', encodeWav({ sampleRate: 44100, channels: [long, long] }));
    const out = join(dir, 'out-sigint');
    mkdirSync(out);
    const run = await runCli(['separate', input, '-o', out, '--model', STANDIN, '--shifts', '0'], {
      onSpawn: (child) => {
        let sent = false;
        child.stderr?.on('data', (d: Buffer) => {
          if (!sent && /\(1\/\d+ windows/.test(d.toString())) {
            sent = true;
            child.kill('SIGINT');
          }
        });
      },
    });
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/interrupted; partial outputs removed/);
    // The output directory existed before the run, so it stays, empty.
    expect(listTree(out)).toEqual([]);
  });
});

describe('demucs-mobile separate (real model, default model resolution)', () => {
  const ref = readF32('e2e/stems_torch.f32', [4, 2, 441000]);
  const cache = join(dir, 'cache-real');
  const separate = (out: string, ...flags: string[]) =>
    runCli(['separate', fixturePath('e2e/mix.wav'), '-o', out, '--shifts', '0', '--bit-depth', '32', '--clip-mode', 'none', '--quiet', ...flags], {
      env: { DEMUCS_MOBILE_CACHE: cache },
    });
  const names = ['drums', 'bass', 'other', 'vocals'];
  /** The stems a run wrote, in the fixture's source order, each [left, right]. */
  const stemsOf = (out: string) => names.map((name) => readStem(join(out, 'mix', `${name}.wav`)));
  /** PyTorch's stem `s`, channel `c`. */
  const torch = (s: number, c: number) => ref.subarray((s * 2 + c) * 441000, (s * 2 + c + 1) * 441000);

  it('separates e2e/mix.wav within 60 dB of PyTorch, as float32 stems, from a cached copy with the attention fused and the CPU rewrites', async () => {
    const run = await separate(join(dir, 'out-real'));
    expect(run.code, run.stderr).toBe(0);
    stemsOf(join(dir, 'out-real')).forEach((stem, s) => {
      for (let c = 0; c < 2; c++) expect(snrDb(torch(s, c), stem[c]!), `${names[s]} ch${c}`).toBeGreaterThanOrEqual(60);
    });
    const copies = readdirSync(join(cache, 'optimized')).filter((f) => f.endsWith('.onnx'));
    expect(copies.filter((f) => f.endsWith('.mha.cpu.extended.onnx'))).toHaveLength(1);
    expect(copies).toHaveLength(1);
  });

  it('--no-fuse-attention --no-rewrite-for-cpu load the graph as exported: its own cached copy, stems within 100 dB of the rewritten run', async () => {
    const run = await separate(join(dir, 'out-unfused'), '--no-fuse-attention', '--no-rewrite-for-cpu');
    expect(run.code, run.stderr).toBe(0);
    const copies = readdirSync(join(cache, 'optimized')).filter((f) => f.endsWith('.onnx'));
    expect(copies.filter((f) => /^\d+-\d+-\d+-ort[\d.]+\.extended\.onnx$/.test(f))).toHaveLength(1);
    expect(copies).toHaveLength(2);
    const fused = stemsOf(join(dir, 'out-real'));
    let differs = false;
    const agreements: number[] = [];
    stemsOf(join(dir, 'out-unfused')).forEach((unfused, s) => {
      for (let c = 0; c < 2; c++) {
        expect(snrDb(torch(s, c), unfused[c]!), `${names[s]} ch${c}`).toBeGreaterThanOrEqual(60);
        const agreement = snrDb(unfused[c]!, fused[s]![c]!);
        agreements.push(agreement);
        expect(agreement, `${names[s]} ch${c} rewritten vs as exported`).toBeGreaterThanOrEqual(100);
        differs ||= maxAbsDiff(unfused[c]!, fused[s]![c]!).max > 0;
      }
    });
    console.info('rewritten vs as exported, per stem and channel (dB):', agreements.map((a) => a.toFixed(1)).join(', '));
    // Not the same graph: the rewritten operators round differently.
    expect(differs).toBe(true);
  });
});
