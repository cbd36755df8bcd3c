import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TempAudioFile } from '../../src/node/temp-audio.js';

const dir = mkdtempSync(join(tmpdir(), 'temp-audio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TempAudioFile', () => {
  it('stores appended blocks and reads any span back exactly, then deletes itself', async () => {
    const temp = TempAudioFile.create(join(dir, 'a.f32'), 48000, 2);
    const left = Float32Array.from({ length: 10007 }, (_, i) => Math.sin(i * 0.01));
    const right = Float32Array.from({ length: 10007 }, (_, i) => -i / 10007);
    for (const [a, b] of [
      [0, 3],
      [3, 4096],
      [4096, 10007],
    ] as const) temp.append([left.subarray(a, b), right.subarray(a, b)]);
    expect(temp.frames).toBe(10007);
    const source = temp.source();
    expect([source.sampleRate, source.channelCount, source.frames]).toEqual([48000, 2, 10007]);
    const out = [new Float32Array(5000), new Float32Array(5000)];
    await source.read(2000, out);
    expect(out[0]).toEqual(left.subarray(2000, 7000));
    expect(out[1]).toEqual(right.subarray(2000, 7000));
    expect(() => source.read(9000, out)).toThrow(/frames \[9000, 14000\) are outside the 10007 stored/);
    expect(() => temp.append([left])).toThrow(/1 channels, expected 2/);
    temp.dispose();
    temp.dispose();
    expect(existsSync(join(dir, 'a.f32'))).toBe(false);
  });
});
