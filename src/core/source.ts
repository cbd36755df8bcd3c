/**
 * Random-access audio input for the separator: an in-memory track, or a reader over a file
 * that never holds the whole track.
 */
import type { PlanarAudio } from './audio.js';

/**
 * Audio the separator can read any span of. Reads are for increasing spans, each a little
 * before the last one ends (the window's left context), so a file reader needs no cache.
 */
export interface AudioSource {
  /** Samples per second, in Hz. */
  readonly sampleRate: number;
  /** Number of channels. */
  readonly channelCount: number;
  /** Number of frames (samples per channel). */
  readonly frames: number;
  /**
   * Copies frames `[start, start + out[0].length)` into `out`, one array per channel.
   *
   * @param start - first frame, with the whole span inside `[0, frames)`.
   * @param out - `channelCount` arrays of equal length, filled by the call.
   */
  read(start: number, out: readonly Float32Array[]): void | Promise<void>;
}

/**
 * Whether a value is an {@link AudioSource} rather than {@link PlanarAudio}.
 *
 * @param input - either kind of input.
 * @returns true for a source.
 */
export function isAudioSource(input: PlanarAudio | AudioSource): input is AudioSource {
  return typeof (input as AudioSource).read === 'function';
}

/**
 * Wraps in-memory audio as an {@link AudioSource} (no copy).
 *
 * @param audio - planar audio.
 * @returns a source reading from `audio`'s arrays.
 * @throws RangeError when the channels differ in length.
 */
export function arraySource(audio: PlanarAudio): AudioSource {
  const channels = audio.channels;
  const frames = channels[0]?.length ?? 0;
  channels.forEach((c, i) => {
    if (c.length !== frames) throw new RangeError(`channel ${i} has ${c.length} frames, channel 0 has ${frames}`);
  });
  return {
    sampleRate: audio.sampleRate,
    channelCount: channels.length,
    frames,
    read(start, out) {
      out.forEach((o, c) => o.set(channels[c]!.subarray(start, start + o.length)));
    },
  };
}
