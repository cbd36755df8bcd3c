/**
 * Cache-blocked matrix transposition, for moving spectrograms between the model's
 * `[channel, bin, frame]` layout and the frame-major layout the transforms work in.
 *
 * @internal
 */

/** Tile edge in elements: a 32×32 float32 tile is 4 KB, so a source and a target tile stay in L1. */
const TILE = 32;

/**
 * Writes the transpose of a `rows × cols` row-major matrix: `dst[c·rows + r] = src[r·cols + c]`.
 *
 * @param src - the matrix (a view; only `rows·cols` elements are read).
 * @param rows - rows of `src`.
 * @param cols - columns of `src`.
 * @param dst - the `cols × rows` result (a view, distinct from `src`).
 * @param scale - a factor applied on the way.
 * @internal
 */
export function transpose(src: Float32Array, rows: number, cols: number, dst: Float32Array, scale = 1): void {
  // Within a tile the writes run along contiguous memory and the reads stride; measured
  // 2× faster than the opposite order for 2048 × 336 (1.6 vs 3.2 ms).
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let c = c0; c < c1; c++) {
        const o = c * rows;
        for (let r = r0; r < r1; r++) dst[o + r] = src[r * cols + c]! * scale;
      }
    }
  }
}
