/**
 * WAV files on disk, read and written in blocks so that neither the track nor its stems are
 * ever held whole. Node only.
 */
import { readSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { DemucsError } from '../core/errors.js';
import type { AudioSource } from '../core/source.js';
import {
  computeClipGain,
  decodeWavFrames,
  encodeWavSamples,
  parseWavHeader,
  peakAmplitude,
  wavHeader,
  wavLayout,
  type ClipMode,
  type DecodeWavOptions,
  type WavBitDepth,
  type WavFormat,
  type WavInfo,
} from '../io/wav.js';

/** Bytes of the header region read to find the chunks, beyond which reads go to the file. */
const HEADER_PROBE_BYTES = 64 * 1024;

/**
 * A WAV file as an {@link AudioSource}: only the header is read on open; frames are read
 * and decoded on demand, so a 20-minute file costs a few megabytes.
 *
 * @example
 * ```ts
 * const source = await WavFileSource.open('song.wav');
 * try {
 *   for await (const block of separator.stream(source)) { ... }
 * } finally {
 *   await source.close();
 * }
 * ```
 */
export class WavFileSource implements AudioSource {
  /** Samples per second, in Hz. */
  readonly sampleRate: number;
  /** Channels in the file. */
  readonly channelCount: number;
  /** Frames in the file. */
  readonly frames: number;
  /** How the samples are stored. */
  readonly format: WavFormat;
  /** The file's path. */
  readonly path: string;
  readonly #file: FileHandle;
  readonly #info: WavInfo;
  #scratch = new Uint8Array(0);

  private constructor(path: string, file: FileHandle, info: WavInfo) {
    this.path = path;
    this.#file = file;
    this.#info = info;
    this.format = info.format;
    this.sampleRate = info.format.sampleRate;
    this.channelCount = info.format.channelCount;
    this.frames = info.format.frames;
  }

  /**
   * Opens a WAV file and parses its header.
   *
   * @param path - the file.
   * @param options - as for `decodeWav` (`allowTruncated`).
   * @returns the open source; {@link WavFileSource.close} it when done.
   * @throws A {@link DemucsError} with code `ERR_AUDIO_EMPTY`, `ERR_AUDIO_TRUNCATED` or
   *   `ERR_AUDIO_FORMAT` naming the file; the file-system error when it cannot be opened.
   */
  static async open(path: string, options: DecodeWavOptions = {}): Promise<WavFileSource> {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      const probe = new Uint8Array(Math.min(size, HEADER_PROBE_BYTES));
      const got = readSync(file.fd, probe, 0, probe.length, 0);
      const reader = (offset: number, length: number): Uint8Array => {
        if (offset + length <= got) return probe.subarray(offset, offset + length);
        const out = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
        const n = out.length === 0 ? 0 : readSync(file.fd, out, 0, out.length, offset);
        return out.subarray(0, n);
      };
      const info = parseWavHeader(reader, size, options);
      return new WavFileSource(path, file, info);
    } catch (e) {
      await file.close();
      if (e instanceof DemucsError) throw new DemucsError(e.code, `${path}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  /**
   * Reads and decodes frames `[start, start + out[0].length)`.
   *
   * @param start - first frame.
   * @param out - one array per channel, filled by the call.
   * @throws RangeError for a span outside the file.
   * @throws A {@link DemucsError} `ERR_AUDIO_TRUNCATED` when the file shrank since it was opened.
   */
  async read(start: number, out: readonly Float32Array[]): Promise<void> {
    const count = out[0]?.length ?? 0;
    if (start < 0 || start + count > this.frames) {
      throw new RangeError(`frames [${start}, ${start + count}) are outside the file's ${this.frames}`);
    }
    const bytes = count * this.#info.blockAlign;
    if (this.#scratch.length < bytes) this.#scratch = new Uint8Array(bytes);
    const buffer = this.#scratch.subarray(0, bytes);
    const position = this.#info.dataOffset + start * this.#info.blockAlign;
    const { bytesRead } = await this.#file.read(buffer, 0, bytes, position);
    if (bytesRead < bytes) {
      throw new DemucsError('ERR_AUDIO_TRUNCATED', `${this.path}: read ${bytesRead} of ${bytes} bytes at byte ${position}`);
    }
    decodeWavFrames(buffer, this.#info, out);
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.#file.close();
  }
}

/** Options of {@link WavFileWriter.create}. */
export interface WavFileWriterOptions {
  /** Channels per frame. */
  readonly channelCount: number;
  /** Samples per second, in Hz. */
  readonly sampleRate: number;
  /** Frames that will be written in total. */
  readonly frames: number;
  /** Sample format. @defaultValue 16 */
  readonly bitDepth?: WavBitDepth;
  /**
   * Clip handling before quantisation, as upstream `--clip-mode`. `'rescale'` needs the
   * whole signal's peak, so the writer spills float32 samples to a temporary file and
   * converts them when the last block arrives.
   * @defaultValue 'rescale'
   */
  readonly clipMode?: ClipMode;
}

/** Frames converted per block in the rescale pass. */
const RESCALE_BLOCK_FRAMES = 65536;

/**
 * Writes one WAV file block by block to `<path>.partial`, renaming it to `path` only when
 * every frame is written, so an interrupted run never leaves a file that looks complete.
 *
 * @example
 * ```ts
 * const w = await WavFileWriter.create('vocals.wav', { channelCount: 2, sampleRate: 44100, frames });
 * try {
 *   for (const block of blocks) await w.write(block);
 *   await w.finish();
 * } catch (e) {
 *   await w.abort();
 *   throw e;
 * }
 * ```
 */
export class WavFileWriter {
  /** The final path. */
  readonly path: string;
  readonly #options: Required<WavFileWriterOptions>;
  readonly #partial: string;
  readonly #raw: string | undefined;
  readonly #file: FileHandle;
  #written = 0;
  #peak = 0;
  #scratch = new Uint8Array(0);
  #closed = false;

  private constructor(path: string, options: Required<WavFileWriterOptions>, file: FileHandle, raw: string | undefined) {
    this.path = path;
    this.#options = options;
    this.#partial = `${path}.partial`;
    this.#raw = raw;
    this.#file = file;
  }

  /**
   * Creates the temporary file and writes what can be written up front.
   *
   * @param path - the final file.
   * @param options - format, frame count, clip mode.
   * @returns the writer.
   * @throws RangeError for a bad format (as {@link wavLayout}).
   */
  static async create(path: string, options: WavFileWriterOptions): Promise<WavFileWriter> {
    const resolved: Required<WavFileWriterOptions> = { bitDepth: 16, clipMode: 'rescale', ...options };
    computeClipGain(0, resolved.clipMode); // validates the mode
    const format = { channelCount: resolved.channelCount, sampleRate: resolved.sampleRate, bitDepth: resolved.bitDepth, frames: resolved.frames };
    wavLayout(format); // validates the format before anything is created
    // Rescale divides by the whole signal's peak, known only after the last block: spill
    // float32 samples to a temporary file and convert them in `finish`.
    const spill = resolved.clipMode === 'rescale';
    const target = spill ? `${path}.raw.partial` : `${path}.partial`;
    const file = await open(target, spill ? 'w+' : 'w');
    const writer = new WavFileWriter(path, resolved, file, spill ? target : undefined);
    if (!spill) await file.write(wavHeader(format));
    return writer;
  }

  /** Frames written so far. */
  get framesWritten(): number {
    return this.#written;
  }

  /**
   * Appends a block of frames.
   *
   * @param channels - one array per channel, equal lengths.
   * @throws RangeError when the block would exceed the declared frame count.
   */
  async write(channels: readonly Float32Array[]): Promise<void> {
    const n = channels[0]?.length ?? 0;
    if (this.#written + n > this.#options.frames) {
      throw new RangeError(`block of ${n} frames exceeds the declared ${this.#options.frames} (written ${this.#written})`);
    }
    if (this.#raw !== undefined) {
      this.#peak = Math.max(this.#peak, peakAmplitude(channels));
      await this.#writeSamples(channels, 32, { gain: 1, clamp: false });
    } else {
      await this.#writeSamples(channels, this.#options.bitDepth, computeClipGain(0, this.#options.clipMode));
    }
    this.#written += n;
  }

  async #writeSamples(channels: readonly Float32Array[], bitDepth: WavBitDepth, clip: { gain: number; clamp: boolean }, file = this.#file): Promise<void> {
    const bytes = (channels[0]?.length ?? 0) * channels.length * (bitDepth >> 3);
    if (this.#scratch.length < bytes) this.#scratch = new Uint8Array(bytes);
    const encoded = encodeWavSamples(channels, bitDepth, clip, this.#scratch);
    await file.write(encoded, 0, encoded.length);
  }

  /**
   * Completes the file: checks every frame arrived, converts the spilled samples for
   * `'rescale'`, and renames the temporary file into place.
   *
   * @throws RangeError when fewer frames were written than declared (the file is removed).
   */
  async finish(): Promise<void> {
    if (this.#written !== this.#options.frames) {
      await this.abort();
      throw new RangeError(`only ${this.#written} of ${this.#options.frames} frames were written to ${this.path}`);
    }
    const { channelCount, sampleRate, bitDepth, frames, clipMode } = this.#options;
    const format = { channelCount, sampleRate, bitDepth, frames };
    const layout = wavLayout(format);
    if (this.#raw !== undefined) {
      if (!Number.isFinite(this.#peak)) {
        await this.abort();
        throw new DemucsError('ERR_NON_FINITE', `${this.path}: a sample is ${this.#peak}; cannot rescale`);
      }
      const clip = computeClipGain(this.#peak, clipMode);
      const out = await open(this.#partial, 'w');
      try {
        await out.write(wavHeader(format));
        const block = Array.from({ length: channelCount }, () => new Float32Array(RESCALE_BLOCK_FRAMES));
        // The spill file holds interleaved little-endian float32, which every JS engine's
        // Float32Array reads natively.
        const raw = new Uint8Array(RESCALE_BLOCK_FRAMES * channelCount * 4);
        const rawFloats = new Float32Array(raw.buffer);
        for (let start = 0; start < frames; start += RESCALE_BLOCK_FRAMES) {
          const n = Math.min(RESCALE_BLOCK_FRAMES, frames - start);
          const bytes = n * channelCount * 4;
          const { bytesRead } = await this.#file.read(raw, 0, bytes, start * channelCount * 4);
          if (bytesRead !== bytes) throw new Error(`short read of the spill file ${this.#raw} at frame ${start}`);
          const views = block.map((b) => b.subarray(0, n));
          for (let i = 0; i < n; i++) {
            for (let c = 0; c < channelCount; c++) views[c]![i] = rawFloats[i * channelCount + c]!;
          }
          await this.#writeSamples(views, bitDepth, clip, out);
        }
        if (layout.padBytes) await out.write(new Uint8Array(layout.padBytes));
      } catch (e) {
        await out.close();
        await this.abort();
        throw e;
      }
      await out.close();
      await this.#closeFile();
      await rm(this.#raw, { force: true });
    } else {
      if (layout.padBytes) await this.#file.write(new Uint8Array(layout.padBytes));
      await this.#closeFile();
    }
    await rename(this.#partial, this.path);
  }

  /** Stops writing and removes every temporary file. Safe to call more than once. */
  async abort(): Promise<void> {
    await this.#closeFile();
    await rm(this.#partial, { force: true });
    if (this.#raw !== undefined) await rm(this.#raw, { force: true });
  }

  async #closeFile(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#file.close();
  }
}
