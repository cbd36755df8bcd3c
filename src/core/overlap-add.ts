/**
 * A sliding overlap-add accumulator: windows add weighted samples at increasing positions,
 * and the finished prefix is handed out and forgotten, so memory is bounded by the window,
 * not by the track.
 */

/**
 * Accumulates `rows` parallel signals (sources × channels) over a sliding span of
 * `capacity` positions starting at {@link OverlapAdd.position}.
 *
 * Upstream accumulates the whole track (`out[..., offset:offset + segment] += weight * chunk`,
 * then `out /= sum_weight` in `apply_model`); here the division is folded into the gains
 * ({@link Chunker.normalizedWeights}), so every position is final as soon as no later window
 * covers it, and {@link OverlapAdd.drain} can emit it.
 *
 * Accumulation is in float64.
 *
 * @example
 * ```ts
 * const ola = new OverlapAdd(8, 343980);
 * ola.add(0, windowResult, 343980, trim, chunkLength, gains, 0.5);
 * ola.drain(257985, (rows, start, count) => { ... });  // emits [0, 257985)
 * ```
 */
export class OverlapAdd {
  /** Number of parallel signals. */
  readonly rows: number;
  /** Positions held at once. */
  readonly capacity: number;
  readonly #acc: Float64Array[];
  /** `scale · gains`, computed once per {@link OverlapAdd.add} for all rows. */
  #gain = new Float64Array(0);
  #position = 0;

  /**
   * @param rows - number of parallel signals, at least 1.
   * @param capacity - the span of positions that may be written ahead of {@link position}.
   * @throws RangeError for non-positive sizes.
   */
  constructor(rows: number, capacity: number) {
    if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`rows (${rows}) must be a positive integer`);
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity (${capacity}) must be a positive integer`);
    }
    this.rows = rows;
    this.capacity = capacity;
    this.#acc = Array.from({ length: rows }, () => new Float64Array(capacity));
  }

  /** First position not yet drained; everything before it has been emitted. */
  get position(): number {
    return this.#position;
  }

  /**
   * Adds `scale · gains[i] · src[r·rowStride + srcOffset + i]` at position `at + i` of row r,
   * for i in [0, count).
   *
   * @param at - sequence position of the first sample; must be ≥ {@link position}, and
   *   `at + count` must stay within {@link capacity} of it.
   * @param src - row-major source rows (`rows` rows of `rowStride` samples).
   * @param rowStride - samples per source row.
   * @param srcOffset - first sample to take from each row.
   * @param count - samples to add per row.
   * @param gains - per-sample gain, length ≥ `count`.
   * @param scale - a common factor (for example 1/shifts).
   * @param rowScales - a further factor per row (a bag member's weight for each source);
   *   rows whose factor is 0 are skipped. @defaultValue all 1
   * @throws RangeError when the span falls outside the accumulator or a buffer is short.
   */
  add(
    at: number,
    src: Float32Array,
    rowStride: number,
    srcOffset: number,
    count: number,
    gains: Float64Array,
    scale = 1,
    rowScales?: ArrayLike<number>,
  ): void {
    const rel = at - this.#position;
    if (rel < 0 || rel + count > this.capacity) {
      throw new RangeError(
        `span [${at}, ${at + count}) is outside the accumulator [${this.#position}, ${this.#position + this.capacity})`,
      );
    }
    if (srcOffset < 0 || srcOffset + count > rowStride || src.length < this.rows * rowStride) {
      throw new RangeError(`source (${src.length} floats, row stride ${rowStride}) is too short for ${count} samples`);
    }
    if (gains.length < count) throw new RangeError(`gains length (${gains.length}) must be ≥ ${count}`);
    if (rowScales !== undefined && rowScales.length < this.rows) {
      throw new RangeError(`rowScales length (${rowScales.length}) must be ≥ the ${this.rows} rows`);
    }
    if (this.#gain.length < count) this.#gain = new Float64Array(count);
    const g = this.#gain;
    let gainFor = Number.NaN; // the row factor `g` holds: none yet
    for (let r = 0; r < this.rows; r++) {
      if (rowScales !== undefined) {
        const rowScale = rowScales[r]!;
        if (rowScale === 0) continue;
        if (rowScale !== gainFor) {
          gainFor = rowScale;
          for (let i = 0; i < count; i++) g[i] = scale * rowScale * gains[i]!;
        }
      } else if (r === 0) {
        for (let i = 0; i < count; i++) g[i] = scale * gains[i]!;
      }
      const acc = this.#acc[r]!;
      const base = r * rowStride + srcOffset;
      for (let i = 0; i < count; i++) acc[rel + i]! += g[i]! * src[base + i]!;
    }
  }

  /**
   * Hands out positions `[position, upTo)` and forgets them.
   *
   * @param upTo - exclusive end, at most `position + capacity`.
   * @param sink - receives one view per row (valid only during the call), the first
   *   position and the count. Not called when there is nothing to emit.
   * @throws RangeError when `upTo` is beyond the accumulator.
   */
  drain(upTo: number, sink: (rows: readonly Float64Array[], start: number, count: number) => void): void {
    const count = upTo - this.#position;
    if (count <= 0) return;
    if (count > this.capacity) {
      throw new RangeError(`upTo (${upTo}) is beyond the accumulator end (${this.#position + this.capacity})`);
    }
    sink(
      this.#acc.map((a) => a.subarray(0, count)),
      this.#position,
      count,
    );
    for (const a of this.#acc) {
      a.copyWithin(0, count);
      a.fill(0, this.capacity - count);
    }
    this.#position = upTo;
  }
}
