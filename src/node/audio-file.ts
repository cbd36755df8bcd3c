/**
 * Audio files of any supported kind on disk, read and decoded in blocks with bounded memory.
 * Node only.
 */
import { spawn } from 'node:child_process';
import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { DemucsError, describeValue } from '../core/errors.js';
import {
  createStreamingDecoder,
  isStreamingContainer,
  missingCodecError,
  prefix,
  truncatedBoxError,
  unsupportedFormatError,
  wavCodec,
  type AudioStreamInfo,
  type DecodedBlock,
  type StreamingAudioDecoder,
} from '../io/decode.js';
import { findTruncatedBox, openContainerTrack, type ContainerTrack } from '../io/mediabunny-track.js';
import { id3v2Size } from '../io/mpeg-audio.js';
import { SNIFF_BYTES, sniffAudioFormat } from '../io/sniff.js';
import { findNonFinite } from '../io/wav.js';
import { WavFileSource } from './wav-file.js';

/** Options of {@link openAudioFile}. */
export interface OpenAudioFileOptions {
  /**
   * Frames per block for WAV files and for audio decoded by ffmpeg. Blocks of the other
   * formats are as large as what each 64 KiB of the file decodes to.
   *
   * @defaultValue 65536
   */
  readonly blockFrames?: number;
  /**
   * The ffmpeg binary used for M4A/MP4/AAC files in Node, which has no AAC decoder; `false`
   * never runs it (such files then throw `ERR_AUDIO_CODEC`).
   *
   * @defaultValue 'ffmpeg' (found on `PATH`)
   */
  readonly ffmpeg?: string | false;
}

/** The defaults of {@link OpenAudioFileOptions}. */
export const OPEN_AUDIO_FILE_DEFAULTS: Readonly<Required<OpenAudioFileOptions>> = Object.freeze({
  blockFrames: 65536,
  ffmpeg: 'ffmpeg',
});

/** An audio file opened by {@link openAudioFile}. */
export interface AudioFileReader {
  /** The file's path. */
  readonly path: string;
  /** The file's format, from its headers. */
  readonly info: AudioStreamInfo;
  /**
   * Decodes the file from the start, block by block: planar float32 in the file's own
   * channels and at its own sample rate. Each call starts a new pass; the file is read in
   * chunks, so memory stays at a block or two whatever the file's length.
   *
   * @remarks
   * Errors found only at the end (a cut-off file, fewer frames than the header declared)
   * are thrown after the blocks before them were yielded: treat an error as the failure of
   * the whole pass. Leaving the loop early (`break`) frees the decoder and stops ffmpeg.
   *
   * @returns the blocks; each array is new and owned by the caller.
   * @throws A {@link DemucsError} as {@link openAudioFile} lists.
   */
  blocks(): AsyncIterable<DecodedBlock>;
  /** Closes the file, stops any pass in progress, and frees the decoder. */
  close(): Promise<void>;
}

/** Bytes of the file fed to a streaming decoder at a time. */
const CHUNK_BYTES = 64 * 1024;
/** ID3v2 tags up to this size are read with the head; larger ones are skipped unread. */
const MAX_HEAD_TAG_BYTES = 16 * 1024 * 1024;

/**
 * Opens an audio file, recognising its kind from its content (never its name) and reading
 * its headers.
 *
 * @remarks
 * - WAV (PCM 8/16/24/32, float 32/64, extensible) through {@link WavFileSource}, read in
 *   blocks of `blockFrames`.
 * - MP3, FLAC, Ogg Vorbis, Ogg Opus, Ogg FLAC through the WebAssembly decoders of
 *   `demucs-mobile/audio` (`createStreamingDecoder`: see there for lengths, MP3 gapless
 *   trimming and the damage rule), the file read 64 KiB at a time.
 * - M4A/MP4/MOV and raw AAC (ADTS): mediabunny reads the container; PCM tracks it decodes
 *   itself. Node has no AAC decoder, so AAC (and ALAC) is decoded by the `ffmpeg` binary
 *   when one is found (`ffmpeg -v error -xerror -i <file> -map 0:a:0 -f f32le -ac <ch> -ar <rate> -`,
 *   streamed from its output; `-xerror` makes it fail on the first damaged frame, as the
 *   other decoders do); otherwise `ERR_AUDIO_CODEC` names the codec and the fixes.
 *
 * Every pass checks each block for NaN and infinite samples.
 *
 * @param path - the file.
 * @param options - block size and ffmpeg; see {@link OPEN_AUDIO_FILE_DEFAULTS}.
 * @returns the reader; {@link AudioFileReader.close} it when done.
 * @throws `RangeError` for a `blockFrames` that is not a positive integer.
 * @throws A {@link DemucsError} naming the file: `ERR_AUDIO_EMPTY` (0 bytes, or no audio),
 *   `ERR_AUDIO_TRUNCATED` (cut short), `ERR_AUDIO_FORMAT` (not a supported kind of file,
 *   or damaged; the message names what the file is, such as AIFF or WebM),
 *   `ERR_AUDIO_CODEC` (AAC without ffmpeg; Speex), and from a pass also `ERR_NON_FINITE`.
 * @throws The file-system error when the file cannot be opened.
 *
 * @example
 * ```ts
 * const reader = await openAudioFile('song.mp3');
 * try {
 *   reader.info; // { container: 'mp3', codec: 'mp3', sampleRate: 44100, channelCount: 2, frames: 9261000 }
 *   for await (const [left, right] of reader.blocks()) { ... }
 * } finally {
 *   await reader.close();
 * }
 * ```
 */
export async function openAudioFile(path: string, options: OpenAudioFileOptions = {}): Promise<AudioFileReader> {
  if (typeof path !== 'string') throw new TypeError(`path must be a string (got ${describeValue(path)})`);
  const blockFrames = options.blockFrames ?? OPEN_AUDIO_FILE_DEFAULTS.blockFrames;
  if (!Number.isInteger(blockFrames) || blockFrames <= 0) {
    throw new RangeError(`options.blockFrames must be a positive integer (got ${describeValue(blockFrames)})`);
  }
  const ffmpeg = options.ffmpeg ?? OPEN_AUDIO_FILE_DEFAULTS.ffmpeg;
  if (ffmpeg !== false && (typeof ffmpeg !== 'string' || ffmpeg === '')) {
    throw new TypeError(`options.ffmpeg must be a non-empty string or false (got ${describeValue(ffmpeg)})`);
  }

  const file = await open(path, 'r');
  let owned = true;
  try {
    const { size } = await file.stat();
    const at = prefix(path);
    if (size === 0) throw new DemucsError('ERR_AUDIO_EMPTY', `${at}the file is empty (0 bytes)`);
    const read = (offset: number, length: number): Uint8Array => readAt(file, offset, length, size);

    // ID3v2 tags (MP3, sometimes FLAC or AAC) can hold megabytes of cover art: step over them.
    let audioStart = 0;
    for (let tag = id3v2Size(read(0, 10)); tag > 0; tag = id3v2Size(read(audioStart, 10))) audioStart += tag;
    if (audioStart > size) {
      throw new DemucsError(
        'ERR_AUDIO_TRUNCATED',
        `${at}the ID3v2 tag declares ${audioStart} bytes but the file ends after ${size}: the file is cut short`,
      );
    }
    if (audioStart === size) throw new DemucsError('ERR_AUDIO_EMPTY', `${at}the file holds an ID3v2 tag but no audio`);
    // The head keeps the tags, so that sniffing allows for padding between tag and audio as
    // decoders do, unless they are huge; then it starts after them.
    const headStart = audioStart <= MAX_HEAD_TAG_BYTES ? 0 : audioStart;
    const head = read(headStart, audioStart - headStart + SNIFF_BYTES);
    const container = sniffAudioFormat(head);

    if (container === 'wav') {
      await file.close();
      owned = false;
      return await openWav(path, blockFrames);
    }
    if (container === 'mp4' || container === 'adts') {
      if (container === 'mp4') {
        const cut = findTruncatedBox(read, size);
        if (cut !== undefined) throw truncatedBoxError(cut, size, path);
      }
      const track = await openContainerTrack(container, (mb) => new mb.CustomSource({ getSize: () => size, read: (s, e) => read(s, e - s) }), path);
      if (track.decodable) {
        owned = false;
        return new TrackReader(path, file, track);
      }
      track.dispose();
      const ffmpegPath = ffmpeg === false ? undefined : await findFfmpeg(ffmpeg);
      if (ffmpegPath === undefined) {
        const why =
          ffmpeg === false
            ? 'Node has no decoder for it and ffmpeg is disabled (options.ffmpeg is false)'
            : `Node has no decoder for it and ffmpeg was not found (tried ${JSON.stringify(ffmpeg)}); install ffmpeg`;
        throw missingCodecError(track.info, why, path);
      }
      owned = false;
      return new FfmpegReader(path, file, track.info, ffmpegPath, blockFrames);
    }
    if (container === undefined && audioStart > 0) {
      throw new DemucsError(
        'ERR_AUDIO_FORMAT',
        `${at}no audio frames follow the ${audioStart}-byte ID3v2 tag (the bytes after it start with ` +
          `${describeStart(head.subarray(audioStart - headStart))}): the file is corrupt`,
      );
    }
    if (!isStreamingContainer(container) && container !== 'ogg') throw unsupportedFormatError(container, head, path);

    const tail = read(Math.max(audioStart, size - SNIFF_BYTES), SNIFF_BYTES);
    const decoder = await createStreamingDecoder(head, { tail, name: path });
    owned = false;
    return new StreamReader(path, file, headStart, head.length, size, decoder, tail);
  } finally {
    if (owned) await file.close();
  }
}

/** Up to `length` bytes at `offset` (fewer at the end of the file), in a new array. */
function readAt(file: FileHandle, offset: number, length: number, size: number): Uint8Array {
  const n = Math.max(0, Math.min(length, size - offset));
  const out = new Uint8Array(n);
  let done = 0;
  while (done < n) {
    const got = readSync(file.fd, out, done, n - done, offset + done);
    if (got === 0) break;
    done += got;
  }
  return out.subarray(0, done);
}

function describeStart(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** The NaN/Infinity check every pass applies, with the frame position in the file. */
function checkFinite(block: DecodedBlock, start: number, path: string): void {
  const bad = findNonFinite(block);
  if (bad !== null) {
    throw new DemucsError(
      'ERR_NON_FINITE',
      `${path}: sample ${start + bad.index} of channel ${bad.channel} is ${bad.value}; every sample must be finite`,
    );
  }
}

function closedError(path: string): Error {
  return new Error(`${path}: the reader was closed`);
}

// #region WAV

async function openWav(path: string, blockFrames: number): Promise<AudioFileReader> {
  const source = await WavFileSource.open(path);
  const { format } = source;
  const info: AudioStreamInfo = {
    container: 'wav',
    codec: wavCodec(format.encoding, format.bitsPerSample),
    sampleRate: format.sampleRate,
    channelCount: format.channelCount,
    frames: format.frames,
  };
  let closed = false;
  return {
    path,
    info,
    async *blocks() {
      for (let start = 0; start < source.frames; start += blockFrames) {
        if (closed) throw closedError(path);
        const n = Math.min(blockFrames, source.frames - start);
        const block = Array.from({ length: source.channelCount }, () => new Float32Array(n));
        await source.read(start, block);
        checkFinite(block, start, path);
        yield block;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await source.close();
    },
  };
}

// #endregion

// #region Streaming decoders

class StreamReader implements AudioFileReader {
  readonly path: string;
  readonly info: AudioStreamInfo;
  readonly #file: FileHandle;
  readonly #start: number;
  readonly #headBytes: number;
  readonly #size: number;
  readonly #tail: Uint8Array;
  /** The decoder made by `openAudioFile` (used by the first pass), then each pass's own. */
  readonly #decoders = new Set<StreamingAudioDecoder>();
  #unused: StreamingAudioDecoder | undefined;
  #closed = false;

  constructor(
    path: string,
    file: FileHandle,
    start: number,
    headBytes: number,
    size: number,
    decoder: StreamingAudioDecoder,
    tail: Uint8Array,
  ) {
    this.path = path;
    this.info = decoder.info;
    this.#file = file;
    this.#start = start;
    this.#headBytes = headBytes;
    this.#size = size;
    this.#tail = tail;
    this.#unused = decoder;
    this.#decoders.add(decoder);
  }

  async *blocks(): AsyncGenerator<DecodedBlock> {
    if (this.#closed) throw closedError(this.path);
    let decoder = this.#unused;
    this.#unused = undefined;
    if (decoder === undefined) {
      const head = readAt(this.#file, this.#start, this.#headBytes, this.#size);
      decoder = await createStreamingDecoder(head, { tail: this.#tail, name: this.path });
      this.#decoders.add(decoder);
    }
    try {
      for (let offset = this.#start; offset < this.#size; offset += CHUNK_BYTES) {
        if (this.#closed) throw closedError(this.path);
        // A new array per chunk: the decoders' parsers may keep a view of the bytes fed.
        const chunk = new Uint8Array(Math.min(CHUNK_BYTES, this.#size - offset));
        const { bytesRead } = await this.#file.read(chunk, 0, chunk.length, offset);
        if (bytesRead < chunk.length) {
          throw new DemucsError('ERR_AUDIO_TRUNCATED', `${this.path}: the file shrank while it was read (at byte ${offset + bytesRead})`);
        }
        const block = await decoder.decode(chunk);
        if (block[0]!.length > 0) yield block;
      }
      const last = await decoder.flush();
      if (last[0]!.length > 0) yield last;
    } finally {
      decoder.free();
      this.#decoders.delete(decoder);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const d of this.#decoders) d.free();
    this.#decoders.clear();
    await this.#file.close();
  }
}

// #endregion

// #region MP4 through mediabunny (PCM, or AAC where WebCodecs exists)

class TrackReader implements AudioFileReader {
  readonly path: string;
  readonly info: AudioStreamInfo;
  readonly #file: FileHandle;
  readonly #track: ContainerTrack;
  #closed = false;

  constructor(path: string, file: FileHandle, track: ContainerTrack) {
    this.path = path;
    this.info = track.info;
    this.#file = file;
    this.#track = track;
  }

  async *blocks(): AsyncGenerator<DecodedBlock> {
    if (this.#closed) throw closedError(this.path);
    let frames = 0;
    for await (const block of this.#track.blocks()) {
      if (this.#closed) throw closedError(this.path);
      frames += block[0]!.length;
      yield block;
    }
    if (frames === 0) throw new DemucsError('ERR_AUDIO_EMPTY', `${this.path}: the audio track holds no frames`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#track.dispose();
    await this.#file.close();
  }
}

// #endregion

// #region ffmpeg

/** Resolved ffmpeg lookups: a binary name → whether `<name> -version` runs. */
const ffmpegChecks = new Map<string, Promise<boolean>>();

/**
 * Whether an ffmpeg binary runs, checked once per name.
 *
 * @param command - the binary's name or path.
 * @returns `command` when `command -version` exits with 0, else `undefined`.
 */
async function findFfmpeg(command: string): Promise<string | undefined> {
  let check = ffmpegChecks.get(command);
  if (check === undefined) {
    check = new Promise<boolean>((resolve) => {
      const child = spawn(command, ['-version'], { stdio: 'ignore' });
      child.on('error', () => resolve(false));
      child.on('close', (code) => resolve(code === 0));
    });
    ffmpegChecks.set(command, check);
  }
  return (await check) ? command : undefined;
}

/** Bytes of ffmpeg's stderr kept for the error message. */
const STDERR_KEEP = 4096;

class FfmpegReader implements AudioFileReader {
  readonly path: string;
  readonly info: AudioStreamInfo;
  readonly #file: FileHandle;
  readonly #ffmpeg: string;
  readonly #blockFrames: number;
  readonly #children = new Set<ReturnType<typeof spawn>>();
  #closed = false;

  constructor(path: string, file: FileHandle, info: AudioStreamInfo, ffmpeg: string, blockFrames: number) {
    this.path = path;
    this.info = info;
    this.#file = file;
    this.#ffmpeg = ffmpeg;
    this.#blockFrames = blockFrames;
  }

  async *blocks(): AsyncGenerator<DecodedBlock> {
    if (this.#closed) throw closedError(this.path);
    const { channelCount, sampleRate } = this.info;
    // -xerror: stop at the first damaged frame instead of decoding around it.
    const args = ['-v', 'error', '-xerror', '-nostdin', '-i', this.path, '-map', '0:a:0', '-f', 'f32le', '-ac', String(channelCount), '-ar', String(sampleRate), '-'];
    const child = spawn(this.#ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#children.add(child);
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (stderr.length < STDERR_KEEP) stderr += s;
    });
    const exit = new Promise<{ code: number | null; error?: Error }>((resolve) => {
      child.on('error', (error) => resolve({ code: null, error }));
      child.on('close', (code) => resolve({ code }));
    });

    const frameBytes = 4 * channelCount;
    const blockBytes = this.#blockFrames * frameBytes;
    let pending = new Uint8Array(blockBytes);
    let fill = 0;
    let frames = 0;
    const emit = (bytes: Uint8Array): DecodedBlock => {
      const block = deinterleave(bytes, channelCount);
      checkFinite(block, frames, this.path);
      frames += block[0]!.length;
      return block;
    };
    try {
      for await (const data of child.stdout as AsyncIterable<Uint8Array>) {
        if (this.#closed) throw closedError(this.path);
        let i = 0;
        while (i < data.length) {
          const n = Math.min(blockBytes - fill, data.length - i);
          pending.set(data.subarray(i, i + n), fill);
          fill += n;
          i += n;
          if (fill === blockBytes) {
            const block = emit(pending);
            pending = new Uint8Array(blockBytes);
            fill = 0;
            yield block;
          }
        }
      }
      const { code, error } = await exit;
      if (error !== undefined || code !== 0) {
        const why = error !== undefined ? error.message : ffmpegMessage(stderr) || `exit code ${code}`;
        throw new DemucsError('ERR_AUDIO_FORMAT', `${this.path}: ffmpeg could not decode the ${this.info.codec} audio: ${why}`);
      }
      const whole = fill - (fill % frameBytes);
      if (whole > 0) yield emit(pending.subarray(0, whole));
      if (frames === 0) throw new DemucsError('ERR_AUDIO_EMPTY', `${this.path}: ffmpeg decoded no audio frames`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      this.#children.delete(child);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const child of this.#children) child.kill('SIGKILL');
    this.#children.clear();
    await this.#file.close();
  }
}

/**
 * The last lines of ffmpeg's stderr, without the `[aac @ 0x55d0c8f0]` context prefixes.
 *
 * @param stderr - what ffmpeg printed at `-v error`.
 * @returns up to three lines joined with `; `.
 */
function ffmpegMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.replace(/\[[^\]]* @ 0x[0-9a-f]+\]\s*/g, '').trim())
    .filter((line) => line !== '');
  return lines.slice(-3).join('; ');
}

/** Interleaved little-endian float32 bytes (ffmpeg's `f32le`) → planar channels. */
function deinterleave(bytes: Uint8Array, channelCount: number): Float32Array[] {
  const frames = Math.floor(bytes.length / (4 * channelCount));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: channelCount }, (_, c) => {
    const out = new Float32Array(frames);
    const stride = 4 * channelCount;
    for (let f = 0, p = 4 * c; f < frames; f++, p += stride) out[f] = view.getFloat32(p, true);
    return out;
  });
}

// #endregion
