/**
 * IEEE 754 binary16 (half precision) conversion, exact: float32 → float16 rounds to nearest,
 * ties to even, with correct subnormals; float16 → float32 is exact.
 *
 * Node 20 has no `Float16Array` or `Math.f16round`, so values are handled as their 16-bit
 * patterns in a `Uint16Array`.
 */

/** Largest finite float16: (2 − 2⁻¹⁰) · 2¹⁵. */
export const FLOAT16_MAX = 65504;

/** Smallest positive normal float16: 2⁻¹⁴. */
export const FLOAT16_MIN_NORMAL = 2 ** -14;

/** Smallest positive subnormal float16: 2⁻²⁴. */
export const FLOAT16_MIN_SUBNORMAL = 2 ** -24;

/** Bit pattern of the largest finite float16 (65504). */
const MAX_BITS = 0x7bff;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The float16 bit pattern of a float32 bit pattern, rounded to nearest even; `overflow` is
 * set when a finite value rounds beyond {@link FLOAT16_MAX} (the result is then ±infinity
 * before clamping, see {@link float32ToFloat16Bits}).
 */
function halfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    // Infinity keeps its sign; NaN stays a quiet NaN with its top payload bits.
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00; // beyond the float16 range: infinity (caller clamps)
  if (e >= -14) {
    // Normal: 10 mantissa bits, the 13 dropped bits decide the rounding. A carry out of the
    // mantissa moves into the exponent, and out of the largest exponent into infinity.
    let h = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
    return sign | h;
  }
  // Subnormal or zero: the value is m · 2⁻²⁴ with m = 1.mant · 2^(e + 24).
  if (exp === 0) return sign; // float32 subnormals are far below 2⁻²⁵
  const full = mant | 0x800000;
  const shift = -1 - e; // 14 … for e = −15; 24 for e = −25
  if (shift > 24) return sign;
  let h = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1) === 1)) h++;
  return sign | h;
}

/**
 * Converts one number to a float16 bit pattern: first to float32 (as a `Float32Array` would
 * store it), then to float16, rounding to nearest with ties to even. Finite values that round
 * beyond ±65504 are clamped to ±65504 (not turned into infinities); infinities and NaN are
 * kept.
 *
 * @param value - the number.
 * @returns the 16-bit pattern.
 *
 * @example
 * ```ts
 * float32ToFloat16Bits(1);         // 0x3c00
 * float32ToFloat16Bits(65519);     // 0x7bff (65504: rounds down)
 * float32ToFloat16Bits(1e6);       // 0x7bff (clamped)
 * float32ToFloat16Bits(2 ** -24);  // 0x0001 (smallest subnormal)
 * ```
 */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const h = halfBits(u32[0]!);
  return (h & 0x7fff) === 0x7c00 && Number.isFinite(f32[0]) ? (h & 0x8000) | MAX_BITS : h;
}

/**
 * The float32 value of a float16 bit pattern (exact: every float16 is a float32).
 *
 * @param bits - a 16-bit pattern.
 * @returns its value.
 */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * FLOAT16_MIN_SUBNORMAL;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** What {@link toFloat16Bits} produced. */
export interface Float16Conversion {
  /** The float16 bit patterns, one per input value. */
  readonly bits: Uint16Array;
  /** Finite values whose magnitude rounded beyond 65504 and were clamped to ±65504. */
  readonly clamped: number;
  /** Non-zero values that became ±0 (their magnitude is below 2⁻²⁵). */
  readonly flushedToZero: number;
}

/**
 * Converts float32 values to float16 bit patterns, rounding to nearest even and clamping
 * finite overflow to ±65504, counting both kinds of loss.
 *
 * @param values - the values.
 * @param out - where to write the patterns; by default a new array. Must hold `values.length`.
 * @returns the patterns and the counts of clamped and flushed values.
 * @throws RangeError when `out` is too short.
 */
export function toFloat16Bits(values: Float32Array, out?: Uint16Array): Float16Conversion {
  const bits = out ?? new Uint16Array(values.length);
  if (bits.length < values.length) throw new RangeError(`out (${bits.length} elements) must hold ${values.length} values`);
  const raw = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let clamped = 0;
  let flushedToZero = 0;
  for (let i = 0; i < raw.length; i++) {
    const x = raw[i]!;
    let h = halfBits(x);
    if ((h & 0x7fff) === 0x7c00 && ((x >>> 23) & 0xff) !== 0xff) {
      h = (h & 0x8000) | MAX_BITS;
      clamped++;
    } else if ((h & 0x7fff) === 0 && (x & 0x7fffffff) !== 0) {
      flushedToZero++;
    }
    bits[i] = h;
  }
  return { bits, clamped, flushedToZero };
}

/**
 * Converts float16 bit patterns to float32 values (exactly).
 *
 * @param bits - the patterns.
 * @param out - where to write the values; by default a new array. Must hold `bits.length`.
 * @returns the values.
 * @throws RangeError when `out` is too short.
 */
export function fromFloat16Bits(bits: Uint16Array, out?: Float32Array): Float32Array {
  const values = out ?? new Float32Array(bits.length);
  if (values.length < bits.length) throw new RangeError(`out (${values.length} elements) must hold ${bits.length} values`);
  // A table of all 65536 values makes bulk conversion one lookup per element.
  const table = float16Table();
  for (let i = 0; i < bits.length; i++) values[i] = table[bits[i]!]!;
  return values;
}

let table: Float32Array | undefined;

function float16Table(): Float32Array {
  if (table === undefined) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = float16BitsToFloat32(h);
  }
  return table;
}
