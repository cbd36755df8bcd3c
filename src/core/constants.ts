/**
 * Named constants of the HTDemucs host pipeline, each with its unit and where it comes
 * from in the reference (facebookresearch/demucs @ e976d93 unless noted). The model's own
 * shape (segment, frames, bins, sources) is read from the graph at load time
 * ({@link ModelSpec}); these are the defaults and the fixed DSP parameters.
 *
 * @packageDocumentation
 */

/** Model sample rate in Hz. `HTDemucs(samplerate=44100)` in `demucs/htdemucs.py`. */
export const SAMPLE_RATE_HZ = 44100;

/** Audio channels the model consumes. `HTDemucs(audio_channels=2)`. */
export const AUDIO_CHANNELS = 2;

/** STFT size in samples. `nfft: 4096` in `conf/config.yaml` (htdemucs section). */
export const N_FFT = 4096;

/** STFT hop in samples: `self.hop_length = nfft // 4` in `HTDemucs.__init__`. */
export const HOP_LENGTH = N_FFT / 4;

/**
 * STFT scale: `normalized=True` in `spectro()` (`demucs/spec.py`) multiplies the forward
 * transform by 1/√n_fft = 1/64 and the inverse by √n_fft.
 */
export const STFT_SCALE = 1 / Math.sqrt(N_FFT);

/**
 * Left reflect padding before the STFT in samples: `pad = hl // 2 * 3` in `HTDemucs._spec`.
 */
export const STFT_PAD_LEFT = Math.floor(HOP_LENGTH / 2) * 3;

/**
 * Number of zero frames `_ispec` puts back on each side before the iSTFT
 * (`F.pad(z, (2, 2))` in `HTDemucs._ispec`); the STFT keeps frames `2 : 2 + le`.
 */
export const STFT_EDGE_FRAMES = 2;

/** Default segment in samples: `int(Fraction(39, 5) * 44100)`, the 7.8 s training segment. */
export const DEFAULT_SEGMENT_SAMPLES = 343980;

/** Default overlap between chunks as a fraction of the segment: `overlap=0.25` in `apply_model`. */
export const DEFAULT_OVERLAP = 0.25;

/** Triangle weight exponent: `transition_power=1.` in `apply_model`. */
export const DEFAULT_TRANSITION_POWER = 1;

/** Largest random shift in samples: `max_shift = int(0.5 * model.samplerate)` in `apply_model`. */
export const MAX_SHIFT_SAMPLES = Math.floor(0.5 * SAMPLE_RATE_HZ);

/** Default number of random shifts: `shifts=1` in `apply_model` and the `demucs` CLI. */
export const DEFAULT_SHIFTS = 1;

/**
 * Added to the whole-track standard deviation before dividing:
 * `wav /= ref.std() + 1e-8` in `Separator.separate_tensor` (`demucs/api.py`, ≥ 4.1.0a).
 */
export const NORM_EPSILON = 1e-8;

/** Source names of the 4-stem models, in output order (`demucs/pretrained.py` `SOURCES`). */
export const SOURCES_4 = Object.freeze(['drums', 'bass', 'other', 'vocals'] as const);

/** Source names of `htdemucs_6s`, in output order (`demucs/remote/htdemucs_6s.yaml`). */
export const SOURCES_6 = Object.freeze(['drums', 'bass', 'other', 'vocals', 'guitar', 'piano'] as const);
