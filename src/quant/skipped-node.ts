/** A node a graph rewrite of `demucs-mobile/quant` left as it was, and why. */
export interface SkippedNode {
  /** The node's name. */
  readonly node: string;
  /** What differs from the pattern rewritten, or why rewriting it would not pay. */
  readonly reason: string;
}
