/**
 * Writes a synthesised song (and optionally its four stems) as float32 WAV files, streaming
 * block by block so that 20-minute songs need little memory.
 *
 * ```sh
 * npx tsx scripts/make-song.ts --seed 7 --seconds 30 -o out/song.wav [--stems-dir out/song-stems]
 *   [--tempo 120] [--key "A minor"] [--meta out/song.json]
 * ```
 *
 * Exit codes: 0 success, 1 failure while writing, 2 bad usage.
 *
 * @packageDocumentation
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_SAMPLE_RATE_HZ,
  measureMasterGain,
  parseKey,
  planSong,
  renderSongBlocks,
  STEM_NAMES,
  type SongOptions,
} from './synth/song.js';
import { peakAmplitude } from '../src/io/wav.js';
import { WavFileWriter } from '../src/node/wav-file.js';

/** Frames per streamed block (~1.5 s at 44.1 kHz). */
const BLOCK_FRAMES = 65536;
/** Exit code for bad usage. */
const EXIT_USAGE = 2;
/** Exit code for a failure while rendering or writing. */
const EXIT_FAILURE = 1;

const USAGE = `usage: npx tsx scripts/make-song.ts --seed <int> --seconds <s> -o <mix.wav> [options]

Synthesises a pop/rock song with known stems and writes it as 32-bit float WAV (44.1 kHz, stereo).

options:
  --seed <int>         seed of the song (required)
  --seconds <s>        length in seconds (required)
  -o, --output <path>  WAV file for the mix (required)
  --stems-dir <dir>    also write drums.wav, bass.wav, other.wav, vocals.wav there
  --tempo <bpm>        tempo (default: drawn from the seed, 90..140)
  --key <key>          key, e.g. "A minor", "F#m", "Bb" (default: drawn from the seed)
  --meta <path>        also write the song's structure (sections, chords, sung bars) as JSON
  -h, --help           show this help`;

/** A bad command line: reported with the usage line, exit code 2. */
class UsageError extends Error {
  override name = 'UsageError';
}

interface Cli {
  options: SongOptions;
  output: string;
  stemsDir: string | undefined;
  metaPath: string | undefined;
}

function parseCli(argv: string[]): Cli | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        seed: { type: 'string' },
        seconds: { type: 'string' },
        output: { type: 'string', short: 'o' },
        'stems-dir': { type: 'string' },
        tempo: { type: 'string' },
        key: { type: 'string' },
        meta: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) return 'help';

  const need = (name: string, value: string | undefined): string => {
    if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
    return value;
  };
  const seedText = need('seed', values.seed);
  if (!/^-?\d+$/.test(seedText) || !Number.isSafeInteger(Number(seedText))) {
    throw new UsageError(`--seed ('${seedText}') must be an integer`);
  }
  const secondsText = need('seconds', values.seconds);
  const seconds = Number(secondsText);
  if (secondsText.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`--seconds ('${secondsText}') must be a number > 0`);
  }
  if (Math.round(seconds * DEFAULT_SAMPLE_RATE_HZ) < 1) {
    throw new UsageError(`--seconds ('${secondsText}') is shorter than one sample`);
  }
  const output = need('output', values.output);
  const options: SongOptions = { seed: Number(seedText), seconds };
  if (values.tempo !== undefined) {
    const tempo = Number(values.tempo);
    if (values.tempo.trim() === '' || !Number.isFinite(tempo) || tempo < 40 || tempo > 240) {
      throw new UsageError(`--tempo ('${values.tempo}') must be a number of BPM in 40..240`);
    }
    options.tempoBpm = tempo;
  }
  if (values.key !== undefined) {
    try {
      options.key = parseKey(values.key).name;
    } catch {
      throw new UsageError(`--key ('${values.key}') must look like 'C major', 'A minor', 'F#m' or 'Bb'`);
    }
  }
  return { options, output, stemsDir: values['stems-dir'], metaPath: values.meta };
}

async function run(cli: Cli): Promise<void> {
  const started = performance.now();
  const meta = planSong(cli.options);
  // Float32 as rendered: the mix must stay the exact sum of the stems.
  const format = { sampleRate: meta.sampleRate, channelCount: 2, frames: meta.frames, bitDepth: 32, clipMode: 'none' } as const;
  const output = resolve(cli.output);
  mkdirSync(dirname(output), { recursive: true });
  if (cli.stemsDir !== undefined) mkdirSync(resolve(cli.stemsDir), { recursive: true });

  process.stderr.write(`measuring the master gain of ${meta.seconds.toFixed(1)} s…\n`);
  const masterGain = measureMasterGain(cli.options);
  const measured = performance.now();

  const writers: WavFileWriter[] = [];
  try {
    const mixWriter = await WavFileWriter.create(output, format);
    writers.push(mixWriter);
    const stemWriters: WavFileWriter[] = [];
    if (cli.stemsDir !== undefined) {
      for (const name of STEM_NAMES) stemWriters.push(await WavFileWriter.create(join(resolve(cli.stemsDir), `${name}.wav`), format));
      writers.push(...stemWriters);
    }
    let peak = 0;
    for (const block of renderSongBlocks(cli.options, BLOCK_FRAMES, { stems: cli.stemsDir !== undefined, masterGain })) {
      await mixWriter.write(block.mix);
      peak = Math.max(peak, peakAmplitude(block.mix));
      if (block.stems !== undefined) {
        for (const [k, name] of STEM_NAMES.entries()) await stemWriters[k]!.write(block.stems[name]);
      }
    }
    for (const w of writers) await w.finish();
    const done = performance.now();
    if (cli.metaPath !== undefined) {
      const metaPath = resolve(cli.metaPath);
      mkdirSync(dirname(metaPath), { recursive: true });
      writeFileSync(metaPath, `${JSON.stringify({ ...meta, masterGain, peak }, null, 2)}\n`);
    }
    const seconds = (done - started) / 1000;
    const lines = [
      `wrote ${output}${cli.stemsDir === undefined ? '' : ` and ${STEM_NAMES.length} stems in ${resolve(cli.stemsDir)}`}`,
      `seed ${meta.seed}, ${meta.seconds.toFixed(2)} s, ${meta.tempoBpm} BPM, ${meta.key.name}, ${meta.voiceRange} voice`,
      `sections: ${meta.sections.map((s) => `${s.kind}@${s.startSeconds.toFixed(1)}s`).join(' ')}`,
      `master gain ${masterGain.toFixed(4)}, mix peak ${peak.toFixed(4)}`,
      `time ${seconds.toFixed(2)} s (gain pass ${((measured - started) / 1000).toFixed(2)} s), ` +
        `${(meta.seconds / seconds).toFixed(1)}x real time`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } catch (error) {
    // No half-written file is left looking complete.
    await Promise.all(writers.map((w) => w.abort()));
    throw error;
  }
}

async function main(argv: string[]): Promise<number> {
  let cli: Cli | 'help';
  try {
    cli = parseCli(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`make-song: ${error.message}\n\n${USAGE}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  if (cli === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    await run(cli);
    return 0;
  } catch (error) {
    process.stderr.write(`make-song: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
}

process.exitCode = await main(process.argv.slice(2));
