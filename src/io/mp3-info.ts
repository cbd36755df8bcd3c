/**
 * The Xing "Info" frame with a LAME tag that starts a CBR MP3 file: frame count, byte count,
 * seek table and, in the LAME tag, the encoder delay and end padding, so that gapless decoders
 * (ffmpeg, mpg123, foobar2000, iTunes) trim them and return exactly the frames that were
 * encoded.
 *
 * mediabunny's own Xing frame (`Mp3OutputFormat({ xingHeader: true })`) carries no LAME tag,
 * so decoders then return 1105 extra leading samples (576 of LAME's encoder delay and 529 of
 * the decoder's) and up to a frame of trailing silence. We write this frame instead.
 *
 * @see https://wiki.hydrogenaud.io/index.php?title=LAME#VBR_header_and_LAME_tag (field layout)
 * @see http://gabriel.mp3-tech.org/mp3infotag.html (LAME tag rev 1)
 *
 * @internal
 * @packageDocumentation
 */

/** Samples of encoder delay LAME 3.100 puts before the signal (`ENCDELAY` in `encoder.h`). @internal */
export const LAME_ENCODER_DELAY = 576;

/** Layer III bitrates in kbps by bitrate index 1–14, for MPEG-1 (32, 44.1, 48 kHz). */
const MPEG1_KBPS = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320] as const;
/** Layer III bitrates in kbps by bitrate index 1–14, for MPEG-2 and 2.5 (the standard's table). */
const MPEG2_KBPS = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160] as const;

/** One MPEG audio version's sample rates (by frequency index) and header bits. */
interface MpegVersion {
  /** The 2-bit version field: 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5. */
  readonly id: number;
  /** Sample rates by the 2-bit frequency index. */
  readonly rates: readonly [number, number, number];
  /** Samples per Layer III frame. */
  readonly samplesPerFrame: number;
  /** Bytes per frame = `slotFactor · kbps · 1000 / rate` (+ padding). */
  readonly slotFactor: number;
}

const MPEG_VERSIONS: readonly MpegVersion[] = [
  { id: 3, rates: [44100, 48000, 32000], samplesPerFrame: 1152, slotFactor: 144 },
  { id: 2, rates: [22050, 24000, 16000], samplesPerFrame: 576, slotFactor: 72 },
  { id: 0, rates: [11025, 12000, 8000], samplesPerFrame: 576, slotFactor: 72 },
];

/** Where the Xing tag starts in a frame: after the 4-byte header and the side information. */
function xingOffset(mpeg1: boolean, mono: boolean): number {
  if (mpeg1) return mono ? 4 + 17 : 4 + 32;
  return mono ? 4 + 9 : 4 + 17;
}

/** Bytes of the Xing tag as LAME writes it: id, flags, frames, bytes, 100-byte TOC, quality. */
const XING_BYTES = 4 + 4 + 4 + 4 + 100 + 4;
/** Bytes of the LAME tag that follows it. */
const LAME_TAG_BYTES = 36;
/** Xing flags: frame count, byte count, TOC and quality fields present. */
const XING_FLAGS = 0x0f;

/** The MPEG version and frequency index of a sample rate, or undefined when MP3 has none. @internal */
export function mpegVersionOf(sampleRate: number): { version: MpegVersion; frequencyIndex: number } | undefined {
  for (const version of MPEG_VERSIONS) {
    const frequencyIndex = version.rates.indexOf(sampleRate);
    if (frequencyIndex >= 0) return { version, frequencyIndex };
  }
  return undefined;
}

/** Sample rates MP3 (MPEG-1, 2 and 2.5 Layer III) can hold, ascending. @internal */
export const MP3_RATES: readonly number[] = MPEG_VERSIONS.flatMap((v) => v.rates).sort((a, b) => a - b);

/**
 * CBR bitrates in kbps that LAME 3.100 encodes at a sample rate: the MPEG-1 table at 32 kHz and
 * above, the MPEG-2 table (8–160) at 16–24 kHz, and for MPEG-2.5 (8–12 kHz) LAME's own table,
 * which stops at 64.
 *
 * @internal
 */
export function lameBitrates(sampleRate: number): readonly number[] {
  const found = mpegVersionOf(sampleRate);
  if (found === undefined) return [];
  if (found.version.id === 3) return MPEG1_KBPS;
  if (found.version.id === 2) return MPEG2_KBPS;
  return MPEG2_KBPS.filter((k) => k <= 64);
}

function frameBytes(version: MpegVersion, kbps: number, sampleRate: number): number {
  return Math.floor((version.slotFactor * kbps * 1000) / sampleRate);
}

/** What the Info frame needs to know, fixed when encoding starts. @internal */
export interface Mp3InfoLayout {
  readonly sampleRate: number;
  readonly channelCount: number;
  /** Size of the Info frame in bytes: the audio frames start here. */
  readonly frameBytes: number;
  /** Bitrate index of the Info frame's header. */
  readonly bitrateIndex: number;
  /** Samples per frame of the stream. */
  readonly samplesPerFrame: number;
}

/**
 * Chooses the Info frame's size for a stream. It takes the stream's own bitrate, as LAME does
 * for CBR (players that read the first frame's bitrate then see the right one), unless that
 * frame is too small to hold the tags (below 64 kbps or so), then the smallest bitrate that is
 * large enough.
 *
 * @internal
 */
export function mp3InfoLayout(sampleRate: number, channelCount: number, kbps: number): Mp3InfoLayout {
  const found = mpegVersionOf(sampleRate);
  if (found === undefined) throw new RangeError(`sampleRate ${sampleRate} is not an MP3 sample rate`);
  const { version } = found;
  const table = version.id === 3 ? MPEG1_KBPS : MPEG2_KBPS;
  const needed = xingOffset(version.id === 3, channelCount === 1) + XING_BYTES + LAME_TAG_BYTES;
  let index = table.indexOf(kbps as never);
  if (index < 0 || frameBytes(version, kbps, sampleRate) < needed) {
    index = table.findIndex((k) => frameBytes(version, k, sampleRate) >= needed);
  }
  const chosen = table[index]!;
  return {
    sampleRate,
    channelCount,
    frameBytes: frameBytes(version, chosen, sampleRate),
    bitrateIndex: index + 1,
    samplesPerFrame: version.samplesPerFrame,
  };
}

/** The finished stream, as the Info frame describes it. @internal */
export interface Mp3InfoStream {
  /** Audio frames after the Info frame. */
  readonly audioFrames: number;
  /** Bytes of those audio frames. */
  readonly audioBytes: number;
  /** Frames (samples per channel) that were encoded. */
  readonly sampleFrames: number;
  /** CRC-16 of the audio frames' bytes ({@link crc16}). */
  readonly audioCrc: number;
  /** The first audio frame's 4-byte header, whose version, rate and mode fields are copied. */
  readonly firstHeader: number;
  /** The stream's bitrate in kbps, for the LAME tag. */
  readonly kbps: number;
}

/**
 * The Info frame for a finished stream.
 *
 * @throws RangeError when the end padding does not fit the tag's 12 bits (cannot happen with
 *   LAME's flush, which pads less than two frames).
 * @internal
 */
export function mp3InfoFrame(layout: Mp3InfoLayout, stream: Mp3InfoStream): Uint8Array {
  const out = new Uint8Array(layout.frameBytes);
  const view = new DataView(out.buffer);
  const mono = layout.channelCount === 1;
  const h = stream.firstHeader;
  const mpeg1 = ((h >>> 19) & 3) === 3;
  // Keep sync, version, layer, protection (bits 31–16), the frequency index, private bit and
  // mode; set our bitrate index; clear padding; no mode extension.
  const header =
    (h & 0xffff0000) | (layout.bitrateIndex << 12) | (h & 0x0c00) | (h & 0x0100) | (h & 0xc0) | (h & 0x0f);
  view.setUint32(0, header >>> 0, false);

  let p = xingOffset(mpeg1, mono);
  const totalBytes = layout.frameBytes + stream.audioBytes;
  out.set([0x49, 0x6e, 0x66, 0x6f], p); // "Info": the CBR spelling of "Xing"
  view.setUint32(p + 4, XING_FLAGS, false);
  view.setUint32(p + 8, stream.audioFrames, false);
  view.setUint32(p + 12, totalBytes, false);
  // TOC: byte position (in 1/256 of the file) at each percent of the duration; linear for CBR.
  for (let i = 0; i < 100; i++) out[p + 16 + i] = Math.floor((i * 256) / 100);
  view.setUint32(p + 116, 0, false); // quality: not meaningful for CBR
  p += XING_BYTES;

  const lameStart = p;
  const delay = LAME_ENCODER_DELAY;
  const padding = stream.audioFrames * layout.samplesPerFrame - delay - stream.sampleFrames;
  if (padding < 0 || padding > 0xfff) {
    throw new RangeError(`MP3 end padding ${padding} does not fit the LAME tag (0–4095)`);
  }
  out.set(Array.from('LAME3.100', (c) => c.charCodeAt(0)), p);
  out[p + 9] = 0x01; // tag revision 0, VBR method 1 = constant bitrate
  out[p + 10] = 0; // lowpass: not known here
  // p + 11 .. 18: ReplayGain peak and gains, 0 = not set; p + 19: encoding flags and ATH type
  out[p + 20] = Math.min(stream.kbps, 255);
  view.setUint8(p + 21, delay >> 4);
  view.setUint8(p + 22, ((delay & 0xf) << 4) | (padding >> 8));
  view.setUint8(p + 23, padding & 0xff);
  const rate = layout.sampleRate;
  const sourceRate = rate <= 32000 ? 0 : rate === 44100 ? 1 : rate === 48000 ? 2 : 3;
  const mode = (h >>> 6) & 3; // 0 stereo, 1 joint, 2 dual, 3 mono
  const stereoMode = [1, 3, 2, 0][mode]!; // the tag's codes: 0 mono, 1 stereo, 2 dual, 3 joint
  out[p + 24] = (sourceRate << 6) | (stereoMode << 2);
  // p + 25: MP3Gain, p + 26..27: preset and surround: 0
  view.setUint32(p + 28, totalBytes, false); // music length, the Info frame included
  view.setUint16(p + 32, stream.audioCrc, false);
  view.setUint16(p + 34, crc16(out.subarray(0, lameStart + 34), 0), false);
  return out;
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/**
 * CRC-16 as the LAME tag uses it (polynomial 0x8005 reflected, i.e. 0xA001, initial 0; "ARC").
 * Pass the previous result as `crc` to continue over several pieces.
 *
 * @internal
 */
export function crc16(bytes: Uint8Array, crc: number): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = (c >>> 8) ^ CRC16_TABLE[(c ^ bytes[i]!) & 0xff]!;
  return c;
}
