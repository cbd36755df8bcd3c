/**
 * The audio shape every stage exchanges: planar float32 channels at a sample rate.
 */

/**
 * Planar audio: one `Float32Array` per channel, all the same length, samples in full-scale
 * units (±1). Arrays are used as views; nothing in this library mutates an input's channels.
 */
export interface PlanarAudio {
  /** Samples per second, in Hz. */
  readonly sampleRate: number;
  /** One array per channel, equal lengths. */
  readonly channels: readonly Float32Array[];
}

/**
 * Number of frames (samples per channel) of planar audio.
 *
 * @param audio - the audio.
 * @returns the common channel length, 0 when there are no channels.
 */
export function frameCount(audio: PlanarAudio): number {
  return audio.channels[0]?.length ?? 0;
}
