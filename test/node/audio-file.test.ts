import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isDemucsError, type DemucsErrorCode } from '../../src/core/errors.js';
import { decodeAudio, decoderStats } from '../../src/io/decode.js';
import { encodeWav } from '../../src/io/wav.js';
import { openAudioFile, type AudioFileReader, type OpenAudioFileOptions } from '../../src/node/audio-file.js';
import {
  alignAndCompare,
  damage,
  emptyTestFile,
  encodeTestFile,
  type EmptyTestKind,
  type TestEncoding,
} from '../helpers/encoded-audio.js';
import { maxAbsDiff } from '../helpers/fixtures.js';
import { skipWithout } from '../helpers/tools.js';

const NO_TOOLS = skipWithout('ffmpeg', '-version') || skipWithout('sox');
const dir = mkdtempSync(join(tmpdir(), 'audio-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => expect(decoderStats.live).toBe(0));

interface Read {
  readonly reader: AudioFileReader;
  readonly channels: Float32Array[];
  readonly blockLengths: number[];
}

/** Opens, reads every block, closes. */
async function readAll(path: string, options?: OpenAudioFileOptions): Promise<Read> {
  const reader = await openAudioFile(path, options);
  const blocks: (readonly Float32Array[])[] = [];
  try {
    for await (const block of reader.blocks()) blocks.push(block);
  } finally {
    await reader.close();
  }
  const channels = Array.from({ length: reader.info.channelCount }, (_, c) => {
    const out = new Float32Array(blocks.reduce((n, b) => n + b[c]!.length, 0));
    let o = 0;
    for (const b of blocks) {
      out.set(b[c]!, o);
      o += b[c]!.length;
    }
    return out;
  });
  return { reader, channels, blockLengths: blocks.map((b) => b[0]!.length) };
}

/** Runs `fn` and checks it rejects with a DemucsError of `code` whose message holds every part. */
async function expectError(fn: () => Promise<unknown>, code: DemucsErrorCode, ...parts: (string | RegExp)[]): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  expect(isDemucsError(error), `expected a DemucsError, got ${String(error)}`).toBe(true);
  const e = error as Error & { code: string };
  expect(e.code, e.message).toBe(code);
  for (const p of parts) expect(e.message).toMatch(p);
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.skipIf(NO_TOOLS)('openAudioFile: every format, in blocks', () => {
  // [encoding, rate, channels, bound on |decoded − original|, measured maximum]: see
  // test/io/decode.test.ts for where the bounds come from.
  const lossless: [TestEncoding, number, number, number, string][] = [
    ['wav-u8', 44100, 1, 2 ** -7, 'measured 3.906e-3'],
    ['wav-s16', 44100, 2, 2 ** -15, 'measured 1.526e-5'],
    ['wav-s24', 48000, 2, 2 ** -23, 'measured 5.999e-8'],
    ['wav-s32', 44100, 2, 2 ** -31, 'measured 4.584e-10'],
    ['wav-f32', 44100, 2, 2 ** -24, 'measured 3.015e-8'],
    ['wav-f64', 48000, 1, 2 ** -31, 'measured 4.529e-10'],
    ['wav-ext-s24', 44100, 2, 2 ** -23, 'measured 5.999e-8'],
    ['wav-ext-f32', 44100, 2, 0, 'measured 0'],
    ['flac16', 44100, 2, 2 ** -15, 'measured 1.526e-5'],
    ['flac24', 48000, 2, 2 ** -23, 'measured 5.984e-8'],
    ['flac16', 48000, 6, 2 ** -15, 'measured 1.526e-5 (5.1: six channels, no downmix)'],
    ['ogg-flac', 44100, 2, 2 ** -15, 'measured 1.526e-5'],
    ['mov-s16', 44100, 2, 2 ** -15, 'measured 1.526e-5 (mediabunny, no ffmpeg)'],
  ];
  it.each(lossless)('%s at %i Hz, %i channel(s): error ≤ %f (%s)', async (encoding, sampleRate, channelCount, bound) => {
    const file = encodeTestFile(dir, encoding, { sampleRate, channelCount });
    const { reader, channels } = await readAll(file.path, { blockFrames: 10000 });
    const frames = file.signal.channels[0]!.length;
    expect(reader.info).toMatchObject({ sampleRate, channelCount });
    if (reader.info.frames !== undefined) expect(reader.info.frames).toBe(frames);
    expect(channels.map((c) => c.length)).toEqual(Array(channelCount).fill(frames));
    for (let c = 0; c < channelCount; c++) expect(maxAbsDiff(channels[c]!, file.signal.channels[c]!).max).toBeLessThanOrEqual(bound);
  });

  // [encoding, rate, channels, lag, SNR floor in dB, length rule]. MP3, Vorbis, Opus: exact
  // length and lag 0. AAC through ffmpeg: M4A has its priming removed by the edit list (lag 0)
  // but keeps the padding of its last 1024-sample frame; raw ADTS has no edit list, so the
  // 1024 priming samples stay in front (lag 1024) and the padding at the end.
  const lossy: [TestEncoding, number, number, number, number, 'exact' | 'm4a' | 'adts', string][] = [
    ['mp3-cbr320', 44100, 2, 0, 21, 'exact', 'measured 23.60 dB'],
    ['mp3-vbr', 48000, 1, 0, 16, 'exact', 'measured 18.5 dB'],
    ['ogg-vorbis', 44100, 2, 0, 21, 'exact', 'measured 23.08 dB'],
    ['ogg-opus', 48000, 2, 0, 17, 'exact', 'measured 19.96 dB'],
    ['m4a-aac', 44100, 2, 0, 21, 'm4a', 'measured 23.66 dB, 110592 frames for 110250 (ffmpeg aac encoder and decoder)'],
    ['m4a-aac', 48000, 1, 0, 30, 'm4a', 'measured 32.75 dB, 120832 frames for 120000'],
    ['adts-aac', 44100, 2, 1024, 21, 'adts', 'measured 23.66 dB, 111616 frames for 110250'],
  ];
  it.each(lossy)('%s at %i Hz, %i channel(s): lag %i, SNR ≥ %i dB, length %s (%s)', async (encoding, sampleRate, channelCount, lag, minSnr, rule) => {
    const file = encodeTestFile(dir, encoding, { sampleRate, channelCount });
    const { reader, channels } = await readAll(file.path);
    const frames = file.signal.channels[0]!.length;
    expect(reader.info).toMatchObject({ sampleRate, channelCount });
    const n = channels[0]!.length;
    if (rule === 'exact') {
      expect(reader.info.frames).toBe(frames);
      expect(n).toBe(frames);
    } else {
      expect(reader.info.frames).toBeUndefined();
      const [lo, hi] = rule === 'm4a' ? [frames, frames + 1024] : [frames + 1024, frames + 2048];
      expect(n).toBeGreaterThanOrEqual(lo);
      expect(n).toBeLessThan(hi);
    }
    const cmp = alignAndCompare(file.signal.channels, channels);
    expect(cmp.lag).toBe(lag);
    expect(cmp.snrDb).toBeGreaterThanOrEqual(minSnr);
  });

  it('decodes exactly what decodeAudio decodes, in several blocks', async () => {
    for (const encoding of ['mp3-vbr', 'flac16', 'ogg-opus', 'wav-s24'] as const) {
      const file = encodeTestFile(dir, encoding, { seconds: 6 });
      const whole = await decodeAudio(new Uint8Array(readFileSync(file.path)));
      const { channels, blockLengths } = await readAll(file.path, { blockFrames: 50000 });
      expect(channels, encoding).toEqual(whole.channels);
      expect(blockLengths.length, encoding).toBeGreaterThan(1);
      // Blocks stay small: what 64 KiB of the file decodes to (or blockFrames for WAV).
      expect(Math.max(...blockLengths), encoding).toBeLessThanOrEqual(encoding === 'wav-s24' ? 50000 : 200000);
    }
  });

  it('gives ffmpeg output in blocks of blockFrames, the last one shorter', async () => {
    const file = encodeTestFile(dir, 'm4a-aac');
    const { blockLengths } = await readAll(file.path, { blockFrames: 30000 });
    expect(blockLengths).toEqual([30000, 30000, 30000, 20592]);
  });

  it('recognises files by content, not by name', async () => {
    const mp3AsWav = join(dir, 'really-an-mp3.wav');
    copyFileSync(encodeTestFile(dir, 'mp3-cbr320').path, mp3AsWav);
    const flacAsMp3 = join(dir, 'really-a-flac.mp3');
    copyFileSync(encodeTestFile(dir, 'flac16').path, flacAsMp3);
    expect((await readAll(mp3AsWav)).reader.info).toMatchObject({ container: 'mp3', codec: 'mp3', frames: 110250 });
    expect((await readAll(flacAsMp3)).reader.info).toMatchObject({ container: 'flac', codec: 'flac', frames: 110250 });
  });

  it('steps over an ID3v2 tag larger than the sniffing window (cover art), and over one in front of FLAC', async () => {
    const tag = (size: number): Uint8Array => {
      const out = new Uint8Array(10 + size);
      out.set([0x49, 0x44, 0x33, 4, 0, 0, (size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]);
      return out;
    };
    const withTag = (path: string, size: number, name: string): string => {
      const body = readFileSync(path);
      const out = join(dir, name);
      writeFileSync(out, Buffer.concat([tag(size), body]));
      return out;
    };
    const mp3 = encodeTestFile(dir, 'mp3-cbr320');
    const big = await readAll(withTag(mp3.path, 300_000, 'big-tag.mp3'));
    expect(big.reader.info).toMatchObject({ container: 'mp3', frames: 110250 });
    expect(big.channels).toEqual(await (await decodeAudio(new Uint8Array(readFileSync(mp3.path)))).channels);
    const flac = encodeTestFile(dir, 'flac16');
    const tagged = await readAll(withTag(flac.path, 1000, 'tagged.flac'));
    expect(tagged.reader.info).toMatchObject({ container: 'flac', frames: 110250 });
    expect(maxAbsDiff(tagged.channels[0]!, flac.signal.channels[0]!).max).toBeLessThanOrEqual(2 ** -15);
  });

  it('runs a new pass on every blocks() call, and frees the decoder when the loop stops early', async () => {
    const reader = await openAudioFile(encodeTestFile(dir, 'ogg-vorbis', { seconds: 6 }).path);
    try {
      for (let pass = 0; pass < 2; pass++) {
        let n = 0;
        for await (const block of reader.blocks()) {
          n += block[0]!.length;
          expect(decoderStats.live).toBe(1);
          break;
        }
        expect(n).toBeGreaterThan(0);
        expect(decoderStats.live).toBe(0);
      }
      let total = 0;
      for await (const block of reader.blocks()) total += block[0]!.length;
      expect(total).toBe(6 * 44100);
    } finally {
      await reader.close();
      await reader.close();
    }
    await expect(async () => {
      for await (const _ of reader.blocks()) void _;
    }).rejects.toThrow(/the reader was closed/);
  });

  it('stops ffmpeg when the loop stops early', async () => {
    const reader = await openAudioFile(encodeTestFile(dir, 'm4a-aac', { seconds: 6 }).path, { blockFrames: 4096 });
    try {
      for await (const block of reader.blocks()) {
        expect(block[0]!.length).toBe(4096);
        break;
      }
    } finally {
      await reader.close();
    }
  });
});

describe.skipIf(NO_TOOLS)('openAudioFile: errors name the file and the problem', () => {
  it('a missing file: the file-system error', async () => {
    await expect(openAudioFile(join(dir, 'nope.mp3'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('bad options', async () => {
    await expect(openAudioFile('x', { blockFrames: 0 })).rejects.toThrow(/options\.blockFrames must be a positive integer \(got 0\)/);
    await expect(openAudioFile('x', { ffmpeg: '' })).rejects.toThrow(TypeError);
  });

  it('an empty file (0 bytes)', async () => {
    const path = join(dir, 'zero-bytes.mp3');
    writeFileSync(path, '');
    await expectError(() => openAudioFile(path), 'ERR_AUDIO_EMPTY', `${path}: the file is empty (0 bytes)`);
  });

  const empties: [EmptyTestKind, RegExp][] = [
    ['wav', /WAV data chunk holds no frames/],
    ['mp3', /Info header declares no audio frames/],
    ['flac', /FLAC stream holds no audio frames/],
    ['ogg', /VORBIS stream holds no audio frames/],
    ['opus', /OPUS stream holds no audio frames/],
    ['m4a', /holds no tracks/],
  ];
  it.each(empties)('zero-length audio in a valid %s file', async (kind, message) => {
    const path = emptyTestFile(dir, kind);
    await expectError(() => readAll(path), 'ERR_AUDIO_EMPTY', new RegExp(`^${escape(path)}: `), message);
  });

  it('an ID3v2 tag with nothing after it', async () => {
    const path = join(dir, 'tag-only.mp3');
    writeFileSync(path, Uint8Array.of(0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 10, ...new Uint8Array(10)));
    await expectError(() => openAudioFile(path), 'ERR_AUDIO_EMPTY', 'the file holds an ID3v2 tag but no audio');
  });

  const truncations: [TestEncoding, RegExp][] = [
    ['wav-s16', /data chunk declares \d+ bytes but only \d+ bytes are present/],
    ['mp3-cbr320', /fewer than the 110250 its Info header declares/],
    ['flac16', /fewer than the 110250 its STREAMINFO declares/],
    ['ogg-vorbis', /the Ogg stream ends inside a page: the file is cut short/],
    ['ogg-opus', /the Ogg stream ends inside a page/],
    ['m4a-aac', /the MP4 box "mdat" at byte \d+ declares \d+ bytes, but the file ends after \d+/],
  ];
  it.each(truncations)('a %s file cut at 60 %%', async (encoding, message) => {
    const bytes = readFileSync(encodeTestFile(dir, encoding).path);
    const path = join(dir, `cut-${encoding}`);
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await expectError(() => readAll(path), 'ERR_AUDIO_TRUNCATED', new RegExp(`^${escape(path)}: `), message);
  });

  const damaged: [TestEncoding, DemucsErrorCode, RegExp][] = [
    ['ogg-vorbis', 'ERR_AUDIO_FORMAT', /Ogg page \d+ fails its CRC-32 check: the file is damaged/],
    ['mp3-cbr320', 'ERR_AUDIO_FORMAT', /the MP3 stream is damaged/],
    ['flac16', 'ERR_AUDIO_TRUNCATED', /or damaged in a way the codec cannot detect/],
    // ffmpeg runs with -xerror: the first bad AAC frame fails it.
    ['m4a-aac', 'ERR_AUDIO_FORMAT', /ffmpeg could not decode the aac audio: [^[]+$/],
  ];
  it.each(damaged)('a %s file damaged in the middle', async (encoding, code, message) => {
    const path = join(dir, `damaged-${encoding}`);
    writeFileSync(path, damage(new Uint8Array(readFileSync(encodeTestFile(dir, encoding).path)), 0.5, 3000));
    await expectError(() => readAll(path), code, new RegExp(`^${escape(path)}: `), message);
  });

  it('garbage after a valid magic number, random bytes, text', async () => {
    const write = (name: string, ...parts: (string | Uint8Array)[]): string => {
      const path = join(dir, name);
      writeFileSync(path, Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p))));
      return path;
    };
    let s = 5;
    const noise = Uint8Array.from({ length: 20000 }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
    await expectError(() => openAudioFile(write('g.flac', 'fLaC', noise)), 'ERR_AUDIO_FORMAT', 'the FLAC STREAMINFO block is missing or invalid');
    await expectError(() => openAudioFile(write('g.ogg', 'OggS', noise)), 'ERR_AUDIO_FORMAT', 'the first Ogg page is incomplete or invalid');
    await expectError(() => openAudioFile(write('g.mp3', 'ID3\x04\x00\x00\x00\x00\x00\x05', '12345', noise)), 'ERR_AUDIO_FORMAT', /g\.mp3: no MPEG audio frame found in the 20000 bytes after the 15-byte ID3v2 tag: the file is corrupt or not an MP3/);
    await expectError(() => openAudioFile(write('g.bin', noise)), 'ERR_AUDIO_FORMAT', /g\.bin: not a recognised audio file: it starts with bytes/);
    await expectError(() => openAudioFile(write('notes.mp3', 'These are my notes.\n')), 'ERR_AUDIO_FORMAT', /notes\.mp3: not a recognised audio file: it starts with text "These are my notes\. "/);
  });

  const unsupported: [TestEncoding, string][] = [
    ['aiff', 'AIFF files are not supported; convert to WAV or FLAC'],
    ['webm-opus', 'WebM files are not supported'],
    ['caf', 'Core Audio Format (CAF) files are not supported'],
  ];
  it.each(unsupported)('recognised but unsupported: %s', async (encoding, message) => {
    const path = encodeTestFile(dir, encoding, { seconds: 0.2 }).path;
    await expectError(() => openAudioFile(path), 'ERR_AUDIO_FORMAT', `${path}: ${message}`);
  });

  it('M4A/AAC without ffmpeg: the codec and the fixes', async () => {
    const path = encodeTestFile(dir, 'm4a-aac').path;
    await expectError(
      () => openAudioFile(path, { ffmpeg: false }),
      'ERR_AUDIO_CODEC',
      `${path}: MP4/M4A audio in codec 'aac' cannot be decoded here: Node has no decoder for it and ffmpeg is disabled`,
      /convert the file to WAV, FLAC, MP3 or Ogg/,
    );
    await expectError(
      () => openAudioFile(path, { ffmpeg: join(dir, 'no-such-ffmpeg') }),
      'ERR_AUDIO_CODEC',
      /ffmpeg was not found \(tried ".*no-such-ffmpeg"\); install ffmpeg/,
    );
  });

  it('a NaN sample in a float WAV, found while reading', async () => {
    const left = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i / 10));
    left[4321] = Number.NaN;
    const path = join(dir, 'nan.wav');
    writeFileSync(path, encodeWav({ sampleRate: 44100, channels: [left] }, { bitDepth: 32, clipMode: 'none' }));
    await expectError(() => readAll(path, { blockFrames: 1000 }), 'ERR_NON_FINITE', `${path}: sample 4321 of channel 0 is NaN; every sample must be finite`);
  });
});
