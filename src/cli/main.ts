/**
 * The `demucs-mobile` command.
 *
 * @internal
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_OVERLAP, DEFAULT_SHIFTS } from '../core/constants.js';
import { isDemucsError } from '../core/errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { registerModelsCommand } from './models.js';
import { runSeparate, type CommandIo, type SeparateCommandOptions } from './separate.js';
import type { AudioFileFormat } from '../io/encode.js';
import { registerModelCommands } from './model-commands.js';
import type { ClipMode, WavBitDepth } from '../io/wav.js';
import { version } from '../../package.json';

function integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`} (got ${JSON.stringify(value)})`);
    }
    return n;
  };
}

function list(name: string) {
  return (value: string): string[] => {
    const items = value.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) throw new InvalidArgumentError(`${name} must be a comma-separated list of stem names (got ${JSON.stringify(value)})`);
    return items;
  };
}

function fraction(name: string, { min, max, maxInclusive }: { min: number; max: number; maxInclusive: boolean }) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || (maxInclusive ? n > max : n >= max)) {
      throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}${maxInclusive ? ']' : ')'} (got ${JSON.stringify(value)})`);
    }
    return n;
  };
}

/**
 * Builds the command-line program.
 *
 * @param io - console streams.
 * @param run - receives the parsed `separate` invocation.
 * @returns the commander program.
 */
export function buildProgram(io: CommandIo, run: (inputs: string[], options: SeparateCommandOptions) => Promise<void>): Command {
  const program = new Command('demucs-mobile')
    .description('HTDemucs music source separation: a song in; drums, bass, other and vocals out.')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .version(version, '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('separate')
    .description('separate audio files into stems: writes <out>/<file name>/<stem>.<format>')
    .argument('<inputs...>', 'audio files: WAV, MP3, FLAC, Ogg Vorbis/Opus, M4A/AAC (with ffmpeg in Node); any rate, any channels')
    .option('-o, --out <dir>', 'output directory', 'separated')
    .option('-m, --model <path|url|name>', 'model: an .onnx path, a bag manifest (.json), an http(s) URL, or a name from `demucs-mobile models list`', 'htdemucs')
    .option('--shifts <n>', 'random shifts to average; 0 gives the deterministic upstream result', integer('--shifts', 0, 100), DEFAULT_SHIFTS)
    .option('--seed <n>', 'seed of the shift draws (same as Python random.seed)', integer('--seed', 0))
    .option('--overlap <f>', 'overlap between chunks', fraction('--overlap', { min: 0, max: 1, maxInclusive: false }), DEFAULT_OVERLAP)
    .option('--segment <seconds>', 'chunk length in seconds, at most the model window (7.8)', fraction('--segment', { min: 0.1, max: 3600, maxInclusive: true }))
    .option('--two-stems <stem>', 'write only <stem> and its complement no_<stem> (the sum of the others)')
    .option('--stems <list>', 'write only these stems, comma-separated (e.g. vocals,drums)', list('--stems'))
    .addOption(new Option('--format <format>', 'output file format').choices(['wav', 'flac', 'mp3']).default('wav'))
    .addOption(
      new Option('--bit-depth <bits>', 'WAV: 16/24-bit PCM or 32-bit float; FLAC: 16 or 24')
        .choices(['16', '24', '32'])
        .default('16'),
    )
    .option('--mp3-bitrate <kbps>', 'MP3 bitrate in kbit/s', integer('--mp3-bitrate', 8, 320), 320)
    .addOption(
      new Option('--clip-mode <mode>', 'avoid clipping: rescale the stem, clamp samples, or none')
        .choices(['rescale', 'clamp', 'none'])
        .default('rescale'),
    )
    .option('--threads <n>', 'onnxruntime threads per operator (default: all cores, shared between jobs)', integer('--threads', 1, 1024))
    .option('-j, --jobs <n>', 'files separated at once, each with its own model session (memory grows with each)', integer('--jobs', 1, 64), 1)
    .option('--no-cache', 'no checksum stamps or optimised model copies in the cache directory (downloads still go there)')
    .option('--no-fuse-attention', 'load the model as exported, without fusing its attention blocks (about 350 MB more memory for htdemucs)')
    .option('--no-rewrite-for-cpu', 'keep GroupNorm and ConvTranspose operators as exported (about 10% slower on the CPU for htdemucs)')
    .option('-q, --quiet', 'no progress output', false)
    .option('--json', 'print one JSON result per file on stdout', false)
    .action(async (inputs: string[], o: Record<string, unknown>, command: Command) => {
      // Options that do not go together are usage errors, reported like commander's own.
      if (o.stems !== undefined && o.twoStems !== undefined) {
        command.error('error: --stems and --two-stems cannot be used together', { exitCode: EXIT.USAGE });
      }
      const format = o.format as AudioFileFormat;
      const bitDepth = Number(o.bitDepth) as WavBitDepth;
      if (format === 'flac' && bitDepth === 32) {
        command.error('error: --format flac stores integers: use --bit-depth 16 or 24 (got 32)', { exitCode: EXIT.USAGE });
      }
      await run(inputs, {
        out: o.out as string,
        model: o.model as string,
        shifts: o.shifts as number,
        seed: o.seed as number | undefined,
        overlap: o.overlap as number,
        segment: o.segment as number | undefined,
        format,
        bitDepth,
        clipMode: o.clipMode as ClipMode,
        mp3Bitrate: o.mp3Bitrate as number,
        stems: o.stems as string[] | undefined,
        twoStems: o.twoStems as string | undefined,
        threads: o.threads as number | undefined,
        jobs: o.jobs as number,
        quiet: o.quiet as boolean,
        json: o.json as boolean,
        cache: o.cache as boolean,
        fuseAttention: o.fuseAttention as boolean,
        rewriteForCpu: o.rewriteForCpu as boolean,
      });
    });
  registerModelCommands(program, io);
  return program;
}

/**
 * Runs the command line and resolves with the exit code; prints one clear line per error.
 *
 * @param argv - arguments after the executable and script.
 * @param io - console streams.
 * @param signal - aborts a running separation.
 * @returns the exit code.
 */
export async function main(argv: readonly string[], io: CommandIo, signal: AbortSignal): Promise<number> {
  let exitCode: number = EXIT.OK;
  let separating = false;
  const program = buildProgram(io, async (inputs, options) => {
    separating = true;
    exitCode = await runSeparate(inputs, options, signal, io);
  });
  registerModelsCommand(program, io, signal);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (signal.aborted) {
      // A separation removes its unfinished stems; an unfinished download is kept to resume.
      io.stderr.write(`demucs-mobile: interrupted${separating ? '; partial outputs removed' : ''}\n`);
      return EXIT.INTERRUPTED;
    }
    const message = e instanceof Error ? e.message : String(e);
    io.stderr.write(`demucs-mobile: error: ${message}${isDemucsError(e) ? ` [${e.code}]` : ''}\n`);
    if (process.env.DEMUCS_DEBUG && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return exitCodeFor(e);
  }
}
