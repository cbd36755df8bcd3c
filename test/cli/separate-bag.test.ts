/**
 * `demucs-mobile separate` with a 6-source model and with a bag manifest, through the real
 * binary. Members no requested stem needs point at files that do not exist: the run only
 * succeeds if they are never loaded.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BAG_MANIFEST_FORMAT } from '../../src/core/manifest.js';
import { decodeWav, encodeWav } from '../../src/io/wav.js';
import { runCli } from '../helpers/cli.js';
import { maxAbsDiff } from '../helpers/fixtures.js';
import { standinSeparationModel } from '../helpers/onnx-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-bag-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tone = Float32Array.from({ length: 2 * 44100 }, (_, i) => 0.2 * Math.sin(i * 0.02));
const input = join(dir, 'song.wav');
writeFileSync(input, encodeWav({ sampleRate: 44100, channels: [tone, tone] }, { bitDepth: 32, clipMode: 'none' }));
const NAMES = ['drums', 'bass', 'other', 'vocals'];

function tree(out: string): string[] {
  return existsSync(out) ? readdirSync(out, { recursive: true, encoding: 'utf8' }).sort() : [];
}

function stem(path: string): Float32Array[] {
  return [...decodeWav(new Uint8Array(readFileSync(path))).channels];
}

describe('separate with other model shapes', () => {
  it('a 6-source model writes guitar and piano too', async () => {
    const model = join(dir, 'six.onnx');
    writeFileSync(model, standinSeparationModel({ waveGains: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], specGains: [0, 0, 0, 0, 0, 0] }));
    const out = join(dir, 'out-six');
    const run = await runCli(['separate', input, '-o', out, '--model', model, '--shifts', '0', '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(tree(join(out, 'song'))).toEqual(['bass.wav', 'drums.wav', 'guitar.wav', 'other.wav', 'piano.wav', 'vocals.wav']);
  });

  it('a bag manifest: --stems runs only the members it needs (the others do not even exist)', async () => {
    const vocals = join(dir, 'ft_vocals.onnx');
    writeFileSync(vocals, standinSeparationModel({ waveGains: [0.1, 0.2, 0.3, 0.9], specGains: [0, 0, 0, 0] }));
    const manifest = join(dir, 'ft.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        format: BAG_MANIFEST_FORMAT,
        name: 'ft',
        members: NAMES.map((n, m) => ({ name: n, model: n === 'vocals' ? 'ft_vocals.onnx' : `missing_${n}.onnx`, weights: NAMES.map((_, s) => (s === m ? 1 : 0)) })),
      }),
    );
    const out = join(dir, 'out-bag');
    const run = await runCli(['separate', input, '-o', out, '--model', manifest, '--shifts', '0', '--stems', 'vocals', '--bit-depth', '32', '--clip-mode', 'none', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(tree(join(out, 'song'))).toEqual(['vocals.wav']);
    // vocals = 0.9 · (x − μ) + μ, with μ the track mean.
    const mean = tone.reduce((a, x) => a + x, 0) / tone.length;
    const v = stem(join(out, 'song', 'vocals.wav'));
    expect(maxAbsDiff(v[0]!, tone.map((x) => 0.9 * (x - mean) + mean)).max).toBeLessThan(1e-6);

    // --two-stems needs the sum of the others, so it needs every member: the missing files show.
    const two = await runCli(['separate', input, '-o', join(dir, 'out-bag-two'), '--model', manifest, '--shifts', '0', '--two-stems', 'vocals']);
    expect(two.code).toBe(4);
    expect(two.stderr).toMatch(/missing_drums\.onnx/);
    expect(tree(join(dir, 'out-bag-two'))).toEqual([]);
  });
});
