import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeWav, encodeWav, type ClipMode, type WavBitDepth } from '../../src/io/wav.js';
import { WavFileSource, WavFileWriter } from '../../src/node/wav-file.js';
import { fixturePath } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'wav-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function signal(frames: number, seed: number, amp: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: frames }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 * amp - amp;
  });
}

describe('WavFileSource', () => {
  it('reads any span of e2e/mix.wav exactly as decodeWav does, without loading the file', async () => {
    const whole = decodeWav(new Uint8Array(readFileSync(fixturePath('e2e/mix.wav'))));
    const source = await WavFileSource.open(fixturePath('e2e/mix.wav'));
    try {
      expect([source.sampleRate, source.channelCount, source.frames]).toEqual([44100, 2, 441000]);
      expect(source.format.encoding).toBe('float');
      for (const [start, n] of [
        [0, 1000],
        [177503, 441000 - 177503],
        [440999, 1],
      ] as const) {
        const out = [new Float32Array(n), new Float32Array(n)];
        await source.read(start, out);
        expect(out[0]).toEqual(whole.channels[0]!.subarray(start, start + n));
        expect(out[1]).toEqual(whole.channels[1]!.subarray(start, start + n));
      }
      await expect(source.read(440000, [new Float32Array(2000), new Float32Array(2000)])).rejects.toThrow(
        /frames \[440000, 442000\) are outside the file's 441000/,
      );
    } finally {
      await source.close();
    }
  });

  it('reads 16- and 24-bit files and names the file in format errors', async () => {
    const channels = [signal(5001, 1, 0.8), signal(5001, 2, 0.8)];
    for (const bitDepth of [16, 24] as const) {
      const path = join(dir, `in${bitDepth}.wav`);
      const bytes = encodeWav({ sampleRate: 48000, channels }, { bitDepth, clipMode: 'none' });
      writeFileSync(path, bytes);
      const source = await WavFileSource.open(path);
      const out = [new Float32Array(5001), new Float32Array(5001)];
      await source.read(0, out);
      await source.close();
      expect(out).toEqual(decodeWav(bytes).channels);
      expect(source.sampleRate).toBe(48000);
    }
    const bad = join(dir, 'bad.wav');
    writeFileSync(bad, 'ID3\u0004 this is an mp3');
    await expect(WavFileSource.open(bad)).rejects.toMatchObject({
      code: 'ERR_AUDIO_FORMAT',
      message: expect.stringContaining(bad),
    });
    writeFileSync(join(dir, 'empty.wav'), '');
    await expect(WavFileSource.open(join(dir, 'empty.wav'))).rejects.toMatchObject({ code: 'ERR_AUDIO_EMPTY' });
  });
});

describe('WavFileWriter', () => {
  const frames = 100003;
  const loud = [signal(frames, 3, 1.7), signal(frames, 4, 0.5)]; // peak > 1, so the clip mode matters
  const cases: [WavBitDepth, ClipMode][] = [
    [16, 'rescale'],
    [16, 'clamp'],
    [24, 'none'],
    [24, 'rescale'],
    [32, 'none'],
    [32, 'rescale'],
  ];
  it.each(cases)('writes %i-bit %s block by block, byte-identical to encodeWav', async (bitDepth, clipMode) => {
    const path = join(dir, `out-${bitDepth}-${clipMode}.wav`);
    const w = await WavFileWriter.create(path, { channelCount: 2, sampleRate: 44100, frames, bitDepth, clipMode });
    for (let start = 0; start < frames; start += 30000) {
      const end = Math.min(frames, start + 30000);
      await w.write(loud.map((c) => c.subarray(start, end)));
      expect(readdirSync(dir)).not.toContain(`out-${bitDepth}-${clipMode}.wav`);
    }
    await w.finish();
    const expected = encodeWav({ sampleRate: 44100, channels: loud }, { bitDepth, clipMode });
    expect(Buffer.compare(readFileSync(path), expected)).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('rescale with a peak ≤ 1/1.01 keeps the direct write (gain exactly 1), byte-identical to encodeWav', async () => {
    const quiet = [signal(frames, 5, 0.9), signal(frames, 6, 0.3)];
    const path = join(dir, 'quiet.wav');
    const w = await WavFileWriter.create(path, { channelCount: 2, sampleRate: 44100, frames });
    await w.write(quiet.map((c) => c.subarray(0, 50000)));
    await w.write(quiet.map((c) => c.subarray(50000)));
    await w.finish();
    expect(Buffer.compare(readFileSync(path), encodeWav({ sampleRate: 44100, channels: quiet }))).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('abort and an incomplete finish leave no file behind', async () => {
    const a = await WavFileWriter.create(join(dir, 'aborted.wav'), { channelCount: 1, sampleRate: 44100, frames: 10 });
    await a.write([new Float32Array(5)]);
    await a.abort();
    const b = await WavFileWriter.create(join(dir, 'short.wav'), { channelCount: 1, sampleRate: 44100, frames: 10, clipMode: 'none' });
    await b.write([new Float32Array(5)]);
    await expect(b.finish()).rejects.toThrow(/only 5 of 10 frames/);
    await expect(b.write([new Float32Array(6)])).rejects.toThrow(/exceeds the declared 10/);
    expect(readdirSync(dir).filter((f) => f.startsWith('aborted') || f.startsWith('short'))).toEqual([]);
  });
});
