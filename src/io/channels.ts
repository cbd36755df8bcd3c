/**
 * Channel mapping to the two channels the model consumes.
 *
 * @packageDocumentation
 */

import { DemucsError, describeValue } from '../core/errors.js';
import { isFloat32Array } from '../core/typed-arrays.js';


/**
 * Maps planar channels to stereo the way upstream demucs `convert_audio_channels`
 * (`demucs/audio.py`) does.
 *
 * @remarks
 * - 1 channel: duplicated. Both entries are the **same array** (shares storage, no copy), so
 *   writing to one writes to the other; copy first if you mean to change them separately.
 * - 2 channels: returned as they are (a new outer array holding the same channel arrays).
 * - More than 2: the first two are kept and the rest dropped, with **no downmix**, as upstream
 *   does ("keep the first two").
 *
 * No sample is copied in any case.
 *
 * @see https://github.com/facebookresearch/demucs/blob/main/demucs/audio.py (`convert_audio_channels`)
 *
 * @param channels - planar channels.
 * @returns two channel arrays, views of the inputs.
 * @throws A {@link DemucsError} with code `ERR_AUDIO_EMPTY` when there are no channels.
 * @throws `TypeError` when a kept channel is not a `Float32Array`.
 * @throws `RangeError` when the two kept channels differ in length.
 *
 * @example
 * ```ts
 * const [l, r] = toStereo([mono]); // l === r === mono
 * ```
 */
export function toStereo(channels: readonly Float32Array[]): Float32Array[] {
  if (!Array.isArray(channels)) {
    throw new TypeError(`channels must be an array of Float32Array (got ${describeValue(channels)})`);
  }
  if (channels.length === 0) {
    throw new DemucsError('ERR_AUDIO_EMPTY', 'channels is empty (0 channels); need at least one to make stereo');
  }
  const left: unknown = channels[0];
  if (!isFloat32Array(left)) throw new TypeError(`channels[0] must be a Float32Array (got ${describeValue(left)})`);
  if (channels.length === 1) return [left, left];
  const right: unknown = channels[1];
  if (!isFloat32Array(right)) throw new TypeError(`channels[1] must be a Float32Array (got ${describeValue(right)})`);
  if (right.length !== left.length) {
    throw new RangeError(
      `channels[1] has ${right.length} samples but channels[0] has ${left.length}; channels must have equal lengths`,
    );
  }
  return [left, right];
}
