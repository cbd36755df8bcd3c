/**
 * Whole-track normalisation (`demucs/api.py`, `Separator.separate_tensor`):
 *
 * ```python
 * ref = wav.mean(0)
 * wav -= ref.mean()
 * wav /= ref.std() + 1e-8
 * ...
 * out *= ref.std() + 1e-8
 * out += ref.mean()
 * ```
 */
import { DemucsError } from './errors.js';
import type { AudioSource } from './source.js';

/** Mean and unbiased standard deviation of the channel average of a whole track. */
export interface TrackStats {
  /** μ: mean of the channel average. */
  readonly mean: number;
  /** σ: unbiased (÷ (n − 1)) standard deviation of the channel average; 0 for fewer than 2 frames. */
  readonly std: number;
  /** Frames the statistics cover. */
  readonly frames: number;
}

/** Options of {@link trackStats}. */
export interface TrackStatsOptions {
  /** Frames read per block. @defaultValue 65536 */
  readonly blockFrames?: number;
  /** Cancels the pass between blocks. */
  readonly signal?: AbortSignal;
}

/**
 * One streaming pass over a track: μ and σ of `(left + right) / 2` (the mono signal itself
 * for one channel), in float64, merging per-block means and squared deviations (Chan et al.)
 * so the result is as stable as a two-pass computation. Also the check for NaN and infinite
 * samples, since the pass reads every sample anyway.
 *
 * @param source - the track.
 * @param options - block size and a signal.
 * @returns μ, σ and the frame count.
 * @throws DemucsError `ERR_NON_FINITE` naming the channel, frame and value of the first bad
 *   sample; `ERR_AUDIO_EMPTY` for a track with no frames.
 */
export async function trackStats(source: AudioSource, options: TrackStatsOptions = {}): Promise<TrackStats> {
  const blockFrames = options.blockFrames ?? 65536;
  const total = source.frames;
  if (total < 1) throw new DemucsError('ERR_AUDIO_EMPTY', 'audio has no frames');
  const C = source.channelCount;
  const buffers = Array.from({ length: C }, () => new Float32Array(Math.min(blockFrames, total)));
  const ref = new Float64Array(buffers[0]!.length);
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (let start = 0; start < total; start += blockFrames) {
    options.signal?.throwIfAborted();
    const count = Math.min(blockFrames, total - start);
    const views = buffers.map((b) => b.subarray(0, count));
    await source.read(start, views);
    ref.fill(0, 0, count);
    for (let c = 0; c < C; c++) {
      const x = views[c]!;
      for (let i = 0; i < count; i++) {
        const v = x[i]!;
        if (!Number.isFinite(v)) {
          throw new DemucsError('ERR_NON_FINITE', `audio sample ${start + i} of channel ${c} is ${v}; every sample must be finite`);
        }
        ref[i]! += v;
      }
    }
    let blockSum = 0;
    for (let i = 0; i < count; i++) {
      ref[i]! /= C;
      blockSum += ref[i]!;
    }
    const blockMean = blockSum / count;
    let blockM2 = 0;
    for (let i = 0; i < count; i++) {
      const d = ref[i]! - blockMean;
      blockM2 += d * d;
    }
    const merged = n + count;
    const delta = blockMean - mean;
    mean += (delta * count) / merged;
    m2 += blockM2 + (delta * delta * n * count) / merged;
    n = merged;
  }
  return { mean, std: n > 1 ? Math.sqrt(m2 / (n - 1)) : 0, frames: n };
}
