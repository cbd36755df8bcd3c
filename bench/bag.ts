/**
 * The bag benchmark: an identity bag of four copies of the real model (the shape of
 * `htdemucs_ft`, four members of realistic cost), separating the same song for all four
 * stems and for one stem, alternately, in one process. Prints one JSON line per run and a
 * summary; with `--write`, updates the `bench:bag` section of docs/benchmarks.md.
 *
 *   npx tsx bench/bag.ts [--seconds 10] [--repeats 2] [--write]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Separator, type ModelBag } from '../src/index.js';
import { OrtNodeBackend, resolvePackagedModel } from '../src/node.js';
import { measureMasterGain, renderSongBlocks } from '../scripts/synth/song.js';

const ROOT = join(import.meta.dirname, '..');
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, repeats: { type: 'string', default: '2' }, write: { type: 'boolean', default: false } } });
const seconds = Number(values.seconds);
const model = await resolvePackagedModel(undefined, [ROOT]);
// Four sessions in one process: idle ones must not spin-wait (see OrtNodeBackendOptions.spinning).
const backend = new OrtNodeBackend({ threads: availableParallelism(), worker: false, spinning: false });
const names = ['drums', 'bass', 'other', 'vocals'];
let loads = 0;
const bag: ModelBag = {
  sources: names,
  members: names.map((n, m) => ({
    name: `copy.${n}`,
    weights: names.map((_, s) => (s === m ? 1 : 0)),
    load: () => {
      loads++;
      return backend.load(model);
    },
  })),
};

// A seeded synthetic song, in memory.
const song = { seed: 11, seconds };
const channels = [new Float32Array(Math.round(seconds * 44100)), new Float32Array(Math.round(seconds * 44100))];
for (const block of renderSongBlocks(song, 65536, { masterGain: measureMasterGain(song) })) {
  block.mix.forEach((c, i) => channels[i]!.set(c, block.start));
}
const audio = { sampleRate: 44100, channels };

const all = new Separator(bag, { shifts: 0 });
const one = new Separator(bag, { shifts: 0, stems: ['vocals'] });
const times: Record<'all' | 'one', number[]> = { all: [], one: [] };
const windows: Record<'all' | 'one', number> = { all: 0, one: 0 };
// Warm-up: loads every member once (the one-stem separator loads only its own).
await all.separate(audio, { onProgress: (p) => (windows.all = p.windowsTotal) });
const loadsAll = loads;
await one.separate(audio, { onProgress: (p) => (windows.one = p.windowsTotal) });
const loadsOne = loads - loadsAll;
for (let r = 0; r < Number(values.repeats); r++) {
  for (const [name, separator] of [['one', one], ['all', all]] as const) {
    const t = performance.now();
    await separator.separate(audio);
    const s = (performance.now() - t) / 1000;
    times[name].push(s);
    console.log(JSON.stringify({ run: name, repeat: r, seconds: Math.round(s * 100) / 100 }));
  }
}
await all.dispose();
await one.dispose();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ratio = median(times.one) / median(times.all);
const summary = { audio_s: seconds, members_loaded_all: loadsAll, members_loaded_one: loadsOne, windows_all: windows.all, windows_one: windows.one, all_s: median(times.all), one_s: median(times.one), one_over_all: Math.round(ratio * 1000) / 1000 };
console.log(JSON.stringify(summary));
if (values.write) {
  const path = join(ROOT, 'docs', 'benchmarks.md');
  const text = readFileSync(path, 'utf8');
  const start = '<!-- bench:bag:start -->';
  const end = '<!-- bench:bag:end -->';
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`;
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)}; ${machine}; ${seconds} s synthetic song, shifts 0, median of ${values.repeats} alternating runs after a warm-up.`,
    '',
    '| request | members loaded | model windows | time | relative |',
    '|---|---|---|---|---|',
    `| all four stems | ${loadsAll} | ${windows.all} | ${summary.all_s.toFixed(2)} s | 1 |`,
    `| vocals only | ${loadsOne} | ${windows.one} | ${summary.one_s.toFixed(2)} s | **${summary.one_over_all}** |`,
  ].join('\n');
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  writeFileSync(path, a >= 0 && b > a ? `${text.slice(0, a + start.length)}\n${body}\n${text.slice(b)}` : `${text.trimEnd()}\n\n## Bags: one stem of an identity bag\n\n\`npx tsx bench/bag.ts --write\`: an identity bag of four copies of the real model (the shape of \`htdemucs_ft\`), all four stems against one.\n\n${start}\n${body}\n${end}\n`);
}
