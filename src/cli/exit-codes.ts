/**
 * Exit codes of the `demucs-mobile` command, stable for scripts.
 */
import { isDemucsError, type DemucsErrorCode } from '../core/errors.js';

/** Exit codes by meaning. */
export const EXIT = Object.freeze({
  /** Everything asked for was written. */
  OK: 0,
  /** An unexpected failure (a bug, or the runtime crashed). */
  FAILURE: 1,
  /** Bad command-line usage: unknown flag, bad value, missing argument. */
  USAGE: 2,
  /** An input file could not be read or is not usable audio. */
  INPUT: 3,
  /** The model could not be found, verified or loaded. */
  MODEL: 4,
  /** Inference or output writing failed. */
  RUNTIME: 5,
  /** Interrupted (SIGINT / SIGTERM); partial outputs were removed. */
  INTERRUPTED: 130,
});

const BY_CODE: Record<DemucsErrorCode, number> = {
  ERR_AUDIO_EMPTY: EXIT.INPUT,
  ERR_AUDIO_TRUNCATED: EXIT.INPUT,
  ERR_AUDIO_FORMAT: EXIT.INPUT,
  ERR_AUDIO_CODEC: EXIT.INPUT,
  ERR_SAMPLE_RATE: EXIT.INPUT,
  ERR_NON_FINITE: EXIT.INPUT,
  ERR_MODEL_SHAPE: EXIT.MODEL,
  ERR_MODEL_GRAPH: EXIT.MODEL,
  ERR_MODEL_CHECKSUM: EXIT.MODEL,
  ERR_MODEL_NOT_FOUND: EXIT.MODEL,
  ERR_MODEL_LOAD: EXIT.MODEL,
  ERR_MODEL_DOWNLOAD: EXIT.MODEL,
  ERR_RUNTIME_MISSING: EXIT.MODEL,
  ERR_INFERENCE: EXIT.RUNTIME,
  ERR_OUTPUT_EXISTS: EXIT.USAGE,
  ERR_DISPOSED: EXIT.FAILURE,
  ERR_HUB_AUTH: EXIT.USAGE,
  ERR_HUB_REQUEST: EXIT.RUNTIME,
  ERR_HUB_JOB: EXIT.RUNTIME,
  ERR_HUB_TIMEOUT: EXIT.RUNTIME,
};

/**
 * The exit code for an error.
 *
 * @param e - anything thrown.
 * @returns the matching {@link EXIT} value.
 */
export function exitCodeFor(e: unknown): number {
  if (isDemucsError(e)) return BY_CODE[e.code];
  if (e instanceof Error && e.name === 'AbortError') return EXIT.INTERRUPTED;
  if (e instanceof RangeError || e instanceof TypeError) return EXIT.USAGE;
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') return EXIT.INPUT;
  return EXIT.FAILURE;
}
