/**
 * Decode what we encode: every output format of `encodeAudio` read back by our own
 * `decodeAudio` (the other direction of the sox/ffmpeg producer tests in decode.test.ts and
 * the ffmpeg consumer tests in encode.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/io/decode.js';
import { encodeAudio, type AudioFileFormat } from '../../src/io/encode.js';
import { maxAbsDiff, snrDb } from '../helpers/fixtures.js';
import { synthSignal } from '../helpers/encoded-audio.js';

/**
 * The float32 value of `x` after `bits`-bit PCM, as upstream demucs writes it
 * (`(wav.clamp(-1, 1) * (2**15 - 1)).short()`, truncating) and a decoder reads it (÷ 2^15).
 */
function quantise(x: number, bits: number): number {
  const scale = 2 ** (bits - 1);
  return Math.fround(Math.trunc(Math.max(-1, Math.min(1, x)) * (scale - 1)) / scale);
}

describe('encodeAudio → decodeAudio', () => {
  for (const sampleRate of [44100, 48000]) {
    for (const channels of [1, 2]) {
      const signal = synthSignal(sampleRate, channels, 1.5);
      const lossless: [AudioFileFormat, 16 | 24 | 32][] = [
        ['wav', 16],
        ['wav', 24],
        ['wav', 32],
        ['flac', 16],
        ['flac', 24],
      ];
      for (const [format, bitDepth] of lossless) {
        it(`${format} ${bitDepth}-bit, ${sampleRate} Hz, ${channels} ch: exactly the quantised samples`, async () => {
          const bytes = await encodeAudio(signal, { format, bitDepth, clipMode: 'none' });
          const decoded = await decodeAudio(bytes);
          expect([decoded.sampleRate, decoded.channels.length, decoded.channels[0]!.length]).toEqual([sampleRate, channels, signal.channels[0]!.length]);
          expect(decoded.info.container).toBe(format);
          for (let c = 0; c < channels; c++) {
            const expected = bitDepth === 32 ? signal.channels[c]! : signal.channels[c]!.map((x) => quantise(x, bitDepth));
            expect(maxAbsDiff(decoded.channels[c]!, expected).max).toBe(0);
          }
        });
      }
      // This signal has white noise at −28 dBFS, which MP3 spends few bits on. Measured SNR:
      // 320 kbit/s 21.5–24.4 dB, 128 kbit/s 15.5–21.0 dB; ffmpeg's decode of the same file
      // equals ours to 120 dB, so the loss is the codec's.
      for (const [kbps, floor] of [
        [320, 20],
        [128, 14],
      ] as const) {
        it(`mp3 ${kbps} kbit/s, ${sampleRate} Hz, ${channels} ch: the input's length, aligned, SNR > ${floor} dB`, async () => {
          const bytes = await encodeAudio(signal, { format: 'mp3', mp3Bitrate: kbps, clipMode: 'none' });
          const decoded = await decodeAudio(bytes);
          expect([decoded.sampleRate, decoded.channels.length]).toEqual([sampleRate, channels]);
          // Our encoder writes a LAME tag with its delay and padding; mpg123 removes both.
          expect(decoded.channels[0]!.length).toBe(signal.channels[0]!.length);
          for (let c = 0; c < channels; c++) {
            const snr = snrDb(signal.channels[c]!, decoded.channels[c]!);
            expect(snr).toBeGreaterThan(floor);
          }
        });
      }
    }
  }
});
