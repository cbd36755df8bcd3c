/**
 * Named chunking profiles: which model window to run and how much consecutive windows
 * overlap. A profile is data, applied in two places: the model is retargeted to
 * `segmentSamples` (`retargetSegment` in `demucs-mobile/quant`), and the {@link Separator} gets
 * the `overlap`.
 */
import { DEFAULT_OVERLAP, DEFAULT_SEGMENT_SAMPLES, SAMPLE_RATE_HZ } from './constants.js';

/** A chunking profile. */
export interface ChunkingProfile {
  /** Short name, for logs and docs. */
  readonly name: string;
  /** Model window in samples at 44.1 kHz (the model must be fixed to this length). */
  readonly segmentSamples: number;
  /** Overlap between consecutive windows, as a fraction of the window, in [0, 1). */
  readonly overlap: number;
}

/**
 * The mobile profile: 1 s windows (44100 samples, 44 STFT frames) with 25 % overlap.
 *
 * @remarks
 * HTDemucs ran out of memory on the Galaxy S24's NPU for the 7.8 s window and for 2 s
 * windows; 1 s windows worked (see docs/mobile.md). Shorter windows see less context, so the
 * stems are worse than with the 7.8 s model: docs/mobile.md has the measured cost.
 *
 * @example
 * ```ts
 * import { MOBILE_PROFILE, Separator } from 'demucs-mobile';
 * import { readModel, retargetSegment, writeModel } from 'demucs-mobile/quant';
 *
 * const model = readModel(bytes);
 * retargetSegment(model, MOBILE_PROFILE.segmentSamples);
 * const session = await backend.load(writeModel(model));
 * const separator = new Separator(session, { overlap: MOBILE_PROFILE.overlap });
 * ```
 */
export const MOBILE_PROFILE: ChunkingProfile = Object.freeze({ name: 'mobile', segmentSamples: SAMPLE_RATE_HZ, overlap: DEFAULT_OVERLAP });

/** The released models' own chunking: 7.8 s windows (343980 samples) with 25 % overlap. */
export const FULL_PROFILE: ChunkingProfile = Object.freeze({ name: 'full', segmentSamples: DEFAULT_SEGMENT_SAMPLES, overlap: DEFAULT_OVERLAP });
