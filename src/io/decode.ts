/**
 * Decoding compressed audio (MP3, FLAC, Ogg Vorbis, Ogg Opus, Ogg FLAC; M4A/AAC where the
 * runtime can) into planar float32, in Node, browsers and workers alike.
 *
 * - {@link createStreamingDecoder} decodes a stream fed in chunks of any size, so a file or
 *   a download never has to be held whole.
 * - {@link decodeAudio} decodes a whole file in memory (WAV included), for browsers.
 *
 * The WebAssembly decoders (`mpg123-decoder`, `@wasm-audio-decoders/flac`,
 * `@wasm-audio-decoders/ogg-vorbis`, `ogg-opus-decoder`) and `mediabunny` are loaded with a
 * dynamic `import()` the first time a file of their kind is decoded, so WAV-only use never
 * loads them.
 */
import { frameCount, type PlanarAudio } from '../core/audio.js';
import { DemucsError, describeValue } from '../core/errors.js';
import { isUint8Array } from '../core/typed-arrays.js';
import { findTruncatedBox, openContainerTrack, type TruncatedBox } from './mediabunny-track.js';
import { findMpegFrame, parseXing, skipId3v2 } from './mpeg-audio.js';
import { lastOggPage, OggPageWalker, parseFlacStreamInfo, parseOggIdentification, parseOggPage } from './ogg.js';
import { AUDIO_CONTAINER_NAMES, SNIFF_BYTES, sniffAudioFormat, type AudioContainer } from './sniff.js';
import { decodeWav, findNonFinite } from './wav.js';

// #region Types

/** What a decoder knows about a stream before decoding it. */
export interface AudioStreamInfo {
  /** The kind of file, from its first bytes. */
  readonly container: AudioContainer;
  /**
   * The codec: `'mp3'` (or `'mp2'`, `'mp1'`), `'flac'`, `'vorbis'`, `'opus'`, `'aac'`, …;
   * for WAV `'pcm-u8'`, `'pcm-s16'`, `'pcm-s24'`, `'pcm-s32'`, `'pcm-f32'` or `'pcm-f64'`;
   * `'unknown'` for a codec in an MP4 file that mediabunny does not name (such as ALAC).
   */
  readonly codec: string;
  /** Samples per second of the decoded output, in Hz (always 48000 for Opus). */
  readonly sampleRate: number;
  /** Channels of the decoded output: the file's own channels, never up- or down-mixed. */
  readonly channelCount: number;
  /**
   * Frames (samples per channel) the decoded output will have, when the file states it up
   * front: WAV (exact); FLAC when STREAMINFO holds a total; MP3 with a Xing/Info header
   * (frames × samples per frame, minus the LAME tag's delay and padding when present);
   * Ogg when the end of the file was available (granule position of the last page, minus the
   * Opus pre-skip). Otherwise absent.
   */
  readonly frames?: number;
}

/**
 * One block of decoded audio: one `Float32Array` per channel of the stream, equal lengths
 * (0 when the bytes fed held no whole frame yet). Each array is new and owned by the caller.
 */
export type DecodedBlock = readonly Float32Array[];

/**
 * Decodes one stream fed as consecutive chunks of its bytes, from its first byte on.
 *
 * @remarks
 * Checks, and the {@link DemucsError} each gives (messages name the stream when a `name`
 * was given):
 * - any frame the codec reports as damaged: `ERR_AUDIO_FORMAT` at once (a damaged file is
 *   refused rather than decoded with gaps or noise; see {@link createStreamingDecoder});
 * - a NaN or infinite sample: `ERR_NON_FINITE`;
 * - at {@link StreamingAudioDecoder.flush}: fewer frames than the header declared, or an
 *   Ogg stream cut inside a page or without its end-of-stream page: `ERR_AUDIO_TRUNCATED`;
 *   bytes outside Ogg pages: `ERR_AUDIO_FORMAT`; no frames at all: `ERR_AUDIO_EMPTY`.
 *
 * Blocks returned before an error are valid audio, but the stream as a whole is not: treat
 * an error from any call as the failure of the whole decode.
 */
export interface StreamingAudioDecoder {
  /** The stream's format, known from its headers. */
  readonly info: AudioStreamInfo;
  /**
   * Decodes the next bytes.
   *
   * @param chunk - the next bytes of the stream (any size; not retained after the call).
   * @returns the audio they complete, possibly 0 frames.
   * @throws A {@link DemucsError} as described on {@link StreamingAudioDecoder}.
   */
  decode(chunk: Uint8Array): Promise<DecodedBlock>;
  /**
   * Ends the stream: decodes what is buffered and checks that the stream was complete.
   *
   * @returns the last audio, possibly 0 frames.
   * @throws A {@link DemucsError} as described on {@link StreamingAudioDecoder}.
   */
  flush(): Promise<DecodedBlock>;
  /** Releases the decoder's WebAssembly memory. Safe to call more than once; call it in a `finally`. */
  free(): void;
}

/** Options of {@link createStreamingDecoder}. */
export interface StreamingDecoderOptions {
  /**
   * The last bytes of the file (64 KiB is enough), when available: for Ogg they give the
   * frame count up front ({@link AudioStreamInfo.frames}).
   */
  readonly tail?: Uint8Array;
  /** A name for the stream (a path or URL), put in front of every error message. */
  readonly name?: string;
}

/** Planar float32 audio decoded from a file, with what the file was. */
export interface DecodedAudio extends PlanarAudio {
  /** The file's format; `frames` is the decoded length here. */
  readonly info: AudioStreamInfo;
}

/** Options of {@link decodeAudio}. */
export interface DecodeAudioOptions {
  /** A name for the file (a path or URL), put in front of every error message. */
  readonly name?: string;
}

// #endregion

// #region Messages

/**
 * `"name: "` or nothing.
 *
 * @internal
 */
export function prefix(name: string | undefined): string {
  return name === undefined || name === '' ? '' : `${name}: `;
}

const SUPPORTED_LIST = 'WAV, MP3, FLAC, Ogg Vorbis, Ogg Opus, Ogg FLAC, and M4A/AAC where a decoder is available';

/**
 * What the first bytes look like, for an error message: quoted text or hex bytes.
 *
 * @internal
 */
export function describeHead(head: Uint8Array): string {
  const sample = head.subarray(0, 32);
  let text = true;
  for (const b of sample) {
    if (!(b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f) || b >= 0x80)) text = false;
  }
  if (text && sample.length > 0) {
    const s = new TextDecoder('utf-8', { fatal: false }).decode(sample).replace(/\s+/g, ' ');
    if (!s.includes('\uFFFD') || sample.every((b) => b < 0x80)) return `text ${JSON.stringify(s)}`;
  }
  const hex = Array.from(head.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `bytes ${hex}`;
}

/**
 * The error for bytes that are not a supported kind of audio file.
 *
 * @param container - what {@link sniffAudioFormat} found, `undefined` for nothing.
 * @param head - the first bytes.
 * @param name - the file's name, for the message.
 * @returns a {@link DemucsError} with code `ERR_AUDIO_FORMAT`.
 *
 * @internal
 */
export function unsupportedFormatError(container: AudioContainer | undefined, head: Uint8Array, name?: string): DemucsError {
  if (container === undefined) {
    return new DemucsError(
      'ERR_AUDIO_FORMAT',
      `${prefix(name)}not a recognised audio file: it starts with ${describeHead(head)} (supported: ${SUPPORTED_LIST})`,
    );
  }
  return new DemucsError(
    'ERR_AUDIO_FORMAT',
    `${prefix(name)}${AUDIO_CONTAINER_NAMES[container]} files are not supported; convert to WAV or FLAC ` +
      `(for example \`ffmpeg -i in out.wav\`). Supported: ${SUPPORTED_LIST}`,
  );
}

/**
 * The error for an MP4/ADTS track whose codec this runtime cannot decode.
 *
 * @internal
 */
export function missingCodecError(info: AudioStreamInfo, hint: string, name?: string): DemucsError {
  const codec = info.codec === 'unknown' ? 'an unknown codec' : `codec '${info.codec}'`;
  return new DemucsError(
    'ERR_AUDIO_CODEC',
    `${prefix(name)}${AUDIO_CONTAINER_NAMES[info.container]} audio in ${codec} cannot be decoded here: ${hint}; ` +
      `or convert the file to WAV, FLAC, MP3 or Ogg (for example \`ffmpeg -i in out.flac\`)`,
  );
}

/**
 * The error for an MP4 file whose top-level box runs past its end.
 *
 * @internal
 */
export function truncatedBoxError(box: TruncatedBox, fileSize: number, name?: string): DemucsError {
  return new DemucsError(
    'ERR_AUDIO_TRUNCATED',
    `${prefix(name)}the MP4 box ${JSON.stringify(box.type)} at byte ${box.offset} declares ${box.size} bytes, ` +
      `but the file ends after ${fileSize}: the file is cut short`,
  );
}

// #endregion

// #region Probing

/** The containers {@link createStreamingDecoder} decodes. */
const STREAMING: ReadonlySet<AudioContainer> = new Set(['mp3', 'flac', 'ogg-vorbis', 'ogg-opus', 'ogg-flac']);

/**
 * Whether {@link createStreamingDecoder} can decode a kind of file.
 *
 * @param container - the kind of file.
 * @returns true for MP3, FLAC, Ogg Vorbis, Ogg Opus and Ogg FLAC.
 *
 * @internal
 */
export function isStreamingContainer(container: AudioContainer | undefined): boolean {
  return container !== undefined && STREAMING.has(container);
}

/** What the headers of a stream say, and what to check at its end. */
interface Probe {
  readonly info: AudioStreamInfo;
  /** Leading bytes to drop before the decoder (an ID3v2 tag in front of FLAC). */
  readonly skip: number;
  /** The frames the header declares, checked at the end: fewer means truncated. */
  readonly declared?: { readonly frames: number; readonly what: string };
  /** Whether to follow Ogg pages. */
  readonly ogg: boolean;
  /** FLAC: bits per sample, for the output scale (see {@link flacScale}). */
  readonly bitsPerSample?: number;
}

function withFrames(info: Omit<AudioStreamInfo, 'frames'>, frames: number | undefined): AudioStreamInfo {
  return frames === undefined ? info : { ...info, frames };
}

function probeMp3(head: Uint8Array, at: string): Probe {
  const start = skipId3v2(head);
  if (start > head.length) {
    throw new DemucsError(
      'ERR_AUDIO_TRUNCATED',
      `${at}the ID3v2 tag declares ${start} bytes but the data ends after ${head.length} bytes`,
    );
  }
  if (start > 0 && start + 4 > head.length) {
    throw new DemucsError('ERR_AUDIO_EMPTY', `${at}the file holds an ID3v2 tag (${start} bytes) but no MPEG audio frames`);
  }
  const found = findMpegFrame(head, start, head.length);
  if (found === undefined) {
    const where = start > 0 ? ` after the ${start}-byte ID3v2 tag` : '';
    throw new DemucsError(
      'ERR_AUDIO_FORMAT',
      `${at}no MPEG audio frame found in the ${head.length - start} bytes${where}: the file is corrupt or not an MP3`,
    );
  }
  const { header, offset } = found;
  const codec = header.layer === 3 ? 'mp3' : header.layer === 2 ? 'mp2' : 'mp1';
  const xing = parseXing(head, offset, header);
  let declared: Probe['declared'];
  if (xing?.frames !== undefined) {
    const trimmed = (xing.delay ?? 0) + (xing.padding ?? 0);
    const frames = Math.max(0, xing.frames * header.samplesPerFrame - trimmed);
    if (frames === 0) throw new DemucsError('ERR_AUDIO_EMPTY', `${at}the MP3's ${xing.tag} header declares no audio frames`);
    const what = `its ${xing.tag} header declares (${xing.frames} frames × ${header.samplesPerFrame}` +
      (xing.delay === undefined ? ')' : ` − ${xing.delay} delay − ${xing.padding} padding)`);
    declared = { frames, what };
  }
  const info = withFrames({ container: 'mp3', codec, sampleRate: header.sampleRate, channelCount: header.channelCount }, declared?.frames);
  return declared === undefined ? { info, skip: 0, ogg: false } : { info, skip: 0, declared, ogg: false };
}

function probeFlac(head: Uint8Array, at: string): Probe {
  const start = skipId3v2(head);
  if (head.length < start + 42) {
    throw new DemucsError(
      'ERR_AUDIO_TRUNCATED',
      `${at}a FLAC header needs ${start + 42} bytes, but only ${head.length} are present`,
    );
  }
  const streamInfo = parseFlacStreamInfo(head, start + 4);
  if (streamInfo === undefined) {
    throw new DemucsError('ERR_AUDIO_FORMAT', `${at}the FLAC STREAMINFO block is missing or invalid: the file is corrupt`);
  }
  const total = streamInfo.totalSamples > 0 ? streamInfo.totalSamples : undefined;
  const info = withFrames(
    { container: 'flac', codec: 'flac', sampleRate: streamInfo.sampleRate, channelCount: streamInfo.channelCount },
    total,
  );
  const { bitsPerSample } = streamInfo;
  return total === undefined
    ? { info, skip: start, ogg: false, bitsPerSample }
    : { info, skip: start, declared: { frames: total, what: 'its STREAMINFO declares' }, ogg: false, bitsPerSample };
}

function probeOgg(head: Uint8Array, container: AudioContainer, tail: Uint8Array | undefined, at: string): Probe {
  const id = parseOggIdentification(head);
  if (id === undefined) {
    throw new DemucsError(
      head.length < 58 ? 'ERR_AUDIO_TRUNCATED' : 'ERR_AUDIO_FORMAT',
      `${at}the first Ogg page is incomplete or invalid (${head.length} bytes present)`,
    );
  }
  if (!id.valid) {
    throw new DemucsError('ERR_AUDIO_FORMAT', `${at}the Ogg ${id.codec} identification header is invalid: the file is corrupt`);
  }
  if (container === 'ogg' || (id.codec !== 'vorbis' && id.codec !== 'opus' && id.codec !== 'flac')) {
    const codec = id.codec === 'unknown' ? 'an unknown codec' : id.codec === 'speex' ? 'Speex' : 'Theora (video)';
    throw new DemucsError(
      'ERR_AUDIO_CODEC',
      `${at}Ogg stream in ${codec} cannot be decoded (supported in Ogg: Vorbis, Opus, FLAC); convert the file to FLAC or WAV`,
    );
  }
  let frames: number | undefined;
  const first = parseOggPage(head, 0)!;
  const last = tail === undefined ? undefined : lastOggPage(tail);
  if (last !== undefined && last.serial === first.serial && last.granule >= 0) {
    frames = Math.max(0, last.granule - (id.preSkip ?? 0));
  } else if (id.codec === 'flac' && id.totalSamples !== undefined && id.totalSamples > 0) {
    frames = id.totalSamples;
  }
  const info = withFrames({ container, codec: id.codec, sampleRate: id.sampleRate, channelCount: id.channelCount }, frames);
  return id.bitsPerSample === undefined ? { info, skip: 0, ogg: true } : { info, skip: 0, ogg: true, bitsPerSample: id.bitsPerSample };
}

function probe(head: Uint8Array, container: AudioContainer | undefined, tail: Uint8Array | undefined, name: string | undefined): Probe {
  const at = prefix(name);
  switch (container) {
    case 'mp3':
      return probeMp3(head, at);
    case 'flac':
      return probeFlac(head, at);
    case 'ogg-vorbis':
    case 'ogg-opus':
    case 'ogg-flac':
    case 'ogg':
      return probeOgg(head, container, tail, at);
    default:
      throw unsupportedFormatError(container, head, name);
  }
}

// #endregion

// #region Library decoders

/** What every wasm-audio-decoders decoder returns. */
interface LibDecoded {
  readonly channelData: Float32Array[];
  readonly samplesDecoded: number;
  readonly sampleRate: number;
  readonly errors: readonly { readonly message: string }[];
}

/** The shape shared by the wasm-audio-decoders classes. */
interface LibDecoder {
  readonly ready: Promise<void>;
  decode(chunk: Uint8Array): LibDecoded | Promise<LibDecoded>;
  flush?(): Promise<LibDecoded>;
  free(): void;
}

/**
 * The factor that turns @wasm-audio-decoders/flac output into `integer / 2^(bits−1)`, the
 * scale of `decodeWav`, ffmpeg and libsndfile.
 *
 * NOTE: that decoder divides by 2^(bits−1) − 1 (measured: 16-bit −12064 came out as
 * −12064 / 32767), so a FLAC and a WAV of the same samples would differ by a gain of
 * 1.00003. Multiplying by 2^(bits−1) − 1 and rounding recovers the integer exactly up to
 * 24 bits (the float32 rounding error is at most ¼ of a step there); 32-bit FLAC is only
 * rescaled.
 *
 * @param bits - bits per sample.
 * @returns the multiplier, and whether to round to the integer in between.
 */
function flacScale(bits: number): { readonly steps: number; readonly round: boolean } {
  return { steps: 2 ** (bits - 1) - 1, round: bits <= 24 };
}

function rescaleFlac(channels: readonly Float32Array[], bits: number): void {
  const { steps, round } = flacScale(bits);
  const scale = 1 / 2 ** (bits - 1);
  for (const ch of channels) {
    if (round) for (let i = 0; i < ch.length; i++) ch[i] = Math.round(ch[i]! * steps) * scale;
    else for (let i = 0; i < ch.length; i++) ch[i] = ch[i]! * steps * scale;
  }
}

/** Live decoders, for tests that check every path frees its decoder. @internal */
export const decoderStats = { live: 0 };

async function createLibDecoder(codec: string): Promise<LibDecoder> {
  // Each import is its own chunk for bundlers, loaded on first use.
  switch (codec) {
    case 'mp3':
    case 'mp2':
    case 'mp1': {
      const { MPEGDecoder } = await import('mpg123-decoder');
      // Gapless (the default, made explicit): the LAME tag's delay and padding are trimmed.
      return new MPEGDecoder({ enableGapless: true }) as unknown as LibDecoder;
    }
    case 'flac': {
      const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
      return new FLACDecoder() as unknown as LibDecoder;
    }
    case 'vorbis': {
      const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis');
      return new OggVorbisDecoder() as unknown as LibDecoder;
    }
    case 'opus': {
      const { OggOpusDecoder } = await import('ogg-opus-decoder');
      return new OggOpusDecoder() as unknown as LibDecoder;
    }
    default:
      throw new Error(`no streaming decoder for codec ${describeValue(codec)}`);
  }
}

/**
 * Runs `fn` with `console.error` silenced for its synchronous part.
 *
 * NOTE: mpg123-decoder and @wasm-audio-decoders/flac print every damaged frame with
 * `console.error` as well as returning it in `errors`; this library turns the first such
 * error into a DemucsError, so the prints would only duplicate it, dozens of times for a
 * damaged file. Their decode work is synchronous, and nothing else can run while it does,
 * so only their own output is dropped. (ogg-opus-decoder prints from after an `await`, out
 * of reach; it prints one line per damaged packet.)
 */
function quietly<T>(fn: () => T): T {
  const original = console.error;
  console.error = () => {};
  try {
    return fn();
  } finally {
    console.error = original;
  }
}

class StreamingDecoderImpl implements StreamingAudioDecoder {
  readonly info: AudioStreamInfo;
  readonly #lib: LibDecoder;
  readonly #probe: Probe;
  readonly #at: string;
  readonly #walker: OggPageWalker | undefined;
  #skip: number;
  #frames = 0;
  #freed = false;
  #ended = false;

  constructor(lib: LibDecoder, probed: Probe, at: string) {
    this.#lib = lib;
    this.#probe = probed;
    this.info = probed.info;
    this.#at = at;
    this.#skip = probed.skip;
    this.#walker = probed.ogg ? new OggPageWalker() : undefined;
    decoderStats.live++;
  }

  async decode(chunk: Uint8Array): Promise<DecodedBlock> {
    if (!isUint8Array(chunk)) throw new TypeError(`chunk must be a Uint8Array (got ${describeValue(chunk)})`);
    this.#checkUsable();
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, chunk.length);
      this.#skip -= n;
      chunk = chunk.subarray(n);
    }
    if (chunk.length === 0) return this.#empty();
    const walker = this.#walker;
    if (walker !== undefined) {
      // Checked before decoding: the decoders only ever see whole pages, and a damaged page
      // can decode to noise without an error.
      walker.push(chunk);
      if (walker.badPages > 0) {
        throw new DemucsError(
          'ERR_AUDIO_FORMAT',
          `${this.#at}Ogg page ${walker.firstBadPage} fails its CRC-32 check: the file is damaged`,
        );
      }
      if (walker.junkBytes > 0) {
        throw new DemucsError(
          'ERR_AUDIO_FORMAT',
          `${this.#at}${walker.junkBytes} bytes after Ogg page ${walker.pages - 1} are not part of any page: the file is damaged`,
        );
      }
    }
    const lib = this.#lib;
    return this.#accept(await quietly(() => lib.decode(chunk)));
  }

  async flush(): Promise<DecodedBlock> {
    this.#checkUsable();
    this.#ended = true;
    const at = this.#at;
    const codec = this.info.codec;
    const walker = this.#walker;
    if (walker !== undefined) {
      // Checked before the decoder flushes: a partial last page can decode to noise.
      if (!walker.atPageBoundary) {
        throw new DemucsError('ERR_AUDIO_TRUNCATED', `${at}the Ogg stream ends inside a page: the file is cut short`);
      }
    }
    const lib = this.#lib;
    const last = lib.flush === undefined ? this.#empty() : this.#accept(await quietly(() => lib.flush!()));
    if (this.#frames === 0) {
      throw new DemucsError('ERR_AUDIO_EMPTY', `${at}the ${codec.toUpperCase()} stream holds no audio frames`);
    }
    if (walker !== undefined && !walker.ended) {
      // ffmpeg writes no end-of-stream page for a stream with no audio, hence the check after the one above.
      throw new DemucsError(
        'ERR_AUDIO_TRUNCATED',
        `${at}the Ogg stream ends without its end-of-stream page (after ${walker.pages} pages): the file is cut short`,
      );
    }
    const declared = this.#probe.declared;
    if (declared !== undefined && this.#frames < declared.frames) {
      throw new DemucsError(
        'ERR_AUDIO_TRUNCATED',
        `${at}the ${codec.toUpperCase()} stream decoded to ${this.#frames} frames, fewer than the ${declared.frames} ` +
          `${declared.what}: the file is cut short (or damaged in a way the codec cannot detect)`,
      );
    }
    return last;
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    decoderStats.live--;
    this.#lib.free();
  }

  #checkUsable(): void {
    if (this.#freed) throw new Error('the decoder was freed');
    if (this.#ended) throw new Error('the decoder was flushed; create a new one for another stream');
  }

  #empty(): DecodedBlock {
    return Array.from({ length: this.info.channelCount }, () => new Float32Array(0));
  }

  /** Checks one library result and turns it into a block of the stream's own channels. */
  #accept(out: LibDecoded): DecodedBlock {
    const at = this.#at;
    const { codec, sampleRate, channelCount } = this.info;
    if (out.errors.length > 0) {
      const n = out.errors.length;
      throw new DemucsError(
        'ERR_AUDIO_FORMAT',
        `${at}the ${codec.toUpperCase()} stream is damaged: the decoder reported ${n} bad frame${n === 1 ? '' : 's'} ` +
          `(${JSON.stringify(out.errors[0]!.message.trim())}); a damaged file is refused rather than decoded with gaps`,
      );
    }
    const n = out.samplesDecoded;
    if (n === 0) return this.#empty();
    if (out.sampleRate !== sampleRate) {
      throw new DemucsError(
        'ERR_AUDIO_FORMAT',
        `${at}the stream changes sample rate from ${sampleRate} to ${out.sampleRate} Hz after ${this.#frames} frames; not supported`,
      );
    }
    // mpg123-decoder always returns two channels: a mono MP3 comes out duplicated.
    const channels = out.channelData.slice(0, channelCount);
    if (channels.length !== channelCount || channels.some((c) => c.length !== n)) {
      throw new DemucsError(
        'ERR_AUDIO_FORMAT',
        `${at}the decoder returned ${out.channelData.length} channels of ${n} frames for a ${channelCount}-channel stream`,
      );
    }
    if (codec === 'flac' && this.#probe.bitsPerSample !== undefined) rescaleFlac(channels, this.#probe.bitsPerSample);
    const bad = findNonFinite(channels);
    if (bad !== null) {
      throw new DemucsError(
        'ERR_NON_FINITE',
        `${at}sample ${this.#frames + bad.index} of channel ${bad.channel} is ${bad.value}; every sample must be finite`,
      );
    }
    this.#frames += n;
    return channels;
  }
}

// #endregion

// #region Public functions

/**
 * Creates a decoder for the MP3, FLAC, Ogg Vorbis, Ogg Opus or Ogg FLAC stream whose first
 * bytes are `head`, loading its WebAssembly decoder on first use.
 *
 * @remarks
 * `head` is only read, to recognise the stream and parse its headers; feed every byte of the
 * stream, `head` included, to {@link StreamingAudioDecoder.decode}.
 *
 * Decoders used, and what they do with the length:
 * - MP3: mpg123 (`mpg123-decoder`), gapless. With a LAME/Info tag (LAME, ffmpeg and most
 *   encoders write one) the encoder delay, the decoder delay (529 samples) and the end
 *   padding are trimmed, so the output has exactly the original length and alignment:
 *   measured equal to the source for ffmpeg/LAME CBR and VBR files. Without the tag the
 *   output is every frame whole (frames × 1152), starting 1105 samples late (LAME's 576 plus
 *   mpg123's 529), as with any decoder that lacks the information.
 * - FLAC (native and in Ogg): libFLAC; exact.
 * - Vorbis: libvorbis; trimmed to the last page's granule position; exact length.
 * - Opus: libopus at 48 kHz whatever the input rate was; the header's pre-skip is dropped
 *   and the end trimmed to the granule position; exact length at 48 kHz.
 *
 * Damaged data: a stream is refused (`ERR_AUDIO_FORMAT`) as soon as the decoder reports
 * any bad frame, rather than decoded with gaps or noise, since separating a damaged track
 * wastes minutes to produce damaged stems. Damage the codec cannot see (MP3 has no
 * checksums by default) is caught only where it shortens the stream below its header's
 * frame count.
 *
 * @param head - the first bytes of the stream: enough to hold its headers. 64 KiB
 *   ({@link SNIFF_BYTES}) always is, except for an MP3 whose ID3v2 tag is longer: then pass
 *   the bytes up to a few KiB past the tag.
 * @param options - the file's last bytes and a name for messages.
 * @returns the decoder, with {@link StreamingAudioDecoder.info} filled in.
 * @throws `TypeError` when `head` is not a `Uint8Array`.
 * @throws A {@link DemucsError}: `ERR_AUDIO_EMPTY` for no bytes or a header that declares no
 *   audio, `ERR_AUDIO_TRUNCATED` for headers cut short, `ERR_AUDIO_FORMAT` for damaged
 *   headers and for kinds of file this decoder does not stream (WAV and M4A included: use
 *   {@link decodeAudio} or `openAudioFile`), `ERR_AUDIO_CODEC` for Ogg streams in another
 *   codec (Speex).
 *
 * @example
 * ```ts
 * const response = await fetch('song.mp3');
 * const reader = response.body!.getReader();
 * let first = await reader.read();
 * const decoder = await createStreamingDecoder(first.value!, { name: 'song.mp3' });
 * try {
 *   for (let r = first; !r.done; r = await reader.read()) play(await decoder.decode(r.value));
 *   play(await decoder.flush());
 * } finally {
 *   decoder.free();
 * }
 * ```
 */
export async function createStreamingDecoder(
  head: Uint8Array,
  options: StreamingDecoderOptions = {},
): Promise<StreamingAudioDecoder> {
  if (!isUint8Array(head)) throw new TypeError(`head must be a Uint8Array (got ${describeValue(head)})`);
  const at = prefix(options.name);
  if (head.length === 0) throw new DemucsError('ERR_AUDIO_EMPTY', `${at}the audio data is empty (0 bytes)`);
  const container = sniffAudioFormat(head);
  if (container === 'wav' || container === 'mp4' || container === 'adts') {
    throw new DemucsError(
      'ERR_AUDIO_FORMAT',
      `${at}${AUDIO_CONTAINER_NAMES[container]} is not streamed by createStreamingDecoder; ` +
        'use decodeAudio, or openAudioFile in Node',
    );
  }
  if (!isStreamingContainer(container) && container !== 'ogg') throw unsupportedFormatError(container, head, options.name);
  const probed = probe(head, container, options.tail, options.name);
  const lib = await createLibDecoder(probed.info.codec);
  try {
    await lib.ready;
  } catch (e) {
    lib.free();
    throw e;
  }
  return new StreamingDecoderImpl(lib, probed, at);
}

/** Bytes fed to a streaming decoder at a time by {@link decodeAudio}. */
const FEED_BYTES = 64 * 1024;

/**
 * Decodes a whole audio file held in memory: WAV, MP3, FLAC, Ogg Vorbis, Ogg Opus, Ogg FLAC,
 * and M4A/MP4/ADTS where the runtime has a decoder for the codec.
 *
 * @remarks
 * The kind of file is found from its bytes ({@link sniffAudioFormat}), never its name.
 * WAV goes through `decodeWav`; the streaming formats through {@link createStreamingDecoder}
 * (see there for lengths and the damage rule); M4A/MP4 and raw AAC through mediabunny, which
 * decodes AAC with the WebCodecs `AudioDecoder` (browsers) and PCM itself. In Node there is
 * no AAC decoder: use `openAudioFile` from `demucs-mobile/node`, which runs ffmpeg.
 *
 * Memory is the encoded file plus the decoded audio; for long files in Node, prefer
 * `openAudioFile`, which reads and decodes in blocks.
 *
 * @param bytes - the whole file.
 * @param options - a name for messages.
 * @returns the channels, the sample rate and the stream info (with `frames` the decoded length).
 * @throws `TypeError` when `bytes` is not a `Uint8Array`.
 * @throws A {@link DemucsError}: `ERR_AUDIO_EMPTY` (no bytes, or no frames),
 *   `ERR_AUDIO_TRUNCATED` (cut short), `ERR_AUDIO_FORMAT` (not a supported kind of file,
 *   or damaged), `ERR_AUDIO_CODEC` (no decoder for the codec here), `ERR_NON_FINITE`
 *   (a NaN or infinite sample).
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array(await (await fetch('song.mp3')).arrayBuffer());
 * const { sampleRate, channels, info } = await decodeAudio(bytes, { name: 'song.mp3' });
 * info; // { container: 'mp3', codec: 'mp3', sampleRate: 44100, channelCount: 2, frames: 110250 }
 * ```
 */
export async function decodeAudio(bytes: Uint8Array, options: DecodeAudioOptions = {}): Promise<DecodedAudio> {
  if (!isUint8Array(bytes)) throw new TypeError(`bytes must be a Uint8Array (got ${describeValue(bytes)})`);
  const name = options.name;
  const at = prefix(name);
  if (bytes.length === 0) throw new DemucsError('ERR_AUDIO_EMPTY', `${at}the file is empty (0 bytes)`);
  const container = sniffAudioFormat(bytes);
  if (container === 'wav') return decodeWholeWav(bytes, at);
  if (container === 'mp4' || container === 'adts') return decodeWholeContainer(bytes, container, name);
  if (!isStreamingContainer(container) && container !== 'ogg') throw unsupportedFormatError(container, bytes, name);

  const decoder = await createStreamingDecoder(bytes, { tail: bytes.subarray(Math.max(0, bytes.length - SNIFF_BYTES)), ...(name === undefined ? {} : { name }) });
  try {
    const blocks: DecodedBlock[] = [];
    for (let o = 0; o < bytes.length; o += FEED_BYTES) blocks.push(await decoder.decode(bytes.subarray(o, o + FEED_BYTES)));
    blocks.push(await decoder.flush());
    const channels = concatBlocks(blocks, decoder.info.channelCount);
    return { sampleRate: decoder.info.sampleRate, channels, info: { ...decoder.info, frames: channels[0]!.length } };
  } finally {
    decoder.free();
  }
}

function decodeWholeWav(bytes: Uint8Array, at: string): DecodedAudio {
  let wav;
  try {
    wav = decodeWav(bytes);
  } catch (e) {
    if (e instanceof DemucsError && at !== '') throw new DemucsError(e.code, `${at}${e.message}`, { cause: e });
    throw e;
  }
  const bad = findNonFinite(wav.channels);
  if (bad !== null) {
    throw new DemucsError(
      'ERR_NON_FINITE',
      `${at}sample ${bad.index} of channel ${bad.channel} is ${bad.value}; every sample must be finite`,
    );
  }
  const { format } = wav;
  return {
    sampleRate: wav.sampleRate,
    channels: wav.channels,
    info: {
      container: 'wav',
      codec: wavCodec(format.encoding, format.bitsPerSample),
      sampleRate: format.sampleRate,
      channelCount: format.channelCount,
      frames: format.frames,
    },
  };
}

/**
 * The codec name of a WAV sample format, as mediabunny names them.
 *
 * @param encoding - integer or float.
 * @param bits - bits per sample.
 * @returns `'pcm-u8'`, `'pcm-s16'`, `'pcm-s24'`, `'pcm-s32'`, `'pcm-f32'` or `'pcm-f64'`.
 *
 * @internal
 */
export function wavCodec(encoding: 'pcm' | 'float', bits: number): string {
  if (encoding === 'float') return `pcm-f${bits}`;
  return bits === 8 ? 'pcm-u8' : `pcm-s${bits}`;
}

async function decodeWholeContainer(bytes: Uint8Array, container: 'mp4' | 'adts', name: string | undefined): Promise<DecodedAudio> {
  if (container === 'mp4') {
    const cut = findTruncatedBox((o, n) => bytes.subarray(o, o + n), bytes.length);
    if (cut !== undefined) throw truncatedBoxError(cut, bytes.length, name);
  }
  const track = await openContainerTrack(container, (mb) => new mb.BufferSource(bytes), name);
  try {
    if (!track.decodable) {
      throw missingCodecError(track.info, 'this runtime has no WebCodecs AudioDecoder for it (in Node, use `openAudioFile`, which runs ffmpeg when it is installed)', name);
    }
    const blocks: DecodedBlock[] = [];
    for await (const block of track.blocks()) blocks.push(block);
    const channels = concatBlocks(blocks, track.info.channelCount);
    if (channels[0]!.length === 0) throw new DemucsError('ERR_AUDIO_EMPTY', `${prefix(name)}the audio track holds no frames`);
    return { sampleRate: track.info.sampleRate, channels, info: { ...track.info, frames: channels[0]!.length } };
  } finally {
    track.dispose();
  }
}

/**
 * Joins blocks into one array per channel.
 *
 * @param blocks - blocks of `channelCount` channels each.
 * @param channelCount - channels per block.
 * @returns new arrays holding every block in order.
 *
 * @internal
 */
export function concatBlocks(blocks: readonly DecodedBlock[], channelCount: number): Float32Array[] {
  const total = blocks.reduce((n, b) => n + frameCount({ sampleRate: 0, channels: b }), 0);
  return Array.from({ length: channelCount }, (_, c) => {
    const out = new Float32Array(total);
    let o = 0;
    for (const b of blocks) {
      out.set(b[c]!, o);
      o += b[c]!.length;
    }
    return out;
  });
}

// #endregion
