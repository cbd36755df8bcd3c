/**
 * The window plan of upstream `apply_model` (`demucs/apply.py`, split branch) and
 * `TensorChunk.padded`: where each chunk sits in the sequence, which samples its model window
 * holds, and the triangle weight it is blended with.
 */
import { DEFAULT_OVERLAP, DEFAULT_TRANSITION_POWER } from './constants.js';

/** One chunk of the plan. All positions are sequence sample indices. */
export interface ChunkPlan {
  /** Position in the plan, from 0. */
  readonly index: number;
  /** First sequence sample the chunk contributes: `offset = j·stride`. */
  readonly offset: number;
  /** Samples the chunk contributes: `min(segment, length − offset)`. */
  readonly length: number;
  /**
   * Sequence index of the model window's first sample, `offset − ⌊(segment − length)/2⌋`:
   * a short chunk is centred, with real audio before it as left context and zeros after.
   * Negative when the window starts before the sequence (those samples are zeros).
   */
  readonly start: number;
  /** Window samples before the chunk's first kept sample: `offset − start` (`center_trim`). */
  readonly trim: number;
}

/** Options of {@link Chunker}. */
export interface ChunkerOptions {
  /**
   * Chunk length in samples: `int(model.samplerate * segment)` in `apply_model`.
   * Must not exceed the model's window; a shorter chunk is centred in a window of this
   * length and the window is then right-padded with zeros to the model length.
   */
  readonly segment: number;
  /**
   * Overlap between neighbouring chunks as a fraction of `segment`, in [0, 1).
   * @defaultValue 0.25 (`apply_model`'s default)
   */
  readonly overlap?: number;
  /**
   * Exponent of the triangle weight; larger values give sharper transitions.
   * @defaultValue 1 (`transition_power=1.`)
   */
  readonly transitionPower?: number;
}

/**
 * Upstream's blend weight for a segment: a triangle rising from 1/m to 1 and back, with
 * `m = max(⌊segment/2⌋, segment − ⌊segment/2⌋)`, raised to `transitionPower`, in float32.
 *
 * ```python
 * weight = th.cat([th.arange(1, segment_length // 2 + 1),
 *                  th.arange(segment_length - segment_length // 2, 0, -1)])
 * weight = (weight / weight.max())**transition_power
 * ```
 *
 * @param segment - segment length in samples.
 * @param transitionPower - exponent.
 * @returns the weight, length `segment`.
 */
export function triangleWeights(segment: number, transitionPower: number = DEFAULT_TRANSITION_POWER): Float32Array {
  const half = Math.floor(segment / 2);
  const peak = Math.max(half, segment - half);
  const w = new Float32Array(segment);
  for (let i = 0; i < segment; i++) {
    const v = i < half ? i + 1 : segment - i;
    w[i] = Math.fround(v / peak);
  }
  if (transitionPower !== 1) for (let i = 0; i < segment; i++) w[i] = Math.fround(w[i]! ** transitionPower);
  return w;
}

/**
 * Plans the chunks of a sequence of `length` samples.
 *
 * ```python
 * stride = int((1 - overlap) * segment_length)
 * offsets = range(0, length, stride)
 * ```
 *
 * @example
 * ```ts
 * const plan = new Chunker(600000, { segment: 343980 });
 * plan.chunks.map((c) => [c.offset, c.length, c.start]);
 * // [[0, 343980, 0], [257985, 342015, 257003], [515970, 84030, 385995]]
 * ```
 */
export class Chunker {
  /** Sequence length in samples. */
  readonly length: number;
  /** Chunk length in samples. */
  readonly segment: number;
  /** Distance between chunk offsets in samples. */
  readonly stride: number;
  /** The triangle weight, length `segment`. */
  readonly weights: Float32Array;
  /** Every chunk, in order. */
  readonly chunks: readonly ChunkPlan[];
  /**
   * {@link Chunker.normalizedWeights} by chunk shape (length and neighbours relative to it):
   * a track has at most a handful of shapes, at its two ends and inside.
   */
  readonly #gainsByShape = new Map<string, Float64Array>();

  /**
   * @param length - sequence length in samples, at least 1.
   * @param options - segment, overlap and transition power.
   * @throws RangeError when a number is out of range, naming it and its value.
   */
  constructor(length: number, options: ChunkerOptions) {
    const { segment, overlap = DEFAULT_OVERLAP, transitionPower = DEFAULT_TRANSITION_POWER } = options;
    if (!Number.isSafeInteger(length) || length < 1) throw new RangeError(`length (${length}) must be a positive integer`);
    if (!Number.isSafeInteger(segment) || segment < 2) throw new RangeError(`segment (${segment}) must be an integer ≥ 2`);
    if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`overlap (${overlap}) must be in [0, 1)`);
    if (!(transitionPower > 0 && Number.isFinite(transitionPower))) {
      throw new RangeError(`transitionPower (${transitionPower}) must be a positive number`);
    }
    const stride = Math.floor((1 - overlap) * segment);
    if (stride < 1) throw new RangeError(`overlap (${overlap}) leaves no stride for segment ${segment}`);
    this.length = length;
    this.segment = segment;
    this.stride = stride;
    this.weights = triangleWeights(segment, transitionPower);
    const chunks: ChunkPlan[] = [];
    for (let offset = 0, index = 0; offset < length; offset += stride, index++) {
      const n = Math.min(segment, length - offset);
      const trim = Math.floor((segment - n) / 2);
      chunks.push(Object.freeze({ index, offset, length: n, start: offset - trim, trim }));
    }
    this.chunks = Object.freeze(chunks);
  }

  /**
   * Sequence position up to which the output is final once chunks `0 … index` have been
   * accumulated: the next chunk's offset, or the sequence length after the last chunk.
   *
   * @param index - a chunk index.
   * @returns an exclusive end position.
   */
  finalUpTo(index: number): number {
    return index + 1 < this.chunks.length ? (index + 1) * this.stride : this.length;
  }

  /**
   * The blend gain of each sample of chunk `index`: its weight divided by the sum of the
   * weights of every chunk covering that position, so accumulating `gain · chunk` gives
   * upstream's `out / sum_weight` directly.
   *
   * @param index - a chunk index.
   * @param out - destination of length ≥ the chunk's length; allocated when omitted.
   * @returns `out`, whose first `length` entries are set.
   * @throws RangeError for an unknown index or a short buffer.
   */
  normalizedWeights(index: number, out?: Float64Array): Float64Array {
    const chunk = this.chunks[index];
    if (chunk === undefined) throw new RangeError(`index (${index}) must be in [0, ${this.chunks.length})`);
    const g = out ?? new Float64Array(chunk.length);
    if (g.length < chunk.length) throw new RangeError(`out length (${g.length}) must be ≥ ${chunk.length}`);
    // The gains depend only on the chunk's length and its neighbours' places relative to it,
    // the same for every chunk inside the track: computed once per such shape.
    const first = Math.max(0, Math.ceil((chunk.offset - this.segment + 1) / this.stride));
    const end = chunk.offset + chunk.length;
    const neighbours: ChunkPlan[] = [];
    for (let j = first; j < this.chunks.length && this.chunks[j]!.offset < end; j++) neighbours.push(this.chunks[j]!);
    const shape = [chunk.length, ...neighbours.flatMap((o) => [o.offset - chunk.offset, o.length])].join();
    let gains = this.#gainsByShape.get(shape);
    if (gains === undefined) {
      gains = new Float64Array(chunk.length);
      const w = this.weights;
      // Weight sums first: every chunk overlapping [offset, offset + length) adds its own
      // weight at each shared position.
      for (const other of neighbours) {
        const lo = Math.max(chunk.offset, other.offset);
        const hi = Math.min(end, other.offset + other.length);
        for (let p = lo; p < hi; p++) gains[p - chunk.offset]! += w[p - other.offset]!;
      }
      for (let i = 0; i < chunk.length; i++) gains[i] = w[i]! / gains[i]!;
      this.#gainsByShape.set(shape, gains);
    }
    g.set(gains);
    return g;
  }
}
