/**
 * The error of the AI Hub client and backend: a {@link DemucsError} with the request or job it
 * is about. Messages never contain the API token.
 */
import { DemucsError } from '../../core/errors.js';

/** The error codes {@link QualcommHubError} uses. */
export type QualcommHubErrorCode = 'ERR_HUB_AUTH' | 'ERR_HUB_REQUEST' | 'ERR_HUB_JOB' | 'ERR_HUB_TIMEOUT';

/** What a {@link QualcommHubError} is about; every field is optional. */
export interface QualcommHubErrorDetails {
  /** The HTTP status of the last answer, when there was one. */
  readonly status?: number | undefined;
  /** The request, as `METHOD /path/` (no query string, no host, no token). */
  readonly request?: string | undefined;
  /** The job's id (`j…`). */
  readonly jobId?: string | undefined;
  /** The job's kind: `'compile'`, `'profile'`, `'inference'`, … */
  readonly jobType?: string | undefined;
  /** The job's last known state, e.g. `'FAILED'` or `'RUNNING_INFERENCE'`. */
  readonly jobState?: string | undefined;
  /** The failure category AI Hub reported, e.g. `'RUNTIME_DEVICE_OOM'`. */
  readonly failureType?: string | undefined;
  /** The failure text AI Hub reported. */
  readonly failureReason?: string | undefined;
  /** Attempts made before giving up (requests retried on 429/5xx/network errors). */
  readonly attempts?: number | undefined;
}

/**
 * A failure talking to Qualcomm AI Hub, or a failed AI Hub job.
 *
 * @example
 * ```ts
 * try { await session.run(windows); } catch (e) {
 *   if (e instanceof QualcommHubError && e.details.failureType === 'RUNTIME_DEVICE_OOM') { ... }
 * }
 * ```
 */
export class QualcommHubError extends DemucsError {
  /** The request or job the error is about. */
  readonly details: QualcommHubErrorDetails;

  /**
   * @param code - the error code.
   * @param message - what went wrong, naming the request or job and its state.
   * @param details - the request, status, job and state.
   * @param cause - a lower-level error, already free of secrets.
   */
  constructor(code: QualcommHubErrorCode, message: string, details: QualcommHubErrorDetails = {}, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.details = Object.freeze({ ...details });
  }
}
