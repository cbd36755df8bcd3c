/**
 * The stems of one track written to a folder as they stream out of the separator: the
 * selected outputs summed, resampled back to the input's rate, cut to the input's exact
 * length and encoded. Node only.
 */
import { join } from 'node:path';
import type { StemOutput } from '../core/stem-selection.js';
import { mixStemOutput } from '../core/stem-selection.js';
import type { AudioFileFormat } from '../io/encode.js';
import { Resampler } from '../io/resample.js';
import type { ClipMode, WavBitDepth } from '../io/wav.js';
import { AudioFileWriter } from './audio-file-writer.js';

/** Options of {@link StemFiles.create}. */
export interface StemFilesOptions {
  /** Folder the files go in; it must exist. */
  readonly folder: string;
  /** What to write (see `selectStems`). */
  readonly outputs: readonly StemOutput[];
  /** Rate of the blocks given to {@link StemFiles.write}, in Hz (the model's). */
  readonly inputRate: number;
  /** Rate of the files, in Hz. @defaultValue `inputRate` */
  readonly sampleRate?: number;
  /** Frames each file gets at `sampleRate`: the original input's length. */
  readonly frames: number;
  /** File format. @defaultValue 'wav' */
  readonly format?: AudioFileFormat;
  /** Sample format for WAV and FLAC. @defaultValue 16 */
  readonly bitDepth?: WavBitDepth;
  /** Clip handling, as upstream `--clip-mode`. @defaultValue 'rescale' */
  readonly clipMode?: ClipMode;
  /** MP3 bitrate in kbit/s. @defaultValue 320 */
  readonly mp3Bitrate?: number;
}

/** Channels of every stem file: the model's output is stereo. */
const STEM_CHANNELS = 2;

/** One file being written. */
interface Target {
  readonly output: StemOutput;
  readonly writer: AudioFileWriter;
  readonly resampler: Resampler | undefined;
  written: number;
}

/**
 * Writes a track's stems, block by block, each to `<folder>/<name>.<format>` through a
 * temporary name, so an interrupted run leaves no file that looks complete.
 *
 * @remarks
 * A resampled length can differ from the original by a frame (rounding twice); the files
 * are cut or zero-padded to exactly {@link StemFilesOptions.frames}, so stems line up with
 * the input sample for sample.
 */
export class StemFiles {
  /** Final paths by output name, in output order. */
  readonly paths: Readonly<Record<string, string>>;
  readonly #targets: Target[];
  readonly #frames: number;
  #scratch: Float32Array[] = [];

  private constructor(targets: Target[], frames: number, paths: Record<string, string>) {
    this.#targets = targets;
    this.#frames = frames;
    this.paths = paths;
  }

  /**
   * Opens one writer per output.
   *
   * @param options - folder, outputs, rates, length and format.
   * @returns the writer set.
   * @throws RangeError for a bad format option (nothing is left on disk).
   */
  static async create(options: StemFilesOptions): Promise<StemFiles> {
    const format = options.format ?? 'wav';
    const sampleRate = options.sampleRate ?? options.inputRate;
    const targets: Target[] = [];
    const paths: Record<string, string> = {};
    try {
      for (const output of options.outputs) {
        const path = join(options.folder, `${output.name}.${format}`);
        const writer = await AudioFileWriter.create(path, {
          format,
          channelCount: STEM_CHANNELS,
          sampleRate,
          frames: options.frames,
          ...(options.bitDepth === undefined ? {} : { bitDepth: options.bitDepth }),
          ...(options.clipMode === undefined ? {} : { clipMode: options.clipMode }),
          ...(options.mp3Bitrate === undefined ? {} : { mp3Bitrate: options.mp3Bitrate }),
        });
        const resampler = sampleRate === options.inputRate ? undefined : new Resampler(options.inputRate, sampleRate, STEM_CHANNELS);
        targets.push({ output, writer, resampler, written: 0 });
        paths[output.name] = path;
      }
    } catch (e) {
      await Promise.all(targets.map((t) => t.writer.abort()));
      throw e;
    }
    return new StemFiles(targets, options.frames, paths);
  }

  /**
   * Writes one block of the separator's stems.
   *
   * @param stems - `stems[source][channel]`, as a `StemBlock` holds them.
   */
  async write(stems: readonly (readonly Float32Array[])[]): Promise<void> {
    const n = stems[0]?.[0]?.length ?? 0;
    if (this.#scratch.length === 0 || this.#scratch[0]!.length < n) {
      this.#scratch = Array.from({ length: STEM_CHANNELS }, () => new Float32Array(n));
    }
    for (const t of this.#targets) {
      const mixed = mixStemOutput(stems, t.output, this.#scratch);
      await this.#append(t, t.resampler === undefined ? mixed : t.resampler.process(mixed));
    }
  }

  /**
   * Flushes the resamplers, pads or cuts to the exact length and completes every file.
   *
   * @returns final paths by output name.
   */
  async finish(): Promise<Readonly<Record<string, string>>> {
    for (const t of this.#targets) {
      if (t.resampler !== undefined) await this.#append(t, t.resampler.flush());
      const missing = this.#frames - t.written;
      if (missing > 0) await this.#append(t, Array.from({ length: STEM_CHANNELS }, () => new Float32Array(missing)));
      await t.writer.finish();
    }
    return this.paths;
  }

  /** Removes every temporary file. Safe to call more than once. */
  async abort(): Promise<void> {
    await Promise.all(this.#targets.map((t) => t.writer.abort()));
  }

  async #append(t: Target, channels: readonly Float32Array[]): Promise<void> {
    const n = Math.min(channels[0]?.length ?? 0, this.#frames - t.written);
    if (n <= 0) return;
    await t.writer.write(n === channels[0]!.length ? channels : channels.map((c) => c.subarray(0, n)));
    t.written += n;
  }
}
