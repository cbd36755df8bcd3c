/**
 * A minimal PNG writer for the docs' figures: 8-bit indexed colour (one palette of up to 256
 * RGB entries), no interlace, every row with filter type 0. Enough for a spectrogram, whose
 * pixels are indices into a colour map; an indexed image compresses to a fraction of RGB.
 *
 * Format: PNG specification, 2nd edition (W3C), §5 (datastream), §11.2 (IHDR, PLTE, IDAT, IEND).
 *
 * @packageDocumentation
 */
import { crc32, deflateSync } from 'node:zlib';

/** The 8 bytes every PNG starts with (PNG spec §5.2). */
const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
/** IHDR colour type 3: each pixel is a palette index (PNG spec §11.2.2). */
const COLOUR_TYPE_INDEXED = 3;
/** Bits per palette index. */
const BIT_DEPTH = 8;

/** An indexed-colour image: `width × height` palette indices, row by row from the top. */
export interface IndexedImage {
  readonly width: number;
  readonly height: number;
  /** `width × height` indices into `palette`. */
  readonly pixels: Uint8Array;
  /** `[r, g, b]` triples, 1 to 256 of them. */
  readonly palette: readonly (readonly [number, number, number])[];
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  // The CRC covers the type and the data, not the length (PNG spec §5.3).
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * Encodes an indexed image as PNG.
 *
 * @throws RangeError when the size, the pixel count, the palette or an index is out of range.
 */
export function encodeIndexedPng(image: IndexedImage): Buffer {
  const { width, height, pixels, palette } = image;
  if (!Number.isSafeInteger(width) || width < 1 || !Number.isSafeInteger(height) || height < 1) {
    throw new RangeError(`image size ${width} × ${height} must be positive integers`);
  }
  if (pixels.length !== width * height) throw new RangeError(`pixels has ${pixels.length} values; a ${width} × ${height} image needs ${width * height}`);
  if (palette.length < 1 || palette.length > 256) throw new RangeError(`palette has ${palette.length} colours; give 1 to 256`);
  for (let i = 0; i < pixels.length; i++) {
    if (pixels[i]! >= palette.length) throw new RangeError(`pixel ${i} is palette index ${pixels[i]}, past the palette's ${palette.length} colours`);
  }

  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = BIT_DEPTH;
  ihdr[9] = COLOUR_TYPE_INDEXED;
  // compression 0 (deflate), filter method 0, interlace 0: the bytes stay zero.

  const plte = Uint8Array.from(palette.flatMap(([r, g, b]) => [r, g, b]));
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1); // filter byte 0
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('PLTE', plte), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', new Uint8Array(0))]);
}
