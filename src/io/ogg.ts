/**
 * Ogg pages: the first page's codec identification header, the last page's granule position,
 * and a walker that follows page boundaries through a byte stream to tell a complete stream
 * from a cut-off or damaged one. The packets themselves are left to the decoders.
 *
 * @see https://www.rfc-editor.org/rfc/rfc3533 (Ogg)
 * @see https://www.rfc-editor.org/rfc/rfc7845 (Ogg Opus)
 * @see https://xiph.org/vorbis/doc/Vorbis_I_spec.html#x1-630004.2.2 (Vorbis identification header)
 * @see https://xiph.org/flac/ogg_mapping.html (FLAC in Ogg)
 */

/** The fixed part of an Ogg page header, before the segment table. */
const PAGE_HEADER_BYTES = 27;
/** The capture pattern that starts every page. */
const CAPTURE = [0x4f, 0x67, 0x67, 0x53]; // "OggS"
/** Header-type flag of the first page of a logical stream. */
export const OGG_BOS = 0x02;
/** Header-type flag of the last page of a logical stream. */
export const OGG_EOS = 0x04;

/** One Ogg page header. */
export interface OggPageHeader {
  /** Header-type flags: 0x01 continued packet, {@link OGG_BOS}, {@link OGG_EOS}. */
  readonly flags: number;
  /** Granule position (codec-defined; samples for Vorbis, Opus and FLAC), -1 when none. */
  readonly granule: number;
  /** Logical stream serial number. */
  readonly serial: number;
  /** Bytes of the header with its segment table. */
  readonly headerLength: number;
  /** Bytes of the whole page, header included. */
  readonly pageLength: number;
}

/**
 * Parses the Ogg page header at `offset`.
 *
 * @param bytes - the bytes.
 * @param offset - where the page would start.
 * @returns the header, or `undefined` when the bytes there do not start a page, or end
 *   within its header.
 */
export function parseOggPage(bytes: Uint8Array, offset: number): OggPageHeader | undefined {
  if (offset + PAGE_HEADER_BYTES > bytes.length || !isCapture(bytes, offset) || bytes[offset + 4] !== 0) return undefined;
  const segments = bytes[offset + 26]!;
  const headerLength = PAGE_HEADER_BYTES + segments;
  if (offset + headerLength > bytes.length) return undefined;
  let body = 0;
  for (let i = 0; i < segments; i++) body += bytes[offset + PAGE_HEADER_BYTES + i]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, PAGE_HEADER_BYTES);
  return {
    flags: bytes[offset + 5]!,
    granule: Number(view.getBigInt64(6, true)),
    serial: view.getUint32(14, true),
    headerLength,
    pageLength: headerLength + body,
  };
}

/** Whether `"OggS"` starts at `offset`. */
function isCapture(bytes: Uint8Array, o: number): boolean {
  return bytes[o] === 0x4f && bytes[o + 1] === 0x67 && bytes[o + 2] === 0x67 && bytes[o + 3] === 0x53;
}

/** The codecs an Ogg stream's first packet can identify. */
export type OggCodec = 'vorbis' | 'opus' | 'flac' | 'speex' | 'theora' | 'unknown';

/** What the identification header in an Ogg stream's first packet says. */
export interface OggIdentification {
  /** The codec. */
  readonly codec: OggCodec;
  /** Samples per second of the decoded output: 48000 for Opus; 0 when not parsed. */
  readonly sampleRate: number;
  /** Channels; 0 when not parsed. */
  readonly channelCount: number;
  /** Opus pre-skip: samples at 48 kHz the decoder drops from the start. */
  readonly preSkip?: number;
  /** FLAC: total samples from STREAMINFO (0 when unknown). */
  readonly totalSamples?: number;
  /** FLAC: bits per sample from STREAMINFO. */
  readonly bitsPerSample?: number;
  /** Whether the header's fields are in range (false: a damaged header). */
  readonly valid: boolean;
}

/** The first packet of the first page at `offset`, or `undefined` when it is not all there. */
function firstPacket(bytes: Uint8Array, page: OggPageHeader, offset: number): Uint8Array | undefined {
  let length = 0;
  for (let i = 0; i < page.headerLength - PAGE_HEADER_BYTES; i++) {
    const lace = bytes[offset + PAGE_HEADER_BYTES + i]!;
    length += lace;
    if (lace < 255) {
      const start = offset + page.headerLength;
      return start + length <= bytes.length ? bytes.subarray(start, start + length) : undefined;
    }
  }
  return undefined; // the packet continues on the next page: no identification header does
}

function ascii(bytes: Uint8Array, offset: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[offset + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * Reads the identification header of the Ogg stream that starts at byte 0 of `head`.
 *
 * @param head - the start of the file.
 * @returns the codec and its basic format, or `undefined` when `head` does not start with a
 *   whole Ogg page holding a whole first packet.
 */
export function parseOggIdentification(head: Uint8Array): OggIdentification | undefined {
  const page = parseOggPage(head, 0);
  if (page === undefined) return undefined;
  const p = firstPacket(head, page, 0);
  if (p === undefined) return undefined;
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (p.length >= 16 && p[0] === 1 && ascii(p, 1, 'vorbis')) {
    const channelCount = p[11]!;
    const sampleRate = view.getUint32(12, true);
    return { codec: 'vorbis', sampleRate, channelCount, valid: view.getUint32(7, true) === 0 && channelCount > 0 && sampleRate > 0 };
  }
  if (p.length >= 19 && ascii(p, 0, 'OpusHead')) {
    const channelCount = p[9]!;
    // Opus always decodes at 48 kHz; the input rate at bytes 12–15 is only informative.
    return { codec: 'opus', sampleRate: 48000, channelCount, preSkip: view.getUint16(10, true), valid: p[8]! >> 4 === 0 && channelCount > 0 };
  }
  if (p.length >= 51 && p[0] === 0x7f && ascii(p, 1, 'FLAC') && ascii(p, 9, 'fLaC')) {
    const info = parseFlacStreamInfo(p, 13);
    if (info === undefined) return { codec: 'flac', sampleRate: 0, channelCount: 0, valid: false };
    const { sampleRate, channelCount, totalSamples, bitsPerSample } = info;
    return { codec: 'flac', sampleRate, channelCount, totalSamples, bitsPerSample, valid: true };
  }
  if (ascii(p, 0, 'Speex   ')) return { codec: 'speex', sampleRate: 0, channelCount: 0, valid: true };
  if (p[0] === 0x80 && ascii(p, 1, 'theora')) return { codec: 'theora', sampleRate: 0, channelCount: 0, valid: true };
  return { codec: 'unknown', sampleRate: 0, channelCount: 0, valid: false };
}

/** The fields of a FLAC STREAMINFO block this library uses. */
export interface FlacStreamInfo {
  /** Samples per second, in Hz. */
  readonly sampleRate: number;
  /** Channels, 1–8. */
  readonly channelCount: number;
  /** Bits per sample, 4–32. */
  readonly bitsPerSample: number;
  /** Samples per channel in the stream; 0 when the encoder did not know. */
  readonly totalSamples: number;
}

/**
 * Parses a FLAC STREAMINFO metadata block, header included, at `offset`.
 *
 * @param bytes - the bytes.
 * @param offset - where the metadata block header starts (byte 4 of a native FLAC file).
 * @returns the fields, or `undefined` when the block is not a consistent STREAMINFO.
 * @see https://www.rfc-editor.org/rfc/rfc9639#name-streaminfo
 */
export function parseFlacStreamInfo(bytes: Uint8Array, offset: number): FlacStreamInfo | undefined {
  if (offset + 38 > bytes.length) return undefined;
  const type = bytes[offset]! & 0x7f;
  const length = (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  if (type !== 0 || length !== 34) return undefined;
  const b = offset + 4;
  const minBlock = (bytes[b]! << 8) | bytes[b + 1]!;
  const maxBlock = (bytes[b + 2]! << 8) | bytes[b + 3]!;
  const x = b + 10; // sample rate (20 bits), channels − 1 (3), bits − 1 (5), total samples (36)
  const sampleRate = (bytes[x]! << 12) | (bytes[x + 1]! << 4) | (bytes[x + 2]! >> 4);
  const channelCount = ((bytes[x + 2]! >> 1) & 7) + 1;
  const bitsPerSample = (((bytes[x + 2]! & 1) << 4) | (bytes[x + 3]! >> 4)) + 1;
  const totalSamples =
    (bytes[x + 3]! & 0x0f) * 2 ** 32 + ((bytes[x + 4]! << 24) >>> 0) + ((bytes[x + 5]! << 16) | (bytes[x + 6]! << 8) | bytes[x + 7]!);
  if (sampleRate === 0 || bitsPerSample < 4 || minBlock < 16 || maxBlock < minBlock) return undefined;
  return { sampleRate, channelCount, bitsPerSample, totalSamples };
}

/**
 * The last whole Ogg page of `tail`, the end of a file: found by scanning back for `"OggS"`
 * and keeping the page that ends exactly at the end of `tail`.
 *
 * @param tail - the last bytes of a file (64 KiB is plenty: pages are at most 65 307 bytes).
 * @returns the page header, or `undefined` when the file does not end with a whole page.
 */
export function lastOggPage(tail: Uint8Array): OggPageHeader | undefined {
  for (let o = tail.length - PAGE_HEADER_BYTES; o >= 0; o--) {
    if (tail[o] !== 0x4f || !isCapture(tail, o)) continue;
    const page = parseOggPage(tail, o);
    if (page !== undefined && o + page.pageLength === tail.length) return page;
  }
  return undefined;
}

/** CRC-32 table of Ogg: polynomial 0x04C11DB7, most significant bit first, no reflection. */
let crcTable: Uint32Array | undefined;

function oggCrcTable(): Uint32Array {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let r = i << 24;
      for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
      crcTable[i] = r >>> 0;
    }
  }
  return crcTable;
}

/**
 * Continues an Ogg CRC-32 (initial value 0, no final XOR) over `bytes`.
 *
 * @param crc - the CRC so far (0 to start).
 * @param bytes - the next bytes.
 * @returns the updated CRC.
 */
export function oggCrc(crc: number, bytes: Uint8Array): number {
  const table = oggCrcTable();
  for (let i = 0; i < bytes.length; i++) crc = (crc << 8) ^ table[((crc >>> 24) ^ bytes[i]!) & 0xff]!;
  return crc >>> 0;
}

/**
 * Follows Ogg page boundaries through a stream fed in chunks of any size, checking each
 * page's CRC-32, so that damage and the end of the stream can be judged: a page that fails
 * its checksum, bytes outside any page, a last page cut short, a missing end-of-stream page.
 *
 * @remarks
 * The decoders (through codec-parser) do not check page checksums, and damage inside a page
 * often decodes without any error, as noise; this walker is what catches it.
 */
export class OggPageWalker {
  /** Bytes of the current page header collected so far (a header is at most 282 bytes). */
  #header = new Uint8Array(PAGE_HEADER_BYTES + 255);
  #headerFill = 0;
  /** Body bytes of the current page still to skip. */
  #bodyLeft = 0;
  /** The header of the current page. */
  #page: OggPageHeader | undefined;
  /** CRC of the current page so far, and the one its header states. */
  #crc = 0;
  #expectedCrc = 0;
  /** Whole pages whose CRC did not match. */
  badPages = 0;
  /** Index (from 0) of the first page whose CRC did not match, -1 when none. */
  firstBadPage = -1;
  /** Bytes met where a page should have started, skipped until the next `"OggS"`. */
  junkBytes = 0;
  /** Whole pages seen. */
  pages = 0;
  /** Flags of the last whole page. */
  lastFlags = 0;
  /** Granule position of the last whole page. */
  lastGranule = -1;

  /**
   * Feeds the next bytes of the stream.
   *
   * @param chunk - the bytes.
   */
  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#bodyLeft > 0) {
        const n = Math.min(this.#bodyLeft, chunk.length - i);
        this.#crc = oggCrc(this.#crc, chunk.subarray(i, i + n));
        this.#bodyLeft -= n;
        i += n;
        if (this.#bodyLeft === 0) this.#completePage();
        continue;
      }
      const h = this.#header;
      if (this.#headerFill < CAPTURE.length) {
        // Matching "OggS"; a mismatch makes the bytes matched so far junk. The pattern does
        // not overlap itself, so only an "O" can restart a match.
        const b = chunk[i++]!;
        if (b === CAPTURE[this.#headerFill]) {
          h[this.#headerFill++] = b;
        } else if (b === CAPTURE[0]) {
          this.junkBytes += this.#headerFill;
          h[0] = b;
          this.#headerFill = 1;
        } else {
          this.junkBytes += this.#headerFill + 1;
          this.#headerFill = 0;
        }
        continue;
      }
      const needed = this.#headerFill < PAGE_HEADER_BYTES ? PAGE_HEADER_BYTES : PAGE_HEADER_BYTES + h[26]!;
      const n = Math.min(needed - this.#headerFill, chunk.length - i);
      h.set(chunk.subarray(i, i + n), this.#headerFill);
      this.#headerFill += n;
      i += n;
      if (this.#headerFill < PAGE_HEADER_BYTES || this.#headerFill < PAGE_HEADER_BYTES + h[26]!) continue;
      const page = parseOggPage(h, 0);
      if (page === undefined) {
        // "OggS" followed by an unknown stream structure version: not a page.
        this.junkBytes += this.#headerFill;
        this.#headerFill = 0;
        continue;
      }
      this.#page = page;
      const header = h.subarray(0, this.#headerFill);
      this.#expectedCrc = new DataView(header.buffer, header.byteOffset + 22, 4).getUint32(0, true);
      header.fill(0, 22, 26); // the checksum is computed with its own field zeroed
      this.#crc = oggCrc(0, header);
      this.#headerFill = 0;
      this.#bodyLeft = page.pageLength - page.headerLength;
      if (this.#bodyLeft === 0) this.#completePage();
    }
  }

  #completePage(): void {
    if (this.#crc !== this.#expectedCrc) {
      if (this.badPages === 0) this.firstBadPage = this.pages;
      this.badPages++;
    }
    this.pages++;
    this.lastFlags = this.#page!.flags;
    this.lastGranule = this.#page!.granule;
  }

  /** Whether the bytes so far end exactly at the end of a page. */
  get atPageBoundary(): boolean {
    return this.#headerFill === 0 && this.#bodyLeft === 0;
  }

  /** Whether the last whole page ends a logical stream. */
  get ended(): boolean {
    return (this.lastFlags & OGG_EOS) !== 0;
  }
}
