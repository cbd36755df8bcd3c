/**
 * `demucs-mobile separate` with any audio in and any format out, run as the built binary:
 * resampling both ways, stem selection, output formats, jobs, model sources, the progress
 * bar on a terminal, and bad files of every kind. The stand-in model of fixtures/chunking
 * keeps most cases fast; two cases run the real model.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Separator } from '../../src/index.js';
import { resample, resampledLength } from '../../src/io/resample.js';
import { decodeWav, encodeWav } from '../../src/io/wav.js';
import { OrtNodeBackend } from '../../src/node.js';
import { CLI, runCli } from '../helpers/cli.js';
import { fixturePath, maxAbsDiff, readF32, REPO_ROOT, snrDb } from '../helpers/fixtures.js';
import { skipWithout } from '../helpers/tools.js';

const STANDIN = fixturePath('chunking/standin.onnx');
const dir = mkdtempSync(join(tmpdir(), 'cli-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = readF32('chunking/track_base.f32', [2, 700001]);
/** 5 s of the chunking fixture's track: one stand-in window. */
const FRAMES = 220500;
const left = base.subarray(0, FRAMES);
const right = base.subarray(700001, 700001 + FRAMES);

function write(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

function readWav(path: string) {
  return decodeWav(new Uint8Array(readFileSync(path)));
}

function listTree(out: string): string[] {
  if (!existsSync(out)) return [];
  return readdirSync(out, { recursive: true, encoding: 'utf8' }).sort();
}

/** Decodes any file with ffmpeg (an independent decoder) to planar float32 at its own rate. */
function ffmpegDecode(path: string, channels = 2): Float32Array[] {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'f32le', '-ac', String(channels), '-'], { maxBuffer: 1 << 30 });
  const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const n = all.length / channels;
  return Array.from({ length: channels }, (_, c) => Float32Array.from({ length: n }, (_, i) => all[i * channels + c]!));
}

function ffprobe(path: string): { sample_rate: string; channels: number; bit_rate?: string; codec_name: string } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path]).toString();
  return JSON.parse(out).streams[0];
}

const noFfmpeg = skipWithout('ffmpeg', '-version');

describe('separate: rates, selections, formats (stand-in model)', () => {
  let stereo = '';
  beforeAll(() => {
    stereo = write('stereo.wav', encodeWav({ sampleRate: 44100, channels: [left, right] }, { bitDepth: 32, clipMode: 'none' }));
  });

  it('a 48 kHz file: stems come back at 48 kHz, at the exact input length, equal to resample → separate → resample', async () => {
    const frames48 = resampledLength(FRAMES, 44100, 48000);
    const input48 = resample({ sampleRate: 44100, channels: [left, right] }, 48000);
    const path = write('at48k.wav', encodeWav(input48, { bitDepth: 32, clipMode: 'none' }));
    const out = join(dir, 'out-48k');
    const run = await runCli(['separate', path, '-o', out, '--model', STANDIN, '--shifts', '0', '--bit-depth', '32', '--clip-mode', 'none', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ ok: true, sampleRate: 48000, source: { container: 'wav', sampleRate: 48000, channels: 2 } });

    // The same steps in memory with the library's own pieces.
    const session = await new OrtNodeBackend({ threads: 1 }).load(STANDIN);
    const memory = await new Separator(session, { shifts: 0 }).separate(resample(input48, 44100));
    await session.dispose();
    for (const name of ['source0', 'source1']) {
      const stem = readWav(join(out, 'at48k', `${name}.wav`));
      expect(stem.sampleRate).toBe(48000);
      expect(stem.format.frames).toBe(frames48);
      const back = resample({ sampleRate: 44100, channels: memory.stems[name]! }, 48000);
      for (let c = 0; c < 2; c++) {
        const expected = new Float32Array(frames48);
        expected.set(back.channels[c]!.subarray(0, frames48));
        expect(maxAbsDiff(stem.channels[c]!, expected).max, `${name} ch${c}`).toBeLessThanOrEqual(1e-6);
      }
    }
  });

  it('--stems writes only the stems asked for; --two-stems writes the stem and no_<stem>', async () => {
    const full = join(dir, 'out-full');
    const only = join(dir, 'out-only');
    const two = join(dir, 'out-two');
    const common = ['--model', STANDIN, '--shifts', '0', '--bit-depth', '32', '--clip-mode', 'none', '--quiet'];
    for (const [out, extra] of [
      [full, []],
      [only, ['--stems', 'source1']],
      [two, ['--two-stems', 'source1']],
    ] as const) {
      const run = await runCli(['separate', stereo, '-o', out, ...common, ...extra]);
      expect(run.code, run.stderr).toBe(0);
    }
    expect(listTree(only)).toEqual(['stereo', 'stereo/source1.wav']);
    expect(listTree(two)).toEqual(['stereo', 'stereo/no_source1.wav', 'stereo/source1.wav']);
    const bytes = (p: string) => readFileSync(p);
    expect(bytes(join(only, 'stereo', 'source1.wav')).equals(bytes(join(full, 'stereo', 'source1.wav')))).toBe(true);
    // With two sources the complement of source1 is source0 alone.
    expect(bytes(join(two, 'stereo', 'no_source1.wav')).equals(bytes(join(full, 'stereo', 'source0.wav')))).toBe(true);
  });

  it('bad selections exit 2 before anything is written', async () => {
    const out = join(dir, 'out-badsel');
    for (const [args, message] of [
      [['--stems', 'vocals'], /stems: unknown stem "vocals" \(this model has source0, source1\)/],
      [['--two-stems', 'guitar'], /twoStems: unknown stem "guitar"/],
      [['--stems', 'source0,,source1'], /--stems must be a comma-separated list of stem names \(got "source0,,source1"\)/],
      [['--stems', 'source0', '--two-stems', 'source1'], /--stems and --two-stems cannot be used together/],
    ] as const) {
      const run = await runCli(['separate', stereo, '-o', out, '--model', STANDIN, ...args]);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    expect(listTree(out)).toEqual([]);
  });

  it.skipIf(noFfmpeg)('--format flac holds exactly the samples of the WAV output at the same bit depth (checked with ffmpeg)', async () => {
    const wav = join(dir, 'out-wav24');
    const flac = join(dir, 'out-flac24');
    for (const [out, format] of [
      [wav, 'wav'],
      [flac, 'flac'],
    ] as const) {
      const run = await runCli(['separate', stereo, '-o', out, '--model', STANDIN, '--shifts', '0', '--bit-depth', '24', '--format', format, '--quiet']);
      expect(run.code, run.stderr).toBe(0);
    }
    expect(listTree(flac)).toEqual(['stereo', 'stereo/source0.flac', 'stereo/source1.flac']);
    const probe = ffprobe(join(flac, 'stereo', 'source0.flac'));
    expect([probe.codec_name, probe.sample_rate, probe.channels]).toEqual(['flac', '44100', 2]);
    const fromFlac = ffmpegDecode(join(flac, 'stereo', 'source0.flac'));
    const fromWav = ffmpegDecode(join(wav, 'stereo', 'source0.wav'));
    for (let c = 0; c < 2; c++) expect(maxAbsDiff(fromFlac[c]!, fromWav[c]!).max).toBe(0);

    const bad = await runCli(['separate', stereo, '-o', join(dir, 'out-flac32'), '--model', STANDIN, '--format', 'flac', '--bit-depth', '32']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format flac stores integers: use --bit-depth 16 or 24 \(got 32\)/);
    expect(existsSync(join(dir, 'out-flac32'))).toBe(false);
  });

  it.skipIf(noFfmpeg)('--format mp3 --mp3-bitrate sets the bitrate; the stems decode close to the WAV stems', async () => {
    const wav = join(dir, 'out-wav16');
    const mp3 = join(dir, 'out-mp3');
    expect((await runCli(['separate', stereo, '-o', wav, '--model', STANDIN, '--shifts', '0', '--quiet'])).code).toBe(0);
    const run = await runCli(['separate', stereo, '-o', mp3, '--model', STANDIN, '--shifts', '0', '--format', 'mp3', '--mp3-bitrate', '192', '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    const path = join(mp3, 'stereo', 'source0.mp3');
    const probe = ffprobe(path);
    expect([probe.codec_name, probe.sample_rate, probe.channels, probe.bit_rate]).toEqual(['mp3', '44100', 2, '192000']);
    const decoded = ffmpegDecode(path);
    const reference = ffmpegDecode(join(wav, 'stereo', 'source0.wav'));
    // ffmpeg honours the encoder's gapless header: the MP3 decodes to the input's length.
    expect(decoded[0]!.length).toBe(FRAMES);
    // Measured 26.2 / 24.8 dB (left / right) for this stem at 192 kbit/s.
    for (let c = 0; c < 2; c++) expect(snrDb(reference[c]!, decoded[c]!)).toBeGreaterThan(22);

    const bad = await runCli(['separate', stereo, '-o', join(dir, 'out-mp3bad'), '--model', STANDIN, '--format', 'mp3', '--mp3-bitrate', '1000']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--mp3-bitrate must be an integer from 8 to 320 \(got "1000"\)/);
  });

  it('--clip-mode: rescale keeps the peak under 1, clamp cuts at 0.99, none keeps float32 samples above 1', async () => {
    // The stand-in is linear: a loud input gives stems that exceed full scale.
    const loud = write('loud.wav', encodeWav({ sampleRate: 44100, channels: [left.map((x) => x * 8), right.map((x) => x * 8)] }, { bitDepth: 32, clipMode: 'none' }));
    const peaks: Record<string, number> = {};
    for (const [mode, depth] of [
      ['rescale', '16'],
      ['clamp', '16'],
      ['none', '32'],
    ] as const) {
      const out = join(dir, `out-clip-${mode}`);
      const run = await runCli(['separate', loud, '-o', out, '--model', STANDIN, '--shifts', '0', '--clip-mode', mode, '--bit-depth', depth, '--quiet']);
      expect(run.code, run.stderr).toBe(0);
      const stem = readWav(join(out, 'loud', 'source0.wav'));
      peaks[mode] = Math.max(...stem.channels.map((c) => c.reduce((m, x) => Math.max(m, Math.abs(x)), 0)));
    }
    expect(peaks.none).toBeGreaterThan(1);
    expect(peaks.rescale).toBeLessThanOrEqual(1 / 1.01 + 1 / 32768);
    expect(peaks.rescale).toBeGreaterThan(0.98);
    expect(peaks.clamp).toBeCloseTo(0.99, 4);
  });

  it('--jobs 2 --threads 1 separates two files at once, byte-identical to one at a time', async () => {
    const second = write('second.wav', encodeWav({ sampleRate: 44100, channels: [right, left] }, { bitDepth: 24, clipMode: 'none' }));
    const serial = join(dir, 'out-serial');
    const parallel = join(dir, 'out-parallel');
    const a = await runCli(['separate', stereo, second, '-o', serial, '--model', STANDIN, '--shifts', '0', '--json']);
    const b = await runCli(['separate', stereo, second, '-o', parallel, '--model', STANDIN, '--shifts', '0', '--json', '--jobs', '2', '--threads', '1']);
    for (const r of [a, b]) expect(r.code, r.stderr).toBe(0);
    expect(b.stdout.trim().split('\n').map((l) => JSON.parse(l).input).sort()).toEqual([second, stereo].sort());
    const files = listTree(serial).filter((f) => f.endsWith('.wav'));
    expect(files).toHaveLength(4);
    expect(listTree(parallel)).toEqual(listTree(serial));
    for (const f of files) expect(readFileSync(join(parallel, f)).equals(readFileSync(join(serial, f))), f).toBe(true);
    const zero = await runCli(['separate', stereo, '--jobs', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--jobs must be an integer from 1 to 64 \(got "0"\)/);
  });

  it('--model takes an http URL with a pinned sha256 (downloaded once into the cache) and rejects unknown names', async () => {
    const model = readFileSync(STANDIN);
    const sha = createHash('sha256').update(model).digest('hex');
    let requests = 0;
    const server: Server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-length': model.length, 'content-type': 'application/octet-stream' });
      res.end(model);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/standin.onnx#sha256=${sha}`;
    const cache = join(dir, 'cache-url');
    try {
      for (const out of ['out-url-1', 'out-url-2']) {
        const run = await runCli(['separate', stereo, '-o', join(dir, out), '--model', url, '--shifts', '0', '--quiet'], { env: { DEMUCS_MOBILE_CACHE: cache } });
        expect(run.code, run.stderr).toBe(0);
      }
      expect(requests).toBe(1);
      expect(readFileSync(join(dir, 'out-url-2', 'stereo', 'source0.wav')).equals(readFileSync(join(dir, 'out-url-1', 'stereo', 'source0.wav')))).toBe(true);
    } finally {
      server.close();
    }
    const unknown = await runCli(['separate', stereo, '-o', join(dir, 'out-unknown'), '--model', 'htdemucs_9s']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/htdemucs_9s.*\[ERR_MODEL_NOT_FOUND\]/);
  });

  it('--no-cache leaves the cache directory untouched', async () => {
    const cache = join(dir, 'cache-none');
    const run = await runCli(['separate', stereo, '-o', join(dir, 'out-nocache'), '--model', STANDIN, '--shifts', '0', '--quiet', '--no-cache'], { env: { DEMUCS_MOBILE_CACHE: cache } });
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(cache)).toBe(false);
    const cached = await runCli(['separate', stereo, '-o', join(dir, 'out-cache'), '--model', STANDIN, '--shifts', '0', '--quiet'], { env: { DEMUCS_MOBILE_CACHE: cache } });
    expect(cached.code, cached.stderr).toBe(0);
    expect(listTree(cache).length).toBeGreaterThan(0);
  });

  it.skipIf(skipWithout('script', '-V'))('draws a progress bar with an ETA on a terminal', () => {
    const out = join(dir, 'out-tty');
    // `script` gives the child a pseudo-terminal, as an interactive shell would. The line is
    // 84 columns; the pseudo-terminal's width is the invoking terminal's, or 80 without one,
    // where the bar would be cut at "ET", so it is set wide enough first.
    const command = `stty cols 120; ${[process.execPath, CLI, 'separate', stereo, '-o', out, '--model', STANDIN, '--shifts', '0'].map((a) => `'${a}'`).join(' ')}`;
    const run = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    expect(run.status, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/stereo\.wav \|[█░]+\| 100% \| 1\/1 windows \| \d+s elapsed \| ETA 0s/);
    expect(existsSync(join(out, 'stereo', 'source0.wav'))).toBe(true);
  });
});

describe('separate --help and -V', () => {
  it('lists every flag, and -V prints the package version', async () => {
    const help = await runCli(['separate', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--out', '--model', '--shifts', '--seed', '--overlap', '--segment', '--two-stems', '--stems', '--format', '--bit-depth', '--mp3-bitrate', '--clip-mode', '--threads', '--jobs', '--no-cache', '--quiet', '--json']) {
      expect(help.stdout, flag).toContain(flag);
    }
    const version = await runCli(['-V']);
    expect([version.code, version.stdout.trim()]).toEqual([0, JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version]);
  });
});

describe.skipIf(noFfmpeg)('separate: bad files of every kind (one line, exit 3, nothing written)', () => {
  const sine = Float32Array.from({ length: 44100 }, (_, i) => 0.3 * Math.sin(i * 0.05));
  const cases: { name: string; file: () => string; message: RegExp }[] = [
    { name: 'an empty mp3', file: () => write('empty.mp3', ''), message: /empty\.mp3: the file is empty \(0 bytes\) \[ERR_AUDIO_EMPTY\]$/ },
    {
      name: 'a truncated flac',
      file: () => {
        const wav = write('for-flac.wav', encodeWav({ sampleRate: 44100, channels: [sine, sine] }));
        const flac = join(dir, 'whole.flac');
        execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', wav, flac]);
        const bytes = readFileSync(flac);
        return write('truncated.flac', bytes.subarray(0, Math.floor(bytes.length / 2)));
      },
      message: /truncated\.flac: the FLAC stream decoded to \d+ frames, fewer than the 44100 its STREAMINFO declares: the file is cut short .*\[ERR_AUDIO_TRUNCATED\]$/,
    },
    {
      name: 'a corrupt mp3',
      file: () => {
        const bytes = new Uint8Array(50_000).map((_, i) => (i * 7919) % 251);
        bytes.set([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0]); // an ID3 tag header, then noise
        return write('corrupt.mp3', bytes);
      },
      message: /corrupt\.mp3: no MPEG audio frame found in the 49990 bytes after the 10-byte ID3v2 tag: the file is corrupt or not an MP3 \[ERR_AUDIO_FORMAT\]$/,
    },
    {
      name: 'an unsupported AIFF',
      file: () => {
        const wav = write('for-aiff.wav', encodeWav({ sampleRate: 44100, channels: [sine, sine] }));
        const aiff = join(dir, 'song.aiff');
        execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', wav, aiff]);
        return aiff;
      },
      message: /song\.aiff: AIFF files are not supported; convert to WAV or FLAC .*\[ERR_AUDIO_FORMAT\]$/,
    },
    { name: 'a zero-length WAV', file: () => write('zero.wav', encodeWav({ sampleRate: 44100, channels: [new Float32Array(0), new Float32Array(0)] })), message: /zero\.wav: WAV data chunk holds no frames \(0 bytes\) \[ERR_AUDIO_EMPTY\]$/ },
    {
      name: 'a zero-length FLAC',
      file: () => {
        const flac = join(dir, 'zero.flac');
        execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=stereo', '-t', '0', flac]);
        return flac;
      },
      message: /zero\.flac: the FLAC stream holds no audio frames \[ERR_AUDIO_EMPTY\]$/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const out = join(dir, `out-bad-${c.name.replace(/\W+/g, '-')}`);
      const file = c.file();
      const run = await runCli(['separate', file, '-o', out, '--model', STANDIN, '--shifts', '0']);
      expect(run.code, run.stderr).toBe(3);
      const lines = run.stderr.trim().split('\n').filter((l) => l.startsWith('demucs-mobile:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]!.startsWith(`demucs-mobile: ${file}: `), lines[0]).toBe(true);
      expect(lines[0]).toMatch(c.message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(out)).toBe(false);
    });
  }
});

describe.skipIf(noFfmpeg)('separate: the real model on a 48 kHz MP3 and with --two-stems', () => {
  const ref = readF32('e2e/stems_torch.f32', [4, 2, 441000]);
  const refRow = (s: number, c: number) => ref.subarray((s * 2 + c) * 441000, (s * 2 + c + 1) * 441000);

  it('a 48 kHz MP3 separates; its stems come back at 48 kHz, close to the PyTorch stems resampled', async () => {
    const mp3 = join(dir, 'mix48k.mp3');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', fixturePath('e2e/mix.wav'), '-ar', '48000', '-b:a', '320k', mp3]);
    const out = join(dir, 'out-real-mp3');
    const run = await runCli(['separate', mp3, '-o', out, '--shifts', '0', '--bit-depth', '32', '--clip-mode', 'none', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ ok: true, sampleRate: 48000, source: { container: 'mp3', sampleRate: 48000 } });
    const frames48 = resampledLength(441000, 44100, 48000);
    ['drums', 'bass', 'other', 'vocals'].forEach((name, s) => {
      const stem = readWav(join(out, 'mix48k', `${name}.wav`));
      expect(stem.sampleRate).toBe(48000);
      expect(stem.format.frames).toBe(Math.round(report.audioSeconds * 48000));
      expect(Math.abs(stem.format.frames - frames48)).toBeLessThanOrEqual(1);
      const expected = resample({ sampleRate: 44100, channels: [refRow(s, 0), refRow(s, 1)] }, 48000);
      for (let c = 0; c < 2; c++) {
        const n = Math.min(frames48, stem.format.frames);
        // MP3 at 320 kbit/s costs some fidelity: measured 31.4 (drums) to 40.5 dB (vocals).
        expect(snrDb(expected.channels[c]!.subarray(0, n), stem.channels[c]!.subarray(0, n)), `${name} ch${c}`).toBeGreaterThan(28);
      }
    });
  });

  it('--two-stems vocals: vocals and no_vocals = drums + bass + other, within 60 dB of PyTorch', async () => {
    const out = join(dir, 'out-real-two');
    const run = await runCli(['separate', fixturePath('e2e/mix.wav'), '-o', out, '--shifts', '0', '--bit-depth', '32', '--clip-mode', 'none', '--two-stems', 'vocals', '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(listTree(out)).toEqual(['mix', 'mix/no_vocals.wav', 'mix/vocals.wav']);
    const vocals = readWav(join(out, 'mix', 'vocals.wav'));
    const rest = readWav(join(out, 'mix', 'no_vocals.wav'));
    for (let c = 0; c < 2; c++) {
      expect(snrDb(refRow(3, c), vocals.channels[c]!)).toBeGreaterThanOrEqual(60);
      const sum = refRow(0, c).map((x, i) => x + refRow(1, c)[i]! + refRow(2, c)[i]!);
      expect(snrDb(sum, rest.channels[c]!)).toBeGreaterThanOrEqual(60);
    }
  });
});
