/**
 * The random draws of the shift trick, bit-compatible with CPython's `random` module, so a
 * seeded run here draws the same shifts as upstream Demucs after `random.seed(seed)`.
 *
 * Upstream draws `offset = random.randint(0, max_shift)` once per shift
 * (`demucs/apply.py`, `apply_model`, shifts branch). CPython's generator is MT19937 seeded
 * with `init_by_array` over the 32-bit words of `abs(seed)`; `randint` rejects draws of
 * `bit_length(n)` bits until one is below `n`.
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

/**
 * CPython-compatible Mersenne Twister (MT19937).
 *
 * @example
 * ```ts
 * const rng = new PythonRandom(42);
 * rng.randint(0, 22050); // 20952, as `random.seed(42); random.randint(0, 22050)`
 * ```
 */
export class PythonRandom {
  readonly #mt = new Uint32Array(N);
  #index = N + 1;

  /**
   * @param seed - a non-negative or negative integer (CPython uses its absolute value);
   *   up to `Number.MAX_SAFE_INTEGER`, or any size as a `bigint`.
   * @throws TypeError when `seed` is not an integer.
   */
  constructor(seed: number | bigint) {
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
      throw new TypeError(`seed (${seed}) must be a safe integer or a bigint`);
    }
    let n = BigInt(seed);
    if (n < 0n) n = -n;
    const key: number[] = [];
    do {
      key.push(Number(n & 0xffffffffn));
      n >>= 32n;
    } while (n > 0n);
    this.#initByArray(key);
  }

  #initGenrand(s: number): void {
    const mt = this.#mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      // 1812433253 * prev + i, modulo 2^32, without losing bits to float rounding.
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.#index = N;
  }

  #initByArray(key: readonly number[]): void {
    const mt = this.#mt;
    this.#initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1664525)) + key[j]! + j) >>> 0;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
    }
    mt[0] = 0x80000000;
  }

  /** The next 32-bit output of the generator (`genrand_uint32`). */
  nextUint32(): number {
    const mt = this.#mt;
    if (this.#index >= N) {
      let kk = 0;
      for (; kk < N - M; kk++) {
        const y = (mt[kk]! & UPPER_MASK) | (mt[kk + 1]! & LOWER_MASK);
        mt[kk] = mt[kk + M]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      for (; kk < N - 1; kk++) {
        const y = (mt[kk]! & UPPER_MASK) | (mt[kk + 1]! & LOWER_MASK);
        mt[kk] = mt[kk + (M - N)]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      const y = (mt[N - 1]! & UPPER_MASK) | (mt[0]! & LOWER_MASK);
      mt[N - 1] = mt[M - 1]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      this.#index = 0;
    }
    let y = mt[this.#index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /**
   * `random.getrandbits(k)` for 1 ≤ k ≤ 32.
   *
   * @param k - number of bits.
   * @throws RangeError when k is outside [1, 32].
   */
  getrandbits(k: number): number {
    if (!Number.isInteger(k) || k < 1 || k > 32) throw new RangeError(`k (${k}) must be an integer in [1, 32]`);
    return this.nextUint32() >>> (32 - k);
  }

  /**
   * `random.randint(a, b)`: a uniform integer in [a, b], both ends included.
   *
   * @param a - lower bound.
   * @param b - upper bound, with `b − a + 1 < 2^32`.
   * @throws RangeError when the range is empty or too wide.
   */
  randint(a: number, b: number): number {
    const n = b - a + 1;
    if (!Number.isInteger(a) || !Number.isInteger(b) || n < 1 || n >= 2 ** 32) {
      throw new RangeError(`randint range [${a}, ${b}] must hold between 1 and 2^32 - 1 integers`);
    }
    const k = 32 - Math.clz32(n); // n.bit_length()
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return a + r;
  }
}
