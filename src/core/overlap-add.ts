/**
 * A sliding overlap-add accumulator: windows add weighted samples at increasing positions,
 * and the finished prefix is handed out and forgotten, so memory is bounded by the window,
 * not by the track.
 */
import { hostKernelsLoaded, KernelMemory, type HostKernelExports } from './kernels.js';

/** Options of an {@link OverlapAdd}. */
export interface OverlapAddOptions {
  /**
   * Accumulate with the WebAssembly SIMD kernels when they are loaded (`loadWasmFft` loads
   * them); `false` keeps the JavaScript loops. Both compute the same float64 operations in
   * the same order, so the results are identical.
   * @defaultValue true
   */
  readonly kernels?: boolean;
}

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
  /** `scale · gains`, computed once per {@link OverlapAdd.add} for all rows (JavaScript path). */
  #gain = new Float64Array(0);
  /** Float32 rows handed out by {@link OverlapAdd.drainScaled} (JavaScript path). */
  #scaled: Float32Array[] = [];
  #position = 0;
  /** The kernels' buffers, when they are in use. */
  readonly #wasm: OverlapAddKernels | undefined;

  /**
   * @param rows - number of parallel signals, at least 1.
   * @param capacity - the span of positions that may be written ahead of {@link position}.
   * @param options - kernel choice.
   * @throws RangeError for non-positive sizes.
   */
  constructor(rows: number, capacity: number, options: OverlapAddOptions = {}) {
    if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`rows (${rows}) must be a positive integer`);
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity (${capacity}) must be a positive integer`);
    }
    this.rows = rows;
    this.capacity = capacity;
    this.#wasm = options.kernels !== false && hostKernelsLoaded() ? new OverlapAddKernels(rows, capacity) : undefined;
    this.#acc = this.#wasm?.acc ?? Array.from({ length: rows }, () => new Float64Array(capacity));
  }

  /** Whether the WebAssembly SIMD kernels accumulate (see {@link OverlapAddOptions.kernels}). */
  get kernels(): boolean {
    return this.#wasm !== undefined;
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
    if (this.#wasm !== undefined) {
      this.#wasm.add(rel, src, rowStride, srcOffset, count, gains, scale, rowScales);
      return;
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
    const count = this.#drainable(upTo);
    if (count <= 0) return;
    sink(
      this.#acc.map((a) => a.subarray(0, count)),
      this.#position,
      count,
    );
    this.#advance(upTo, count);
  }

  /**
   * {@link OverlapAdd.drain} as float32: hands out `float32(acc · scale + offset)` of the given
   * rows, the separator's de-normalisation, and forgets the positions.
   *
   * @param upTo - exclusive end, at most `position + capacity`.
   * @param scale - factor.
   * @param offset - addend.
   * @param rows - the rows to hand out, in the order the sink receives them.
   * @param sink - receives one float32 view per requested row (valid only during the call),
   *   the first position and the count. Not called when there is nothing to emit.
   * @throws RangeError when `upTo` is beyond the accumulator or a row does not exist.
   */
  drainScaled(
    upTo: number,
    scale: number,
    offset: number,
    rows: readonly number[],
    sink: (rows: readonly Float32Array[], start: number, count: number) => void,
  ): void {
    for (const r of rows) if (!(Number.isInteger(r) && r >= 0 && r < this.rows)) throw new RangeError(`row (${r}) must be in [0, ${this.rows})`);
    const count = this.#drainable(upTo);
    if (count <= 0) return;
    let out: Float32Array[];
    if (this.#wasm !== undefined) {
      out = this.#wasm.scaled(rows, count, scale, offset);
    } else {
      while (this.#scaled.length < rows.length) this.#scaled.push(new Float32Array(this.capacity));
      out = rows.map((r, j) => {
        const acc = this.#acc[r]!;
        const o = this.#scaled[j]!;
        for (let i = 0; i < count; i++) o[i] = acc[i]! * scale + offset;
        return o.subarray(0, count);
      });
    }
    sink(out, this.#position, count);
    this.#advance(upTo, count);
  }

  /** Positions a drain up to `upTo` hands out (≤ 0: none). */
  #drainable(upTo: number): number {
    const count = upTo - this.#position;
    if (count > this.capacity) {
      throw new RangeError(`upTo (${upTo}) is beyond the accumulator end (${this.#position + this.capacity})`);
    }
    return count;
  }

  /** Forgets the first `count` positions: shifts the rest down and zeroes the freed end. */
  #advance(upTo: number, count: number): void {
    for (const a of this.#acc) {
      a.copyWithin(0, count);
      a.fill(0, this.capacity - count);
    }
    this.#position = upTo;
  }
}

/**
 * {@link OverlapAdd} on the WebAssembly SIMD kernels: the float64 rows live in the kernels'
 * memory; a row of samples and the gains are copied in for each add.
 */
class OverlapAddKernels {
  readonly acc: Float64Array[];
  readonly #memory = new KernelMemory();
  readonly #k: HostKernelExports;
  readonly #accAt: number[];
  readonly #src: number;
  readonly #gains: number;
  readonly #scaledAt: number[];
  readonly #srcView: Float32Array;
  readonly #gainsView: Float64Array;
  readonly #scaledViews: Float32Array[];

  constructor(rows: number, capacity: number) {
    const m = this.#memory;
    this.#k = m.kernels;
    this.#accAt = Array.from({ length: rows }, () => m.reserve(capacity, 8));
    this.#src = m.reserve(capacity);
    this.#gains = m.reserve(capacity, 8);
    this.#scaledAt = Array.from({ length: rows }, () => m.reserve(capacity));
    m.seal();
    this.acc = this.#accAt.map((at) => m.view64(at));
    this.#srcView = m.view(this.#src);
    this.#gainsView = m.view64(this.#gains);
    this.#scaledViews = this.#scaledAt.map((at) => m.view(at));
  }

  add(rel: number, src: Float32Array, rowStride: number, srcOffset: number, count: number, gains: Float64Array, scale: number, rowScales: ArrayLike<number> | undefined): void {
    this.#gainsView.set(gains.subarray(0, count));
    for (let r = 0; r < this.acc.length; r++) {
      const rowScale = rowScales === undefined ? 1 : rowScales[r]!;
      if (rowScale === 0) continue;
      const base = r * rowStride + srcOffset;
      this.#srcView.set(src.subarray(base, base + count));
      // As the JavaScript path: (scale · rowScale) · gains[i], or scale · gains[i] without row scales.
      const factor = rowScales === undefined ? scale : scale * rowScale;
      this.#k.overlapAddRow(this.#accAt[r]! + 8 * rel, this.#src, this.#gains, count, factor);
    }
  }

  scaled(rows: readonly number[], count: number, scale: number, offset: number): Float32Array[] {
    return rows.map((r, j) => {
      this.#k.scaleToFloat32(this.#accAt[r]!, count, scale, offset, this.#scaledAt[j]!);
      return this.#scaledViews[j]!.subarray(0, count);
    });
  }
}
