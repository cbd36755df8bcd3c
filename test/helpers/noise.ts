/**
 * Deterministic values in [-amplitude, amplitude) from a 32-bit LCG (the Numerical Recipes
 * constants), for test inputs whose realism does not matter.
 *
 * @param n - how many values.
 * @param seed - the generator's start state.
 * @param amplitude - the bound; the default 0.5 gives `u − 0.5` for `u` uniform in [0, 1).
 */
export function noise(n: number, seed: number, amplitude = 0.5): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * amplitude;
  }
  return out;
}
