/**
 * Recognising an audio file by its first bytes ("magic numbers"), never by its name, so that
 * a decoder can be chosen and an unsupported file named in the error.
 */
import { parseOggIdentification } from './ogg.js';
import { findMpegFrame, parseAdtsHeader, skipId3v2 } from './mpeg-audio.js';

/**
 * A kind of audio file, as {@link sniffAudioFormat} recognises it.
 *
 * Decodable: `'wav'`, `'mp3'` (MPEG-1/2/2.5 layer I, II or III), `'flac'`, `'ogg-vorbis'`,
 * `'ogg-opus'`, `'ogg-flac'`; `'mp4'` (M4A/MP4/MOV: AAC, ALAC, …) and `'adts'` (raw AAC) where
 * a decoder for the codec exists (see `decodeAudio` and `openAudioFile`).
 *
 * Recognised only to be named in an error: `'rf64'` (64-bit WAV), `'ogg'` (another codec in
 * Ogg, such as Speex), `'aiff'`, `'caf'`, `'webm'`, `'matroska'`, `'asf'` (WMA), `'midi'`.
 */
export type AudioContainer =
  | 'wav'
  | 'rf64'
  | 'mp3'
  | 'adts'
  | 'flac'
  | 'ogg-vorbis'
  | 'ogg-opus'
  | 'ogg-flac'
  | 'ogg'
  | 'mp4'
  | 'aiff'
  | 'caf'
  | 'webm'
  | 'matroska'
  | 'asf'
  | 'midi';

/** Human-readable names of the {@link AudioContainer} kinds, for messages. */
export const AUDIO_CONTAINER_NAMES: Readonly<Record<AudioContainer, string>> = Object.freeze({
  wav: 'WAV',
  rf64: 'RF64 (64-bit WAV)',
  mp3: 'MPEG audio (MP3)',
  adts: 'AAC (ADTS)',
  flac: 'FLAC',
  'ogg-vorbis': 'Ogg Vorbis',
  'ogg-opus': 'Ogg Opus',
  'ogg-flac': 'Ogg FLAC',
  ogg: 'Ogg',
  mp4: 'MP4/M4A',
  aiff: 'AIFF',
  caf: 'Core Audio Format (CAF)',
  webm: 'WebM',
  matroska: 'Matroska',
  asf: 'ASF (WMA)',
  midi: 'MIDI',
});

/**
 * How many leading bytes {@link sniffAudioFormat} needs to be sure: 64 KiB. Fewer work for
 * most files; an MP3 whose ID3v2 tag (cover art) is longer needs the bytes up to the tag's
 * end plus a few frames.
 */
export const SNIFF_BYTES = 64 * 1024;

function ascii(bytes: Uint8Array, offset: number, text: string): boolean {
  if (offset + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[offset + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** The DocType of an EBML header: `"webm"` or `"matroska"` (searched in its first bytes). */
function ebmlDocType(head: Uint8Array): AudioContainer {
  const limit = Math.min(head.length, 64);
  for (let i = 4; i + 4 <= limit; i++) {
    // DocType element: id 0x4282, a one-byte size (0x80 | n), then the string.
    if (head[i] === 0x42 && head[i + 1] === 0x82 && ascii(head, i + 3, 'webm')) return 'webm';
  }
  return 'matroska';
}

/** The first 16 bytes of an ASF header object's GUID (75B22630-668E-11CF-A6D9-00AA0062CE6C). */
const ASF_GUID = [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11, 0xa6, 0xd9, 0x00, 0xaa, 0x00, 0x62, 0xce, 0x6c];

/**
 * Recognises an audio file from its first bytes.
 *
 * @remarks
 * - `RIFF…WAVE` → `'wav'`; `RF64`/`BW64` → `'rf64'`.
 * - ID3v2 tags are skipped (all of them), then: an MPEG audio frame header → `'mp3'`, an ADTS
 *   header → `'adts'`, `fLaC` → `'flac'`. An MPEG frame counts only when the next frame
 *   header follows where the first one says it ends (when that lies within `head`), so that
 *   random bytes are not taken for audio. A tag running past the end of `head`, or followed
 *   by nothing, is reported as `'mp3'` (by far the commonest case): the decoder then reports
 *   what is missing.
 * - `OggS` → the codec of the first packet: `'ogg-vorbis'`, `'ogg-opus'`, `'ogg-flac'`, else
 *   `'ogg'`.
 * - `ftyp` at byte 4 → `'mp4'`; `FORM…AIFF`/`AIFC` → `'aiff'`; `caff` → `'caf'`; EBML → `'webm'`
 *   or `'matroska'` by DocType; the ASF header GUID → `'asf'`; `MThd` → `'midi'`.
 *
 * @param head - the first bytes of the file; {@link SNIFF_BYTES} are enough for all but
 *   MP3 files with a longer ID3v2 tag.
 * @returns the kind of file, or `undefined` when the bytes match none of these.
 *
 * @example
 * ```ts
 * sniffAudioFormat(new TextEncoder().encode('fLaC\0\0\0\x22')); // 'flac'
 * sniffAudioFormat(new TextEncoder().encode('hello')); // undefined
 * ```
 */
export function sniffAudioFormat(head: Uint8Array): AudioContainer | undefined {
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'WAVE')) return 'wav';
  if ((ascii(head, 0, 'RF64') || ascii(head, 0, 'BW64')) && ascii(head, 8, 'WAVE')) return 'rf64';
  if (ascii(head, 0, 'OggS')) {
    const id = parseOggIdentification(head);
    if (id === undefined || !id.valid) return 'ogg';
    switch (id.codec) {
      case 'vorbis':
        return 'ogg-vorbis';
      case 'opus':
        return 'ogg-opus';
      case 'flac':
        return 'ogg-flac';
      default:
        return 'ogg';
    }
  }
  if (ascii(head, 4, 'ftyp')) return 'mp4';
  if (ascii(head, 0, 'FORM') && (ascii(head, 8, 'AIFF') || ascii(head, 8, 'AIFC'))) return 'aiff';
  if (ascii(head, 0, 'caff')) return 'caf';
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return ebmlDocType(head);
  if (head.length >= 16 && ASF_GUID.every((b, i) => head[i] === b)) return 'asf';
  if (ascii(head, 0, 'MThd')) return 'midi';

  const start = skipId3v2(head);
  if (start > 0 && start + 4 > head.length) return 'mp3';
  if (ascii(head, start, 'fLaC')) return 'flac';
  if (parseAdtsHeader(head, start) !== undefined) {
    const first = parseAdtsHeader(head, start)!;
    const next = start + first.frameLength;
    if (next + 7 > head.length || parseAdtsHeader(head, next) !== undefined) return 'adts';
  }
  // After a tag, allow some padding before the first frame, as decoders do.
  const found = findMpegFrame(head, start, start > 0 ? 4096 : 0);
  if (found !== undefined) return 'mp3';
  return start > 0 ? 'mp3' : undefined;
}
