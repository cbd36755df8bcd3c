import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { isDemucsError, type DemucsErrorCode } from '../../src/core/errors.js';
import { createStreamingDecoder, decodeAudio, decoderStats, type DecodedBlock } from '../../src/io/decode.js';
import { encodeWav } from '../../src/io/wav.js';
import {
  alignAndCompare,
  damage,
  emptyTestFile,
  encodeTestFile,
  ffmpegDecode,
  type EmptyTestKind,
  type TestEncoding,
} from '../helpers/encoded-audio.js';
import { maxAbsDiff } from '../helpers/fixtures.js';
import { skipWithout } from '../helpers/tools.js';

const NO_TOOLS = skipWithout('ffmpeg', '-version') || skipWithout('sox');
const dir = mkdtempSync(join(tmpdir(), 'decode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Every path, error paths included, must free its WebAssembly decoder.
afterEach(() => expect(decoderStats.live).toBe(0));

const read = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
function noise(n: number, seed = 99): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24;
  });
}

/** Runs `fn` and checks it rejects with a DemucsError of `code` whose message holds every part. */
async function expectError(fn: () => Promise<unknown>, code: DemucsErrorCode, ...parts: (string | RegExp)[]): Promise<string> {
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
  return e.message;
}

describe.skipIf(NO_TOOLS)('decodeAudio: lossless formats, against the signal that went in', () => {
  // [encoding, rate, channels, bound on |decoded − original|]. The bound is one step of the
  // stored format; each comment gives the measured maximum (sox 14.4.2, ffmpeg 5.1).
  const cases: [TestEncoding, number, number, number, string][] = [
    ['wav-u8', 44100, 2, 2 ** -7, 'measured 3.906e-3 = ½ step'],
    ['wav-s16', 44100, 2, 2 ** -15, 'measured 1.526e-5 = ½ step'],
    ['wav-s24', 44100, 1, 2 ** -23, 'measured 5.999e-8 = ½ step'],
    // sox works in int32 internally, so its 32-bit and float64 output is the signal truncated to 2^-31.
    ['wav-s32', 48000, 2, 2 ** -31, 'measured 4.584e-10'],
    ['wav-f64', 44100, 2, 2 ** -31, 'measured 4.529e-10'],
    // …and its float32 output is that int32 value rounded to float32: within 2^-24 at full scale.
    ['wav-f32', 44100, 2, 2 ** -24, 'measured 3.015e-8'],
    ['wav-ext-s24', 44100, 2, 2 ** -23, 'measured 5.999e-8 (WAVE_FORMAT_EXTENSIBLE, sox)'],
    ['wav-ext-f32', 48000, 2, 0, 'measured 0 (WAVE_FORMAT_EXTENSIBLE float, ffmpeg: bit-exact)'],
    // Before the output was rescaled to integer / 2^(bits−1), FLAC measured 2.584e-5 (16-bit)
    // and 8.941e-8 (24-bit): the decoder divides by 2^(bits−1) − 1.
    ['flac16', 44100, 2, 2 ** -15, 'measured 1.526e-5 = ½ step'],
    ['flac16', 44100, 1, 2 ** -15, 'measured 1.526e-5 = ½ step'],
    ['flac24', 48000, 2, 2 ** -23, 'measured 5.984e-8 = ½ step'],
    ['ogg-flac', 44100, 2, 2 ** -15, 'measured 1.526e-5 = ½ step (ffmpeg)'],
    ['mov-s16', 44100, 2, 2 ** -15, 'measured 1.526e-5 (PCM in QuickTime, decoded by mediabunny)'],
  ];
  it.each(cases)('%s at %i Hz, %i channel(s): error ≤ %f (%s)', async (encoding, sampleRate, channelCount, bound) => {
    const file = encodeTestFile(dir, encoding, { sampleRate, channelCount });
    const decoded = await decodeAudio(read(file.path), { name: file.path });
    const frames = file.signal.channels[0]!.length;
    expect(decoded.sampleRate).toBe(sampleRate);
    expect(decoded.info).toMatchObject({ sampleRate, channelCount, frames });
    expect(decoded.channels.length).toBe(channelCount);
    for (let c = 0; c < channelCount; c++) {
      expect(decoded.channels[c]!.length).toBe(frames);
      expect(maxAbsDiff(decoded.channels[c]!, file.signal.channels[c]!).max).toBeLessThanOrEqual(bound);
    }
  });

  it('names the container and codec of each', async () => {
    const info = async (encoding: TestEncoding): Promise<unknown> =>
      (await decodeAudio(read(encodeTestFile(dir, encoding).path))).info;
    expect(await info('wav-u8')).toMatchObject({ container: 'wav', codec: 'pcm-u8' });
    expect(await info('wav-ext-s24')).toMatchObject({ container: 'wav', codec: 'pcm-s24' });
    expect(await info('wav-f64')).toMatchObject({ container: 'wav', codec: 'pcm-f64' });
    expect(await info('flac16')).toMatchObject({ container: 'flac', codec: 'flac' });
    expect(await info('ogg-flac')).toMatchObject({ container: 'ogg-flac', codec: 'flac' });
    expect(await info('mov-s16')).toMatchObject({ container: 'mp4', codec: 'pcm-s16' });
  });

  it('decodes FLAC bit-exactly as ffmpeg does (integer / 2^(bits−1), like decodeWav)', async () => {
    for (const [encoding, rate] of [['flac16', 44100], ['flac24', 48000], ['ogg-flac', 44100]] as const) {
      const file = encodeTestFile(dir, encoding, { sampleRate: rate });
      const ours = await decodeAudio(read(file.path));
      const theirs = ffmpegDecode(file.path, 2);
      for (let c = 0; c < 2; c++) expect(maxAbsDiff(ours.channels[c]!, theirs[c]!).max).toBe(0);
    }
  });
});

describe.skipIf(NO_TOOLS)('decodeAudio: lossy formats, aligned against the signal that went in', () => {
  // [encoding, rate, channels, lag, minimum SNR in dB]. The lag is where the decoded audio
  // lines up with the original (cross-correlation): 0 means delay and padding were removed.
  // The SNR floors sit about 2.5 dB under the measured values (ffmpeg 5.1: LAME 3.100,
  // libvorbis 1.3.7, libopus 1.3.1), leaving room for other encoder versions.
  const cases: [TestEncoding, number, number, number, number, string][] = [
    ['mp3-cbr320', 44100, 2, 0, 21, 'measured 23.60 dB'],
    ['mp3-cbr320', 48000, 1, 0, 20, 'measured 22.29 dB'],
    ['mp3-vbr', 44100, 1, 0, 16, 'measured 18.52 dB (-q:a 2)'],
    ['mp3-vbr', 48000, 2, 0, 16, 'measured 18.21 dB'],
    ['mp3-id3v1', 44100, 2, 0, 14, 'measured 16.14 dB (128 kbit/s, ID3v1 tag at the end)'],
    ['ogg-vorbis', 44100, 2, 0, 21, 'measured 23.08 dB (-q:a 6)'],
    ['ogg-vorbis', 48000, 1, 0, 19, 'measured 21.70 dB'],
    ['ogg-opus', 48000, 2, 0, 17, 'measured 19.96 dB (192 kbit/s)'],
    ['ogg-opus', 48000, 1, 0, 19, 'measured 21.83 dB'],
  ];
  it.each(cases)('%s at %i Hz, %i channel(s): lag %i, SNR ≥ %i dB (%s)', async (encoding, sampleRate, channelCount, lag, minSnr) => {
    const file = encodeTestFile(dir, encoding, { sampleRate, channelCount });
    const decoded = await decodeAudio(read(file.path), { name: file.path });
    const frames = file.signal.channels[0]!.length;
    // Length rule: exactly the original's, and stated up front (LAME tag; Ogg granule position).
    expect(decoded.info).toMatchObject({ sampleRate, channelCount, frames });
    expect(decoded.channels.map((c) => c.length)).toEqual(Array(channelCount).fill(frames));
    const cmp = alignAndCompare(file.signal.channels, decoded.channels);
    expect(cmp.lag).toBe(lag);
    expect(cmp.snrDb).toBeGreaterThanOrEqual(minSnr);
  });

  it('decodes an MP3 without a Xing/LAME header whole: 1105 samples late, every frame kept', async () => {
    // measured: 111744 frames (97 × 1152), lag 1105 (LAME's 576 + mpg123's 529), SNR 19.20 dB.
    const file = encodeTestFile(dir, 'mp3-noxing');
    const decoded = await decodeAudio(read(file.path));
    const frames = file.signal.channels[0]!.length;
    const n = decoded.channels[0]!.length;
    expect(n % 1152).toBe(0);
    expect(n).toBeGreaterThanOrEqual(frames + 1105);
    expect(n).toBeLessThan(frames + 1105 + 1152);
    const cmp = alignAndCompare(file.signal.channels, decoded.channels);
    expect(cmp.lag).toBe(1105);
    expect(cmp.snrDb).toBeGreaterThanOrEqual(17);
  });

  it('decodes Opus at 48 kHz whatever the input rate was, with the length scaled exactly', async () => {
    const file = encodeTestFile(dir, 'ogg-opus', { sampleRate: 44100 });
    const decoded = await decodeAudio(read(file.path));
    expect(decoded.sampleRate).toBe(48000);
    expect(decoded.info).toMatchObject({ container: 'ogg-opus', codec: 'opus', sampleRate: 48000, frames: 120000 });
    // 2.5 s: 110250 frames at 44.1 kHz, 120000 at 48 kHz.
    expect(decoded.channels[0]!.length).toBe(Math.round((file.signal.channels[0]!.length * 48000) / 44100));
  });

  it('refuses M4A/AAC where there is no AAC decoder (Node), naming the codec and the fixes', async () => {
    const file = encodeTestFile(dir, 'm4a-aac');
    await expectError(() => decodeAudio(read(file.path), { name: 'song.m4a' }), 'ERR_AUDIO_CODEC', "song.m4a: MP4/M4A audio in codec 'aac'", /WebCodecs/, /ffmpeg/, /openAudioFile/);
    const adts = encodeTestFile(dir, 'adts-aac');
    await expectError(() => decodeAudio(read(adts.path)), 'ERR_AUDIO_CODEC', "AAC (ADTS) audio in codec 'aac'");
  });
});

describe.skipIf(NO_TOOLS)('createStreamingDecoder', () => {
  async function streamed(bytes: Uint8Array, chunk: number): Promise<Float32Array[]> {
    const decoder = await createStreamingDecoder(bytes.subarray(0, 65536));
    const blocks: DecodedBlock[] = [];
    try {
      for (let o = 0; o < bytes.length; o += chunk) blocks.push(await decoder.decode(bytes.subarray(o, o + chunk)));
      blocks.push(await decoder.flush());
    } finally {
      decoder.free();
    }
    return Array.from({ length: decoder.info.channelCount }, (_, c) => {
      const out = new Float32Array(blocks.reduce((n, b) => n + b[c]!.length, 0));
      let o = 0;
      for (const b of blocks) {
        out.set(b[c]!, o);
        o += b[c]!.length;
      }
      return out;
    });
  }

  it.each(['mp3-vbr', 'flac16', 'ogg-vorbis', 'ogg-opus', 'ogg-flac'] as const)(
    '%s: any chunking decodes to the same samples as the whole file',
    async (encoding) => {
      const bytes = read(encodeTestFile(dir, encoding).path);
      const whole = await decodeAudio(bytes);
      for (const chunk of [997, 8192]) expect(await streamed(bytes, chunk)).toEqual(whole.channels);
    },
  );

  it('reports the stream info before decoding, and refuses use after flush or free', async () => {
    const bytes = read(encodeTestFile(dir, 'mp3-cbr320', { sampleRate: 48000, channelCount: 1 }).path);
    const decoder = await createStreamingDecoder(bytes, { name: 'x.mp3' });
    expect(decoder.info).toEqual({ container: 'mp3', codec: 'mp3', sampleRate: 48000, channelCount: 1, frames: 120000 });
    await decoder.decode(bytes);
    await decoder.flush();
    await expect(decoder.decode(bytes)).rejects.toThrow(/flushed/);
    decoder.free();
    decoder.free();
    await expect(decoder.flush()).rejects.toThrow(/freed/);
    await expect(decoder.decode('nope' as unknown as Uint8Array)).rejects.toThrow(TypeError);
  });

  it('points WAV and M4A to decodeAudio', async () => {
    const wav = read(encodeTestFile(dir, 'wav-s16').path);
    await expectError(() => createStreamingDecoder(wav), 'ERR_AUDIO_FORMAT', /WAV is not streamed by createStreamingDecoder; use decodeAudio/);
  });
});

describe.skipIf(NO_TOOLS)('decodeAudio: errors', () => {
  it('rejects a non-Uint8Array with a TypeError', async () => {
    await expect(decodeAudio(new ArrayBuffer(8) as unknown as Uint8Array)).rejects.toThrow(/bytes must be a Uint8Array \(got object\)/);
  });

  it('empty input (0 bytes)', async () => {
    await expectError(() => decodeAudio(new Uint8Array(0), { name: 'a.mp3' }), 'ERR_AUDIO_EMPTY', 'a.mp3: the file is empty (0 bytes)');
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
    await expectError(() => decodeAudio(read(emptyTestFile(dir, kind))), 'ERR_AUDIO_EMPTY', message);
  });

  const truncations: [TestEncoding, RegExp][] = [
    ['wav-s16', /data chunk declares \d+ bytes but only \d+ bytes are present/],
    ['mp3-cbr320', /decoded to \d+ frames, fewer than the 110250 its Info header declares \(97 frames × 1152 − 576 delay − 918 padding\): the file is cut short/],
    ['mp3-vbr', /its Xing header declares/],
    ['flac16', /decoded to \d+ frames, fewer than the 110250 its STREAMINFO declares/],
    ['ogg-vorbis', /the Ogg stream ends inside a page: the file is cut short/],
    ['ogg-opus', /the Ogg stream ends inside a page/],
    ['m4a-aac', /the MP4 box "mdat" at byte \d+ declares \d+ bytes, but the file ends after \d+: the file is cut short/],
  ];
  it.each(truncations)('a %s file cut at 60 %%', async (encoding, message) => {
    const bytes = read(encodeTestFile(dir, encoding).path);
    await expectError(() => decodeAudio(bytes.subarray(0, Math.floor(bytes.length * 0.6))), 'ERR_AUDIO_TRUNCATED', message);
  });

  it('an Ogg file cut exactly between pages (no end-of-stream page)', async () => {
    const bytes = read(encodeTestFile(dir, 'ogg-vorbis').path);
    // The start of the last page.
    let last = bytes.length - 27;
    while (!(bytes[last] === 0x4f && bytes[last + 1] === 0x67 && bytes[last + 2] === 0x67 && bytes[last + 3] === 0x53)) last--;
    await expectError(() => decodeAudio(bytes.subarray(0, last)), 'ERR_AUDIO_TRUNCATED', /ends without its end-of-stream page/);
  });

  it('headers cut short', async () => {
    const flac = read(encodeTestFile(dir, 'flac16').path);
    await expectError(() => decodeAudio(flac.subarray(0, 20)), 'ERR_AUDIO_TRUNCATED', 'a FLAC header needs 42 bytes, but only 20 are present');
    const mp3 = read(encodeTestFile(dir, 'mp3-cbr320').path);
    await expectError(() => decodeAudio(mp3.subarray(0, 30)), 'ERR_AUDIO_TRUNCATED', /the ID3v2 tag declares 45 bytes but the data ends after 30 bytes/);
  });

  it('damage in the middle: refused with one message, without console noise', async () => {
    const spy = vi.spyOn(console, 'error');
    try {
      const cases: [TestEncoding, number, DemucsErrorCode, RegExp][] = [
        // Ogg pages carry a CRC-32: any damaged byte is caught before decoding.
        ['ogg-vorbis', 10, 'ERR_AUDIO_FORMAT', /Ogg page \d+ fails its CRC-32 check: the file is damaged/],
        ['ogg-opus', 10, 'ERR_AUDIO_FORMAT', /Ogg page \d+ fails its CRC-32 check/],
        ['ogg-flac', 10, 'ERR_AUDIO_FORMAT', /Ogg page \d+ fails its CRC-32 check/],
        // mpg123 reports the frames it cannot decode; any one fails the file.
        ['mp3-cbr320', 3000, 'ERR_AUDIO_FORMAT', /the MP3 stream is damaged: the decoder reported 1 bad frame \("-1 MPG123_ERR"\)/],
        // The FLAC parser stops at the damage: caught by the STREAMINFO count.
        ['flac16', 200, 'ERR_AUDIO_TRUNCATED', /fewer than the 110250 its STREAMINFO declares: the file is cut short \(or damaged/],
      ];
      for (const [encoding, count, code, message] of cases) {
        const bytes = damage(read(encodeTestFile(dir, encoding).path), 0.5, count);
        await expectError(() => decodeAudio(bytes, { name: encoding }), code, message);
      }
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('garbage after a valid magic number', async () => {
    const id3 = read(encodeTestFile(dir, 'mp3-cbr320').path).subarray(0, 45);
    await expectError(() => decodeAudio(concat(id3, noise(5000))), 'ERR_AUDIO_FORMAT', /no MPEG audio frame found in the 5000 bytes after the 45-byte ID3v2 tag/);
    await expectError(() => decodeAudio(concat(ascii('fLaC'), noise(5000))), 'ERR_AUDIO_FORMAT', 'the FLAC STREAMINFO block is missing or invalid: the file is corrupt');
    await expectError(() => decodeAudio(concat(ascii('OggS'), noise(5000))), 'ERR_AUDIO_FORMAT', /the first Ogg page is incomplete or invalid/);
    // The WAV parser reads the noise as a chunk header declaring more bytes than there are.
    await expectError(() => decodeAudio(concat(ascii('RIFF'), new Uint8Array(4), ascii('WAVE'), noise(5000))), 'ERR_AUDIO_TRUNCATED', /WAV [0-9a-f ]+ chunk at byte 12 declares \d+ bytes but only 4992 bytes are present/);
    await expectError(() => decodeAudio(concat(new Uint8Array([0, 0, 0, 24]), ascii('ftypM4A '), noise(5000))), 'ERR_AUDIO_TRUNCATED', /MP4 box/);
  });

  it('not audio at all: random bytes, text', async () => {
    await expectError(() => decodeAudio(noise(10000), { name: 'x.bin' }), 'ERR_AUDIO_FORMAT', /^x\.bin: not a recognised audio file: it starts with bytes [0-9a-f ]{23} \(supported: WAV, MP3, FLAC/);
    await expectError(() => decodeAudio(ascii('Dear diary,\nToday I recorded a song.'), { name: 'song.mp3' }), 'ERR_AUDIO_FORMAT', 'song.mp3: not a recognised audio file: it starts with text "Dear diary, Today I recorded a s"');
  });

  const unsupported: [TestEncoding, string][] = [
    ['aiff', 'AIFF files are not supported; convert to WAV or FLAC'],
    ['webm-opus', 'WebM files are not supported'],
    ['mka-flac', 'Matroska files are not supported'],
    ['caf', 'Core Audio Format (CAF) files are not supported'],
    ['wma', 'ASF (WMA) files are not supported'],
    ['rf64', 'RF64 (64-bit WAV) files are not supported'],
  ];
  it.each(unsupported)('recognised but unsupported: %s', async (encoding, message) => {
    await expectError(() => decodeAudio(read(encodeTestFile(dir, encoding, { seconds: 0.2 }).path), { name: 'in' }), 'ERR_AUDIO_FORMAT', `in: ${message}`, /ffmpeg -i in out\.wav/);
  });

  it('an Ogg stream in a codec without a decoder (Speex)', async () => {
    // One Ogg page (beginning of stream) holding an 80-byte Speex header packet.
    const packet = concat(ascii('Speex   '), new Uint8Array(72));
    const header = concat(ascii('OggS'), Uint8Array.of(0, 2), new Uint8Array(8), Uint8Array.of(1, 0, 0, 0), new Uint8Array(8), Uint8Array.of(1, 80));
    await expectError(() => decodeAudio(concat(header, packet)), 'ERR_AUDIO_CODEC', 'Ogg stream in Speex cannot be decoded (supported in Ogg: Vorbis, Opus, FLAC)');
  });

  it('NaN and infinite samples', async () => {
    const left = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i));
    const right = left.slice();
    right[42] = Number.POSITIVE_INFINITY;
    const bytes = encodeWav({ sampleRate: 44100, channels: [left, right] }, { bitDepth: 32, clipMode: 'none' });
    await expectError(() => decodeAudio(bytes, { name: 'nan.wav' }), 'ERR_NON_FINITE', 'nan.wav: sample 42 of channel 1 is Infinity; every sample must be finite');
  });
});

describe('lazy loading', () => {
  it('the built entries import the wasm decoders and mediabunny only dynamically', () => {
    const distDir = resolve(import.meta.dirname, '../../dist');
    const files = readdirSync(distDir).filter((f) => /\.(c?js)$/.test(f));
    const text = files.map((f) => readFileSync(join(distDir, f), 'utf8')).join('\n');
    for (const pkg of ['mpg123-decoder', '@wasm-audio-decoders/flac', '@wasm-audio-decoders/ogg-vorbis', 'ogg-opus-decoder', 'mediabunny']) {
      const quoted = `['"]${pkg.replace('/', '\\/')}['"]`;
      expect(text, pkg).toMatch(new RegExp(`import\\(${quoted}\\)`));
      expect(text, pkg).not.toMatch(new RegExp(`from ${quoted}|require\\(${quoted}\\)|^import ${quoted}`, 'm'));
    }
  });
});
