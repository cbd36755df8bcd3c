/**
 * The error a promise rejects with, reduced to what tests assert on.
 */
import { isDemucsError } from '../../src/core/errors.js';

/** What a rejection carried. */
export interface Rejection {
  /** The DemucsError code, if it was one. */
  readonly code: string | undefined;
  readonly name: string;
  readonly message: string;
}

/** Awaits `p`, which must reject, and describes the error. */
export async function rejection(p: Promise<unknown>): Promise<Rejection> {
  try {
    await p;
  } catch (e) {
    return { code: isDemucsError(e) ? e.code : undefined, name: (e as Error).name, message: (e as Error).message };
  }
  throw new Error('expected a rejection');
}
