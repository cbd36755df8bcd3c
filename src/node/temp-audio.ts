/**
 * A temporary on-disk copy of audio, written block by block and then read back at random,
 * for input that cannot be read at random itself (a decoded MP3, resampled audio). Node only.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import type { AudioSource } from '../core/source.js';

/**
 * Raw interleaved float32 frames in a temporary file. Append blocks with
 * {@link TempAudioFile.append}, then {@link TempAudioFile.source} reads them back as an
 * {@link AudioSource}; {@link TempAudioFile.dispose} deletes the file.
 *
 * @example
 * ```ts
 * const temp = TempAudioFile.create(join(tmpdir(), 'input.f32'), 44100, 2);
 * for await (const block of decoded) temp.append(block);
 * const source = temp.source();
 * ```
 */
export class TempAudioFile {
  /** The file's path. */
  readonly path: string;
  /** Samples per second, in Hz. */
  readonly sampleRate: number;
  /** Channels per frame. */
  readonly channelCount: number;
  #fd: number;
  #frames = 0;
  #interleaved = new Float32Array(0);

  private constructor(path: string, sampleRate: number, channelCount: number) {
    this.path = path;
    this.sampleRate = sampleRate;
    this.channelCount = channelCount;
    this.#fd = openSync(path, 'w+', 0o600);
  }

  /**
   * Creates (or truncates) the file.
   *
   * @param path - where to keep it.
   * @param sampleRate - the audio's rate in Hz.
   * @param channelCount - channels per frame.
   * @returns the empty store.
   */
  static create(path: string, sampleRate: number, channelCount: number): TempAudioFile {
    return new TempAudioFile(path, sampleRate, channelCount);
  }

  /** Frames appended so far. */
  get frames(): number {
    return this.#frames;
  }

  /**
   * Appends a block.
   *
   * @param channels - `channelCount` arrays of equal length.
   * @throws RangeError when the block does not match the channel count.
   */
  append(channels: readonly Float32Array[]): void {
    if (channels.length !== this.channelCount) throw new RangeError(`block has ${channels.length} channels, expected ${this.channelCount}`);
    const n = channels[0]!.length;
    const C = this.channelCount;
    if (this.#interleaved.length < n * C) this.#interleaved = new Float32Array(n * C);
    const buf = this.#interleaved;
    for (let c = 0; c < C; c++) {
      const x = channels[c]!;
      for (let i = 0; i < n; i++) buf[i * C + c] = x[i]!;
    }
    const bytes = new Uint8Array(buf.buffer, 0, n * C * 4);
    for (let done = 0; done < bytes.length; ) done += writeSync(this.#fd, bytes, done, bytes.length - done, this.#frames * C * 4 + done);
    this.#frames += n;
  }

  /**
   * The appended audio as an {@link AudioSource} (reads go to the file).
   *
   * @returns a source over everything appended so far.
   */
  source(): AudioSource {
    const C = this.channelCount;
    const frames = this.#frames;
    const fd = this.#fd;
    let scratch = new Float32Array(0);
    return {
      sampleRate: this.sampleRate,
      channelCount: C,
      frames,
      read(start, out) {
        const n = out[0]?.length ?? 0;
        if (start < 0 || start + n > frames) throw new RangeError(`frames [${start}, ${start + n}) are outside the ${frames} stored`);
        if (scratch.length < n * C) scratch = new Float32Array(n * C);
        const bytes = new Uint8Array(scratch.buffer, 0, n * C * 4);
        for (let done = 0; done < bytes.length; ) {
          const got = readSync(fd, bytes, done, bytes.length - done, start * C * 4 + done);
          if (got === 0) throw new Error(`temporary audio file ended early at byte ${start * C * 4 + done}`);
          done += got;
        }
        for (let c = 0; c < C; c++) {
          const o = out[c]!;
          for (let i = 0; i < n; i++) o[i] = scratch[i * C + c]!;
        }
      },
    };
  }

  /** Closes and deletes the file. Safe to call more than once. */
  dispose(): void {
    if (this.#fd >= 0) {
      closeSync(this.#fd);
      this.#fd = -1;
    }
    rmSync(this.path, { force: true });
  }
}
