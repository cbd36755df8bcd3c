/**
 * MPEG audio (MP1/MP2/MP3) and ADTS (AAC) frame headers, ID3v2 tags and the Xing/Info +
 * LAME header: just enough to recognise a stream, report its format and its gapless length
 * before decoding. No Node-only APIs.
 *
 * @see http://www.mp3-tech.org/programmer/frame_header.html (frame header)
 * @see https://wiki.multimedia.cx/index.php/ADTS (ADTS header)
 * @see http://gabriel.mp3-tech.org/mp3infotag.html (Xing/Info and LAME tag)
 */

/** An MPEG-1/2/2.5 layer I/II/III frame header. */
export interface MpegFrameHeader {
  /** MPEG version: 1, 2 or 2.5. */
  readonly version: 1 | 2 | 2.5;
  /** Layer: 1, 2 or 3 (MP3). */
  readonly layer: 1 | 2 | 3;
  /** Bit rate in kbit/s. */
  readonly bitrate: number;
  /** Samples per second, in Hz. */
  readonly sampleRate: number;
  /** 1 for the mono channel mode, else 2. */
  readonly channelCount: 1 | 2;
  /** Samples per channel in one frame: 384, 576 or 1152. */
  readonly samplesPerFrame: number;
  /** Bytes of the whole frame, header included. */
  readonly frameLength: number;
  /** Whether a 16-bit CRC follows the header. */
  readonly protected: boolean;
}

// Bit rates in kbit/s by index 1–14 (0 is "free format", 15 is invalid).
const BITRATES_V1: readonly (readonly number[])[] = [
  [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448], // layer I
  [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384], // layer II
  [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320], // layer III
];
const BITRATES_V2: readonly (readonly number[])[] = [
  [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256], // layer I
  [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160], // layers II and III
  [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];
const SAMPLE_RATES_V1 = [44100, 48000, 32000];

/**
 * Parses the 4-byte MPEG audio frame header at `offset`.
 *
 * @remarks
 * Free-format frames (bit-rate index 0) are not recognised: their length cannot be computed
 * from the header, and they are rare.
 *
 * @param bytes - the bytes.
 * @param offset - where the header would start.
 * @returns the header, or `undefined` when the bytes there are not a valid header.
 */
export function parseMpegFrameHeader(bytes: Uint8Array, offset: number): MpegFrameHeader | undefined {
  if (offset < 0 || offset + 4 > bytes.length) return undefined;
  const b1 = bytes[offset + 1]!;
  const b2 = bytes[offset + 2]!;
  const b3 = bytes[offset + 3]!;
  if (bytes[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const versionBits = (b1 >> 3) & 3; // 0: 2.5, 1: reserved, 2: 2, 3: 1
  const layerBits = (b1 >> 1) & 3; // 0: reserved (ADTS uses it), 1: III, 2: II, 3: I
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) {
    return undefined;
  }
  const version = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 2.5;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const bitrate = (version === 1 ? BITRATES_V1 : BITRATES_V2)[layer - 1]![bitrateIndex - 1]!;
  const sampleRate = SAMPLE_RATES_V1[rateIndex]! / (version === 1 ? 1 : version === 2 ? 2 : 4);
  const padding = (b2 >> 1) & 1;
  const samplesPerFrame = layer === 1 ? 384 : layer === 2 || version === 1 ? 1152 : 576;
  // bytes = samples/8 × bit rate / sample rate, in slots of 4 bytes for layer I.
  const frameLength =
    layer === 1
      ? (Math.floor((12 * bitrate * 1000) / sampleRate) + padding) * 4
      : Math.floor(((samplesPerFrame / 8) * bitrate * 1000) / sampleRate) + padding;
  return {
    version,
    layer,
    bitrate,
    sampleRate,
    channelCount: b3 >> 6 === 3 ? 1 : 2,
    samplesPerFrame,
    frameLength,
    protected: (b1 & 1) === 0,
  };
}

/** An ADTS (raw AAC) frame header. */
export interface AdtsFrameHeader {
  /** Samples per second, in Hz (of the AAC core; SBR may double it). */
  readonly sampleRate: number;
  /** Channels from the channel configuration (0 means "in the stream": reported as 0). */
  readonly channelCount: number;
  /** Bytes of the whole frame, header included. */
  readonly frameLength: number;
}

const ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/**
 * Parses the 7-byte ADTS header at `offset`.
 *
 * @param bytes - the bytes.
 * @param offset - where the header would start.
 * @returns the header, or `undefined` when the bytes there are not a valid ADTS header.
 */
export function parseAdtsHeader(bytes: Uint8Array, offset: number): AdtsFrameHeader | undefined {
  if (offset < 0 || offset + 7 > bytes.length) return undefined;
  const b1 = bytes[offset + 1]!;
  // 12-bit sync, then the ID bit (MPEG-4/2), and layer bits that are always 00.
  if (bytes[offset] !== 0xff || (b1 & 0xf6) !== 0xf0) return undefined;
  const b2 = bytes[offset + 2]!;
  const b3 = bytes[offset + 3]!;
  const rateIndex = (b2 >> 2) & 15;
  const sampleRate = ADTS_RATES[rateIndex];
  if (sampleRate === undefined) return undefined;
  const channelCount = ((b2 & 1) << 2) | (b3 >> 6);
  const frameLength = ((b3 & 3) << 11) | (bytes[offset + 4]! << 3) | (bytes[offset + 5]! >> 5);
  if (frameLength < 7) return undefined;
  return { sampleRate, channelCount, frameLength };
}

/**
 * Size in bytes of the ID3v2 tag at `offset` (header, body and footer), or 0 when there is
 * none. Consecutive tags are not followed; call again at the returned end.
 *
 * @param bytes - the bytes.
 * @param offset - where a tag would start.
 * @returns the tag's size, 0 when the bytes there are not an ID3v2 header.
 */
export function id3v2Size(bytes: Uint8Array, offset = 0): number {
  if (offset + 10 > bytes.length) return 0;
  if (bytes[offset] !== 0x49 || bytes[offset + 1] !== 0x44 || bytes[offset + 2] !== 0x33) return 0; // "ID3"
  const major = bytes[offset + 3]!;
  if (major === 0xff || bytes[offset + 4] === 0xff) return 0;
  let size = 0;
  for (let i = 6; i < 10; i++) {
    const b = bytes[offset + i]!;
    if (b & 0x80) return 0; // sizes are "syncsafe": 7 bits per byte
    size = (size << 7) | b;
  }
  const footer = major >= 4 && (bytes[offset + 5]! & 0x10) !== 0 ? 10 : 0;
  return 10 + size + footer;
}

/**
 * Offset of the first byte after the ID3v2 tags at the start of `bytes` (0 when there are
 * none). The result can be past the end of `bytes` when a tag is longer than them.
 *
 * @param bytes - the start of a file.
 * @returns where the audio data starts.
 */
export function skipId3v2(bytes: Uint8Array): number {
  let offset = 0;
  for (let size = id3v2Size(bytes, 0); size > 0; size = id3v2Size(bytes, offset)) offset += size;
  return offset;
}

/** Whether two frame headers belong to the same stream (same version, layer and rate). */
function sameStream(a: MpegFrameHeader, b: MpegFrameHeader): boolean {
  return a.version === b.version && a.layer === b.layer && a.sampleRate === b.sampleRate;
}

/**
 * Finds the first MPEG audio frame at or after `from`: a valid header whose successor, when
 * it lies within `bytes`, is also a valid header of the same stream.
 *
 * @remarks
 * Requiring the next frame to chain is what keeps random bytes that happen to start with
 * the 11-bit sync from being taken for audio.
 *
 * @param bytes - the bytes to search.
 * @param from - where to start.
 * @param maxScan - how many bytes past `from` a frame may start.
 * @returns the offset and header, or `undefined` when none is found.
 */
export function findMpegFrame(
  bytes: Uint8Array,
  from: number,
  maxScan: number,
): { readonly offset: number; readonly header: MpegFrameHeader } | undefined {
  const end = Math.min(bytes.length - 4, from + maxScan);
  for (let o = from; o <= end; o++) {
    if (bytes[o] !== 0xff) continue;
    const header = parseMpegFrameHeader(bytes, o);
    if (header === undefined) continue;
    const next = o + header.frameLength;
    if (next + 4 <= bytes.length) {
      const following = parseMpegFrameHeader(bytes, next);
      if (following === undefined || !sameStream(header, following)) continue;
    }
    return { offset: o, header };
  }
  return undefined;
}

/** What a Xing/Info (and LAME) header in the first frame says about the stream. */
export interface XingInfo {
  /** `"Xing"` (variable bit rate) or `"Info"` (constant bit rate). */
  readonly tag: 'Xing' | 'Info';
  /** Audio frames in the stream, the Xing frame itself excluded, when stated. */
  readonly frames?: number;
  /** Encoder delay in samples from the LAME tag (silence the encoder put in front). */
  readonly delay?: number;
  /** Padding in samples from the LAME tag (added to fill the last frame). */
  readonly padding?: number;
}

/**
 * Reads the Xing/Info header (and the LAME tag's delay and padding after it) in the frame at
 * `offset`.
 *
 * @remarks
 * The delay and padding are read whenever the frame is long enough to hold a LAME tag,
 * whatever its encoder string says: that is what mpg123 does (checked by changing the
 * string of an ffmpeg-written file: mpg123 still trims it), and this reader must predict
 * mpg123's output length.
 *
 * @param bytes - the bytes.
 * @param offset - where the frame starts.
 * @param header - the frame's header.
 * @returns the header's fields, or `undefined` when the frame holds no Xing/Info header.
 */
export function parseXing(bytes: Uint8Array, offset: number, header: MpegFrameHeader): XingInfo | undefined {
  if (header.layer !== 3) return undefined;
  // The header sits after the side information: 17/32 bytes (MPEG-1 mono/stereo), 9/17 (MPEG-2/2.5).
  const sideInfo = header.version === 1 ? (header.channelCount === 1 ? 17 : 32) : header.channelCount === 1 ? 9 : 17;
  let p = offset + 4 + (header.protected ? 2 : 0) + sideInfo;
  const frameEnd = Math.min(bytes.length, offset + header.frameLength);
  if (p + 8 > frameEnd) return undefined;
  const tag = String.fromCharCode(bytes[p]!, bytes[p + 1]!, bytes[p + 2]!, bytes[p + 3]!);
  if (tag !== 'Xing' && tag !== 'Info') return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = view.getUint32(p + 4);
  p += 8;
  let frames: number | undefined;
  if (flags & 1) {
    if (p + 4 > frameEnd) return { tag };
    frames = view.getUint32(p);
    p += 4;
  }
  if (flags & 2) p += 4; // byte count
  if (flags & 4) p += 100; // seek table
  if (flags & 8) p += 4; // quality
  // LAME tag: encoder string (9), revision (1), low-pass (1), replay gain (8), flags (1),
  // bit rate (1), then delay and padding as two 12-bit numbers.
  if (p + 24 > frameEnd) return frames === undefined ? { tag } : { tag, frames };
  const d0 = bytes[p + 21]!;
  const d1 = bytes[p + 22]!;
  const d2 = bytes[p + 23]!;
  const delay = (d0 << 4) | (d1 >> 4);
  const padding = ((d1 & 0x0f) << 8) | d2;
  return frames === undefined ? { tag, delay, padding } : { tag, frames, delay, padding };
}
