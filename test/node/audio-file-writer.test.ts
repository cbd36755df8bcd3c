import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeAudio, type AudioFileFormat } from '../../src/io/encode.js';
import { encodeWav, type ClipMode, type WavBitDepth } from '../../src/io/wav.js';
import { AudioFileWriter } from '../../src/node/audio-file-writer.js';
import { ffmpegDecode, ffprobe, musicLike, peakOf, planarSnrDb } from '../helpers/external-decode.js';
import { skipWithout } from '../helpers/tools.js';

const root = mkdtempSync(join(tmpdir(), 'audio-file-writer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
/** A new empty directory per test, so listings show only that test's files. */
function freshDir(): string {
  const dir = join(root, String(dirCount++));
  mkdirSync(dir);
  return dir;
}

/** Writes `channels` through a writer in blocks of `block` frames, checking the final file is absent until finish. */
async function writeAll(
  path: string,
  channels: Float32Array[],
  options: { format: AudioFileFormat; sampleRate: number; bitDepth?: WavBitDepth; clipMode?: ClipMode; mp3Bitrate?: number },
  block: number,
): Promise<void> {
  const frames = channels[0]!.length;
  const w = await AudioFileWriter.create(path, { ...options, channelCount: channels.length, frames });
  expect(w.path).toBe(path);
  expect(w.format).toBe(options.format);
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dir = path.slice(0, path.lastIndexOf('/'));
  for (let start = 0; start < frames; start += block) {
    await w.write(channels.map((c) => c.subarray(start, Math.min(frames, start + block))));
    expect(readdirSync(dir)).not.toContain(name);
    expect(readdirSync(dir)).toContain(`${name}.partial`);
  }
  expect(w.framesWritten).toBe(frames);
  await w.finish();
  expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
}

const quiet = musicLike(44100, 150001, 2, 0.9); // peak 0.9 ≤ 1/1.01: 'rescale' keeps gain 1
const loud = musicLike(44100, 150001, 2, 1.6); // peak 1.6: 'rescale' re-encodes from the spill

describe('AudioFileWriter', () => {
  expect(peakOf(quiet)).toBeLessThan(1 / 1.01);
  expect(peakOf(loud)).toBeGreaterThan(1 / 1.01);

  const cases: [AudioFileFormat, WavBitDepth, ClipMode, 'quiet' | 'loud'][] = [
    ['wav', 16, 'rescale', 'loud'],
    ['wav', 24, 'clamp', 'loud'],
    ['wav', 32, 'none', 'loud'],
    ['flac', 16, 'rescale', 'quiet'],
    ['flac', 16, 'rescale', 'loud'],
    ['flac', 24, 'clamp', 'loud'],
    ['flac', 24, 'none', 'loud'],
    ['mp3', 16, 'rescale', 'quiet'],
    ['mp3', 16, 'rescale', 'loud'],
    ['mp3', 16, 'clamp', 'loud'],
    ['mp3', 16, 'none', 'loud'],
  ];
  it.each(cases)('%s %i-bit %s (%s): block by block, byte-identical to encodeAudio', async (format, bitDepth, clipMode, level) => {
    const channels = level === 'quiet' ? quiet : loud;
    const path = join(freshDir(), `out.${format}`);
    // Blocks of 70000 frames: larger than the encoder's and the spill reader's 65536.
    await writeAll(path, channels, { format, sampleRate: 44100, bitDepth, clipMode, mp3Bitrate: 192 }, 70000);
    const expected = await encodeAudio({ sampleRate: 44100, channels }, { format, bitDepth, clipMode, mp3Bitrate: 192 });
    expect(Buffer.compare(readFileSync(path), expected)).toBe(0);
  });

  it('delegates WAV to WavFileWriter: the bytes of encodeWav', async () => {
    const path = join(freshDir(), 'out.wav');
    await writeAll(path, [loud[0]!], { format: 'wav', sampleRate: 48000, bitDepth: 24 }, 33333);
    expect(Buffer.compare(readFileSync(path), encodeWav({ sampleRate: 48000, channels: [loud[0]!] }, { bitDepth: 24 }))).toBe(0);
  });

  it.skipIf(skipWithout('ffmpeg', '-version'))('files ffmpeg reads back: rate, channels, length, samples', async () => {
    for (const [format, sampleRate, channelCount] of [
      ['flac', 48000, 1],
      ['flac', 44100, 2],
      ['mp3', 48000, 1],
      ['mp3', 44100, 2],
    ] as const) {
      const channels = musicLike(sampleRate, 3 * sampleRate + 5, channelCount, 1.5);
      const path = join(freshDir(), `x.${format}`);
      await writeAll(path, channels, { format, sampleRate, bitDepth: 24 }, 44100);
      const probe = ffprobe(path);
      expect(probe).toMatchObject({ codec_name: format, sample_rate: String(sampleRate), channels: channelCount });
      const decoded = ffmpegDecode(path, channelCount);
      expect(decoded[0]!.length).toBe(3 * sampleRate + 5);
      // Rescaled (peak 1.5), so the decoded peak is 1/1.01.
      expect(peakOf(decoded)).toBeCloseTo(1 / 1.01, format === 'flac' ? 6 : 2);
      const gain = 1 / (1.01 * peakOf(channels));
      const snr = planarSnrDb(channels.map((c) => c.map((v) => v * gain)), decoded);
      // Measured: FLAC 24-bit 130.3–130.6 dB (quantisation only); MP3 320k 40.5 dB (44.1 kHz
      // stereo) and 41.5 dB (48 kHz mono).
      expect(snr).toBeGreaterThan(format === 'flac' ? 120 : 36);
    }
  });

  it('abort removes the partial and the spill file', async () => {
    for (const format of ['wav', 'flac', 'mp3'] as const) {
      const dir = freshDir();
      const w = await AudioFileWriter.create(join(dir, `a.${format}`), { format, channelCount: 2, sampleRate: 44100, frames: 100000 });
      await w.write(loud.map((c) => c.subarray(0, 50000)));
      expect(readdirSync(dir).sort()).toEqual([`a.${format}.partial`, `a.${format}.spill.partial`]);
      await w.abort();
      await w.abort();
      expect(readdirSync(dir)).toEqual([]);
    }
  });

  it('finish with missing frames, too many frames and a NaN to rescale leave no file', async () => {
    for (const format of ['wav', 'flac', 'mp3'] as const) {
      const dir = freshDir();
      const short = await AudioFileWriter.create(join(dir, `s.${format}`), { format, channelCount: 1, sampleRate: 44100, frames: 10000 });
      await short.write([quiet[0]!.subarray(0, 5000)]);
      await expect(short.write([quiet[0]!.subarray(0, 6000)])).rejects.toThrow(
        new RangeError('block of 6000 frames exceeds the declared 10000 (written 5000)'),
      );
      await expect(short.finish()).rejects.toThrow(new RangeError(`only 5000 of 10000 frames were written to ${join(dir, `s.${format}`)}`));
      expect(readdirSync(dir)).toEqual([]);

      const nan = await AudioFileWriter.create(join(dir, `n.${format}`), { format, channelCount: 1, sampleRate: 44100, frames: 3 });
      await nan.write([Float32Array.of(0.1, NaN, 0.2)]);
      await expect(nan.finish()).rejects.toMatchObject({ code: 'ERR_NON_FINITE' });
      expect(readdirSync(dir)).toEqual([]);
    }
  });

  it('checks options before creating any file', async () => {
    const dir = freshDir();
    const base = { channelCount: 2, sampleRate: 44100, frames: 100 };
    await expect(AudioFileWriter.create(join(dir, 'a.flac'), { ...base, format: 'flac', bitDepth: 32 })).rejects.toThrow(
      /bitDepth 32 is not available for format 'flac'/,
    );
    await expect(AudioFileWriter.create(join(dir, 'a.mp3'), { ...base, format: 'mp3', mp3Bitrate: 100 })).rejects.toThrow(
      /mp3Bitrate 100 kbps is not an MP3 bitrate at 44100 Hz/,
    );
    await expect(AudioFileWriter.create(join(dir, 'a.mp3'), { ...base, format: 'mp3', sampleRate: 96000 })).rejects.toThrow(
      /sampleRate 96000 is not available for format 'mp3'/,
    );
    await expect(AudioFileWriter.create(join(dir, 'a.flac'), { ...base, format: 'flac', clipMode: 'soft' as never })).rejects.toThrow(
      /^options\.clipMode must be one of 'rescale', 'clamp', 'none' \(got "soft"\)$/,
    );
    await expect(AudioFileWriter.create(join(dir, 'a.flac'), { ...base, format: 'flac', frames: -1 })).rejects.toThrow(
      /frames must be an integer ≥ 0 \(got -1\)/,
    );
    await expect(AudioFileWriter.create(join(dir, 'a.mp3'), { ...base, format: 'mp3', frames: 0 })).rejects.toThrow(
      new RangeError('an MP3 file needs at least one frame (got frames: 0)'),
    );
    await expect(AudioFileWriter.create(join(dir, 'a.ogg'), { ...base, format: 'ogg' as never })).rejects.toThrow(
      /format must be one of 'wav', 'flac', 'mp3'/,
    );
    expect(readdirSync(dir)).toEqual([]);
    const w = await AudioFileWriter.create(join(dir, 'b.flac'), { ...base, format: 'flac' });
    await expect(w.write([new Float32Array(10)])).rejects.toThrow(/channels holds 1 channels but the encoder was created for 2/);
    await w.abort();
    expect(readdirSync(dir)).toEqual([]);
  });
});
