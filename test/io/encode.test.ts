import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createAudioEncoder,
  encodeAudio,
  ENCODE_AUDIO_DEFAULTS,
  FLAC_SAMPLE_RATES,
  mp3Bitrates,
  MP3_SAMPLE_RATES,
  type AudioFileFormat,
} from '../../src/io/encode.js';
import { crc16 } from '../../src/io/mp3-info.js';
import { computeClipGain, decodeWav, encodeWav, type ClipMode, type WavBitDepth } from '../../src/io/wav.js';
import { ffmpegDecode, ffprobe, musicLike, peakOf, planarSnrDb, soxDecode } from '../helpers/external-decode.js';
import { fixturePath, maxAbsDiff } from '../helpers/fixtures.js';
import { skipWithout } from '../helpers/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'encode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const noFfmpeg = skipWithout('ffmpeg', '-version');
const noSox = skipWithout('sox');

let fileCount = 0;
/** Writes bytes to a new temporary file with the format's extension and returns its path. */
function save(bytes: Uint8Array, format: AudioFileFormat): string {
  const path = join(dir, `${fileCount++}.${format}`);
  writeFileSync(path, bytes);
  return path;
}

/** Encodes through createAudioEncoder in the given block sizes (the rest in one last block). */
async function encodeStreaming(
  channels: Float32Array[],
  options: Parameters<typeof createAudioEncoder>[0] extends infer O ? Omit<O, 'onData' | 'channelCount'> : never,
  blocks: number[],
): Promise<Uint8Array> {
  const parts: { bytes: Uint8Array; position: number }[] = [];
  const encoder = await createAudioEncoder({
    ...options,
    channelCount: channels.length,
    onData: (bytes, position) => {
      parts.push({ bytes: bytes.slice(), position });
    },
  });
  const frames = channels[0]!.length;
  let start = 0;
  for (const n of [...blocks, frames]) {
    const end = Math.min(frames, start + n);
    await encoder.write(channels.map((c) => c.subarray(start, end)));
    start = end;
    if (start === frames) break;
  }
  expect(encoder.framesWritten).toBe(frames);
  await encoder.finish();
  const size = Math.max(...parts.map((p) => p.position + p.bytes.length));
  const out = new Uint8Array(size);
  for (const p of parts) out.set(p.bytes, p.position);
  return out;
}

/** Asserts two planar signals are sample for sample equal (vitest's toEqual is slow on long typed arrays). */
function expectSameSamples(actual: readonly Float32Array[], expected: readonly Float32Array[]): void {
  expect(actual.length).toBe(expected.length);
  for (let c = 0; c < expected.length; c++) expect(maxAbsDiff(actual[c]!, expected[c]!).max).toBe(0);
}

/** A 441 Hz sine of peak 1.5 on the left and an 882 Hz sine of peak 0.5 on the right. */
function loudSines(sampleRate: number, frames: number): Float32Array[] {
  return [
    Float32Array.from({ length: frames }, (_, i) => 1.5 * Math.sin((2 * Math.PI * 441 * i) / sampleRate)),
    Float32Array.from({ length: frames }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 882 * i) / sampleRate)),
  ];
}

const mix = decodeWav(new Uint8Array(readFileSync(fixturePath('e2e/mix.wav')))); // 10 s, 44.1 kHz stereo, peak 0.884

describe('options', () => {
  it('has the documented defaults and tables', () => {
    expect(ENCODE_AUDIO_DEFAULTS).toEqual({ bitDepth: 16, clipMode: 'rescale', mp3Bitrate: 320 });
    expect(mp3Bitrates(44100)).toEqual([32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]);
    expect(mp3Bitrates(24000)).toEqual([8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]);
    expect(mp3Bitrates(8000)).toEqual([8, 16, 24, 32, 40, 48, 56, 64]);
    expect(mp3Bitrates(44000)).toEqual([]);
    expect(MP3_SAMPLE_RATES).toEqual([8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000]);
    expect(FLAC_SAMPLE_RATES).toContain(44100);
  });

  it('rejects bad options with errors naming the option, the value and what is accepted', async () => {
    const audio = { sampleRate: 44100, channels: [new Float32Array(100)] };
    await expect(encodeAudio(audio, { format: 'ogg' as never })).rejects.toThrow(
      new RangeError("format must be one of 'wav', 'flac', 'mp3' (got \"ogg\")"),
    );
    await expect(encodeAudio(audio, { format: 'flac', bitDepth: 32 })).rejects.toThrow(
      new RangeError(
        "bitDepth 32 is not available for format 'flac': FLAC stores integers, so use 16 or 24 (or 'wav' for float32)",
      ),
    );
    await expect(encodeAudio(audio, { format: 'wav', bitDepth: 20 as never })).rejects.toThrow(
      /^bitDepth must be one of 16, 24, 32 \(got 20\)$/,
    );
    await expect(encodeAudio(audio, { format: 'mp3', clipMode: 'soft' as never })).rejects.toThrow(
      /^options\.clipMode must be one of 'rescale', 'clamp', 'none' \(got "soft"\)$/,
    );
    await expect(encodeAudio(audio, { format: 'mp3', mp3Bitrate: 100 })).rejects.toThrow(
      new RangeError(
        'mp3Bitrate 100 kbps is not an MP3 bitrate at 44100 Hz; use one of 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320',
      ),
    );
    await expect(encodeAudio({ ...audio, sampleRate: 22050 }, { format: 'mp3', mp3Bitrate: 320 })).rejects.toThrow(
      /^mp3Bitrate 320 kbps is not an MP3 bitrate at 22050 Hz; use one of 8, 16, .*, 144, 160$/,
    );
    await expect(encodeAudio({ ...audio, sampleRate: 44000 }, { format: 'mp3' })).rejects.toThrow(
      /^sampleRate 44000 is not available for format 'mp3'; use one of 8000, 11025, .*, 48000 Hz$/,
    );
    await expect(encodeAudio({ ...audio, sampleRate: 11025 }, { format: 'flac' })).rejects.toThrow(
      /^sampleRate 11025 is not available for format 'flac'; use one of 8000, 16000, .*, 192000 Hz$/,
    );
    const three = { sampleRate: 44100, channels: [new Float32Array(9), new Float32Array(9), new Float32Array(9)] };
    await expect(encodeAudio(three, { format: 'mp3' })).rejects.toThrow(
      /^channelCount 3 is too many for format 'mp3' \(1 or 2\)$/,
    );
    const nine = { sampleRate: 44100, channels: Array.from({ length: 9 }, () => new Float32Array(9)) };
    await expect(encodeAudio(nine, { format: 'flac' })).rejects.toThrow(/^channelCount 9 is too many for format 'flac' \(1 to 8\)$/);
    await expect(encodeAudio({ sampleRate: 44100, channels: [] }, { format: 'flac' })).rejects.toThrow(
      /at least one channel \(got 0\)/,
    );
    await expect(encodeAudio({ sampleRate: 44100, channels: [new Float32Array(0)] }, { format: 'flac' })).rejects.toThrow(
      new RangeError('a FLAC file needs at least one frame (got 0)'),
    );
    await expect(
      encodeAudio({ sampleRate: 44100, channels: [new Float32Array(3), new Float32Array(4)] }, { format: 'mp3' }),
    ).rejects.toThrow(/channels\[1\] has 4 samples but channels\[0\] has 3/);
    const nan = new Float32Array(10);
    nan[7] = NaN;
    await expect(encodeAudio({ sampleRate: 44100, channels: [nan] }, { format: 'flac' })).rejects.toMatchObject({
      code: 'ERR_NON_FINITE',
      message: 'cannot rescale audio with a non-finite sample at audio.channels[0][7] (NaN)',
    });
    // The streaming encoder takes a clip gain, not a mode, and checks its blocks.
    const sink = (): void => {};
    await expect(createAudioEncoder({ format: 'mp3', sampleRate: 44100, channelCount: 2, onData: sink, clip: { gain: -1, clamp: false } })).rejects.toThrow(
      /^clip\.gain must be a finite number ≥ 0 \(got -1\)$/,
    );
    await expect(createAudioEncoder({ format: 'wav', sampleRate: 44100, channelCount: 2, onData: 'file' as never })).rejects.toThrow(
      TypeError,
    );
    const encoder = await createAudioEncoder({ format: 'flac', sampleRate: 48000, channelCount: 2, onData: sink });
    await expect(encoder.write([new Float32Array(4)])).rejects.toThrow(/channels holds 1 channels but the encoder was created for 2/);
    await expect(encoder.write([new Float32Array(4), new Float64Array(4) as never])).rejects.toThrow(
      /channels\[1\] must be a Float32Array \(got Float64Array\(4\)\)/,
    );
    await expect(encoder.finish()).rejects.toThrow(/a FLAC file needs at least one frame/);
    await expect(encoder.write([new Float32Array(4), new Float32Array(4)])).rejects.toThrow(/the encoder is aborted/);
  });
});

describe('WAV', () => {
  const loud = loudSines(44100, 10001);
  it.each([16, 24, 32] as const)('encodeAudio writes %i-bit WAV exactly as encodeWav, in each clip mode', async (bitDepth) => {
    for (const clipMode of ['rescale', 'clamp', 'none'] as const) {
      const expected = encodeWav({ sampleRate: 44100, channels: loud }, { bitDepth, clipMode });
      const bytes = await encodeAudio({ sampleRate: 44100, channels: loud }, { format: 'wav', bitDepth, clipMode });
      expect(Buffer.compare(bytes, expected)).toBe(0);
    }
  });

  it('the streaming WAV encoder writes the same bytes, with the pad byte and the final header', async () => {
    // 24-bit mono with an odd frame count: an odd data size, so a pad byte.
    const mono = [loud[0]!];
    const clip = computeClipGain(1.5, 'rescale');
    const streamed = await encodeStreaming(mono, { format: 'wav', sampleRate: 44100, bitDepth: 24, clip }, [1, 4000, 333]);
    expect(Buffer.compare(streamed, encodeWav({ sampleRate: 44100, channels: mono }, { bitDepth: 24, clipMode: 'rescale' }))).toBe(0);
    const float = await encodeStreaming(loud, { format: 'wav', sampleRate: 44100, bitDepth: 32 }, [5000]);
    expect(Buffer.compare(float, encodeWav({ sampleRate: 44100, channels: loud }, { bitDepth: 32, clipMode: 'none' }))).toBe(0);
  });
});

describe.skipIf(noFfmpeg)('FLAC', () => {
  const cases: [WavBitDepth, number, number][] = [
    [16, 44100, 2],
    [16, 48000, 1],
    [24, 44100, 1],
    [24, 48000, 2],
  ];
  it.each(cases)('%i-bit at %i Hz, %i channel(s): ffmpeg decodes exactly the samples of the WAV file', async (bitDepth, sampleRate, channelCount) => {
    const channels = musicLike(sampleRate, 54321, channelCount, 1.2); // peak 1.2 > 1/1.01, so 'rescale' acts
    const path = save(await encodeAudio({ sampleRate, channels }, { format: 'flac', bitDepth }), 'flac');
    const probe = ffprobe(path);
    expect(probe).toMatchObject({
      codec_name: 'flac',
      sample_rate: String(sampleRate),
      channels: channelCount,
      duration_ts: 54321,
      bits_per_raw_sample: String(bitDepth),
    });
    const wav = decodeWav(encodeWav({ sampleRate, channels }, { bitDepth }));
    const decoded = ffmpegDecode(path, channelCount, true);
    expectSameSamples(decoded, wav.channels);
    // And within one LSB of the rescaled input, in the quantiser's units: samples are scaled
    // by 2^(bits-1) - 1 and truncated, decoders divide by 2^(bits-1).
    const gain = computeClipGain(peakOf(channels), 'rescale').gain;
    const scale = 2 ** (bitDepth - 1);
    let worst = 0;
    for (let c = 0; c < channelCount; c++) {
      for (let i = 0; i < 54321; i++) {
        worst = Math.max(worst, Math.abs(decoded[c]![i]! * scale - channels[c]![i]! * gain * (scale - 1)));
      }
    }
    expect(worst).toBeLessThan(1);
  });

  it.skipIf(noSox)('sox decodes the same samples', async () => {
    for (const bitDepth of [16, 24] as const) {
      const path = save(await encodeAudio(mix, { format: 'flac', bitDepth }), 'flac');
      const decoded = soxDecode(path, 2);
      const wav = decodeWav(encodeWav(mix, { bitDepth }));
      expectSameSamples(decoded, wav.channels);
    }
  });

  it('compresses: the 10 s mix takes 60 % (16-bit) and 73 % (24-bit) of its WAV size', async () => {
    // Measured: 1 052 916 of 1 764 044 bytes (0.5969) and 1 935 698 of 2 646 044 (0.7315).
    for (const [bitDepth, ratio] of [
      [16, 0.5969],
      [24, 0.7315],
    ] as const) {
      const flac = await encodeAudio(mix, { format: 'flac', bitDepth });
      expect(flac.length / encodeWav(mix, { bitDepth }).length).toBeCloseTo(ratio, 2);
    }
  });
});

describe.skipIf(noFfmpeg)('MP3', () => {
  // SNR of ffmpeg's decoding against the input, with no alignment: the LAME tag makes ffmpeg
  // drop the 576 + 529 samples of encoder and decoder delay and the end padding, so the
  // decoded length is exactly the input's and lag 0 is the best alignment.
  // Measured on the 10 s e2e mix (LAME 3.100 is deterministic): 35.21 dB at 320 kbps,
  // 25.97 at 192, 20.81 at 128. Waveform SNR is low for a perceptual codec (LAME drops
  // content above ~17–20 kHz); the bounds catch misalignment (lag 1 costs 13+ dB) and
  // level or quantisation mistakes.
  it.each([
    [320, 34],
    [192, 25],
    [128, 20],
  ])('%i kbps on the e2e mix: exact length, bitrate as ffprobe reports, SNR ≥ %i dB', async (kbps, bound) => {
    const path = save(await encodeAudio(mix, { format: 'mp3', mp3Bitrate: kbps, clipMode: 'none' }), 'mp3');
    const probe = ffprobe(path);
    expect(probe).toMatchObject({ codec_name: 'mp3', sample_rate: '44100', channels: 2, bit_rate: String(kbps * 1000) });
    // ffmpeg reports the LAME tag's encoder only when the tag's CRC is right.
    expect(probe.tags?.encoder).toBe('LAME3.100');
    // ffprobe's start_time is the skipped delay, 1105 samples; its duration is that of the
    // whole frames (audio frames × 1152), padding included: the decoded stream is shorter.
    expect(Number(probe.start_time)).toBeCloseTo(1105 / 44100, 5);
    const padded = Number(probe.duration) * 44100;
    expect(Math.abs(padded - 1152 * Math.round(padded / 1152))).toBeLessThan(0.1); // printed to 1 µs
    expect(padded).toBeGreaterThan(441000 + 576);
    expect(padded).toBeLessThan(441000 + 576 + 2 * 1152);
    const decoded = ffmpegDecode(path, 2);
    expect(decoded[0]!.length).toBe(441000);
    const snr = planarSnrDb(mix.channels, decoded);
    expect(snr).toBeGreaterThan(bound);
    // Aligned: a sample of lag either way is worse.
    const left = mix.channels[0]!;
    const lag0 = planarSnrDb([left], [decoded[0]!]);
    expect(planarSnrDb([left.subarray(1)], [decoded[0]!.subarray(0, 440999)])).toBeLessThan(lag0 - 3);
    expect(planarSnrDb([left.subarray(0, 440999)], [decoded[0]!.subarray(1)])).toBeLessThan(lag0 - 3);
  });

  // Measured on musicLike (peak 0.8): 48 kHz stereo 320 kbps 39.08 dB, 48 kHz mono 320 kbps
  // 41.50 dB, 44.1 kHz mono 128 kbps 25.73 dB, 22.05 kHz stereo (MPEG-2) 160 kbps 25.85 dB.
  it.each([
    [48000, 2, 320, 38],
    [48000, 1, 320, 40],
    [44100, 1, 128, 24],
    [22050, 2, 160, 24],
  ])('%i Hz, %i channel(s), %i kbps: exact length, SNR ≥ %i dB', async (sampleRate, channelCount, kbps, bound) => {
    const channels = musicLike(sampleRate, 5 * sampleRate + 17, channelCount);
    const path = save(await encodeAudio({ sampleRate, channels }, { format: 'mp3', mp3Bitrate: kbps }), 'mp3');
    expect(ffprobe(path)).toMatchObject({ sample_rate: String(sampleRate), channels: channelCount, bit_rate: String(kbps * 1000) });
    const decoded = ffmpegDecode(path, channelCount);
    expect(decoded[0]!.length).toBe(5 * sampleRate + 17);
    expect(planarSnrDb(channels, decoded)).toBeGreaterThan(bound);
  });

  it('defaults to 320 kbps, or the top bitrate of lower sample rates', async () => {
    const tone = (sampleRate: number) => ({ sampleRate, channels: musicLike(sampleRate, 3000, 1) });
    expect(ffprobe(save(await encodeAudio(tone(44100), { format: 'mp3' }), 'mp3')).bit_rate).toBe('320000');
    expect(ffprobe(save(await encodeAudio(tone(16000), { format: 'mp3' }), 'mp3')).bit_rate).toBe('160000');
    expect(ffprobe(save(await encodeAudio(tone(8000), { format: 'mp3' }), 'mp3')).bit_rate).toBe('64000');
  });

  it('very short inputs keep their exact length (1 frame, one MP3 frame)', async () => {
    for (const frames of [1, 1152]) {
      const channels = [Float32Array.from({ length: frames }, (_, i) => Math.sin(i / 10) * 0.5)];
      const path = save(await encodeAudio({ sampleRate: 44100, channels }, { format: 'mp3' }), 'mp3');
      expect(ffmpegDecode(path, 1)[0]!.length).toBe(frames);
    }
  });

  it('the Info frame carries the stream: frame count, byte count, delay 576, padding, CRCs', async () => {
    const channels = musicLike(44100, 100003, 2);
    const bytes = await encodeAudio({ sampleRate: 44100, channels }, { format: 'mp3', mp3Bitrate: 128 });
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // 128 kbps at 44.1 kHz: 417-byte frames (418 with padding); the Info frame has no padding.
    const header = view.getUint32(0);
    expect((header >>> 12) & 0xf).toBe(9); // bitrate index 9 = 128 kbps
    const xing = 36; // MPEG-1 stereo
    expect(String.fromCharCode(...bytes.subarray(xing, xing + 4))).toBe('Info');
    const audioFrames = view.getUint32(xing + 8);
    expect(view.getUint32(xing + 12)).toBe(bytes.length);
    const lame = xing + 120;
    expect(String.fromCharCode(...bytes.subarray(lame, lame + 9))).toBe('LAME3.100');
    const delays = (bytes[lame + 21]! << 16) | (bytes[lame + 22]! << 8) | bytes[lame + 23]!;
    const delay = delays >> 12;
    const padding = delays & 0xfff;
    expect(delay).toBe(576);
    expect(audioFrames * 1152 - delay - padding).toBe(100003);
    expect(view.getUint32(lame + 28)).toBe(bytes.length);
    expect(view.getUint16(lame + 32)).toBe(crc16(bytes.subarray(417), 0));
    expect(view.getUint16(lame + 34)).toBe(crc16(bytes.subarray(0, lame + 34), 0));
  });
});

describe.skipIf(noFfmpeg)('clip modes in every format (left channel peaks at 1.5)', () => {
  const loud = loudSines(44100, 44100);
  const references = Object.fromEntries(
    (['rescale', 'clamp', 'none'] as const).map((mode) => [
      mode,
      decodeWav(encodeWav({ sampleRate: 44100, channels: loud }, { bitDepth: 24, clipMode: mode })).channels,
    ]),
  ) as Record<ClipMode, Float32Array[]>;
  // Expected left-channel peaks: rescale 1.5 / (1.01 · 1.5) = 1/1.01; clamp 0.99; none: the
  // integer clamp to full scale.
  const target: Record<ClipMode, number> = { rescale: 1 / 1.01, clamp: 0.99, none: 1 };

  it.each([
    ['wav', 16],
    ['flac', 16],
    ['flac', 24],
  ] as const)('%s %i-bit: the decoded peak is the mode’s, within one LSB', async (format, bitDepth) => {
    const scale = 2 ** (bitDepth - 1); // decoders divide by this; the quantiser multiplies by scale - 1
    for (const clipMode of ['rescale', 'clamp', 'none'] as const) {
      const path = save(await encodeAudio({ sampleRate: 44100, channels: loud }, { format, bitDepth, clipMode }), format);
      const decoded = ffmpegDecode(path, 2, true);
      expect(Math.abs(peakOf([decoded[0]!]) * scale - target[clipMode] * (scale - 1))).toBeLessThan(1);
      expectSameSamples(decoded, decodeWav(encodeWav({ sampleRate: 44100, channels: loud }, { bitDepth, clipMode })).channels);
    }
  });

  it('mp3: the decoding matches its own mode’s clipped signal, not the others’', async () => {
    // Measured SNR against the 24-bit WAV of each mode (rows: mode encoded):
    //   rescale: 79.6 dB vs rescale, 13.4 vs clamp, 13.3 vs none; peak 0.99025
    //   clamp:   69.8 dB vs clamp, 41.1 vs none, 12.0 vs rescale; peak 0.99534
    //   none:    68.2 dB vs none, 41.1 vs clamp, 11.8 vs rescale; peak 1.00456
    for (const clipMode of ['rescale', 'clamp', 'none'] as const) {
      const path = save(await encodeAudio({ sampleRate: 44100, channels: loud }, { format: 'mp3', clipMode }), 'mp3');
      const decoded = ffmpegDecode(path, 2);
      expect(Math.abs(peakOf([decoded[0]!]) - target[clipMode])).toBeLessThan(0.008);
      const own = planarSnrDb([references[clipMode][0]!], [decoded[0]!]);
      expect(own).toBeGreaterThan(65);
      for (const other of ['rescale', 'clamp', 'none'] as const) {
        if (other !== clipMode) expect(planarSnrDb([references[other][0]!], [decoded[0]!])).toBeLessThan(own - 20);
      }
    }
  });
});

describe('the streaming encoder writes the one-shot bytes', () => {
  const channels = musicLike(44100, 200003, 2, 1.3); // peak 1.3: the rescale gain is 1/1.313
  const peak = peakOf(channels);
  it.each([
    ['flac', 16],
    ['flac', 24],
    ['mp3', 16],
  ] as const)('%s %i-bit, in uneven blocks, with the rescale gain passed as clip', async (format, bitDepth) => {
    const oneShot = await encodeAudio({ sampleRate: 44100, channels }, { format, bitDepth, mp3Bitrate: 192 });
    const streamed = await encodeStreaming(
      channels,
      { format, sampleRate: 44100, bitDepth, mp3Bitrate: 192, clip: computeClipGain(peak, 'rescale') },
      [1, 7, 65536, 100000, 3],
    );
    expect(streamed.length).toBe(oneShot.length);
    expect(Buffer.compare(streamed, oneShot)).toBe(0);
  });

  it('abort stops an encoder; the sink gets nothing more', async () => {
    let calls = 0;
    const encoder = await createAudioEncoder({ format: 'mp3', sampleRate: 44100, channelCount: 2, onData: () => void calls++ });
    await encoder.write(channels.map((c) => c.subarray(0, 50000)));
    await encoder.abort();
    await encoder.abort();
    const after = calls;
    await expect(encoder.finish()).rejects.toThrow(/the encoder is aborted/);
    expect(calls).toBe(after);
  });

  it('a failing sink fails the encoder', async () => {
    const encoder = await createAudioEncoder({
      format: 'flac',
      sampleRate: 44100,
      channelCount: 2,
      onData: () => {
        throw new Error('disk full');
      },
    });
    const run = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) await encoder.write(channels.map((c) => c.subarray(0, 40000)));
      await encoder.finish();
    };
    await expect(run()).rejects.toThrow(/disk full/);
    await encoder.abort();
  });
});
