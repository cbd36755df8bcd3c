/**
 * Bags of models (upstream `BagOfModels`): several models whose outputs are combined per
 * source with a weight matrix, e.g. `htdemucs_ft`, four fine-tuned models of which model k
 * supplies stem k (the identity matrix).
 */
import type { ModelSession } from '../backends/backend.js';
import { describeValue } from './errors.js';

/** One model of a bag. */
export interface BagMember {
  /** A name for progress events and errors, e.g. `htdemucs_ft.vocals`. */
  readonly name: string;
  /** The member's weight for each of the bag's sources, in source order. */
  readonly weights: readonly number[];
  /**
   * Loads the member's model. Called only when a requested stem needs the member, at most
   * once per {@link Separator} (which then owns and disposes the session).
   */
  load(): Promise<ModelSession>;
}

/** A bag of models with their weight matrix (rows: members, columns: sources). */
export interface ModelBag {
  /** Source names in output order; every member produces them in this order. */
  readonly sources: readonly string[];
  /** The members; each row of weights has one entry per source. */
  readonly members: readonly BagMember[];
}

/**
 * Whether a model is a bag rather than one session.
 *
 * @param model - a session or a bag.
 * @returns true for a {@link ModelBag}.
 */
export function isModelBag(model: ModelSession | ModelBag): model is ModelBag {
  return Array.isArray((model as ModelBag).members);
}

/**
 * Checks a bag's shape: at least one member, one finite, non-negative weight per source in
 * every row, and every source with a positive total weight (upstream divides by it).
 *
 * @param bag - the bag.
 * @throws RangeError or TypeError naming the member, source and value.
 */
export function validateBag(bag: ModelBag): void {
  if (!Array.isArray(bag.sources) || bag.sources.length === 0) throw new TypeError(`bag.sources must be a non-empty array (got ${describeValue(bag.sources)})`);
  if (bag.members.length === 0) throw new RangeError('bag.members is empty');
  bag.members.forEach((m, i) => {
    if (typeof m.load !== 'function') throw new TypeError(`bag.members[${i}].load must be a function (got ${describeValue(m.load)})`);
    if (m.weights.length !== bag.sources.length) {
      throw new RangeError(`bag.members[${i}] (${m.name}) has ${m.weights.length} weights; the bag has ${bag.sources.length} sources`);
    }
    m.weights.forEach((w, k) => {
      if (!(Number.isFinite(w) && w >= 0)) throw new RangeError(`bag.members[${i}] (${m.name}) weight for ${bag.sources[k]} must be a finite number ≥ 0 (got ${describeValue(w)})`);
    });
  });
  bag.sources.forEach((name, k) => {
    if (bagTotal(bag, k) <= 0) throw new RangeError(`no member of the bag has a positive weight for ${JSON.stringify(name)}`);
  });
}

/**
 * The total weight of a source over every member (upstream's `totals[k]`).
 *
 * @param bag - the bag.
 * @param source - source index.
 * @returns `Σ_m W[m][source]`.
 */
export function bagTotal(bag: ModelBag, source: number): number {
  return bag.members.reduce((t, m) => t + m.weights[source]!, 0);
}

/**
 * The members a set of sources needs: those with a non-zero weight for any of them.
 *
 * @param bag - the bag.
 * @param sources - source indices asked for.
 * @returns member indices, in bag order.
 */
export function requiredMembers(bag: ModelBag, sources: readonly number[]): number[] {
  return bag.members.flatMap((m, i) => (sources.some((k) => m.weights[k] !== 0) ? [i] : []));
}
