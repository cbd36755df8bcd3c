/**
 * Measures every model variant on the same synthesised songs and writes the table of
 * `docs/model-variants.md`: precision (fp32, fp16 weights, fp16 full, int8 dynamic, int8
 * static) × window length (7.8, 3.9, 2, 1 s), each with its file size, load time, time per
 * second of audio, peak RSS, SNR against the fp32 7.8 s stems and SDR against the songs' true
 * stems.
 *
 * ```sh
 * npx tsx scripts/model-variants.ts --quick          # 1 song × 10 s: a few minutes
 * npx tsx scripts/model-variants.ts --write          # 3 songs × 30 s (20–40 min), into the doc
 * npx tsx scripts/model-variants.ts --segments 1 --variants fp32,int8-dynamic
 * ```
 *
 * Each variant is built once (segment by `retargetSegment`, then precision by `toFloat16` or
 * `quantizeInt8`; int8 static calibrates on a separate song with `buildCalibrationSet` and
 * `collectActivationRanges`) and measured in a fresh Node process (`--child`) that loads it
 * with the CLI's settings on this machine (onnxruntime-node, worker off, all cores, the CLI's
 * allocator tuning) and separates every song with `shifts: 0`. Peak RSS is that process's
 * peak, recorded by `bench/rss-probe.mjs`.
 *
 * @packageDocumentation
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Separator } from '../src/core/separator.js';
import { OrtNodeBackend } from '../src/backends/ort-node.js';
import { MALLOC_TUNING } from '../src/node/malloc-tuning.js';
import { resolvePackagedModel } from '../src/node/models.js';
import {
  buildCalibrationSet,
  collectActivationRanges,
  modelSpecOf,
  ortCalibrationRunner,
  quantizeInt8,
  readModel,
  retargetSegment,
  toFloat16,
  writeModel,
  type OrtModuleLike,
} from '../src/quant.js';
import { check, measure } from '../bench/measure.js';
import { writeCharts } from './figures.js';
import { STEM_NAMES, synthesizeSong } from './synth/song.js';

const ROOT = resolve(import.meta.dirname, '..');
const RATE = 44100;
const DOC = join(ROOT, 'docs', 'model-variants.md');
const MARK_START = '<!-- variants:table:start -->';
const MARK_END = '<!-- variants:table:end -->';

/** The precisions, in table order. */
const VARIANTS = ['fp32', 'fp16-weights', 'fp16-full', 'int8-dynamic', 'int8-static'] as const;
type Variant = (typeof VARIANTS)[number];

/** Window lengths in seconds, in table order; 7.8 s is the original export. */
const SEGMENTS = [7.8, 3.9, 2, 1];

/** Song seeds of the measurement and of the static calibration (a different song). */
const FULL = { seeds: [101, 202, 303], seconds: 30, calibrationWindows: 8 };
const QUICK = { seeds: [101], seconds: 10, calibrationWindows: 2 };
const CALIBRATION_SEED = 909;

/** 1-minute load average above which another job is taken to share the machine at the start. */
const BUSY_LOAD = 0.5;

/** What the load at the start says about the times (at the end it is mostly this run's own). */
const busy = (startLoad: number): string =>
  startLoad > BUSY_LOAD ? '(the machine was shared: times are noisy)' : '(nothing else was running at the start; the load at the end is mostly this run\'s own)';

/** Window samples for a segment length: `int(Fraction(39, 5) * 44100)` = 343980 for 7.8 s. */
const samplesOf = (seconds: number) => Math.floor(seconds * RATE + 1e-6);

// #region Child: load one model, separate every song

interface ChildResult {
  loadS: number;
  separateS: number;
  /** CPU time (user + system, all threads) of the separations, s. */
  cpuS: number;
  audioS: number;
}

async function child(model: string, work: string, songs: number, threads: number): Promise<void> {
  const t0 = performance.now();
  const session = await new OrtNodeBackend({ threads, worker: false }).load(model);
  const loadS = (performance.now() - t0) / 1000;
  let separateS = 0;
  let cpuS = 0;
  let audioS = 0;
  const separator = new Separator(session, { shifts: 0 });
  for (let i = 0; i < songs; i++) {
    const mix = readF32(join(work, 'songs', `song-${i}.mix.f32`));
    const n = mix.length / 2;
    const t = performance.now();
    const cpu = process.cpuUsage();
    const { stems } = await separator.separate({ sampleRate: RATE, channels: [mix.subarray(0, n), mix.subarray(n)] });
    separateS += (performance.now() - t) / 1000;
    const used = process.cpuUsage(cpu);
    cpuS += (used.user + used.system) / 1e6;
    audioS += n / RATE;
    const out = new Float32Array(4 * 2 * n);
    STEM_NAMES.forEach((name, s) => stems[name]!.forEach((c, ch) => out.set(c, (s * 2 + ch) * n)));
    writeFileSync(join(work, 'out', `song-${i}.f32`), out);
  }
  await session.dispose();
  const result: ChildResult = { loadS, separateS, cpuS, audioS };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// #endregion

// #region Parent

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** 10·log10(Σ ref² / Σ (ref − est)²) over one stem's two channels. */
function ratioDb(ref: Float32Array, est: Float32Array): number {
  let s = 0;
  let e = 0;
  for (let i = 0; i < ref.length; i++) {
    s += ref[i]! * ref[i]!;
    const d = ref[i]! - est[i]!;
    e += d * d;
  }
  return 10 * Math.log10(s / e);
}

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

async function runChild(model: string, work: string, songs: number, threads: number): Promise<ChildResult & { peakMb: number }> {
  const run = check(
    await measure(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'model-variants.ts'), '--child', model, '--work', work, '--songs', String(songs), '--threads', String(threads)], MALLOC_TUNING),
    `measuring ${model}`,
  );
  return { ...(JSON.parse(run.stdout.trim().split('\n').pop()!) as ChildResult), peakMb: run.peakMb };
}

interface Row {
  variant: Variant;
  segment: number;
  fileMb: number;
  loadS: number;
  /** Seconds of separation (wall clock) per second of audio. */
  rtf: number;
  /** CPU seconds (all threads) per second of audio. */
  cpuPerS: number;
  peakMb: number;
  /** Mean over songs of the per-stem SNR against the fp32 7.8 s stems, per stem; `null` for the reference. */
  snr: number[] | null;
  /** The same against the fp32 stems at the same window length; `null` for fp32. */
  snrSame: number[] | null;
  /** Mean over songs of the per-stem SDR against the true stems, per stem. */
  sdr: number[];
}

async function buildVariant(original: Uint8Array, variant: Variant, segment: number, calibration: Float32Array[], windows: number, threads: number): Promise<Uint8Array> {
  const model = readModel(original);
  const samples = samplesOf(segment);
  if (samples !== 343980) retargetSegment(model, samples);
  switch (variant) {
    case 'fp32':
      break;
    case 'fp16-weights':
      toFloat16(model, { mode: 'weights' });
      break;
    case 'fp16-full':
      toFloat16(model, { mode: 'full' });
      break;
    case 'int8-dynamic':
      quantizeInt8(model, { mode: 'dynamic' });
      break;
    case 'int8-static': {
      const set = await buildCalibrationSet([{ sampleRate: RATE, channels: calibration }], modelSpecOf(model), { windows });
      const ort = (await import('onnxruntime-node')) as unknown as { default?: OrtModuleLike } & OrtModuleLike;
      const runner = ortCalibrationRunner(ort.default ?? ort, { intraOpNumThreads: threads });
      const t = performance.now();
      const ranges = await collectActivationRanges(model, set, runner, { mode: 'static' });
      log(`  calibrated ${Object.keys(ranges).length} activations on ${set.length} windows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      quantizeInt8(model, { mode: 'static', ranges });
      break;
    }
  }
  return writeModel(model);
}

function machine(): string {
  const ort = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version;
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Node ${process.version}, onnxruntime-node ${ort}`;
}

const fmt = (x: number, digits = 1) => x.toFixed(digits);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function table(rows: readonly Row[]): string {
  const snrCell = (x: number[] | null) => (x === null ? 'reference' : `${fmt(mean(x))} (${fmt(Math.min(...x))})`);
  const lines = rows.map(
    (r) =>
      `| ${r.variant} | ${r.segment} s | ${fmt(r.fileMb)} MB | ${fmt(r.loadS, 2)} s | ${fmt(r.rtf, 2)} s | ${fmt(r.cpuPerS, 2)} s | ${Math.round(r.peakMb)} MB | ${snrCell(r.snr)} | ${snrCell(r.snrSame)} | ${fmt(mean(r.sdr), 2)} (${r.sdr.map((x) => fmt(x)).join(' / ')}) |`,
  );
  return [
    '| variant | segment | file | load | wall time per s of audio | CPU time per s of audio | peak RSS | SNR vs fp32 7.8 s, dB: mean (min stem) | SNR vs fp32 same segment, dB: mean (min stem) | SDR vs true stems, dB: mean (drums / bass / other / vocals) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...lines,
  ].join('\n');
}

async function parent(values: { quick: boolean; write: boolean; segments: string; variants: string; threads: number; keep: boolean; json: boolean }): Promise<void> {
  const cfg = values.quick ? QUICK : FULL;
  const segments = values.segments.split(',').map(Number);
  for (const s of segments) if (!SEGMENTS.includes(s)) throw new Error(`--segments: ${s} is not one of ${SEGMENTS.join(', ')}`);
  const variants = values.variants.split(',') as Variant[];
  for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`--variants: ${v} is not one of ${VARIANTS.join(', ')}`);
  const work = join(tmpdir(), `demucs-mobile-variants-${values.quick ? 'quick' : 'full'}`);
  for (const d of ['songs', 'models', 'out', 'ref']) mkdirSync(join(work, d), { recursive: true });
  const load0 = loadavg();
  const started = performance.now();

  // The songs and their true stems, synthesised once per configuration.
  const truth: Float32Array[] = [];
  for (const [i, seed] of cfg.seeds.entries()) {
    const mixPath = join(work, 'songs', `song-${i}.mix.f32`);
    const stemsPath = join(work, 'songs', `song-${i}.stems.f32`);
    if (!existsSync(stemsPath)) {
      log(`synthesising song ${i} (seed ${seed}, ${cfg.seconds} s)…`);
      const song = synthesizeSong({ seed, seconds: cfg.seconds });
      const n = song.mix[0]!.length;
      const mix = new Float32Array(2 * n);
      song.mix.forEach((c, ch) => mix.set(c, ch * n));
      const stems = new Float32Array(8 * n);
      STEM_NAMES.forEach((name, s) => song.stems[name].forEach((c, ch) => stems.set(c, (s * 2 + ch) * n)));
      writeFileSync(mixPath, mix);
      writeFileSync(stemsPath, stems);
    }
    truth.push(readF32(stemsPath));
  }
  const calibration = synthesizeSong({ seed: CALIBRATION_SEED, seconds: cfg.seconds }).mix;

  const original = new Uint8Array(readFileSync(await resolvePackagedModel(undefined, [ROOT])));
  const refPath = (segment: number, i: number) => join(work, 'ref', `${segment}s-song-${i}.f32`);
  const rows: Row[] = [];
  // Each window length's fp32 run is the reference of its variants, and the 7.8 s one of all:
  // they run first, also when not asked for, unless a previous run left them.
  const order: { segment: number; variant: Variant }[] = [];
  for (const segment of [...new Set([7.8, ...segments])]) {
    for (const variant of [...new Set(['fp32', ...variants] as Variant[])]) {
      const asked = segments.includes(segment) && variants.includes(variant);
      const needed = variant === 'fp32' && !existsSync(refPath(segment, 0)) && (segment === 7.8 || segments.includes(segment));
      if (asked || needed) order.push({ segment, variant });
    }
  }
  for (const { segment, variant } of order) {
    const path = join(work, 'models', `htdemucs-${segment}s-${variant}.onnx`);
    if (!existsSync(path)) {
      log(`building ${variant} at ${segment} s…`);
      writeFileSync(path, await buildVariant(original, variant, segment, calibration, cfg.calibrationWindows, values.threads));
    }
    log(`measuring ${variant} at ${segment} s…`);
    const r = await runChild(path, work, cfg.seeds.length, values.threads);
    const snr: number[][] = [];
    const snrSame: number[][] = [];
    const sdr: number[][] = [];
    truth.forEach((t, i) => {
      const est = readF32(join(work, 'out', `song-${i}.f32`));
      const n = t.length / 8;
      if (variant === 'fp32') writeFileSync(refPath(segment, i), est);
      const ref = readF32(refPath(7.8, i));
      const same = readF32(refPath(segment, i));
      STEM_NAMES.forEach((_, s) => {
        const span = [s * 2 * n, (s + 1) * 2 * n] as const;
        (snr[s] ??= []).push(ratioDb(ref.subarray(...span), est.subarray(...span)));
        (snrSame[s] ??= []).push(ratioDb(same.subarray(...span), est.subarray(...span)));
        (sdr[s] ??= []).push(ratioDb(t.subarray(...span), est.subarray(...span)));
      });
    });
    const row: Row = {
      variant,
      segment,
      fileMb: statSync(path).size / 1e6,
      loadS: r.loadS,
      rtf: r.separateS / r.audioS,
      cpuPerS: r.cpuS / r.audioS,
      peakMb: r.peakMb,
      snr: segment === 7.8 && variant === 'fp32' ? null : snr.map(mean),
      snrSame: variant === 'fp32' ? null : snrSame.map(mean),
      sdr: sdr.map(mean),
    };
    if (segments.includes(segment) && variants.includes(variant)) rows.push(row);
    log(`  ${JSON.stringify(row)}`);
    if (values.json) process.stdout.write(`${JSON.stringify(row)}\n`);
    if (!values.keep) rmSync(path, { force: true });
  }
  const sorted = [...rows].sort((a, b) => VARIANTS.indexOf(a.variant) - VARIANTS.indexOf(b.variant) || b.segment - a.segment);
  const load1 = loadavg();
  const minutes = (performance.now() - started) / 60000;
  const what = values.quick
    ? `**Quick configuration** (\`--quick\`): 1 song × ${cfg.seconds} s (seed ${cfg.seeds.join(', ')}), static calibration on ${cfg.calibrationWindows} windows of song ${CALIBRATION_SEED}.`
    : `Full configuration: ${cfg.seeds.length} songs × ${cfg.seconds} s (seeds ${cfg.seeds.join(', ')}), static calibration on ${cfg.calibrationWindows} windows of song ${CALIBRATION_SEED}.`;
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} by \`npx tsx scripts/model-variants.ts${values.quick ? ' --quick' : ''}\` in ${fmt(minutes)} min; ${machine()}; ${values.threads} onnxruntime threads.`,
    `${what} Load average ${load0.map((x) => fmt(x, 2)).join(', ')} at the start and ${load1.map((x) => fmt(x, 2)).join(', ')} at the end ${busy(load0[0]!)}.`,
    '',
    table(sorted),
  ].join('\n');
  if (!values.json) process.stdout.write(`${body}\n`);
  if (values.write) {
    const text = readFileSync(DOC, 'utf8');
    const a = text.indexOf(MARK_START);
    const b = text.indexOf(MARK_END);
    if (a < 0 || b < a) throw new Error(`${DOC} has no ${MARK_START} … ${MARK_END} section`);
    writeFileSync(DOC, `${text.slice(0, a + MARK_START.length)}\n${body}\n${text.slice(b)}`);
    log(`wrote the table into ${DOC}`);
    // The chart of docs/figures is a view of that table: redraw it with it.
    for (const p of writeCharts(ROOT)) log(`redrew ${p}`);
  }
}

// #endregion

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    segments: { type: 'string', default: SEGMENTS.join(',') },
    variants: { type: 'string', default: VARIANTS.join(',') },
    threads: { type: 'string', default: String(availableParallelism()) },
    child: { type: 'string' },
    work: { type: 'string' },
    songs: { type: 'string' },
  },
});
const threads = Number(values.threads);
if (values.child !== undefined) {
  await child(values.child, values.work!, Number(values.songs), threads);
} else {
  await parent({ quick: values.quick, write: values.write, segments: values.segments, variants: values.variants, threads, keep: values.keep, json: values.json });
}
