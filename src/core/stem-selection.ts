/**
 * Which stems to hand out: all of them, a subset (`--stems vocals,drums`), or one stem and
 * its complement (`--two-stems vocals` gives `vocals` and `no_vocals`, as upstream demucs).
 */

/** One output stem: a named sum of model sources. */
export interface StemOutput {
  /** File name stem, e.g. `vocals` or `no_vocals`. */
  readonly name: string;
  /** Indices into the model's sources that are summed (one index for a plain stem). */
  readonly sources: readonly number[];
}

/** What to write; at most one of the two may be given. */
export interface StemSelection {
  /** Write only these stems, in this order. */
  readonly stems?: readonly string[] | undefined;
  /**
   * Write this stem and the sum of all the others as `no_<stem>` (upstream demucs
   * `--two-stems`).
   */
  readonly twoStems?: string | undefined;
}

/**
 * Resolves a selection against a model's sources.
 *
 * @param sources - the model's source names, in output order.
 * @param selection - the stems asked for; all sources when empty.
 * @returns the outputs, in the order to write them.
 * @throws RangeError naming the unknown stem and the known ones, for both options at once,
 *   for an empty or repeated `stems` list.
 *
 * @example
 * ```ts
 * selectStems(['drums', 'bass', 'other', 'vocals'], { twoStems: 'vocals' });
 * // [{ name: 'vocals', sources: [3] }, { name: 'no_vocals', sources: [0, 1, 2] }]
 * ```
 */
export function selectStems(sources: readonly string[], selection: StemSelection = {}): StemOutput[] {
  const { stems, twoStems } = selection;
  const index = (name: string, option: string): number => {
    const i = sources.indexOf(name);
    if (i < 0) throw new RangeError(`${option}: unknown stem ${JSON.stringify(name)} (this model has ${sources.join(', ')})`);
    return i;
  };
  if (stems !== undefined && twoStems !== undefined) {
    throw new RangeError(`give either stems (${JSON.stringify(stems.join(','))}) or twoStems (${JSON.stringify(twoStems)}), not both`);
  }
  if (twoStems !== undefined) {
    const i = index(twoStems, 'twoStems');
    return [
      { name: twoStems, sources: [i] },
      { name: `no_${twoStems}`, sources: sources.map((_, j) => j).filter((j) => j !== i) },
    ];
  }
  if (stems !== undefined) {
    if (stems.length === 0) throw new RangeError('stems: the list is empty');
    const seen = new Set<string>();
    return stems.map((name) => {
      if (seen.has(name)) throw new RangeError(`stems: ${JSON.stringify(name)} is listed twice`);
      seen.add(name);
      return { name, sources: [index(name, 'stems')] };
    });
  }
  return sources.map((name, i) => ({ name, sources: [i] }));
}

/**
 * Sums the sources of one output over a block of stems.
 *
 * @param stems - `stems[source][channel]` of one block.
 * @param output - the output to form.
 * @param scratch - per-channel arrays at least the block's length, used when the output
 *   sums several sources.
 * @returns the output's channels: views of `stems` for a single source (no copy), else of
 *   `scratch`.
 */
export function mixStemOutput(
  stems: readonly (readonly Float32Array[])[],
  output: StemOutput,
  scratch: readonly Float32Array[],
): readonly Float32Array[] {
  const first = stems[output.sources[0]!]!;
  if (output.sources.length === 1) return first;
  const frames = first[0]!.length;
  return first.map((ch, c) => {
    const out = scratch[c]!.subarray(0, frames);
    out.set(ch);
    for (let k = 1; k < output.sources.length; k++) {
      const add = stems[output.sources[k]!]![c]!;
      for (let i = 0; i < frames; i++) out[i]! += add[i]!;
    }
    return out;
  });
}
