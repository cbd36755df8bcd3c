import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type DemucsErrorCode, isDemucsError } from '../../src/core/errors.js';
import {
  type ClipGain,
  type WavBitDepth,
  WAV_ENCODE_DEFAULTS,
  computeClipGain,
  decodeWav,
  encodeWav,
  encodeWavSamples,
  findNonFinite,
  peakAmplitude,
  wavHeader,
  wavLayout,
} from '../../src/io/wav.js';
import { fixturePath } from '../helpers/fixtures.js';
import { skipWithout } from '../helpers/tools.js';

// #region Helpers

const FIXTURE = fixturePath('e2e/mix.wav');

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

function le(bytes: number, value: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const v = new DataView(out.buffer);
  if (bytes === 2) v.setUint16(0, value, true);
  else v.setUint32(0, value, true);
  return out;
}

/** One RIFF chunk; a pad byte follows an odd-sized body unless `pad` is false. */
function chunk(id: string, body: Uint8Array, options: { size?: number; pad?: boolean } = {}): Uint8Array {
  const pad = (options.pad ?? true) && body.length % 2 === 1 ? new Uint8Array(1) : new Uint8Array(0);
  return concat(ascii(id), le(4, options.size ?? body.length), body, pad);
}

/** A RIFF/WAVE file; the RIFF size is right unless given. */
function riff(chunks: Uint8Array[], riffSize?: number): Uint8Array {
  const body = concat(...chunks);
  return concat(ascii('RIFF'), le(4, riffSize ?? body.length + 4), ascii('WAVE'), body);
}

interface FmtFields {
  tag: number;
  channels: number;
  rate?: number;
  bits: number;
  blockAlign?: number;
  cbSize?: number;
}

function fmtBody(f: FmtFields): Uint8Array {
  const rate = f.rate ?? 8000;
  const blockAlign = f.blockAlign ?? f.channels * (f.bits >> 3);
  return concat(
    le(2, f.tag),
    le(2, f.channels),
    le(4, rate),
    le(4, rate * blockAlign),
    le(2, blockAlign),
    le(2, f.bits),
    f.cbSize === undefined ? new Uint8Array(0) : le(2, f.cbSize),
  );
}

const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/** A 40-byte WAVE_FORMAT_EXTENSIBLE fmt body; `guid` overrides the subformat GUID. */
function fmtExtensible(f: { channels: number; bits: number; validBits?: number; subTag: number; guid?: number[] }): Uint8Array {
  const guid = f.guid ?? [f.subTag & 0xff, f.subTag >> 8, ...GUID_TAIL];
  return concat(
    fmtBody({ tag: 0xfffe, channels: f.channels, bits: f.bits, cbSize: 22 }),
    le(2, f.validBits ?? f.bits),
    le(4, (1 << f.channels) - 1),
    Uint8Array.from(guid),
  );
}

function int16Data(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setInt16(i * 2, x, true));
  return out;
}

function readInt16(bytes: Uint8Array, offset: number, count: number): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => v.getInt16(offset + i * 2, true));
}

function readInt24(bytes: Uint8Array, offset: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => {
    const p = offset + i * 3;
    return (bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16)) << 8 >> 8;
  });
}

function expectDemucsError(fn: () => unknown, code: DemucsErrorCode, ...parts: (string | number)[]): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(isDemucsError(error), `expected a DemucsError, got ${String(error)}`).toBe(true);
  const e = error as Error & { code: string };
  expect(e.code).toBe(code);
  for (const part of parts) expect(e.message).toContain(String(part));
}

/** Deterministic float32 samples in [-amp, amp] from a 32-bit LCG, with exact edge values first. */
function signal(frames: number, seed: number, amp = 1): Float32Array {
  const out = new Float32Array(frames);
  const edges = [0, amp, -amp, 0.5 * amp, -0.5 * amp, 1e-9, -1e-9];
  let s = seed >>> 0;
  for (let i = 0; i < frames; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = i < edges.length ? edges[i]! : (s / 0x100000000) * 2 * amp - amp;
  }
  return out;
}

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Interleaved little-endian float32 bytes of planar channels. */
function interleavedFloat32Bytes(channels: readonly Float32Array[]): Uint8Array {
  const frames = channels[0]!.length;
  const out = new Uint8Array(frames * channels.length * 4);
  const v = new DataView(out.buffer);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channels.length; c++) v.setFloat32((f * channels.length + c) * 4, channels[c]![f]!, true);
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

// #endregion

describe('decodeWav on the e2e fixture (float32, 18-byte fmt, fact chunk)', () => {
  const file = new Uint8Array(readFileSync(FIXTURE));
  const raw = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const DATA = 58;
  const FRAMES = 441000;
  const rawSample = (f: number, c: number): number => raw.getFloat32(DATA + (f * 2 + c) * 4, true);

  it('reports the source format', () => {
    const wav = decodeWav(file);
    expect(wav.format).toEqual({ encoding: 'float', bitsPerSample: 32, channelCount: 2, sampleRate: 44100, frames: FRAMES });
    expect(wav.sampleRate).toBe(44100);
    expect(wav.channels).toHaveLength(2);
    expect(wav.channels[0]).toBeInstanceOf(Float32Array);
    expect(wav.channels[0]!.length).toBe(FRAMES);
    expect(wav.channels[1]!.length).toBe(FRAMES);
  });

  it('equals the raw float32 samples from byte 58, exactly', () => {
    const [left, right] = decodeWav(file).channels as [Float32Array, Float32Array];
    // Known values, read once with a hex dump: bytes 58.. are a0 57 45 bd | e0 90 35 be.
    expect(left[0]).toBe(-0.0481792688369751);
    expect(right[0]).toBe(-0.17731046676635742);
    expect(left[220500]).toBe(0.05646562576293945);
    expect(right[440999]).toBe(-0.0014390945434570312);
    for (const start of [0, FRAMES / 2 - 1000, FRAMES - 2000]) {
      for (let f = start; f < start + 2000; f++) {
        expect(left[f]).toBe(rawSample(f, 0));
        expect(right[f]).toBe(rawSample(f, 1));
      }
    }
    // Checksum of every sample: FNV-1a of the re-interleaved bytes against that of the file's
    // data bytes (afef35bf, computed independently from the raw file).
    const reinterleaved = interleavedFloat32Bytes([left, right]);
    expect(fnv1a(reinterleaved)).toBe(fnv1a(file.subarray(DATA)));
    expect(fnv1a(file.subarray(DATA)).toString(16)).toBe('afef35bf');
    expect(peakAmplitude([left, right])).toBe(0.8844739198684692);
  });

  it('throws ERR_AUDIO_TRUNCATED with both byte counts when cut in the middle', () => {
    const cut = file.subarray(0, DATA + 1764000);
    expectDemucsError(() => decodeWav(cut), 'ERR_AUDIO_TRUNCATED', 'declares 3528000 bytes', 'only 1764000 bytes');
  });

  it('decodes the whole frames of a cut file with allowTruncated', () => {
    const cut = file.subarray(0, DATA + 1764000 + 5); // half the frames and 5 bytes of the next
    const wav = decodeWav(cut, { allowTruncated: true });
    expect(wav.format.frames).toBe(220500);
    expect(wav.channels[1]![220499]).toBe(rawSample(220499, 1));
  });
});

describe('decodeWav on hand-built files', () => {
  it('reads 8-bit unsigned PCM as (u8 - 128) / 128', () => {
    const wav = decodeWav(riff([chunk('fmt ', fmtBody({ tag: 1, channels: 1, bits: 8 })), chunk('data', Uint8Array.from([0, 128, 255, 64]))]));
    expect(wav.format).toEqual({ encoding: 'pcm', bitsPerSample: 8, channelCount: 1, sampleRate: 8000, frames: 4 });
    expect(Array.from(wav.channels[0]!)).toEqual([-1, 0, 127 / 128, -0.5]);
  });

  it('reads 16-bit PCM, int16 -32768 → -1.0, de-interleaving channels', () => {
    const wav = decodeWav(riff([chunk('fmt ', fmtBody({ tag: 1, channels: 2, bits: 16 })), chunk('data', int16Data([-32768, 32767, 16384, -1, 0, 1]))]));
    expect(Array.from(wav.channels[0]!)).toEqual([-1, 0.5, 0]);
    expect(Array.from(wav.channels[1]!)).toEqual([32767 / 32768, -1 / 32768, 1 / 32768]);
  });

  it('reads 24-bit PCM with sign extension', () => {
    const values = [-8388608, 8388607, 1, -1, 0x123456, -0x123456];
    const data = new Uint8Array(values.length * 3);
    values.forEach((x, i) => data.set([x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff], i * 3));
    const wav = decodeWav(riff([chunk('fmt ', fmtBody({ tag: 1, channels: 1, bits: 24 })), chunk('data', data)]));
    expect(Array.from(wav.channels[0]!)).toEqual(values.map((x) => x / 8388608));
  });

  it('reads 32-bit integer PCM divided by 2^31', () => {
    const data = new Uint8Array(16);
    const v = new DataView(data.buffer);
    [-2147483648, 0, 1073741824, 2147483647].forEach((x, i) => v.setInt32(i * 4, x, true));
    const wav = decodeWav(riff([chunk('fmt ', fmtBody({ tag: 1, channels: 2, bits: 32 })), chunk('data', data)]));
    expect(wav.format.bitsPerSample).toBe(32);
    expect(Array.from(wav.channels[0]!)).toEqual([-1, 0.5]);
    expect(Array.from(wav.channels[1]!)).toEqual([0, Math.fround(2147483647 / 2147483648)]);
  });

  it('reads float64 rounded to float32', () => {
    const values = [0.1, -0.25, 1e-10, 3, -1];
    const data = new Uint8Array(values.length * 8);
    const v = new DataView(data.buffer);
    values.forEach((x, i) => v.setFloat64(i * 8, x, true));
    const wav = decodeWav(riff([chunk('fmt ', fmtBody({ tag: 3, channels: 1, bits: 64, cbSize: 0 })), chunk('data', data)]));
    expect(wav.format).toEqual({ encoding: 'float', bitsPerSample: 64, channelCount: 1, sampleRate: 8000, frames: 5 });
    expect(Array.from(wav.channels[0]!)).toEqual(values.map((x) => Math.fround(x)));
  });

  it('passes non-finite float samples through unchecked', () => {
    const data = new Uint8Array(12);
    const v = new DataView(data.buffer);
    [NaN, Infinity, -Infinity].forEach((x, i) => v.setFloat32(i * 4, x, true));
    const ch = decodeWav(riff([chunk('fmt ', fmtBody({ tag: 3, channels: 1, bits: 32 })), chunk('data', data)])).channels[0]!;
    expect(Array.from(ch)).toEqual([NaN, Infinity, -Infinity]);
  });

  it('reads WAVE_FORMAT_EXTENSIBLE with the PCM subformat (4 channels, 16-bit)', () => {
    const wav = decodeWav(
      riff([chunk('fmt ', fmtExtensible({ channels: 4, bits: 16, subTag: 1 })), chunk('data', int16Data([1, 2, 3, 4, -1, -2, -3, -4]))]),
    );
    expect(wav.format).toEqual({ encoding: 'pcm', bitsPerSample: 16, channelCount: 4, sampleRate: 8000, frames: 2 });
    expect(wav.channels.map((c) => Array.from(c, (x) => x * 32768))).toEqual([[1, -1], [2, -2], [3, -3], [4, -4]]);
  });

  it('reads WAVE_FORMAT_EXTENSIBLE 20-bit-valid samples in a 24-bit container by the container scale', () => {
    const data = Uint8Array.from([0x00, 0x00, 0x40, 0xf0, 0xff, 0xff]); // 0x400000, -16 (low nibble unused)
    const wav = decodeWav(riff([chunk('fmt ', fmtExtensible({ channels: 1, bits: 24, validBits: 20, subTag: 1 })), chunk('data', data)]));
    expect(wav.format.bitsPerSample).toBe(24);
    expect(Array.from(wav.channels[0]!)).toEqual([0.5, -16 / 8388608]);
  });

  it('reads WAVE_FORMAT_EXTENSIBLE with the IEEE float subformat', () => {
    const data = new Uint8Array(8);
    new DataView(data.buffer).setFloat32(0, 0.75, true);
    new DataView(data.buffer).setFloat32(4, -0.125, true);
    const wav = decodeWav(riff([chunk('fmt ', fmtExtensible({ channels: 2, bits: 32, subTag: 3 })), chunk('data', data)]));
    expect(wav.format).toEqual({ encoding: 'float', bitsPerSample: 32, channelCount: 2, sampleRate: 8000, frames: 1 });
    expect([wav.channels[0]![0], wav.channels[1]![0]]).toEqual([0.75, -0.125]);
  });

  it('skips an odd-sized unknown chunk and its pad byte before the data', () => {
    const junk = chunk('abcd', Uint8Array.from([9, 9, 9]));
    expect(junk.length).toBe(12); // 8 + 3 + pad
    const wav = decodeWav(riff([chunk('fmt ', fmtBody({ tag: 1, channels: 1, bits: 16 })), junk, chunk('data', int16Data([100, -100]))]));
    expect(Array.from(wav.channels[0]!, (x) => x * 32768)).toEqual([100, -100]);
  });

  it('skips LIST chunks before and after the data, and data before fmt', () => {
    const list = chunk('LIST', concat(ascii('INFO'), chunk('INAM', ascii('tone\0'))));
    const bytes = riff([list, chunk('data', int16Data([7, 8, 9])), chunk('fmt ', fmtBody({ tag: 1, channels: 1, bits: 16 })), list]);
    expect(Array.from(decodeWav(bytes).channels[0]!, (x) => x * 32768)).toEqual([7, 8, 9]);
  });

  it('honours the pad byte after an odd-sized data chunk, and accepts it missing at the end', () => {
    const fmt = chunk('fmt ', fmtBody({ tag: 1, channels: 1, bits: 8 }));
    const data = Uint8Array.from([128, 192, 64]);
    const padded = riff([fmt, chunk('data', data), chunk('LIST', ascii('INFO'))]);
    expect(Array.from(decodeWav(padded).channels[0]!)).toEqual([0, 0.5, -0.5]);
    const unpadded = riff([fmt, chunk('data', data, { pad: false })]);
    expect(unpadded.length % 2).toBe(1);
    expect(Array.from(decodeWav(unpadded).channels[0]!)).toEqual([0, 0.5, -0.5]);
  });

  it('ignores a wrong RIFF size when the chunks parse', () => {
    const chunks = [chunk('fmt ', fmtBody({ tag: 1, channels: 1, bits: 16 })), chunk('data', int16Data([1, 2]))];
    for (const size of [12345, 4, 0x7fffffff]) {
      expect(decodeWav(riff(chunks, size)).format.frames).toBe(2);
    }
  });

  it('takes the rest of the file for a placeholder data size only under a placeholder RIFF size', () => {
    const fmt = chunk('fmt ', fmtBody({ tag: 1, channels: 1, bits: 16 }));
    const samples = int16Data([10, 20, 30]);
    for (const riffSize of [0, 0xffffffff]) {
      for (const dataSize of [0, 0xffffffff]) {
        const bytes = riff([fmt, concat(ascii('data'), le(4, dataSize), samples)], riffSize);
        expect(Array.from(decodeWav(bytes).channels[0]!, (x) => x * 32768)).toEqual([10, 20, 30]);
      }
    }
    // With a real RIFF size, 0 is an empty data chunk and 0xFFFFFFFF a truncated one.
    const realZero = riff([fmt, concat(ascii('data'), le(4, 0), samples)]);
    expectDemucsError(() => decodeWav(realZero), 'ERR_AUDIO_EMPTY', '0 bytes');
    const realFull = riff([fmt, concat(ascii('data'), le(4, 0xffffffff), samples)]);
    expectDemucsError(() => decodeWav(realFull), 'ERR_AUDIO_TRUNCATED', 'declares 4294967295 bytes', 'only 6 bytes');
  });

  it('keeps the caller\'s bytes untouched and works on a subarray at an odd offset', () => {
    const file = riff([chunk('fmt ', fmtBody({ tag: 3, channels: 1, bits: 32 })), chunk('data', new Uint8Array(new Float32Array([0.25, -0.5]).buffer))]);
    const host = new Uint8Array(file.length + 3);
    host.set(file, 3);
    const copy = host.slice();
    const wav = decodeWav(host.subarray(3));
    expect(Array.from(wav.channels[0]!)).toEqual([0.25, -0.5]);
    expect(host).toEqual(copy);
  });
});

describe('decodeWav errors', () => {
  const fmt16 = chunk('fmt ', fmtBody({ tag: 1, channels: 2, bits: 16 }));

  it('ERR_AUDIO_EMPTY for zero bytes', () => {
    expectDemucsError(() => decodeWav(new Uint8Array(0)), 'ERR_AUDIO_EMPTY', '0 bytes');
  });

  it('ERR_AUDIO_EMPTY for a header-only file (data chunk of zero frames)', () => {
    const header = wavHeader({ channelCount: 2, sampleRate: 44100, bitDepth: 16, frames: 0 });
    expect(header.length).toBe(44);
    expectDemucsError(() => decodeWav(header), 'ERR_AUDIO_EMPTY', 'no frames', '0 bytes');
    const floatHeader = wavHeader({ channelCount: 1, sampleRate: 44100, bitDepth: 32, frames: 0 });
    expectDemucsError(() => decodeWav(floatHeader), 'ERR_AUDIO_EMPTY', 'no frames');
  });

  it('ERR_AUDIO_TRUNCATED naming declared and available bytes', () => {
    const bytes = riff([fmt16, concat(ascii('data'), le(4, 4000), new Uint8Array(1000))]);
    expectDemucsError(() => decodeWav(bytes), 'ERR_AUDIO_TRUNCATED', 'declares 4000 bytes', 'only 1000 bytes');
    expect(decodeWav(bytes, { allowTruncated: true }).format.frames).toBe(250);
  });

  it('ERR_AUDIO_TRUNCATED for a chunk header declared longer than the file', () => {
    const bytes = riff([fmt16, concat(ascii('LIST'), le(4, 500), new Uint8Array(20))]);
    expectDemucsError(() => decodeWav(bytes), 'ERR_AUDIO_TRUNCATED', '"LIST" chunk at byte 36', 'declares 500 bytes', 'only 20 bytes');
    const cutFmt = riff([concat(ascii('fmt '), le(4, 16), new Uint8Array(10))]);
    expectDemucsError(() => decodeWav(cutFmt), 'ERR_AUDIO_TRUNCATED', 'declares 16 bytes', 'only 10 bytes');
    const cutHeader = concat(riff([fmt16]), ascii('da'));
    expectDemucsError(() => decodeWav(cutHeader), 'ERR_AUDIO_TRUNCATED', 'needs 8 bytes', 'only 2');
    expectDemucsError(() => decodeWav(ascii('RIFF\x10\0')), 'ERR_AUDIO_TRUNCATED', 'only 6 bytes');
  });

  it('ERR_AUDIO_TRUNCATED when the RIFF size promises more and no data chunk is present', () => {
    const bytes = riff([fmt16], 1000);
    expectDemucsError(() => decodeWav(bytes), 'ERR_AUDIO_TRUNCATED', 'declares 1008 bytes', 'only 36 bytes', '"data"');
  });

  it('ERR_AUDIO_TRUNCATED for a data length that is not a whole number of frames', () => {
    const bytes = riff([fmt16, chunk('data', new Uint8Array(7))]);
    expectDemucsError(() => decodeWav(bytes), 'ERR_AUDIO_TRUNCATED', 'holds 7 bytes', '4-byte frames', '3 bytes left over');
    expect(decodeWav(bytes, { allowTruncated: true }).format.frames).toBe(1);
    const lessThanAFrame = riff([fmt16, chunk('data', new Uint8Array(2))]);
    expectDemucsError(() => decodeWav(lessThanAFrame), 'ERR_AUDIO_TRUNCATED', '2 bytes left over');
    expectDemucsError(() => decodeWav(lessThanAFrame, { allowTruncated: true }), 'ERR_AUDIO_EMPTY', '2 bytes');
  });

  it('ERR_AUDIO_FORMAT for bytes that are not RIFF/WAVE', () => {
    const id3 = Uint8Array.from([0x49, 0x44, 0x33, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expectDemucsError(() => decodeWav(id3), 'ERR_AUDIO_FORMAT', 'not a RIFF/WAVE file', '49 44 33 03');
    expectDemucsError(() => decodeWav(ascii('fLaC\0\0\0\x22abcdefgh')), 'ERR_AUDIO_FORMAT', '"fLaC"');
    expectDemucsError(() => decodeWav(ascii('OggS')), 'ERR_AUDIO_FORMAT', '"OggS"');
    expectDemucsError(() => decodeWav(concat(ascii('RIFF'), le(4, 4), ascii('AVI '))), 'ERR_AUDIO_FORMAT', '"AVI "');
    expectDemucsError(() => decodeWav(concat(ascii('RIFX'), le(4, 4), ascii('WAVE'))), 'ERR_AUDIO_FORMAT', 'RIFX');
    expectDemucsError(() => decodeWav(concat(ascii('RF64'), le(4, 0xffffffff), ascii('WAVE'))), 'ERR_AUDIO_FORMAT', 'RF64');
  });

  it('ERR_AUDIO_FORMAT for a missing fmt or data chunk', () => {
    expectDemucsError(() => decodeWav(riff([chunk('data', new Uint8Array(4))])), 'ERR_AUDIO_FORMAT', 'no "fmt " chunk');
    expectDemucsError(() => decodeWav(riff([fmt16, chunk('LIST', ascii('INFO'))])), 'ERR_AUDIO_FORMAT', 'no "data" chunk');
    expectDemucsError(() => decodeWav(riff([])), 'ERR_AUDIO_FORMAT', 'no "fmt " chunk');
  });

  it('ERR_AUDIO_FORMAT naming the format tag, with names for common ones', () => {
    const cases: [number, string][] = [
      [0x0055, 'unsupported WAV format tag 0x0055 (MPEG Layer 3)'],
      [0x0002, 'unsupported WAV format tag 0x0002 (Microsoft ADPCM)'],
      [0x0006, 'unsupported WAV format tag 0x0006 (A-law)'],
      [0x0007, 'unsupported WAV format tag 0x0007 (µ-law)'],
      [0x1234, 'unsupported WAV format tag 0x1234'],
    ];
    for (const [tag, message] of cases) {
      const bytes = riff([chunk('fmt ', fmtBody({ tag, channels: 2, bits: 16 })), chunk('data', new Uint8Array(4))]);
      expectDemucsError(() => decodeWav(bytes), 'ERR_AUDIO_FORMAT', message);
    }
  });

  it('ERR_AUDIO_FORMAT naming an unsupported extensible subformat', () => {
    const mp3 = riff([chunk('fmt ', fmtExtensible({ channels: 2, bits: 16, subTag: 0x55 })), chunk('data', new Uint8Array(4))]);
    expectDemucsError(() => decodeWav(mp3), 'ERR_AUDIO_FORMAT', 'WAVE_FORMAT_EXTENSIBLE subformat 0x0055 (MPEG Layer 3)');
    // KSDATAFORMAT_SUBTYPE_AMBISONIC_B_FORMAT_PCM, {00000001-0721-11D3-8644-C8C1CA000000}: not on the base GUID.
    const ambisonic = [0x01, 0x00, 0x00, 0x00, 0x21, 0x07, 0xd3, 0x11, 0x86, 0x44, 0xc8, 0xc1, 0xca, 0x00, 0x00, 0x00];
    const other = riff([chunk('fmt ', fmtExtensible({ channels: 2, bits: 16, subTag: 1, guid: ambisonic })), chunk('data', new Uint8Array(4))]);
    expectDemucsError(() => decodeWav(other), 'ERR_AUDIO_FORMAT', 'subformat GUID {00000001-0721-11D3-8644-C8C1CA000000}');
    const short = riff([chunk('fmt ', fmtBody({ tag: 0xfffe, channels: 2, bits: 16, cbSize: 0 })), chunk('data', new Uint8Array(4))]);
    expectDemucsError(() => decodeWav(short), 'ERR_AUDIO_FORMAT', 'fmt chunk is 18 bytes, expected at least 40');
  });

  it('ERR_AUDIO_FORMAT naming an unsupported bit depth', () => {
    const pcm12 = riff([chunk('fmt ', fmtBody({ tag: 1, channels: 1, bits: 12, blockAlign: 2 })), chunk('data', new Uint8Array(4))]);
    expectDemucsError(() => decodeWav(pcm12), 'ERR_AUDIO_FORMAT', 'PCM bit depth 12');
    const float16 = riff([chunk('fmt ', fmtBody({ tag: 3, channels: 1, bits: 16 })), chunk('data', new Uint8Array(4))]);
    expectDemucsError(() => decodeWav(float16), 'ERR_AUDIO_FORMAT', 'float bit depth 16');
    const ext20 = riff([chunk('fmt ', fmtExtensible({ channels: 1, bits: 20, subTag: 1 })), chunk('data', new Uint8Array(4))]);
    expectDemucsError(() => decodeWav(ext20), 'ERR_AUDIO_FORMAT', 'WAVE_FORMAT_EXTENSIBLE PCM bit depth 20');
  });

  it('ERR_AUDIO_FORMAT for zero channels, zero sample rate, a bad blockAlign or a short fmt', () => {
    const noChannels = riff([chunk('fmt ', fmtBody({ tag: 1, channels: 0, bits: 16 })), chunk('data', new Uint8Array(4))]);
    expectDemucsError(() => decodeWav(noChannels), 'ERR_AUDIO_FORMAT', 'channel count is 0');
    const noRate = riff([chunk('fmt ', fmtBody({ tag: 1, channels: 2, bits: 16, rate: 0 })), chunk('data', new Uint8Array(4))]);
    expectDemucsError(() => decodeWav(noRate), 'ERR_AUDIO_FORMAT', 'sample rate is 0 Hz');
    const badAlign = riff([chunk('fmt ', fmtBody({ tag: 1, channels: 2, bits: 16, blockAlign: 6 })), chunk('data', new Uint8Array(12))]);
    expectDemucsError(() => decodeWav(badAlign), 'ERR_AUDIO_FORMAT', 'blockAlign 6', '2 channels × 2 bytes = 4');
    const shortFmt = riff([chunk('fmt ', fmtBody({ tag: 1, channels: 2, bits: 16 }).subarray(0, 14)), chunk('data', new Uint8Array(4))]);
    expectDemucsError(() => decodeWav(shortFmt), 'ERR_AUDIO_FORMAT', 'fmt chunk is 14 bytes');
  });

  it('TypeError for bytes that are not a Uint8Array and a bad option', () => {
    expect(() => decodeWav(new Int16Array(8) as unknown as Uint8Array)).toThrow(/bytes must be a Uint8Array \(got Int16Array\(8\)\)/);
    expect(() => decodeWav(new Uint8Array(4), { allowTruncated: 'yes' as unknown as boolean })).toThrow(
      /options\.allowTruncated must be a boolean \(got "yes"\)/,
    );
  });
});

describe('encodeWav round trips', () => {
  const bound16 = (x: number): number => (1 + Math.abs(x)) / 32768;
  const bound24 = (x: number): number => (1 + Math.abs(x)) / 8388608;

  it('16-bit: each sample is trunc(x · 32767) / 32768, error < (1 + |x|) / 32768', () => {
    const channels = [signal(10001, 1), signal(10001, 2)];
    const wav = decodeWav(encodeWav({ sampleRate: 44100, channels }, { bitDepth: 16, clipMode: 'none' }));
    expect(wav.format).toEqual({ encoding: 'pcm', bitsPerSample: 16, channelCount: 2, sampleRate: 44100, frames: 10001 });
    let maxErr = 0;
    for (let c = 0; c < 2; c++) {
      const x = channels[c]!;
      const d = wav.channels[c]!;
      for (let i = 0; i < x.length; i++) {
        expect(d[i]! * 32768).toBe(Math.trunc(x[i]! * 32767) + 0); // + 0 turns -0 into 0
        const err = Math.abs(x[i]! - d[i]!);
        expect(err).toBeLessThan(bound16(x[i]!));
        maxErr = Math.max(maxErr, err);
      }
    }
    // Measured: 6.09e-5 ≈ 1.996 / 32768 (near full scale, where 32767 vs 32768 adds |x| / 32768).
    expect(maxErr).toBeLessThan(2 / 32768);
    expect(maxErr).toBeGreaterThan(1.9 / 32768);
  });

  it('24-bit: each sample is trunc(x · 8388607) / 8388608, error < (1 + |x|) / 8388608', () => {
    const channels = [signal(4097, 3)];
    const wav = decodeWav(encodeWav({ sampleRate: 48000, channels }, { bitDepth: 24, clipMode: 'none' }));
    expect(wav.format).toEqual({ encoding: 'pcm', bitsPerSample: 24, channelCount: 1, sampleRate: 48000, frames: 4097 });
    const x = channels[0]!;
    const d = wav.channels[0]!;
    let maxErr = 0;
    for (let i = 0; i < x.length; i++) {
      expect(d[i]! * 8388608).toBe(Math.trunc(x[i]! * 8388607) + 0);
      const err = Math.abs(x[i]! - d[i]!);
      expect(err).toBeLessThan(bound24(x[i]!));
      maxErr = Math.max(maxErr, err);
    }
    expect(maxErr).toBeLessThan(2 / 8388608);
  });

  it('float32: exact, including values beyond ±1 with clipMode none', () => {
    const channels = [signal(333, 4, 3), signal(333, 5), signal(333, 6, 0.001)];
    const wav = decodeWav(encodeWav({ sampleRate: 22050, channels }, { bitDepth: 32, clipMode: 'none' }));
    expect(wav.format).toEqual({ encoding: 'float', bitsPerSample: 32, channelCount: 3, sampleRate: 22050, frames: 333 });
    for (let c = 0; c < 3; c++) expect(wav.channels[c]).toEqual(channels[c]);
  });

  it.each([16, 24, 32] as const)('%i-bit: mono, 3 channels and odd frame counts (1, 3, 999)', (bitDepth) => {
    for (const channelCount of [1, 3]) {
      for (const frames of [1, 3, 999]) {
        const channels = Array.from({ length: channelCount }, (_, c) => signal(frames, 10 * c + frames, 0.9));
        const bytes = encodeWav({ sampleRate: 44100, channels }, { bitDepth, clipMode: 'none' });
        const layout = wavLayout({ channelCount, sampleRate: 44100, bitDepth, frames });
        expect(bytes.length).toBe(layout.totalBytes);
        expect(layout.padBytes).toBe(layout.dataBytes % 2);
        expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(bytes.length - 8);
        const wav = decodeWav(bytes);
        expect(wav.format.frames).toBe(frames);
        expect(wav.channels).toHaveLength(channelCount);
        const bound = bitDepth === 16 ? bound16 : bitDepth === 24 ? bound24 : () => 0;
        for (let c = 0; c < channelCount; c++) {
          for (let i = 0; i < frames; i++) {
            expect(Math.abs(wav.channels[c]![i]! - channels[c]![i]!)).toBeLessThanOrEqual(bound(channels[c]![i]!));
          }
        }
      }
    }
  });

  it('writes a zero pad byte after odd-sized 24-bit data', () => {
    const bytes = encodeWav({ sampleRate: 8000, channels: [Float32Array.from([0.5, -0.5, 0.25])] }, { bitDepth: 24, clipMode: 'none' });
    expect(bytes.length).toBe(44 + 9 + 1);
    expect(bytes[53]).toBe(0);
    expect(new DataView(bytes.buffer).getUint32(40, true)).toBe(9);
    expect(readInt24(bytes, 44, 3)).toEqual([4194303, -4194303, 2097151]);
  });
});

describe('encodeWav headers', () => {
  it('writes the canonical 44-byte PCM header', () => {
    const bytes = encodeWav({ sampleRate: 44100, channels: [new Float32Array(3), new Float32Array(3)] });
    const v = new DataView(bytes.buffer);
    expect(bytes.length).toBe(44 + 12);
    expect(String.fromCharCode(...bytes.subarray(0, 4), ...bytes.subarray(8, 16), ...bytes.subarray(36, 40))).toBe('RIFFWAVEfmt data');
    expect([v.getUint32(4, true), v.getUint32(16, true), v.getUint16(20, true), v.getUint16(22, true)]).toEqual([48, 16, 1, 2]);
    expect([v.getUint32(24, true), v.getUint32(28, true), v.getUint16(32, true), v.getUint16(34, true)]).toEqual([44100, 176400, 4, 16]);
    expect(v.getUint32(40, true)).toBe(12);
    expect(bytes.subarray(0, 44)).toEqual(wavHeader({ channelCount: 2, sampleRate: 44100, bitDepth: 16, frames: 3 }));
  });

  it('writes float32 with format tag 3, an 18-byte fmt (cbSize 0) and a fact chunk: 58 bytes like the fixture', () => {
    const bytes = encodeWav({ sampleRate: 44100, channels: [new Float32Array(5), new Float32Array(5)] }, { bitDepth: 32 });
    const v = new DataView(bytes.buffer);
    expect(bytes.length).toBe(58 + 40);
    expect(String.fromCharCode(...bytes.subarray(12, 16), ...bytes.subarray(38, 42), ...bytes.subarray(50, 54))).toBe('fmt factdata');
    expect([v.getUint32(4, true), v.getUint32(16, true), v.getUint16(20, true), v.getUint16(36, true)]).toEqual([90, 18, 3, 0]);
    expect([v.getUint32(28, true), v.getUint16(32, true), v.getUint16(34, true)]).toEqual([352800, 8, 32]);
    expect([v.getUint32(42, true), v.getUint32(46, true), v.getUint32(54, true)]).toEqual([4, 5, 40]);
    expect(bytes.subarray(0, 58)).toEqual(wavHeader({ channelCount: 2, sampleRate: 44100, bitDepth: 32, frames: 5 }));
  });

  it('writes the fixture\'s own header bytes for its format', () => {
    const file = new Uint8Array(readFileSync(FIXTURE));
    expect(wavHeader({ channelCount: 2, sampleRate: 44100, bitDepth: 32, frames: 441000 })).toEqual(file.subarray(0, 58));
  });

  it('reports layouts', () => {
    expect(wavLayout({ channelCount: 1, sampleRate: 44100, bitDepth: 24, frames: 3 })).toEqual({
      headerBytes: 44, dataBytes: 9, padBytes: 1, blockAlign: 3, totalBytes: 54,
    });
    expect(wavLayout({ channelCount: 2, sampleRate: 44100, bitDepth: 32, frames: 441000 })).toEqual({
      headerBytes: 58, dataBytes: 3528000, padBytes: 0, blockAlign: 8, totalBytes: 3528058,
    });
  });

  it('RangeError naming the field for bad layouts', () => {
    const ok = { channelCount: 2, sampleRate: 44100, bitDepth: 16, frames: 10 } as const;
    expect(() => wavLayout({ ...ok, channelCount: 0 })).toThrow(/channelCount .*\(got 0\)/);
    expect(() => wavLayout({ ...ok, channelCount: 65536 })).toThrow(/channelCount .*\(got 65536\)/);
    expect(() => wavLayout({ ...ok, channelCount: 30000, bitDepth: 24 })).toThrow(/90000 exceeds the 65535-byte/);
    expect(() => wavLayout({ ...ok, bitDepth: 8 as WavBitDepth })).toThrow(/bitDepth must be one of 16, 24, 32 \(got 8\)/);
    expect(() => wavLayout({ ...ok, frames: -1 })).toThrow(/frames must be an integer ≥ 0 \(got -1\)/);
    expect(() => wavLayout({ ...ok, frames: 1.5 })).toThrow(/\(got 1\.5\)/);
    expect(() => wavLayout({ ...ok, sampleRate: 0 })).toThrow(/sampleRate .*\(got 0\)/);
    expect(() => wavLayout({ ...ok, frames: 2 ** 30 })).toThrow(/frames \(1073741824\) need 4294967296 data bytes/);
  });
});

describe('clip modes', () => {
  const enc = (values: number[], bitDepth: WavBitDepth, clipMode?: 'rescale' | 'clamp' | 'none'): Uint8Array =>
    encodeWav({ sampleRate: 8000, channels: [Float32Array.from(values)] }, clipMode === undefined ? { bitDepth } : { bitDepth, clipMode });

  it('defaults to 16-bit rescale', () => {
    expect(WAV_ENCODE_DEFAULTS).toEqual({ bitDepth: 16, clipMode: 'rescale' });
    expect(Object.isFrozen(WAV_ENCODE_DEFAULTS)).toBe(true);
    const bytes = encodeWav({ sampleRate: 8000, channels: [Float32Array.from([2, -1])] });
    expect(bytes.length).toBe(48);
    expect(readInt16(bytes, 44, 2)).toEqual([32442, -16221]);
  });

  it('rescale divides all channels together by max(1.01 · peak, 1)', () => {
    const channels = [Float32Array.from([2, -1, 0.5]), Float32Array.from([0.25, 1, -0.5])];
    const wav = decodeWav(encodeWav({ sampleRate: 8000, channels }, { bitDepth: 32, clipMode: 'rescale' }));
    const peak = peakAmplitude(wav.channels);
    expect(peak).toBeCloseTo(1 / 1.01, 7);
    expect(peak).toBe(Math.fround(2 * (1 / 2.02)));
    expect(Array.from(wav.channels[1]!)).toEqual([0.25, 1, -0.5].map((x) => Math.fround(x * (1 / 2.02))));
    // int16: 2 / 2.02 · 32767 = 32442.57 → 32442; -1 / 2.02 · 32767 = -16221.29 → -16221.
    expect(readInt16(enc([2, -1, 0.5], 16, 'rescale'), 44, 3)).toEqual([32442, -16221, 8110]);
  });

  it('rescale leaves quiet signals alone (peak · 1.01 ≤ 1) and handles silence', () => {
    const x = Float32Array.from([0.99, -0.5, 0.125]);
    const wav = decodeWav(encodeWav({ sampleRate: 8000, channels: [x] }, { bitDepth: 32 }));
    expect(wav.channels[0]).toEqual(x);
    expect(readInt16(enc([0, 0], 16), 44, 2)).toEqual([0, 0]);
  });

  it('clamp clamps to ±0.99', () => {
    const wav = decodeWav(enc([2, -3, 0.5, 0.995], 32, 'clamp'));
    expect(Array.from(wav.channels[0]!)).toEqual([Math.fround(0.99), Math.fround(-0.99), 0.5, Math.fround(0.99)]);
    expect(readInt16(enc([2, -3, 0.5], 16, 'clamp'), 44, 3)).toEqual([32439, -32439, 16383]);
  });

  it('none leaves values; integer output still clamps to [-1, 1]', () => {
    expect(Array.from(decodeWav(enc([2, -2.5], 32, 'none')).channels[0]!)).toEqual([2, -2.5]);
    expect(readInt16(enc([2, -2, 1, -1], 16, 'none'), 44, 4)).toEqual([32767, -32767, 32767, -32767]);
    expect(readInt24(enc([2, -2, 1, -1], 24, 'none'), 44, 4)).toEqual([8388607, -8388607, 8388607, -8388607]);
  });

  it('integer conversion truncates toward zero', () => {
    // 0.5 · 32767 = 16383.5 → 16383; 0.99999 · 32767 = 32766.67 → 32766; 2e-5 · 32767 = 0.66 → 0.
    expect(readInt16(enc([0.5, -0.5, 0.99999, -0.99999, 2e-5, -2e-5], 16, 'none'), 44, 6)).toEqual([16383, -16383, 32766, -32766, 0, 0]);
    expect(readInt24(enc([0.5, -0.5, 1e-7, -1e-7], 24, 'none'), 44, 4)).toEqual([4194303, -4194303, 0, 0]);
  });

  it('rescale throws ERR_NON_FINITE at the first bad sample; other modes write NaN as 0', () => {
    const bad = { sampleRate: 8000, channels: [Float32Array.from([0, 0.5]), Float32Array.from([0.1, NaN])] };
    expectDemucsError(() => encodeWav(bad), 'ERR_NON_FINITE', 'audio.channels[1][1]', 'NaN');
    const inf = { sampleRate: 8000, channels: [Float32Array.from([0, -Infinity])] };
    expectDemucsError(() => encodeWav(inf, { bitDepth: 32 }), 'ERR_NON_FINITE', 'audio.channels[0][1]', '-Infinity');
    expect(readInt16(enc([NaN, Infinity, -Infinity], 16, 'clamp'), 44, 3)).toEqual([0, 32439, -32439]);
    expect(readInt16(enc([NaN, Infinity, -Infinity], 16, 'none'), 44, 3)).toEqual([0, 32767, -32767]);
    expect(Array.from(decodeWav(enc([NaN, Infinity], 32, 'none')).channels[0]!)).toEqual([NaN, Infinity]);
  });

  it('computeClipGain', () => {
    expect(computeClipGain(2, 'rescale')).toEqual({ gain: 1 / 2.02, clamp: false });
    expect(computeClipGain(0.5, 'rescale')).toEqual({ gain: 1, clamp: false });
    expect(computeClipGain(0, 'rescale')).toEqual({ gain: 1, clamp: false });
    expect(computeClipGain(5, 'clamp')).toEqual({ gain: 1, clamp: true });
    expect(computeClipGain(5, 'none')).toEqual({ gain: 1, clamp: false });
    expect(() => computeClipGain(1, 'tanh' as 'none')).toThrow(/mode must be one of 'rescale', 'clamp', 'none' \(got "tanh"\)/);
    expect(() => computeClipGain(NaN, 'rescale')).toThrow(/peak must be a finite number ≥ 0 \(got NaN\)/);
    expect(() => computeClipGain(-1, 'rescale')).toThrow(/\(got -1\)/);
    expect(() => computeClipGain(Infinity, 'rescale')).toThrow(/\(got Infinity\)/);
  });

  it('peakAmplitude over all channels; NaN and Infinity propagate', () => {
    expect(peakAmplitude([Float32Array.from([0.5, -0.75]), Float32Array.from([0.25])])).toBe(0.75);
    expect(peakAmplitude([])).toBe(0);
    expect(peakAmplitude([Float32Array.from([1, NaN, 2])])).toBeNaN();
    expect(peakAmplitude([Float32Array.from([1, -Infinity, 2])])).toBe(Infinity);
  });
});

describe('streaming pieces', () => {
  it.each([16, 24, 32] as const)('%i-bit: header + blocks + pad equals encodeWav, for every clip mode', (bitDepth) => {
    const frames = 2501; // odd, so 24-bit mono-like layouts pad; blocks of 1000 leave a short last block
    const channels = [signal(frames, 7, 1.6), signal(frames, 8, 0.4), signal(frames, 9, 1)];
    for (const clipMode of ['rescale', 'clamp', 'none'] as const) {
      const whole = encodeWav({ sampleRate: 44100, channels }, { bitDepth, clipMode });
      let peak = 0;
      for (let start = 0; start < frames; start += 1000) {
        peak = Math.max(peak, peakAmplitude(channels.map((ch) => ch.subarray(start, start + 1000))));
      }
      const clip: ClipGain = computeClipGain(peak, clipMode);
      const format = { channelCount: 3, sampleRate: 44100, bitDepth, frames };
      const layout = wavLayout(format);
      const parts = [wavHeader(format)];
      const scratch = new Uint8Array(1000 * layout.blockAlign);
      for (let start = 0; start < frames; start += 1000) {
        parts.push(encodeWavSamples(channels.map((ch) => ch.subarray(start, start + 1000)), bitDepth, clip, scratch).slice());
      }
      parts.push(new Uint8Array(layout.padBytes));
      expect(concat(...parts)).toEqual(whole);
    }
  });

  it('encodeWavSamples writes into out and returns a view of it', () => {
    const out = new Uint8Array(16).fill(0xee);
    const written = encodeWavSamples([Float32Array.from([0.5, -0.5])], 16, { gain: 1, clamp: false }, out.subarray(2));
    expect(written.buffer).toBe(out.buffer);
    expect(written.byteOffset).toBe(2);
    expect(written.length).toBe(4);
    expect(readInt16(out, 2, 2)).toEqual([16383, -16383]);
    expect(out[0]).toBe(0xee);
    expect(out[6]).toBe(0xee);
    // The default clip is the identity.
    expect(readInt16(encodeWavSamples([Float32Array.from([0.5, 2])], 16), 0, 2)).toEqual([16383, 32767]);
    // gain applies before the clamp: 0.8 · 1.5 = 1.2 → 0.99
    expect(readInt16(encodeWavSamples([Float32Array.from([0.8])], 16, { gain: 1.5, clamp: true }), 0, 1)).toEqual([32439]);
  });

  it('encodeWavSamples writes the same 16-bit bytes at an odd offset (byte by byte) as at an even one (Int16Array stores)', () => {
    const channels = [Float32Array.from([0.5, -0.5, 1.5, Number.NaN, -2, 1 / 32767]), Float32Array.from([0.25, -1, 0, 0.99, 1e-6, -0.75])];
    const even = encodeWavSamples(channels, 16, { gain: 1, clamp: false }, new Uint8Array(26).subarray(2));
    const odd = encodeWavSamples(channels, 16, { gain: 1, clamp: false }, new Uint8Array(26).subarray(1));
    expect(odd.byteOffset % 2).toBe(1);
    expect([...odd]).toEqual([...even]);
    // NaN writes 0; float32(1 / 32767) · 32767 falls just under 1 and truncates to 0.
    expect(readInt16(even, 0, 12)).toEqual([16383, 8191, -16383, -32767, 32767, 0, 0, 32439, -32767, 0, 0, -24575]);
    expect(encodeWavSamples([new Float32Array(0)], 16)).toHaveLength(0);
  });

  it('encodeWavSamples rejects bad arguments', () => {
    const x = [new Float32Array(4)];
    expect(() => encodeWavSamples(x, 16, { gain: 1, clamp: false }, new Uint8Array(7))).toThrow(
      /out holds 7 bytes but 4 frames × 2 bytes need 8/,
    );
    expect(() => encodeWavSamples(x, 16, { gain: 1, clamp: false }, [] as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => encodeWavSamples(x, 16, { gain: NaN, clamp: false })).toThrow(/clip\.gain must be a finite number ≥ 0 \(got NaN\)/);
    expect(() => encodeWavSamples(x, 16, { gain: 1, clamp: 1 as unknown as boolean })).toThrow(/clip\.clamp must be a boolean \(got 1\)/);
    expect(() => encodeWavSamples(x, 12 as WavBitDepth)).toThrow(/bitDepth must be one of 16, 24, 32 \(got 12\)/);
  });
});

describe('encodeWav argument errors', () => {
  const two = [new Float32Array(4), new Float32Array(4)];

  it('RangeError for a bad bitDepth or clipMode, naming the value', () => {
    expect(() => encodeWav({ sampleRate: 44100, channels: two }, { bitDepth: 8 as WavBitDepth })).toThrow(RangeError);
    expect(() => encodeWav({ sampleRate: 44100, channels: two }, { bitDepth: 8 as WavBitDepth })).toThrow(
      /options\.bitDepth must be one of 16, 24, 32 \(got 8\)/,
    );
    expect(() => encodeWav({ sampleRate: 44100, channels: two }, { clipMode: 'tanh' as 'none' })).toThrow(
      /options\.clipMode must be one of 'rescale', 'clamp', 'none' \(got "tanh"\)/,
    );
  });

  it('TypeError for channels that are not Float32Array', () => {
    const channels = [new Float32Array(4), new Float64Array(4) as unknown as Float32Array];
    expect(() => encodeWav({ sampleRate: 44100, channels })).toThrow(TypeError);
    expect(() => encodeWav({ sampleRate: 44100, channels })).toThrow(/audio\.channels\[1\] must be a Float32Array \(got Float64Array\(4\)\)/);
    expect(() => encodeWav({ sampleRate: 44100, channels: [[0, 1] as unknown as Float32Array] })).toThrow(/\(got array\(2\)\)/);
  });

  it('RangeError for unequal channel lengths, no channels, or a bad sample rate', () => {
    expect(() => encodeWav({ sampleRate: 44100, channels: [new Float32Array(3), new Float32Array(4)] })).toThrow(
      /audio\.channels\[1\] has 4 samples but audio\.channels\[0\] has 3/,
    );
    expect(() => encodeWav({ sampleRate: 44100, channels: [] })).toThrow(/at least one channel \(got 0\)/);
    for (const sampleRate of [44100.5, 0, -1, NaN]) {
      expect(() => encodeWav({ sampleRate, channels: two })).toThrow(RangeError);
      expect(() => encodeWav({ sampleRate, channels: two })).toThrow(`audio.sampleRate must be a positive integer (got ${sampleRate})`);
    }
  });

  it('does not modify the input channels', () => {
    const x = Float32Array.from([2, -3, 0.5]);
    encodeWav({ sampleRate: 8000, channels: [x] });
    encodeWav({ sampleRate: 8000, channels: [x] }, { clipMode: 'clamp', bitDepth: 32 });
    expect(Array.from(x)).toEqual([2, -3, 0.5]);
  });
});

describe('findNonFinite', () => {
  it('finds the first NaN or infinite sample, channel by channel', () => {
    const a = Float32Array.from([0, 1, -1, 3e38]);
    const b = Float32Array.from([0.5, 0.25, NaN, Infinity]);
    expect(findNonFinite([a, b])).toEqual({ channel: 1, index: 2, value: NaN });
    expect(findNonFinite([Float32Array.from([0, -Infinity])])).toEqual({ channel: 0, index: 1, value: -Infinity });
    expect(findNonFinite([Float32Array.from([Infinity]), b])).toEqual({ channel: 0, index: 0, value: Infinity });
  });

  it('returns null for finite audio and for no channels', () => {
    expect(findNonFinite([signal(1000, 1), Float32Array.from([3.4028234663852886e38, -0, 1e-45])])).toBeNull();
    expect(findNonFinite([])).toBeNull();
    expect(findNonFinite([new Float32Array(0)])).toBeNull();
  });
});

describe.skipIf(skipWithout('sox'))('interoperability with sox', () => {
  let dir = '';
  const sox = (...args: string[]): void => {
    const r = spawnSync('sox', args, { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  };
  const src = signal(11025, 42, 0.9);
  const src2 = signal(11025, 43, 0.9);
  const path = (name: string): string => join(dir, name);
  const read = (name: string): Uint8Array => new Uint8Array(readFileSync(path(name)));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'demucs-wav-'));
    writeFileSync(path('src.wav'), encodeWav({ sampleRate: 44100, channels: [src, src2] }, { bitDepth: 32, clipMode: 'none' }));
    const four = [src, src2, signal(11025, 44, 0.5), signal(11025, 45, 0.25)];
    writeFileSync(path('src4.wav'), encodeWav({ sampleRate: 44100, channels: four }, { bitDepth: 32, clipMode: 'none' }));
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  // sox rounds to nearest (no dither with -D), so its error is about half a step; it goes
  // through its 32-bit integer sample format, so 24-bit rounds twice (up to 0.502 steps) and
  // its float output is not lossless.
  const cases = [
    { name: '16-bit', args: ['-b', '16', '-e', 'signed-integer'], encoding: 'pcm', bits: 16, tag: 1, tol: 0.5 / 32768 },
    { name: '24-bit (extensible)', args: ['-b', '24', '-e', 'signed-integer'], encoding: 'pcm', bits: 24, tag: 0xfffe, tol: 0.51 / 8388608 },
    { name: '32-bit int (extensible)', args: ['-b', '32', '-e', 'signed-integer'], encoding: 'pcm', bits: 32, tag: 0xfffe, tol: 1e-7 },
    { name: '8-bit unsigned', args: ['-b', '8', '-e', 'unsigned-integer'], encoding: 'pcm', bits: 8, tag: 1, tol: 0.5 / 128 },
    { name: 'float32', args: ['-b', '32', '-e', 'floating-point'], encoding: 'float', bits: 32, tag: 3, tol: 2 ** -24 },
    { name: 'float64', args: ['-b', '64', '-e', 'floating-point'], encoding: 'float', bits: 64, tag: 3, tol: 2 ** -30 },
  ] as const;

  it.each(cases)('decodes sox $name output of our float32 file', ({ name, args, encoding, bits, tag, tol }) => {
    const out = `${name.split(' ')[0]}.wav`;
    sox('-D', path('src.wav'), ...args, path(out));
    const bytes = read(out);
    expect(new DataView(bytes.buffer).getUint16(20, true)).toBe(tag);
    const wav = decodeWav(bytes);
    expect(wav.format).toEqual({ encoding, bitsPerSample: bits, channelCount: 2, sampleRate: 44100, frames: 11025 });
    // Measured: 16-bit 1.53e-5 (0.5 steps), 24-bit 5.98e-8 (0.502 steps), 32-bit int 4.5e-10,
    // 8-bit 3.9e-3 (0.5 steps), float32 2.98e-8 (2^-25), float64 4.5e-10.
    expect(maxAbsDiff(wav.channels[0]!, src)).toBeLessThanOrEqual(tol + 1e-12);
    expect(maxAbsDiff(wav.channels[1]!, src2)).toBeLessThanOrEqual(tol + 1e-12);
  });

  it('decodes sox WAVE_FORMAT_EXTENSIBLE output with 4 channels', () => {
    sox('-D', path('src4.wav'), '-b', '16', path('ext4.wav'));
    const bytes = read('ext4.wav');
    expect(new DataView(bytes.buffer).getUint16(20, true)).toBe(0xfffe);
    const wav = decodeWav(bytes);
    expect(wav.format).toEqual({ encoding: 'pcm', bitsPerSample: 16, channelCount: 4, sampleRate: 44100, frames: 11025 });
    const four = decodeWav(read('src4.wav')).channels;
    for (let c = 0; c < 4; c++) expect(maxAbsDiff(wav.channels[c]!, four[c]!)).toBeLessThanOrEqual(0.5 / 32768 + 1e-12);
  });

  it.each([16, 24] as const)('sox reads our %i-bit file to the same floats as decodeWav', (bitDepth) => {
    const ours = `ours${bitDepth}.wav`;
    writeFileSync(path(ours), encodeWav({ sampleRate: 44100, channels: [src, src2] }, { bitDepth, clipMode: 'none' }));
    sox(path(ours), '-b', '32', '-e', 'floating-point', path(`ours${bitDepth}-f32.wav`));
    const mine = decodeWav(read(ours)).channels;
    const theirs = decodeWav(read(`ours${bitDepth}-f32.wav`)).channels;
    expect(theirs[0]).toEqual(mine[0]);
    expect(theirs[1]).toEqual(mine[1]);
  });

  it('needs allowTruncated for sox writing to a pipe (placeholder data size 0x7FFFF000)', () => {
    // `trim 0` hides the length from sox, so it cannot write the real size up front.
    const r = spawnSync('sox', ['-D', path('src.wav'), '-t', 'wav', '-b', '16', '-', 'trim', '0'], { maxBuffer: 1 << 24 });
    expect(r.status).toBe(0);
    const piped = new Uint8Array(r.stdout);
    expectDemucsError(() => decodeWav(piped), 'ERR_AUDIO_TRUNCATED', 'declares 2147479552 bytes', 'only 44100 bytes', 'allowTruncated');
    sox('-D', path('src.wav'), '-b', '16', path('file16.wav'));
    const wav = decodeWav(piped, { allowTruncated: true });
    expect(wav.channels).toEqual(decodeWav(read('file16.wav')).channels);
  });
});
