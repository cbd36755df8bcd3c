/**
 * Analysis and synthesis windows.
 */

/**
 * Periodic Hann window of length `n`, `w[k] = 0.5 − 0.5·cos(2πk/n)`, rounded to float32 as
 * `torch.hann_window(n)` (periodic by default) builds it, returned as float64 for the
 * transforms. `demucs/spec.py` `spectro` and `ispectro` use it for both directions.
 *
 * @remarks Periodic, not symmetric: the symmetric form divides by `n − 1` and moves the
 * spectrogram by about 3e-3 against the reference.
 * @param n - window length in samples.
 * @returns a new `Float64Array` of length `n`.
 * @throws RangeError when `n` is not a positive integer.
 */
export function periodicHann(n: number): Float64Array {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`window length (${n}) must be a positive integer`);
  const w = new Float64Array(n);
  for (let k = 0; k < n; k++) w[k] = Math.fround(0.5 - 0.5 * Math.cos((2 * Math.PI * k) / n));
  return w;
}
