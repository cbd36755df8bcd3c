/**
 * `demucs-mobile separate`: files in, one folder of stems per file out, streamed from disk
 * to disk.
 */
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { ModelSession } from '../backends/backend.js';
import { OrtNodeBackend, type OrtNodeBackendOptions } from '../backends/ort-node.js';
import { DemucsError } from '../core/errors.js';
import { Separator } from '../core/separator.js';
import { isModelBag, type ModelBag } from '../core/bag.js';
import type { ModelSpec } from '../core/model-spec.js';
import { selectStems, type StemOutput } from '../core/stem-selection.js';
import type { AudioFileFormat } from '../io/encode.js';
import type { ClipMode, WavBitDepth } from '../io/wav.js';
import { cacheDir } from '../node/cache-dir.js';
import { openBag } from '../node/bag-file.js';
import { resolveModel } from '../node/model-store.js';
import { prepareInput, type PreparedInput } from '../node/prepare-input.js';
import { StemFiles } from '../node/stem-files.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { createFetchReporter } from './fetch-progress.js';
import { createProgressBoard, type ProgressBoard, type ProgressMode } from './progress.js';

/** Parsed options of the `separate` command. */
export interface SeparateCommandOptions {
  /** Output directory. */
  readonly out: string;
  /** Model path, URL or name; `htdemucs` when absent. */
  readonly model?: string | undefined;
  /** Random shifts. */
  readonly shifts: number;
  /** Seed of the shift draws. */
  readonly seed?: number | undefined;
  /** Chunk overlap fraction. */
  readonly overlap: number;
  /** Chunk length in seconds. */
  readonly segment?: number | undefined;
  /** Output file format. */
  readonly format: AudioFileFormat;
  /** Output sample format (WAV, FLAC). */
  readonly bitDepth: WavBitDepth;
  /** Clip handling. */
  readonly clipMode: ClipMode;
  /** MP3 bitrate in kbit/s. */
  readonly mp3Bitrate: number;
  /** Write only these stems. */
  readonly stems?: readonly string[] | undefined;
  /** Write this stem and its complement `no_<stem>`. */
  readonly twoStems?: string | undefined;
  /** onnxruntime intra-op threads per job. */
  readonly threads?: number | undefined;
  /** Files separated at once, each with its own model session. */
  readonly jobs: number;
  /** No progress output. */
  readonly quiet: boolean;
  /** One JSON object per file on stdout. */
  readonly json: boolean;
  /**
   * Use the cache directory for checksum stamps and optimised model copies (a model that has
   * to be downloaded still goes there).
   */
  readonly cache: boolean;
  /**
   * Fuse the model's attention blocks before loading (`OrtNodeBackendOptions.fuseAttention`):
   * about 350 MB less peak memory for htdemucs, outputs within 115 dB of the exported graph.
   * `--no-fuse-attention` loads the graph as exported.
   */
  readonly fuseAttention: boolean;
  /**
   * Rewrite GroupNorms and ConvTransposes into forms onnxruntime's CPU runs faster before
   * loading (`OrtNodeBackendOptions.rewriteForCpu`): about 10 % less time per window for
   * htdemucs, outputs within 100 dB of the exported graph. `--no-rewrite-for-cpu` keeps them.
   */
  readonly rewriteForCpu: boolean;
}

/** What the command reports for one input file. */
export interface FileResult {
  /** The input path as given. */
  readonly input: string;
  /** Whether every stem was written. */
  readonly ok: boolean;
  /** Stem paths by output name (only when ok). */
  readonly outputs?: Readonly<Record<string, string>>;
  /** What the input held (only when ok). */
  readonly source?: { readonly container: string; readonly codec: string; readonly sampleRate: number; readonly channels: number };
  /** Rate of the written stems, in Hz: the input's. */
  readonly sampleRate?: number;
  /** Seconds of audio. */
  readonly audioSeconds?: number;
  /** Wall-clock seconds for this file. */
  readonly seconds?: number;
  /** The shift draws used. */
  readonly shiftOffsets?: readonly number[];
  /** The error code and message (only when not ok). */
  readonly error?: { readonly code: string; readonly message: string };
}

/** Console streams, replaceable in tests. */
export interface CommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream;
}

/** One separator (a model session, or a bag's sessions) used by one job at a time. */
interface Lane {
  readonly separator: Separator;
  /** The model's description (sample rate, window, sources). */
  readonly spec: ModelSpec;
  /** The outputs to write, with source indices into `separator.sources`. */
  readonly outputs: readonly StemOutput[];
  /** Releases the lane's sessions. */
  dispose(): Promise<void>;
}

/**
 * Runs the command over every input; an input that fails is reported and the others go on.
 * With `jobs` above 1, that many files run at once, each on its own session in a worker
 * thread.
 *
 * @param inputs - audio file paths.
 * @param options - parsed options.
 * @param signal - aborts the run (SIGINT).
 * @param io - console streams.
 * @returns the process exit code: 0 when every file was separated, else the first failure's.
 */
export async function runSeparate(
  inputs: readonly string[],
  options: SeparateCommandOptions,
  signal: AbortSignal,
  io: CommandIo,
): Promise<number> {
  const outDir = resolve(options.out);
  const existing = await stat(outDir).catch(() => undefined);
  if (existing !== undefined && !existing.isDirectory()) {
    throw new DemucsError('ERR_OUTPUT_EXISTS', `output ${JSON.stringify(options.out)} exists and is not a directory`);
  }
  const mode: ProgressMode = options.quiet || options.json ? 'quiet' : io.stderr.isTTY ? 'bar' : 'lines';
  const cache = options.cache ? cacheDir() : undefined;
  const fetching = createFetchReporter(mode, io.stderr);
  const model = await resolveModel(options.model, { stamps: options.cache, onProgress: (p) => fetching.update(p), signal }).finally(() => fetching.done());

  const jobs = Math.max(1, Math.min(options.jobs, inputs.length));
  const lanes: Lane[] = [];
  const board = createProgressBoard(mode, io.stderr);
  let exitCode: number = EXIT.OK;
  try {
    const sessionsShareCores = jobs > 1 || extname(model.path).toLowerCase() === '.json';
    const backend = new OrtNodeBackend(backendOptions({ threads: options.threads, jobs, cache, fuseAttention: options.fuseAttention, rewriteForCpu: options.rewriteForCpu, sessionsShareCores }));
    for (let j = 0; j < jobs; j++) lanes.push(await openLane(model.path, backend, options));
    let next = 0;
    const runLane = async (lane: Lane): Promise<void> => {
      while (next < inputs.length) {
        signal.throwIfAborted();
        const input = inputs[next++]!;
        const result = await separateFile(input, outDir, lane, options, signal, board);
        if (!result.ok && exitCode === EXIT.OK) exitCode = result.code;
        if (options.json) io.stdout.write(`${JSON.stringify(result.report)}\n`);
        else if (result.ok && !options.quiet) board.log(`${input}: stems written to ${join(outDir, stemFolder(input))}`);
        else if (!result.ok) {
          // Decoder messages start with the file's name; the line already starts with it.
          const own = [input, resolve(input), basename(input)].map((n) => `${n}: `).find((n) => result.report.error!.message.startsWith(n));
          const message = result.report.error!.message.slice(own?.length ?? 0);
          const line = `demucs-mobile: ${input}: ${message} [${result.report.error!.code}]`;
          if (mode === 'quiet') io.stderr.write(`${line}\n`);
          else board.log(line);
        }
      }
    };
    await Promise.all(lanes.map(runLane));
  } finally {
    board.stop();
    await Promise.all(lanes.map((l) => l.dispose()));
  }
  return exitCode;
}

/**
 * Loads the model for one job: an `.onnx` file, or a bag manifest (`.json`) whose members
 * load only when a requested stem needs them. Stem names the model does not have are a
 * usage error, found before any input is read.
 */
async function openLane(path: string, backend: OrtNodeBackend, options: SeparateCommandOptions): Promise<Lane> {
  const common = {
    shifts: options.shifts,
    overlap: options.overlap,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.segment === undefined ? {} : { segment: options.segment }),
  };
  let model: ModelSession | ModelBag;
  let sources: readonly string[];
  if (extname(path).toLowerCase() === '.json') {
    const { bag } = await openBag(path, backend, options.cache ? { verify: { stampDir: join(cacheDir(), 'verified') } } : {});
    model = bag;
    sources = bag.sources;
  } else {
    model = await backend.load(path);
    sources = model.spec.sources;
  }
  try {
    const wanted = selectStems(sources, { stems: options.stems, twoStems: options.twoStems });
    // Only the sources the outputs use are computed: with a bag, members no output needs never load.
    const needed = sources.filter((_, i) => wanted.some((o) => o.sources.includes(i)));
    const separator = new Separator(model, { ...common, stems: needed });
    const spec = await separator.spec();
    const outputs = wanted.map((o) => ({ name: o.name, sources: o.sources.map((i) => separator.sources.indexOf(sources[i]!)) }));
    return { separator, spec, outputs, dispose: () => (isModelBag(model) ? separator.dispose() : model.dispose()) };
  } catch (e) {
    if (!isModelBag(model)) await model.dispose();
    throw e;
  }
}

/**
 * The CLI's backend settings. A batch job wants throughput: with two cores or fewer and one
 * job, onnxruntime uses every core and the window runs on the JavaScript thread, because a
 * worker thread's overlap saves nothing measurable there (measured in
 * docs/benchmarks.md); with more cores, onnxruntime keeps all but one and runs on a worker
 * so the pipeline's own work gets the remaining core. Several jobs each get a worker (a
 * session on the JavaScript thread would block the others) and a share of the cores.
 * The benchmark's floor loads with the same settings (bench/run.ts).
 *
 * @internal
 *
 * @param o - the command's choices; `cache` is the cache directory (no optimised copies when
 *   absent) and `sessionsShareCores` says several sessions run in this process.
 */
export function backendOptions(o: {
  readonly threads?: number | undefined;
  readonly jobs: number;
  readonly cache?: string | undefined;
  /** @defaultValue true (the command's default) */
  readonly fuseAttention?: boolean;
  /** @defaultValue true (the command's default) */
  readonly rewriteForCpu?: boolean;
  readonly sessionsShareCores: boolean;
}): OrtNodeBackendOptions {
  const cores = availableParallelism();
  const worker = o.jobs > 1 || cores > 2;
  const share = o.jobs > 1 ? Math.max(1, Math.floor(cores / o.jobs)) : worker ? cores - 1 : cores;
  return {
    threads: o.threads ?? share,
    worker,
    fuseAttention: o.fuseAttention ?? true,
    rewriteForCpu: o.rewriteForCpu ?? true,
    // Several sessions in one process (jobs, or a bag's members) must not spin-wait.
    spinning: !o.sessionsShareCores,
    ...(o.cache === undefined ? {} : { optimizedModelCache: join(o.cache, 'optimized') }),
  };
}

/** The folder of an input's stems: its file name without the extension. */
function stemFolder(input: string): string {
  return basename(input, extname(input));
}

async function separateFile(
  input: string,
  outDir: string,
  lane: Lane,
  options: SeparateCommandOptions,
  signal: AbortSignal,
  board: ProgressBoard,
): Promise<{ ok: boolean; code: number; report: FileResult }> {
  const started = performance.now();
  const folder = join(outDir, stemFolder(input));
  let createdDir: string | undefined;
  let prepared: PreparedInput | undefined;
  let files: StemFiles | undefined;
  const reporter = board.reporter(basename(input));
  try {
    prepared = await prepareInput(input, { sampleRate: lane.spec.sampleRate, signal });
    const { info } = prepared;
    const stream = lane.separator.stream(prepared.source, { signal, onProgress: (p) => reporter.update(p) });
    for await (const block of stream) {
      if (files === undefined) {
        // Only now, with the input read and checked, does anything appear on disk.
        createdDir = await mkdir(folder, { recursive: true });
        files = await StemFiles.create({
          folder,
          outputs: lane.outputs,
          inputRate: lane.spec.sampleRate,
          sampleRate: info.sampleRate,
          frames: prepared.frames,
          format: options.format,
          bitDepth: options.bitDepth,
          clipMode: options.clipMode,
          mp3Bitrate: options.mp3Bitrate,
        });
      }
      await files.write(block.stems);
    }
    if (files === undefined) throw new Error(`${input}: the separator produced no output`);
    const paths = await files.finish();
    reporter.done();
    return {
      ok: true,
      code: EXIT.OK,
      report: {
        input,
        ok: true,
        outputs: paths,
        source: { container: info.container, codec: info.codec, sampleRate: info.sampleRate, channels: info.channelCount },
        sampleRate: info.sampleRate,
        audioSeconds: prepared.frames / info.sampleRate,
        seconds: (performance.now() - started) / 1000,
        shiftOffsets: stream.info?.shiftOffsets ?? [],
      },
    };
  } catch (e) {
    reporter.done();
    await files?.abort();
    if (createdDir !== undefined) await removeEmptyDirs(folder, createdDir);
    if (signal.aborted) throw e;
    const message = e instanceof Error ? e.message : String(e);
    const code = e instanceof DemucsError ? e.code : ((e as { code?: string }).code ?? 'ERR_FAILURE');
    return { ok: false, code: exitCodeFor(e), report: { input, ok: false, error: { code, message } } };
  } finally {
    await prepared?.dispose();
  }
}

/** Removes `dir` and its parents up to and including `top`, stopping at the first that is not empty. */
async function removeEmptyDirs(dir: string, top: string): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      await rmdir(d);
    } catch {
      return;
    }
    if (d === top || dirname(d) === d) return;
  }
}
