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

/** −3 dB: the ITU-R BS.775 weight of centre and surround channels in a stereo downmix. */
const MINUS_3_DB = Math.SQRT1_2;

/**
 * Stereo downmix weights by input channel count, for the default WAVE/SMPTE channel orders
 * (what WAV, FLAC and most decoders deliver): `[left weights, right weights]`, one weight per
 * input channel.
 *
 * ITU-R BS.775 coefficients: front left/right at 1, centre and surrounds at −3 dB (0.7071)
 * into both sides or their own side, LFE dropped. No normalisation: the sum can exceed full
 * scale, which the float pipeline carries and `--clip-mode rescale` handles on output.
 *
 * | channels | layout | left | right |
 * |---|---|---|---|
 * | 3 | FL FR FC | FL + 0.707·FC | FR + 0.707·FC |
 * | 4 | FL FR BL BR | FL + 0.707·BL | FR + 0.707·BR |
 * | 5 | FL FR FC BL BR | FL + 0.707·(FC + BL) | FR + 0.707·(FC + BR) |
 * | 6 | FL FR FC LFE BL BR (5.1) | FL + 0.707·(FC + BL) | FR + 0.707·(FC + BR) |
 * | 7 | FL FR FC LFE BC SL SR (6.1) | FL + 0.707·(FC + SL) + 0.5·BC | FR + 0.707·(FC + SR) + 0.5·BC |
 * | 8 | FL FR FC LFE BL BR SL SR (7.1) | FL + 0.707·(FC + BL + SL) | FR + 0.707·(FC + BR + SR) |
 * | other | unknown | mean of even-numbered channels | mean of odd-numbered channels |
 *
 * @param channelCount - input channels, more than 2.
 * @returns the two weight rows.
 */
export function downmixWeights(channelCount: number): [number[], number[]] {
  const a = MINUS_3_DB;
  switch (channelCount) {
    case 3:
      return [
        [1, 0, a],
        [0, 1, a],
      ];
    case 4:
      return [
        [1, 0, a, 0],
        [0, 1, 0, a],
      ];
    case 5:
      return [
        [1, 0, a, a, 0],
        [0, 1, a, 0, a],
      ];
    case 6:
      return [
        [1, 0, a, 0, a, 0],
        [0, 1, a, 0, 0, a],
      ];
    case 7:
      return [
        [1, 0, a, 0, 0.5, a, 0],
        [0, 1, a, 0, 0.5, 0, a],
      ];
    case 8:
      return [
        [1, 0, a, 0, a, 0, a, 0],
        [0, 1, a, 0, 0, a, 0, a],
      ];
    default: {
      const evens = Math.ceil(channelCount / 2);
      const odds = Math.floor(channelCount / 2);
      const row = (parity: number, count: number) => Array.from({ length: channelCount }, (_, i) => (i % 2 === parity ? 1 / count : 0));
      return [row(0, evens), row(1, odds)];
    }
  }
}

/**
 * Maps any number of channels to stereo for the model: mono is duplicated (the same array
 * twice, no copy), stereo passes through, and more channels are downmixed with
 * {@link downmixWeights}. This differs from upstream demucs, which keeps the first two
 * channels of a multichannel file (see {@link toStereo} for that behaviour).
 *
 * Works on any block of a stream: each output sample depends only on the same frame.
 *
 * @param channels - planar channels of equal length.
 * @returns two channel arrays; new arrays only when a downmix happened.
 * @throws A {@link DemucsError} with code `ERR_AUDIO_EMPTY` when there are no channels.
 * @throws `RangeError` when the channels differ in length.
 *
 * @example
 * ```ts
 * const [left, right] = downmixToStereo(fivePointOne); // ITU-R BS.775, LFE dropped
 * ```
 */
export function downmixToStereo(channels: readonly Float32Array[]): Float32Array[] {
  if (channels.length <= 2) return toStereo(channels);
  const frames = channels[0]!.length;
  channels.forEach((c, i) => {
    if (!isFloat32Array(c)) throw new TypeError(`channels[${i}] must be a Float32Array (got ${describeValue(c)})`);
    if (c.length !== frames) throw new RangeError(`channels[${i}] has ${c.length} samples but channels[0] has ${frames}`);
  });
  return downmixWeights(channels.length).map((weights) => {
    const out = new Float32Array(frames);
    weights.forEach((w, c) => {
      if (w === 0) return;
      const x = channels[c]!;
      for (let i = 0; i < frames; i++) out[i]! += w * x[i]!;
    });
    return out;
  });
}
