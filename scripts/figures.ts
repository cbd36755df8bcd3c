/**
 * Draws the docs' figures:
 *
 * - `docs/figures/spectrograms.svg`: the e2e fixture song (`fixtures/e2e/mix.wav`, 10 s) and
 *   the four stems the real model separates from it here (onnxruntime-node, `shifts: 0`);
 * - `docs/figures/benchmarks.svg` and `docs/figures/model-variants.svg`: charts of the tables
 *   in `docs/benchmarks.md` and `docs/model-variants.md`.
 *
 * ```sh
 * npx tsx scripts/figures.ts                 # all three (the spectrogram runs the model: ~20 s)
 * npx tsx scripts/figures.ts charts          # the charts only, from the committed tables
 * npx tsx scripts/figures.ts charts --check  # exit 1 when a committed chart is stale
 * npx tsx scripts/figures.ts spectrogram [--input song.wav]
 * ```
 *
 * The benchmark and variants scripts redraw the charts when they rewrite their tables.
 *
 * @packageDocumentation
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchmarkChart, variantsChart } from './figures/charts.js';
import { spectrogramFigure } from './figures/spectrogram.js';

const ROOT = resolve(import.meta.dirname, '..');

/** The figures, relative to the repository root. */
export const FIGURES = {
  spectrograms: 'docs/figures/spectrograms.svg',
  benchmarks: 'docs/figures/benchmarks.svg',
  variants: 'docs/figures/model-variants.svg',
} as const;

/** The two charts as they should be, from the committed tables. */
export function freshCharts(root = ROOT): { path: string; svg: string }[] {
  return [
    { path: FIGURES.benchmarks, svg: benchmarkChart(readFileSync(join(root, 'docs', 'benchmarks.md'), 'utf8')) },
    { path: FIGURES.variants, svg: variantsChart(readFileSync(join(root, 'docs', 'model-variants.md'), 'utf8')) },
  ];
}

/** Rewrites the two charts from the committed tables; returns the paths written. */
export function writeCharts(root = ROOT): string[] {
  return freshCharts(root).map(({ path, svg }) => {
    writeFileSync(join(root, path), svg);
    return path;
  });
}

/** Separates `input` with the real model and writes the spectrogram figure. */
async function writeSpectrograms(input: string): Promise<void> {
  const { decodeWav } = await import('../src/io/wav.js');
  const { toStereo } = await import('../src/io/channels.js');
  const { Separator } = await import('../src/core/separator.js');
  const { OrtNodeBackend } = await import('../src/backends/ort-node.js');
  const { resolvePackagedModel } = await import('../src/node/models.js');
  const wav = decodeWav(new Uint8Array(readFileSync(input)));
  if (wav.sampleRate !== 44100) throw new RangeError(`${input} is at ${wav.sampleRate} Hz; the figure needs 44100 Hz audio`);
  const audio = { sampleRate: 44100, channels: toStereo([...wav.channels]) };
  const session = await new OrtNodeBackend().load(await resolvePackagedModel());
  try {
    const { stems } = await new Separator(session, { shifts: 0 }).separate(audio);
    const panels = [{ label: 'mix', channels: audio.channels }, ...session.spec.sources.map((name) => ({ label: name, channels: stems[name]! }))];
    const title = `${basename(input)} (${(audio.channels[0]!.length / 44100).toFixed(0)} s) and the stems htdemucs separates from it`;
    writeFileSync(join(ROOT, FIGURES.spectrograms), spectrogramFigure(panels, title));
  } finally {
    await session.dispose();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { check: { type: 'boolean', default: false }, input: { type: 'string', default: join(ROOT, '..', 'shared', 'fixtures', 'e2e', 'mix.wav') } },
  });
  const what = positionals[0] ?? 'all';
  if (!['all', 'charts', 'spectrogram'].includes(what)) throw new RangeError(`unknown figure "${what}": give charts, spectrogram or nothing (all)`);
  if (values.check) {
    const stale = freshCharts().filter(({ path, svg }) => readFileSync(join(ROOT, path), 'utf8') !== svg);
    for (const { path } of stale) console.error(`${path} is stale: run npx tsx scripts/figures.ts charts`);
    process.exitCode = stale.length === 0 ? 0 : 1;
    return;
  }
  if (what !== 'spectrogram') for (const p of writeCharts()) console.log(p);
  if (what !== 'charts') {
    await writeSpectrograms(values.input);
    console.log(FIGURES.spectrograms);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
