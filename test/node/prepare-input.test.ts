import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { downmixToStereo } from '../../src/io/channels.js';
import { decodeAudio } from '../../src/io/decode.js';
import { resample, resampledLength } from '../../src/io/resample.js';
import { prepareInput } from '../../src/node/prepare-input.js';
import { encodeTestFile, writeFloatWav, synthSignal } from '../helpers/encoded-audio.js';
import { maxAbsDiff } from '../helpers/fixtures.js';
import { skipWithout } from '../helpers/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'prepare-'));
const temps = mkdtempSync(join(tmpdir(), 'prepare-temp-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(temps, { recursive: true, force: true });
});

async function readAll(source: { frames: number; channelCount: number; read(s: number, o: Float32Array[]): void | Promise<void> }): Promise<Float32Array[]> {
  const out = Array.from({ length: source.channelCount }, () => new Float32Array(source.frames));
  await source.read(0, out);
  return out;
}

describe('prepareInput', () => {
  it('reads a 44.1 kHz WAV in place', async () => {
    const signal = synthSignal(44100, 2, 1);
    const path = join(dir, 'direct.wav');
    writeFloatWav(path, signal);
    const input = await prepareInput(path, { tempDir: temps });
    expect([input.path, input.frames, input.source.sampleRate, input.info.container]).toEqual(['direct', 44100, 44100, 'wav']);
    const got = await readAll(input.source);
    for (let c = 0; c < 2; c++) expect(maxAbsDiff(got[c]!, signal.channels[c]!).max).toBe(0);
    await input.dispose();
    expect(readdirSync(temps)).toEqual([]);
  });

  it('resamples a 48 kHz file to 44.1 kHz through a temporary file, exactly as the one-shot resampler, and deletes it', async () => {
    const signal = synthSignal(48000, 2, 1.5);
    const path = join(dir, 'r48.wav');
    writeFloatWav(path, signal);
    const input = await prepareInput(path, { tempDir: temps });
    expect([input.path, input.frames, input.info.sampleRate]).toEqual(['decoded', 72000, 48000]);
    expect([input.source.sampleRate, input.source.frames]).toEqual([44100, resampledLength(72000, 48000, 44100)]);
    expect(readdirSync(temps)).toHaveLength(1);
    const expected = resample(signal, 44100);
    const got = await readAll(input.source);
    for (let c = 0; c < 2; c++) expect(maxAbsDiff(got[c]!, expected.channels[c]!).max).toBe(0);
    await input.dispose();
    await input.dispose(); // twice is fine
    expect(readdirSync(temps)).toEqual([]);
  });

  it.skipIf(skipWithout('sox'))('downmixes a 6-channel FLAC to stereo (ITU-R BS.775)', async () => {
    const file = encodeTestFile(dir, 'flac16', { channelCount: 6, seconds: 1 });
    const input = await prepareInput(file.path, { tempDir: temps });
    expect([input.source.channelCount, input.info.channelCount, input.frames]).toEqual([2, 6, 44100]);
    const decoded = await decodeAudio(new Uint8Array(readFileSync(file.path)));
    const expected = downmixToStereo(decoded.channels);
    const got = await readAll(input.source);
    for (let c = 0; c < 2; c++) expect(maxAbsDiff(got[c]!, expected[c]!).max).toBe(0);
    await input.dispose();
  });

  it('a bad file leaves no temporary directory behind', async () => {
    const path = join(dir, 'bad.mp3');
    const bytes = new Uint8Array(4096).fill(0x55);
    bytes.set([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0]);
    writeFileSync(path, bytes);
    await expect(prepareInput(path, { tempDir: temps })).rejects.toMatchObject({ code: 'ERR_AUDIO_FORMAT' });
    expect(readdirSync(temps)).toEqual([]);
    expect(existsSync(path)).toBe(true);
  });
});
