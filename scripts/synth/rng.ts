/**
 * A small seeded pseudo-random generator for the song synthesiser: sfc32 (Chris Doty-Humphrey's
 * "Small Fast Counting" generator, 128-bit state, 32-bit output), its state filled from the seed
 * by a 32-bit integer hash ({@link mix32}).
 *
 * Every draw uses only 32-bit integer operations (`Math.imul`, shifts, xor) and exact double
 * arithmetic (a 32-bit integer times 2^-32 is exact), and no transcendental function, so the
 * stream is bit-identical on every platform and JavaScript engine.
 *
 * @see https://pracrand.sourceforge.net/RNG_engines.txt (sfc32)
 * @see https://github.com/skeeto/hash-prospector (the two-round hash in {@link mix32})
 * @packageDocumentation
 */

/** 2^-32: turns a uint32 into a double in [0, 1) without rounding. */
const UINT32_TO_UNIT = 1 / 4294967296;

/** Draws summed by {@link Rng.normal} (Irwin–Hall with n = 12 has variance exactly 1). */
const IRWIN_HALL_TERMS = 12;

/** Warm-up draws after seeding, so nearby seeds give unrelated streams. */
const WARM_UP_DRAWS = 12;

/**
 * A bijective 32-bit integer hash (golden-ratio increment, then hash-prospector's two-round
 * xorshift-multiply), used to spread a seed over sfc32's state.
 *
 * @param x - any 32-bit integer
 * @returns a uint32
 */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * Seeded generator with the helpers the synthesiser needs.
 *
 * @example
 * ```ts
 * const rng = new Rng(7);
 * rng.int(1, 6);          // a die roll, 1..6 inclusive
 * rng.choice(['a', 'b']); // 'a' or 'b'
 * const drums = rng.fork(); // independent sub-stream
 * ```
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * @param seed - an integer; only its low 32 bits are used (as a uint32)
   * @throws TypeError when `seed` is not a safe integer.
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new TypeError(`seed (${seed}) must be a safe integer`);
    }
    const s = seed >>> 0;
    this.#a = mix32(s);
    this.#b = mix32(s ^ 0x2545f491);
    this.#c = mix32(s ^ 0x9e3779b9);
    this.#d = 1;
    for (let i = 0; i < WARM_UP_DRAWS; i++) this.nextUint32();
  }

  /** @returns the next uint32 of the stream. */
  nextUint32(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /**
   * A uniform double in [lo, hi) with 32 bits of resolution.
   *
   * @param lo - lower bound @defaultValue 0
   * @param hi - upper bound @defaultValue 1
   */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * (this.nextUint32() * UINT32_TO_UNIT);
  }

  /**
   * A uniform integer in [lo, hi], both ends included.
   *
   * @remarks Multiply-and-floor; the bias is below (hi - lo + 1) / 2^32, negligible here.
   * @throws RangeError when the bounds are not integers or `hi < lo`.
   */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) {
      throw new RangeError(`int(${lo}, ${hi}) needs integer bounds with lo <= hi`);
    }
    return lo + Math.floor((hi - lo + 1) * (this.nextUint32() * UINT32_TO_UNIT));
  }

  /** @returns true with probability `p`. */
  chance(p: number): boolean {
    return this.nextUint32() * UINT32_TO_UNIT < p;
  }

  /**
   * An approximately normal draw: the Irwin–Hall sum of 12 uniforms minus 6, scaled.
   *
   * @remarks Bounded to mean ± 6 sd, which suits humanisation (timing, velocity) and keeps the
   * generator free of `Math.log`/`Math.cos`, whose last bit may differ between engines.
   * @param mean - @defaultValue 0
   * @param sd - standard deviation @defaultValue 1
   */
  normal(mean = 0, sd = 1): number {
    let sum = 0;
    for (let i = 0; i < IRWIN_HALL_TERMS; i++) sum += this.nextUint32() * UINT32_TO_UNIT;
    return mean + sd * (sum - IRWIN_HALL_TERMS / 2);
  }

  /**
   * A uniformly chosen element.
   *
   * @throws RangeError when `items` is empty.
   */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('choice() needs a non-empty array');
    return items[this.int(0, items.length - 1)]!;
  }

  /**
   * An element chosen with probability proportional to its weight.
   *
   * @throws RangeError when the lengths differ or the weights do not sum to a positive number.
   */
  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    if (items.length !== weights.length || items.length === 0) {
      throw new RangeError(`weighted() needs as many weights (${weights.length}) as items (${items.length})`);
    }
    let total = 0;
    for (const w of weights) total += w;
    if (!(total > 0)) throw new RangeError(`weighted() needs a positive weight sum, got ${total}`);
    let x = this.uniform(0, total);
    for (let i = 0; i < items.length; i++) {
      x -= weights[i]!;
      if (x < 0) return items[i]!;
    }
    return items[items.length - 1]!;
  }

  /**
   * An independent generator seeded from this one's next draw, so that one part of a plan
   * can draw more or fewer numbers without shifting another part's stream.
   */
  fork(): Rng {
    return new Rng(this.nextUint32());
  }
}
