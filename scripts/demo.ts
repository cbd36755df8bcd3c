/**
 * The README's first command: synthesises a 30-second demo song with known stems, separates
 * it with the `demucs-mobile` CLI and reports how close each stem came to the truth.
 *
 *   npm run demo
 *
 * Writes `demo-out/demo-song.wav`, its true stems in `demo-out/true-stems/`, and the
 * separated stems in `demo-out/separated/demo-song/`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeWav } from '../src/io/wav.js';
import { WavFileWriter } from '../src/node/wav-file.js';
import { measureMasterGain, planSong, renderSongBlocks, STEM_NAMES, type SongOptions } from './synth/song.js';

const root = resolve(import.meta.dirname, '..');
const outDir = join(root, 'demo-out');
const song: SongOptions = { seed: 2024, seconds: 30 };
const songPath = join(outDir, 'demo-song.wav');

// 1. The song and its true stems, float32 so the mix is exactly their sum.
mkdirSync(join(outDir, 'true-stems'), { recursive: true });
const meta = planSong(song);
const format = { channelCount: 2, sampleRate: meta.sampleRate, frames: meta.frames, bitDepth: 32, clipMode: 'none' } as const;
const mix = await WavFileWriter.create(songPath, format);
const truths = await Promise.all(STEM_NAMES.map((n) => WavFileWriter.create(join(outDir, 'true-stems', `${n}.wav`), format)));
for (const block of renderSongBlocks(song, 65536, { stems: true, masterGain: measureMasterGain(song) })) {
  await mix.write(block.mix);
  for (const [k, name] of STEM_NAMES.entries()) await truths[k]!.write(block.stems![name]);
}
for (const w of [mix, ...truths]) await w.finish();
console.log(`demo song: ${songPath} (${meta.seconds} s, ${meta.tempoBpm} BPM, ${meta.key.name})`);

// 2. Separate it with the real command-line tool.
const cli = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'separate', songPath, '-o', join(outDir, 'separated'), '--bit-depth', '32', '--seed', '1'], {
  stdio: 'inherit',
});
if (cli.status !== 0) process.exit(cli.status ?? 1);

// 3. How good is it? SDR of each separated stem against the true one.
const read = (p: string) => decodeWav(new Uint8Array(readFileSync(p))).channels;
for (const name of STEM_NAMES) {
  const ref = read(join(outDir, 'true-stems', `${name}.wav`));
  const est = read(join(outDir, 'separated', 'demo-song', `${name}.wav`));
  let signal = 1e-8;
  let error = 1e-8;
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < ref[c]!.length; i++) {
      signal += ref[c]![i]! ** 2;
      error += (ref[c]![i]! - est[c]![i]!) ** 2;
    }
  }
  console.log(`${name.padEnd(7)} SDR ${(10 * Math.log10(signal / error)).toFixed(1)} dB  ${join(outDir, 'separated', 'demo-song', `${name}.wav`)}`);
}
