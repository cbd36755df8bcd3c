/**
 * Just enough music theory for the song synthesiser: keys, diatonic scales and triads,
 * MIDI note numbers and their frequencies (twelve-tone equal temperament, A4 = 440 Hz).
 *
 * @packageDocumentation
 */

/** Major or natural minor. */
export type KeyMode = 'major' | 'minor';

/** A key: tonic pitch class (0 = C … 11 = B) and mode. */
export interface MusicalKey {
  /** Pitch class of the tonic, 0 = C, 1 = C#, … 11 = B. */
  readonly tonic: number;
  readonly mode: KeyMode;
  /** Human-readable name, e.g. `'F# minor'`. */
  readonly name: string;
}

/** A chord as pitch classes, root first. */
export interface Chord {
  /** Pitch class of the root. */
  readonly root: number;
  /** Pitch classes of the chord tones, root first (a triad: root, third, fifth). */
  readonly pcs: readonly number[];
  /** Chord symbol, e.g. `'Am'`, `'F'`, `'Bdim'`. */
  readonly name: string;
}

/** Pitch-class names used in key and chord names (sharps, except the usual flats). */
export const PITCH_CLASS_NAMES = Object.freeze(['C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B']);

/** Semitones above the tonic of each scale degree. */
export const SCALE_STEPS: Readonly<Record<KeyMode, readonly number[]>> = Object.freeze({
  major: Object.freeze([0, 2, 4, 5, 7, 9, 11]),
  minor: Object.freeze([0, 2, 3, 5, 7, 8, 10]),
});

/** MIDI note number of A4. */
const MIDI_A4 = 69;
/** Frequency of A4 in Hz. */
const A4_HZ = 440;
/** Semitones per octave. */
export const SEMITONES_PER_OCTAVE = 12;

const LETTER_PCS: Readonly<Record<string, number>> = Object.freeze({ C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11 });

/**
 * @param midi - MIDI note number (may be fractional)
 * @returns the frequency in Hz, twelve-tone equal temperament with A4 = 440 Hz
 */
export function midiToHz(midi: number): number {
  return A4_HZ * 2 ** ((midi - MIDI_A4) / SEMITONES_PER_OCTAVE);
}

/** @returns `x` modulo 12, in 0..11 also for negative `x`. */
export function pitchClass(x: number): number {
  return ((x % SEMITONES_PER_OCTAVE) + SEMITONES_PER_OCTAVE) % SEMITONES_PER_OCTAVE;
}

/**
 * @param tonic - pitch class 0..11
 * @param mode - major or minor
 */
export function makeKey(tonic: number, mode: KeyMode): MusicalKey {
  const pc = pitchClass(tonic);
  return Object.freeze({ tonic: pc, mode, name: `${PITCH_CLASS_NAMES[pc]!} ${mode}` });
}

/**
 * Parses a key name: a letter A–G, an optional `#` or `b`, and an optional mode
 * (`major`, `maj`, `minor`, `min`, `m`; default major). Case-insensitive except `m`/`M` is not
 * special: `Am`, `a minor`, `F#`, `Bb major` all work.
 *
 * @throws RangeError naming the text when it is not a key.
 */
export function parseKey(text: string): MusicalKey {
  const match = /^\s*([A-Ga-g])([#b]?)\s*(major|maj|minor|min|m)?\s*$/i.exec(text);
  if (match === null) {
    throw new RangeError(`key ('${text}') must look like 'C major', 'A minor', 'F#m' or 'Bb'`);
  }
  const letter = match[1]!.toUpperCase();
  const accidental = match[2] === '#' ? 1 : match[2] === 'b' ? -1 : 0;
  const modeText = (match[3] ?? 'major').toLowerCase();
  const mode: KeyMode = modeText.startsWith('maj') ? 'major' : 'minor';
  return makeKey(LETTER_PCS[letter]! + accidental, mode);
}

/**
 * The diatonic triad on a scale degree.
 *
 * @param key - the key
 * @param degree - 0-based scale degree (0 = I/i … 6 = vii)
 */
export function diatonicTriad(key: MusicalKey, degree: number): Chord {
  const steps = SCALE_STEPS[key.mode];
  const n = steps.length;
  const at = (d: number): number => {
    const octave = Math.floor(d / n);
    return steps[d - octave * n]! + SEMITONES_PER_OCTAVE * octave;
  };
  const rootSemis = at(degree);
  const third = at(degree + 2) - rootSemis;
  const fifth = at(degree + 4) - rootSemis;
  const root = pitchClass(key.tonic + rootSemis);
  const suffix = third === 3 ? (fifth === 6 ? 'dim' : 'm') : '';
  return Object.freeze({
    root,
    pcs: Object.freeze([root, pitchClass(root + third), pitchClass(root + fifth)]),
    name: `${PITCH_CLASS_NAMES[root]!}${suffix}`,
  });
}

/**
 * @returns every MIDI note in [lo, hi] whose pitch class is in `pcs`, ascending
 */
export function notesInRange(pcs: readonly number[], lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let m = lo; m <= hi; m++) if (pcs.includes(pitchClass(m))) out.push(m);
  return out;
}

/** @returns the pitch classes of the key's scale, tonic first. */
export function scalePcs(key: MusicalKey): number[] {
  return SCALE_STEPS[key.mode].map((s) => pitchClass(key.tonic + s));
}
