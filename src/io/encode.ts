/**
 * Encoding planar audio as WAV, FLAC or MP3, whole ({@link encodeAudio}) or block by block
 * into a byte sink ({@link createAudioEncoder}), with no Node-only APIs.
 *
 * - WAV is written by `wav.ts`, byte for byte as {@link encodeWav}.
 * - FLAC (libFLAC, compression level 5) and MP3 (LAME 3.100, CBR) come from mediabunny with
 *   its WASM encoders `@mediabunny/flac-encoder` and `@mediabunny/mp3-encoder`, which run in a
 *   worker thread. They are imported on first use, so WAV-only users never load them.
 * - Samples are quantised here, by the rule of {@link encodeWavSamples} (clip, clamp to ±1,
 *   × 32767 or 8388607, truncate), so a FLAC file decodes to exactly the samples of the WAV
 *   file of the same bit depth, and MP3 gets the 16-bit samples of the 16-bit WAV.
 * - MP3 files start with a Xing "Info" frame whose LAME tag records the encoder delay and the
 *   end padding, so gapless decoders (ffmpeg, mpg123) return exactly the encoded frames.
 *
 * @packageDocumentation
 */

import type * as Mediabunny from 'mediabunny';
import type { PlanarAudio } from '../core/audio.js';
import { DemucsError, describeValue } from '../core/errors.js';
import { isFloat32Array } from '../core/typed-arrays.js';
import { crc16, lameBitrates, MP3_RATES, mp3InfoFrame, mp3InfoLayout, type Mp3InfoLayout } from './mp3-info.js';
import {
  computeClipGain,
  encodeWav,
  encodeWavSamples,
  finitePeak,
  wavHeader,
  wavLayout,
  type ClipGain,
  type ClipMode,
  type WavBitDepth,
} from './wav.js';

// #region Types

/** File formats {@link encodeAudio} and {@link createAudioEncoder} write. */
export type AudioFileFormat = 'wav' | 'flac' | 'mp3';

/** Options of {@link encodeAudio}; see {@link ENCODE_AUDIO_DEFAULTS}. */
export interface EncodeAudioOptions {
  /** The file format. */
  readonly format: AudioFileFormat;
  /**
   * Sample format: 16 or 24-bit integers, or (WAV only) 32-bit float. FLAC takes 16 or 24;
   * MP3 ignores it (LAME is fed 16-bit samples).
   *
   * @defaultValue 16
   */
  readonly bitDepth?: WavBitDepth;
  /**
   * How samples are kept in range before quantising, for every format; see {@link ClipMode}.
   *
   * @defaultValue 'rescale'
   */
  readonly clipMode?: ClipMode;
  /**
   * MP3 bitrate in kbps (constant bitrate). One of {@link mp3Bitrates} for the sample rate:
   * 32–320 at 32, 44.1 and 48 kHz; 8–160 at 16–24 kHz; 8–64 at 8–12 kHz. Other formats
   * ignore it.
   *
   * @defaultValue 320 (as upstream demucs `--mp3-bitrate`), or the highest bitrate of the
   *   sample rate when that is lower (160 at 16–24 kHz, 64 at 8–12 kHz)
   */
  readonly mp3Bitrate?: number;
}

/** The defaults of {@link EncodeAudioOptions}. */
export const ENCODE_AUDIO_DEFAULTS: Readonly<Required<Omit<EncodeAudioOptions, 'format'>>> = Object.freeze({
  bitDepth: 16,
  clipMode: 'rescale',
  mp3Bitrate: 320,
});

/**
 * Receives encoded bytes to store at a byte offset of the file. Offsets mostly follow each
 * other, but an encoder seeks back at the end to complete a header (WAV sizes, FLAC
 * STREAMINFO at byte 4, the MP3 Info frame at byte 0), so a sink must honour `position`
 * rather than append. Calls come one at a time; a returned promise is awaited before the
 * next call (backpressure).
 *
 * @param bytes - the bytes; valid only during the call (copy them to keep them).
 * @param position - where they go in the file.
 */
export type EncodedDataSink = (bytes: Uint8Array, position: number) => void | Promise<void>;

/** Options of {@link createAudioEncoder}. */
export interface AudioEncoderOptions {
  /** The file format. */
  readonly format: AudioFileFormat;
  /** Samples per second, in Hz. FLAC and MP3 accept {@link FLAC_SAMPLE_RATES} and {@link MP3_SAMPLE_RATES}. */
  readonly sampleRate: number;
  /** Channels per frame: 1–65535 for WAV, 1–8 for FLAC, 1 or 2 for MP3. */
  readonly channelCount: number;
  /** As {@link EncodeAudioOptions.bitDepth}. @defaultValue 16 */
  readonly bitDepth?: WavBitDepth;
  /** As {@link EncodeAudioOptions.mp3Bitrate}. @defaultValue 320 */
  readonly mp3Bitrate?: number;
  /**
   * Gain and clamping applied to every sample before quantising, from {@link computeClipGain}.
   *
   * @remarks
   * A streaming encoder cannot see the peak of samples it has not received, so it takes the
   * result of a clip mode rather than the mode: `computeClipGain(0, 'clamp')`,
   * `computeClipGain(0, 'none')`, or for `'rescale'` `computeClipGain(peak, 'rescale')` with
   * the peak of the whole signal, measured beforehand.
   *
   * @defaultValue `{ gain: 1, clamp: false }` (the `'none'` mode)
   */
  readonly clip?: ClipGain;
  /** Where the encoded bytes go. */
  readonly onData: EncodedDataSink;
}

/**
 * A streaming encoder from {@link createAudioEncoder}: planar blocks in, file bytes out to
 * its sink, memory bounded by a few blocks.
 */
export interface AudioEncoder {
  /** The file format. */
  readonly format: AudioFileFormat;
  /** Frames (samples per channel) received so far. */
  readonly framesWritten: number;
  /**
   * Encodes a block of frames. Await it before writing the next (it applies the encoder's and
   * the sink's backpressure); the block may be reused once it resolves.
   *
   * @param channels - one `Float32Array` per channel, equal lengths, any length.
   * @throws `TypeError` / `RangeError` for the wrong number or kind of channels, or unequal lengths.
   * @throws `Error` after {@link AudioEncoder.finish} or {@link AudioEncoder.abort}; the
   *   encoder's or the sink's error when either failed.
   */
  write(channels: readonly Float32Array[]): Promise<void>;
  /**
   * Flushes the encoder and completes the headers; when it resolves the sink has received
   * every byte of the file.
   *
   * @throws `RangeError` for FLAC or MP3 when no frame was written (they cannot be empty).
   */
  finish(): Promise<void>;
  /** Stops encoding and releases the worker; the sink gets no more bytes. Safe to call more than once. */
  abort(): Promise<void>;
}

// #endregion

// #region Options

const FORMATS: readonly string[] = ['wav', 'flac', 'mp3'];
const BIT_DEPTHS: readonly number[] = [16, 24, 32];
const CLIP_MODES: readonly string[] = ['rescale', 'clamp', 'none'];

/** Sample rates FLAC output accepts: those of the libFLAC encoder of `@mediabunny/flac-encoder`. */
export const FLAC_SAMPLE_RATES: readonly number[] = Object.freeze([
  8000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000,
]);

/** Sample rates MP3 output accepts: MPEG-1 (32–48 kHz), MPEG-2 (16–24 kHz) and MPEG-2.5 (8–12 kHz). */
export const MP3_SAMPLE_RATES: readonly number[] = Object.freeze([...MP3_RATES]);

/** Most channels a FLAC file holds. */
const FLAC_MAX_CHANNELS = 8;
/** Frames per encoder call: bounds the quantised copies in flight (4 queued × 64 Ki × 8 bytes × channels). */
const ENCODE_BLOCK_FRAMES = 65536;

/**
 * The constant bitrates (kbps) MP3 output offers at a sample rate, ascending; empty when MP3
 * cannot hold the rate.
 *
 * @param sampleRate - in Hz.
 * @returns the bitrates LAME 3.100 encodes at that rate.
 *
 * @example
 * ```ts
 * mp3Bitrates(44100); // [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
 * mp3Bitrates(22050); // [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
 * ```
 */
export function mp3Bitrates(sampleRate: number): readonly number[] {
  return lameBitrates(sampleRate);
}

/** Encoder options with every default applied and every value checked. @internal */
export interface ResolvedEncoderOptions {
  readonly format: AudioFileFormat;
  readonly sampleRate: number;
  readonly channelCount: number;
  readonly bitDepth: WavBitDepth;
  /** The bitrate in kbps (MP3 only; the default elsewhere). */
  readonly mp3Bitrate: number;
}

/**
 * Checks the format options shared by {@link createAudioEncoder}, {@link encodeAudio} and the
 * file writers, and applies the defaults.
 *
 * @throws `RangeError` naming the option and value.
 * @internal
 */
export function resolveEncoderOptions(options: {
  readonly format: unknown;
  readonly sampleRate: unknown;
  readonly channelCount: unknown;
  readonly bitDepth?: unknown;
  readonly mp3Bitrate?: unknown;
}): ResolvedEncoderOptions {
  const { format, sampleRate, channelCount } = options;
  if (!FORMATS.includes(format as string)) {
    throw new RangeError(`format must be one of 'wav', 'flac', 'mp3' (got ${describeValue(format)})`);
  }
  const bitDepth = options.bitDepth ?? ENCODE_AUDIO_DEFAULTS.bitDepth;
  if (!BIT_DEPTHS.includes(bitDepth as number)) {
    throw new RangeError(`bitDepth must be one of 16, 24, 32 (got ${describeValue(bitDepth)})`);
  }
  if (typeof sampleRate !== 'number' || !Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new RangeError(`sampleRate must be a positive integer (got ${describeValue(sampleRate)})`);
  }
  if (typeof channelCount !== 'number' || !Number.isInteger(channelCount) || channelCount < 1) {
    throw new RangeError(`channelCount must be a positive integer (got ${describeValue(channelCount)})`);
  }
  let mp3Bitrate = ENCODE_AUDIO_DEFAULTS.mp3Bitrate;
  if (format === 'wav') {
    wavLayout({ channelCount, sampleRate, bitDepth: bitDepth as WavBitDepth, frames: 0 }); // WAV's own limits
  } else if (format === 'flac') {
    if (bitDepth === 32) {
      throw new RangeError(
        "bitDepth 32 is not available for format 'flac': FLAC stores integers, so use 16 or 24 (or 'wav' for float32)",
      );
    }
    if (!FLAC_SAMPLE_RATES.includes(sampleRate)) {
      throw new RangeError(
        `sampleRate ${sampleRate} is not available for format 'flac'; use one of ${FLAC_SAMPLE_RATES.join(', ')} Hz`,
      );
    }
    if (channelCount > FLAC_MAX_CHANNELS) {
      throw new RangeError(`channelCount ${channelCount} is too many for format 'flac' (1 to ${FLAC_MAX_CHANNELS})`);
    }
  } else {
    if (!MP3_SAMPLE_RATES.includes(sampleRate)) {
      throw new RangeError(
        `sampleRate ${sampleRate} is not available for format 'mp3'; use one of ${MP3_SAMPLE_RATES.join(', ')} Hz`,
      );
    }
    if (channelCount > 2) {
      throw new RangeError(`channelCount ${channelCount} is too many for format 'mp3' (1 or 2)`);
    }
    const allowed = lameBitrates(sampleRate);
    if (options.mp3Bitrate === undefined) {
      mp3Bitrate = Math.min(mp3Bitrate, allowed[allowed.length - 1]!);
    } else if (!allowed.includes(options.mp3Bitrate as number)) {
      throw new RangeError(
        `mp3Bitrate ${describeValue(options.mp3Bitrate)} kbps is not an MP3 bitrate at ${sampleRate} Hz; ` +
          `use one of ${allowed.join(', ')}`,
      );
    } else {
      mp3Bitrate = options.mp3Bitrate as number;
    }
  }
  return { format: format as AudioFileFormat, sampleRate, channelCount, bitDepth: bitDepth as WavBitDepth, mp3Bitrate };
}

function checkClip(clip: unknown): ClipGain {
  if (clip === undefined) return NO_CLIP;
  const { gain, clamp } = (clip ?? {}) as Partial<ClipGain>;
  if (typeof gain !== 'number' || !Number.isFinite(gain) || gain < 0) {
    throw new RangeError(`clip.gain must be a finite number ≥ 0 (got ${describeValue(gain)})`);
  }
  if (typeof clamp !== 'boolean') throw new TypeError(`clip.clamp must be a boolean (got ${describeValue(clamp)})`);
  return { gain, clamp };
}

/**
 * Checks a block's channels against a channel count and returns its frames.
 *
 * @internal
 */
export function checkBlock(channels: readonly Float32Array[], channelCount: number): number {
  if (!Array.isArray(channels)) {
    throw new TypeError(`channels must be an array of Float32Array (got ${describeValue(channels)})`);
  }
  if (channels.length !== channelCount) {
    throw new RangeError(`channels holds ${channels.length} channels but the encoder was created for ${channelCount}`);
  }
  let frames = 0;
  for (let c = 0; c < channels.length; c++) {
    const ch: unknown = channels[c];
    if (!isFloat32Array(ch)) throw new TypeError(`channels[${c}] must be a Float32Array (got ${describeValue(ch)})`);
    if (c === 0) frames = ch.length;
    else if (ch.length !== frames) {
      throw new RangeError(`channels[${c}] has ${ch.length} samples but channels[0] has ${frames}; channels must have equal lengths`);
    }
  }
  return frames;
}

const NO_CLIP: ClipGain = Object.freeze({ gain: 1, clamp: false });

/**
 * "a FLAC file", "an MP3 file", for messages.
 *
 * @internal
 */
export function fileName(format: AudioFileFormat): string {
  return format === 'flac' ? 'a FLAC file' : format === 'mp3' ? 'an MP3 file' : 'a WAV file';
}

/**
 * Checks a clip mode, naming the option in the message.
 *
 * @internal
 */
export function checkClipMode(mode: unknown, name: string): asserts mode is ClipMode {
  if (!CLIP_MODES.includes(mode as string)) {
    throw new RangeError(`${name} must be one of 'rescale', 'clamp', 'none' (got ${describeValue(mode)})`);
  }
}

// #endregion

// #region Streaming encoders

/**
 * Creates a streaming encoder that writes a WAV, FLAC or MP3 file to a sink, block by block.
 *
 * @remarks
 * The bytes the sink receives, laid out at their positions, are exactly those
 * {@link encodeAudio} returns for the same samples and clip. Memory is bounded by a few
 * blocks: at most four blocks of 64 Ki frames wait for the encoder, whose worker thread
 * encodes while the caller prepares the next block. The encoders of FLAC and MP3 are loaded
 * on the first call for that format.
 *
 * Each FLAC or MP3 encoder owns a worker thread until {@link AudioEncoder.finish} or
 * {@link AudioEncoder.abort}; in Node a forgotten encoder keeps the process alive, so call
 * `abort()` on every error path.
 *
 * @param options - format, sample rate, channel count, bit depth, bitrate, clip and sink.
 * @returns the encoder, ready for {@link AudioEncoder.write}.
 * @throws `RangeError` for an unsupported format, sample rate, channel count, bit depth
 *   (32 with FLAC) or bitrate, naming the value and the accepted ones.
 * @throws A {@link DemucsError} `ERR_AUDIO_CODEC` when the FLAC or MP3 encoder cannot be loaded.
 *
 * @example
 * ```ts
 * const chunks: { bytes: Uint8Array; position: number }[] = [];
 * const encoder = await createAudioEncoder({
 *   format: 'flac', sampleRate: 44100, channelCount: 2, bitDepth: 24,
 *   clip: computeClipGain(0, 'clamp'),
 *   onData: (bytes, position) => { chunks.push({ bytes: bytes.slice(), position }); },
 * });
 * for (const block of blocks) await encoder.write(block);
 * await encoder.finish();
 * ```
 */
export async function createAudioEncoder(options: AudioEncoderOptions): Promise<AudioEncoder> {
  const resolved = resolveEncoderOptions(options);
  const clip = checkClip(options.clip);
  const sink = options.onData;
  if (typeof sink !== 'function') throw new TypeError(`onData must be a function (got ${describeValue(sink)})`);
  if (resolved.format === 'wav') return WavStreamEncoder.start(resolved, clip, sink);
  return MediabunnyEncoder.start(resolved, clip, sink);
}

/** WAV: header for 0 frames first, samples appended, the real header written over it at the end. */
class WavStreamEncoder implements AudioEncoder {
  readonly format = 'wav' as const;
  readonly #options: ResolvedEncoderOptions;
  readonly #clip: ClipGain;
  readonly #sink: EncodedDataSink;
  readonly #headerBytes: number;
  #frames = 0;
  #state: 'open' | 'finished' | 'aborted' = 'open';

  private constructor(options: ResolvedEncoderOptions, clip: ClipGain, sink: EncodedDataSink, headerBytes: number) {
    this.#options = options;
    this.#clip = clip;
    this.#sink = sink;
    this.#headerBytes = headerBytes;
  }

  static async start(options: ResolvedEncoderOptions, clip: ClipGain, sink: EncodedDataSink): Promise<WavStreamEncoder> {
    const header = wavHeader({ ...options, frames: 0 });
    await sink(header, 0);
    return new WavStreamEncoder(options, clip, sink, header.length);
  }

  get framesWritten(): number {
    return this.#frames;
  }

  async write(channels: readonly Float32Array[]): Promise<void> {
    checkOpen(this.#state);
    const n = checkBlock(channels, this.#options.channelCount);
    if (n === 0) return;
    const { bitDepth, channelCount, sampleRate } = this.#options;
    // Check the 4 GiB limit before writing.
    wavLayout({ channelCount, sampleRate, bitDepth, frames: this.#frames + n });
    const blockAlign = channelCount * (bitDepth >> 3);
    const bytes = encodeWavSamples(channels, bitDepth, this.#clip);
    await this.#sink(bytes, this.#headerBytes + this.#frames * blockAlign);
    this.#frames += n;
  }

  async finish(): Promise<void> {
    checkOpen(this.#state);
    this.#state = 'finished';
    const format = { ...this.#options, frames: this.#frames };
    const layout = wavLayout(format);
    if (layout.padBytes) await this.#sink(new Uint8Array(layout.padBytes), layout.totalBytes - layout.padBytes);
    await this.#sink(wavHeader(format), 0);
  }

  async abort(): Promise<void> {
    if (this.#state === 'open') this.#state = 'aborted';
  }
}

function checkOpen(state: 'open' | 'finished' | 'aborted'): void {
  if (state !== 'open') throw new Error(`the encoder is ${state}; create a new one`);
}

type MediabunnyModule = typeof Mediabunny;

let flacLoading: Promise<MediabunnyModule> | undefined;
let mp3Loading: Promise<MediabunnyModule> | undefined;

/** Loads mediabunny and registers the WASM encoder of `format`, once per format. */
function loadCodec(format: 'flac' | 'mp3'): Promise<MediabunnyModule> {
  const load = async (): Promise<MediabunnyModule> => {
    try {
      const mediabunny = await import('mediabunny');
      if (format === 'flac') (await import('@mediabunny/flac-encoder')).registerFlacEncoder();
      else (await import('@mediabunny/mp3-encoder')).registerMp3Encoder();
      return mediabunny;
    } catch (cause) {
      if (format === 'flac') flacLoading = undefined;
      else mp3Loading = undefined;
      const name = format === 'flac' ? '@mediabunny/flac-encoder' : '@mediabunny/mp3-encoder';
      throw new DemucsError('ERR_AUDIO_CODEC', `the ${format.toUpperCase()} encoder (mediabunny with ${name}) could not be loaded`, {
        cause,
      });
    }
  };
  if (format === 'flac') return (flacLoading ??= load());
  return (mp3Loading ??= load());
}

/**
 * FLAC and MP3 through a mediabunny `Output` whose `StreamTarget` forwards every positioned
 * write to the sink. Samples go in already quantised: 16-bit as `s16` (MP3: `s16-planar`,
 * what LAME takes), 24-bit as `s32` holding `sample << 8`, which the FLAC encoder shifts back
 * (it picks 16-bit FLAC for `s16` input and 24-bit for `s32`), so no rounding of mediabunny's
 * own float conversion is involved.
 */
class MediabunnyEncoder implements AudioEncoder {
  readonly format: 'flac' | 'mp3';
  readonly #options: ResolvedEncoderOptions;
  readonly #clip: ClipGain;
  readonly #output: Mediabunny.Output;
  readonly #source: Mediabunny.AudioSampleSource;
  readonly #AudioSample: typeof Mediabunny.AudioSample;
  readonly #sink: EncodedDataSink;
  /** MP3 only: the Info frame's layout and what it must say about the stream. */
  readonly #mp3: Mp3Tracker | undefined;
  #frames = 0;
  #state: 'open' | 'finished' | 'aborted' = 'open';

  private constructor(
    mb: MediabunnyModule,
    options: ResolvedEncoderOptions,
    clip: ClipGain,
    sink: EncodedDataSink,
    output: Mediabunny.Output,
    source: Mediabunny.AudioSampleSource,
    mp3: Mp3Tracker | undefined,
  ) {
    this.format = options.format as 'flac' | 'mp3';
    this.#options = options;
    this.#clip = clip;
    this.#sink = sink;
    this.#output = output;
    this.#source = source;
    this.#AudioSample = mb.AudioSample;
    this.#mp3 = mp3;
  }

  static async start(options: ResolvedEncoderOptions, clip: ClipGain, sink: EncodedDataSink): Promise<MediabunnyEncoder> {
    const format = options.format as 'flac' | 'mp3';
    const mb = await loadCodec(format);
    let mp3: Mp3Tracker | undefined;
    let forward: EncodedDataSink = sink;
    if (format === 'mp3') {
      const tracker = new Mp3Tracker(mp3InfoLayout(options.sampleRate, options.channelCount, options.mp3Bitrate));
      mp3 = tracker;
      const offset = tracker.layout.frameBytes;
      forward = (bytes, position) => {
        tracker.audio(bytes, position);
        return sink(bytes, offset + position);
      };
    }
    const writable = new WritableStream<Mediabunny.StreamTargetChunk>({
      write: (chunk) => forward(chunk.data, chunk.position),
    });
    const output = new mb.Output({
      // Our own Info frame replaces mediabunny's Xing frame, which has no LAME tag.
      format: format === 'flac' ? new mb.FlacOutputFormat() : new mb.Mp3OutputFormat({ xingHeader: false }),
      target: new mb.StreamTarget(writable),
    });
    const source = new mb.AudioSampleSource(
      format === 'flac'
        ? { codec: 'flac' }
        : {
            codec: 'mp3',
            quality: new mb.Quality({ bitrate: options.mp3Bitrate * 1000, bitrateMode: 'constant' }),
            onEncodedPacket: () => mp3!.packet(),
          },
    );
    output.addAudioTrack(source);
    await output.start();
    if (mp3 !== undefined) await sink(new Uint8Array(mp3.layout.frameBytes), 0); // placeholder for the Info frame
    return new MediabunnyEncoder(mb, options, clip, sink, output, source, mp3);
  }

  get framesWritten(): number {
    return this.#frames;
  }

  async write(channels: readonly Float32Array[]): Promise<void> {
    checkOpen(this.#state);
    const n = checkBlock(channels, this.#options.channelCount);
    for (let start = 0; start < n; start += ENCODE_BLOCK_FRAMES) {
      const end = Math.min(n, start + ENCODE_BLOCK_FRAMES);
      const views = start === 0 && end === n ? channels : channels.map((ch) => ch.subarray(start, end));
      // A new sample per call: mediabunny queues up to four (as clones sharing the data) before
      // encoding them, so the data must not be reused; closing ours releases only our handle.
      const sample = this.#sample(views);
      try {
        await this.#source.add(sample);
      } finally {
        sample.close();
      }
      this.#frames += end - start;
    }
  }

  #sample(channels: readonly Float32Array[]): Mediabunny.AudioSample {
    const { sampleRate, channelCount, bitDepth } = this.#options;
    const n = channels[0]!.length;
    const timestamp = this.#frames / sampleRate;
    if (this.format === 'mp3') {
      const data = new Uint8Array(n * channelCount * 2);
      for (let c = 0; c < channelCount; c++) {
        encodeWavSamples([channels[c]!], 16, this.#clip, data.subarray(c * n * 2, (c + 1) * n * 2));
      }
      return new this.#AudioSample({ data, format: 's16-planar', numberOfChannels: channelCount, sampleRate, timestamp });
    }
    if (bitDepth === 16) {
      const data = encodeWavSamples(channels, 16, this.#clip);
      return new this.#AudioSample({ data, format: 's16', numberOfChannels: channelCount, sampleRate, timestamp });
    }
    const bytes = encodeWavSamples(channels, 24, this.#clip);
    const data = new Int32Array(n * channelCount);
    for (let i = 0, p = 0; i < data.length; i++, p += 3) {
      data[i] = bytes[p]! << 8 | bytes[p + 1]! << 16 | bytes[p + 2]! << 24;
    }
    return new this.#AudioSample({ data, format: 's32', numberOfChannels: channelCount, sampleRate, timestamp });
  }

  async finish(): Promise<void> {
    checkOpen(this.#state);
    if (this.#frames === 0) {
      await this.abort();
      throw new RangeError(`${fileName(this.format)} needs at least one frame (got 0)`);
    }
    this.#state = 'finished';
    try {
      await this.#output.finalize();
    } catch (e) {
      await this.#cancel();
      throw e;
    }
    if (this.#mp3 !== undefined) await this.#sink(this.#mp3.infoFrame(this.#frames, this.#options.mp3Bitrate), 0);
  }

  async abort(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    await this.#cancel();
  }

  /** Releases the worker. After a sink failure the stream is already errored, which cancel reports again. */
  async #cancel(): Promise<void> {
    try {
      await this.#output.cancel();
    } catch {
      // the failure that matters was thrown to the caller already
    }
  }
}

/** Follows the MP3 frames mediabunny writes, for the Info frame. */
class Mp3Tracker {
  readonly layout: Mp3InfoLayout;
  #packets = 0;
  #bytes = 0;
  #crc = 0;
  #firstHeader = 0;

  constructor(layout: Mp3InfoLayout) {
    this.layout = layout;
  }

  packet(): void {
    this.#packets++;
  }

  /** Takes the audio bytes at `position`, which must follow the previous ones (mediabunny writes MP3 append-only). */
  audio(bytes: Uint8Array, position: number): void {
    if (position !== this.#bytes) throw new Error(`internal error: MP3 bytes at ${position}, expected ${this.#bytes}`);
    for (let i = 0; i < bytes.length && position + i < 4; i++) {
      this.#firstHeader = (this.#firstHeader | (bytes[i]! << (8 * (3 - position - i)))) >>> 0;
    }
    this.#crc = crc16(bytes, this.#crc);
    this.#bytes += bytes.length;
  }

  infoFrame(sampleFrames: number, kbps: number): Uint8Array {
    return mp3InfoFrame(this.layout, {
      audioFrames: this.#packets,
      audioBytes: this.#bytes,
      sampleFrames,
      audioCrc: this.#crc,
      firstHeader: this.#firstHeader,
      kbps,
    });
  }
}

// #endregion

// #region One-shot

/**
 * Encodes planar audio as a WAV, FLAC or MP3 file in memory.
 *
 * @remarks
 * The clip mode is applied first, as upstream demucs `prevent_clip` does before saving:
 * `'rescale'` measures the peak of all channels and divides by `max(1.01 · peak, 1)`,
 * `'clamp'` clamps to ±0.99, `'none'` leaves samples alone (integer output still clamps to
 * ±1). Samples are then quantised as {@link encodeWavSamples} does, so FLAC decodes to
 * exactly the samples of the WAV file of the same bit depth.
 *
 * - WAV: exactly {@link encodeWav}.
 * - FLAC: libFLAC at compression level 5, 16 or 24 bits, with the total sample count in
 *   STREAMINFO (the MD5 signature is left 0, "unknown", which RFC 9639 allows).
 * - MP3: LAME 3.100 at a constant bitrate, joint stereo, with a Xing "Info" frame and LAME
 *   tag holding the encoder delay (576) and end padding, so gapless decoders return exactly
 *   `frames` samples, aligned with the input (ffmpeg does; ffprobe then reports a
 *   `start_time` of 1105 samples and the padded duration of the whole frames). Decoders that
 *   ignore the tag add 1105 leading samples (576 + the 529 of the decoder) and pad the end to
 *   whole frames.
 *
 * For long signals prefer {@link createAudioEncoder} (or the Node `AudioFileWriter`),
 * which never hold the whole file.
 *
 * @param audio - planar float32 channels and their sample rate.
 * @param options - format, bit depth, clip mode, MP3 bitrate; see {@link ENCODE_AUDIO_DEFAULTS}.
 * @returns the whole file.
 * @throws `TypeError` when a channel is not a `Float32Array`.
 * @throws `RangeError` for an unsupported option (naming it and the accepted values),
 *   unequal channel lengths, no channels, or no frames with FLAC or MP3.
 * @throws A {@link DemucsError} `ERR_NON_FINITE` in `'rescale'` mode when a sample is NaN or infinite.
 *
 * @example
 * ```ts
 * const mp3 = await encodeAudio({ sampleRate: 44100, channels: [left, right] }, { format: 'mp3', mp3Bitrate: 192 });
 * const flac = await encodeAudio(stem, { format: 'flac', bitDepth: 24 });
 * ```
 */
export async function encodeAudio(audio: PlanarAudio, options: EncodeAudioOptions): Promise<Uint8Array> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object with a format (got ${describeValue(options)})`);
  }
  const clipMode = options.clipMode ?? ENCODE_AUDIO_DEFAULTS.clipMode;
  checkClipMode(clipMode, 'options.clipMode');
  const { sampleRate, channels } = audio;
  if (!Array.isArray(channels)) {
    throw new TypeError(`audio.channels must be an array of Float32Array (got ${describeValue(channels)})`);
  }
  if (channels.length === 0) throw new RangeError('audio.channels must hold at least one channel (got 0)');
  const resolved = resolveEncoderOptions({ ...options, sampleRate, channelCount: channels.length });
  if (resolved.format === 'wav') return encodeWav(audio, { bitDepth: resolved.bitDepth, clipMode });
  const frames = checkBlock(channels, channels.length);
  if (frames === 0) throw new RangeError(`${fileName(resolved.format)} needs at least one frame (got 0)`);

  const peak = clipMode === 'rescale' ? finitePeak(channels) : 0;
  const file = new GrowableBytes();
  const encoder = await createAudioEncoder({
    ...resolved,
    clip: computeClipGain(peak, clipMode),
    onData: (bytes, position) => file.write(bytes, position),
  });
  try {
    await encoder.write(channels);
    await encoder.finish();
  } finally {
    await encoder.abort();
  }
  return file.bytes();
}

/** An in-memory file written at positions, growing by doubling. */
class GrowableBytes {
  #buffer = new Uint8Array(1 << 16);
  #size = 0;

  write(bytes: Uint8Array, position: number): void {
    const end = position + bytes.length;
    if (end > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(end, this.#buffer.length * 2));
      grown.set(this.#buffer.subarray(0, this.#size));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, position);
    this.#size = Math.max(this.#size, end);
  }

  bytes(): Uint8Array {
    return this.#buffer.slice(0, this.#size);
  }
}

// #endregion
