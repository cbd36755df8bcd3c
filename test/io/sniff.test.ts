import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findMpegFrame, id3v2Size, parseAdtsHeader, parseMpegFrameHeader, parseXing, skipId3v2 } from '../../src/io/mpeg-audio.js';
import { lastOggPage, OggPageWalker, parseFlacStreamInfo, parseOggIdentification } from '../../src/io/ogg.js';
import { AUDIO_CONTAINER_NAMES, sniffAudioFormat, type AudioContainer } from '../../src/io/sniff.js';
import { encodeTestFile, type TestEncoding } from '../helpers/encoded-audio.js';
import { skipWithout } from '../helpers/tools.js';

const bytes = (...parts: (string | number[] | Uint8Array)[]): Uint8Array => {
  const arrays = parts.map((p) => (typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0)) : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
};

/** A seeded pseudo-random byte string. */
function noise(n: number, seed = 7): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24;
  });
}

/** An ID3v2.4 header declaring `size` body bytes, then that many zero bytes. */
function id3(size: number): Uint8Array {
  const syncsafe = [(size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f];
  return bytes('ID3', [4, 0, 0], syncsafe, new Uint8Array(size));
}

describe('MPEG audio headers', () => {
  it('parses an MPEG-1 layer III header: 320 kbit/s at 44.1 kHz is 1044 bytes (+1 padded)', () => {
    // FF FB: sync, MPEG-1, layer III, no CRC; E0: bit-rate index 14 (320k), 44.1 kHz, no padding; 00: stereo.
    expect(parseMpegFrameHeader(Uint8Array.of(0xff, 0xfb, 0xe0, 0x00), 0)).toEqual({
      version: 1,
      layer: 3,
      bitrate: 320,
      sampleRate: 44100,
      channelCount: 2,
      samplesPerFrame: 1152,
      frameLength: 1044,
      protected: false,
    });
    expect(parseMpegFrameHeader(Uint8Array.of(0xff, 0xfb, 0xe2, 0xc0), 0)).toMatchObject({ frameLength: 1045, channelCount: 1 });
    // MPEG-2 layer III, 64 kbit/s at 22.05 kHz: 576 samples, 72 × 64000 / 22050 = 208 bytes.
    expect(parseMpegFrameHeader(Uint8Array.of(0xff, 0xf3, 0x80, 0xc0), 0)).toMatchObject({
      version: 2,
      sampleRate: 22050,
      samplesPerFrame: 576,
      frameLength: 208,
    });
    // Free format (index 0), bad bit rate (15), reserved rate (3), reserved layer (ADTS), no sync.
    for (const b2 of [0x00, 0xf0, 0x0c]) expect(parseMpegFrameHeader(Uint8Array.of(0xff, 0xfb, b2, 0), 0)).toBeUndefined();
    expect(parseMpegFrameHeader(Uint8Array.of(0xff, 0xf1, 0x50, 0x80), 0)).toBeUndefined();
    expect(parseMpegFrameHeader(Uint8Array.of(0xfe, 0xfb, 0xe0, 0x00), 0)).toBeUndefined();
    expect(parseMpegFrameHeader(Uint8Array.of(0xff, 0xfb, 0xe0), 0)).toBeUndefined();
  });

  it('parses ADTS headers and tells them from MP3', () => {
    // FF F1: sync, MPEG-4, layer 00, no CRC; 50: AAC LC, 44.1 kHz (index 4); 80: 2 channels; length 0x100.
    const adts = Uint8Array.of(0xff, 0xf1, 0x50, 0x80, 0x20, 0x1f, 0xfc);
    expect(parseAdtsHeader(adts, 0)).toEqual({ sampleRate: 44100, channelCount: 2, frameLength: 256 });
    expect(parseAdtsHeader(Uint8Array.of(0xff, 0xfb, 0xe0, 0x00, 0, 0, 0), 0)).toBeUndefined();
  });

  it('measures ID3v2 tags, footer included, and steps over consecutive ones', () => {
    expect(id3v2Size(id3(100))).toBe(110);
    const withFooter = id3(20);
    withFooter[5] = 0x10;
    expect(id3v2Size(withFooter)).toBe(40);
    expect(skipId3v2(bytes(id3(5), id3(7), [0xff]))).toBe(32);
    expect(id3v2Size(bytes('ID3', [4, 0, 0, 0x80, 0, 0, 0]))).toBe(0); // not syncsafe
    expect(skipId3v2(bytes('RIFF'))).toBe(0);
  });

  it('finds a frame only where the next one chains, so random bytes are not taken for MP3', () => {
    const frame = new Uint8Array(1044);
    frame.set([0xff, 0xfb, 0xe0, 0x00]);
    const stream = bytes(noise(300), frame, frame, frame);
    expect(findMpegFrame(stream, 0, stream.length)).toMatchObject({ offset: 300 });
    // A lone valid header followed by something else is not a frame.
    const lone = bytes([0xff, 0xfb, 0xe0, 0x00], new Uint8Array(1040), [0x12, 0x34, 0x56, 0x78], new Uint8Array(100));
    expect(findMpegFrame(lone, 0, lone.length)).toBeUndefined();
  });
});

describe('sniffAudioFormat on synthetic bytes', () => {
  const cases: [string, Uint8Array, AudioContainer | undefined][] = [
    ['RIFF/WAVE', bytes('RIFF', [0, 0, 0, 0], 'WAVE'), 'wav'],
    ['RIFF/AVI', bytes('RIFF', [0, 0, 0, 0], 'AVI '), undefined],
    ['RF64', bytes('RF64', [0xff, 0xff, 0xff, 0xff], 'WAVE'), 'rf64'],
    ['fLaC', bytes('fLaC', [0, 0, 0, 34]), 'flac'],
    ['ID3 + fLaC', bytes(id3(20), 'fLaC'), 'flac'],
    ['ID3 only, tag longer than the head', id3(200).subarray(0, 50), 'mp3'],
    ['ID3 + garbage (the decoder says what is wrong)', bytes(id3(20), noise(2000)), 'mp3'],
    ['ftyp', bytes([0, 0, 0, 0x20], 'ftypM4A '), 'mp4'],
    ['AIFF', bytes('FORM', [0, 0, 0, 0], 'AIFF'), 'aiff'],
    ['AIFC', bytes('FORM', [0, 0, 0, 0], 'AIFC'), 'aiff'],
    ['CAF', bytes('caff', [0, 1, 0, 0]), 'caf'],
    ['WebM', bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84], 'webm'), 'webm'],
    ['Matroska', bytes([0x1a, 0x45, 0xdf, 0xa3, 0xa3, 0x42, 0x82, 0x88], 'matroska'), 'matroska'],
    ['ASF', Uint8Array.of(0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11, 0xa6, 0xd9, 0x00, 0xaa, 0x00, 0x62, 0xce, 0x6c), 'asf'],
    ['MIDI', bytes('MThd', [0, 0, 0, 6]), 'midi'],
    ['OggS with a broken first page', bytes('OggS', noise(100)), 'ogg'],
    ['text', bytes('hello, this is not audio\n'), undefined],
    ['random bytes', noise(4096), undefined],
    ['empty', new Uint8Array(0), undefined],
  ];
  it.each(cases)('%s', (_, head, expected) => {
    expect(sniffAudioFormat(head)).toBe(expected);
  });

  it('names every container', () => {
    expect(AUDIO_CONTAINER_NAMES.aiff).toBe('AIFF');
    expect(Object.isFrozen(AUDIO_CONTAINER_NAMES)).toBe(true);
  });
});

describe.skipIf(skipWithout('ffmpeg', '-version') || skipWithout('sox'))('sniffAudioFormat on files from sox and ffmpeg', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sniff-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const head = (encoding: TestEncoding, channelCount = 2): Uint8Array =>
    new Uint8Array(readFileSync(encodeTestFile(dir, encoding, { channelCount, seconds: 0.5 }).path)).subarray(0, 64 * 1024);

  const cases: [TestEncoding, AudioContainer][] = [
    ['wav-s16', 'wav'],
    ['wav-ext-s24', 'wav'],
    ['wav-ext-f32', 'wav'],
    ['rf64', 'rf64'],
    ['flac16', 'flac'],
    ['ogg-flac', 'ogg-flac'],
    ['mp3-cbr320', 'mp3'],
    ['mp3-noxing', 'mp3'],
    ['ogg-vorbis', 'ogg-vorbis'],
    ['ogg-opus', 'ogg-opus'],
    ['m4a-aac', 'mp4'],
    ['mov-s16', 'mp4'],
    ['adts-aac', 'adts'],
    ['aiff', 'aiff'],
    ['caf', 'caf'],
    ['webm-opus', 'webm'],
    ['mka-flac', 'matroska'],
    ['wma', 'asf'],
  ];
  it.each(cases)('%s → %s', (encoding, expected) => {
    expect(sniffAudioFormat(head(encoding))).toBe(expected);
  });

  it('reads the Ogg identification headers and the last page', () => {
    const vorbis = readFileSync(encodeTestFile(dir, 'ogg-vorbis', { channelCount: 1, sampleRate: 48000, seconds: 0.5 }).path);
    expect(parseOggIdentification(vorbis)).toEqual({ codec: 'vorbis', sampleRate: 48000, channelCount: 1, valid: true });
    // ffmpeg's libopus pre-skip is 312 samples (6.5 ms at 48 kHz); the output rate is 48 kHz whatever went in.
    const opus = new Uint8Array(readFileSync(encodeTestFile(dir, 'ogg-opus', { sampleRate: 44100, seconds: 0.5 }).path));
    expect(parseOggIdentification(opus)).toEqual({ codec: 'opus', sampleRate: 48000, channelCount: 2, preSkip: 312, valid: true });
    // The last page ends the stream; its granule is pre-skip + 0.5 s at 48 kHz.
    expect(lastOggPage(opus.subarray(opus.length - 65536))).toMatchObject({ granule: 312 + 24000, flags: 4 });
    expect(lastOggPage(opus.subarray(0, opus.length - 1))).toBeUndefined();

    const walker = new OggPageWalker();
    for (let o = 0; o < opus.length; o += 1000) walker.push(opus.subarray(o, o + 1000));
    expect([walker.atPageBoundary, walker.ended, walker.junkBytes, walker.lastGranule]).toEqual([true, true, 0, 24312]);
    const cut = new OggPageWalker();
    cut.push(opus.subarray(0, opus.length - 10));
    expect([cut.atPageBoundary, cut.ended]).toEqual([false, false]);
    const junk = new OggPageWalker();
    junk.push(bytes(opus.subarray(0, 200), 'OgXjunk', opus.subarray(200)));
    expect(junk.junkBytes).toBeGreaterThan(0);
  });

  it('reads FLAC STREAMINFO and the Xing/LAME header of an MP3', () => {
    const flac = new Uint8Array(readFileSync(encodeTestFile(dir, 'flac24', { sampleRate: 48000, seconds: 0.5 }).path));
    expect(parseFlacStreamInfo(flac, 4)).toEqual({ sampleRate: 48000, channelCount: 2, bitsPerSample: 24, totalSamples: 24000 });
    expect(parseFlacStreamInfo(bytes('fLaC', noise(40)), 4)).toBeUndefined();

    const mp3 = new Uint8Array(readFileSync(encodeTestFile(dir, 'mp3-cbr320', { seconds: 0.5 }).path));
    const found = findMpegFrame(mp3, skipId3v2(mp3), 4096)!;
    // LAME (via ffmpeg) writes an Info tag: 21 frames for 0.5 s, 576 samples of encoder delay,
    // and padding that makes 21 × 1152 − 576 − padding = 22050.
    expect(parseXing(mp3, found.offset, found.header)).toEqual({ tag: 'Info', frames: 21, delay: 576, padding: 21 * 1152 - 576 - 22050 });
  });
});
