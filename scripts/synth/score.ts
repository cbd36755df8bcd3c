/**
 * The composer of the song synthesiser: turns a seed into a song form, chord progressions,
 * drum grooves with fills, a bass line, chords for pad, guitar and electric piano, and a sung
 * melody with rests, then into the {@link Voice}s that play them.
 *
 * Each part draws from its own forked {@link Rng}, so changing one part's choices does not
 * shift the others. Tempo and key are always drawn, even when given, for the same reason.
 *
 * @internal
 * @packageDocumentation
 */

import { Rng } from './rng.js';
import {
  diatonicTriad,
  makeKey,
  midiToHz,
  notesInRange,
  pitchClass,
  scalePcs,
  type Chord,
  type KeyMode,
  type MusicalKey,
} from './theory.js';
import {
  BassVoice,
  ConsonantVoice,
  GuitarVoice,
  KeysVoice,
  NoiseDrumVoice,
  PadVoice,
  PingPongDelay,
  PitchedDrumVoice,
  SnareVoice,
  SoftClipBus,
  VocalPhraseVoice,
  type Bus,
  type StringEvent,
  type SungNote,
  type Voice,
  type Vowel,
} from './voices.js';

/** The four stems, in the order HTDemucs outputs them. */
export const STEM_NAMES = Object.freeze(['drums', 'bass', 'other', 'vocals'] as const);

/** Name of one stem. */
export type StemName = (typeof STEM_NAMES)[number];

/** Kind of song section. */
export type SectionKind = 'intro' | 'verse' | 'chorus' | 'bridge';

/** Register of the singer. */
export type VoiceRange = 'high' | 'low';

/** One section of the song as rendered (clipped to the song's length). */
export interface SectionInfo {
  readonly kind: SectionKind;
  /** First frame of the section. */
  readonly startFrame: number;
  /** One past its last frame (clipped to the song). */
  readonly endFrame: number;
  readonly startSeconds: number;
  readonly endSeconds: number;
  /** Chord symbols per bar; two chords in a bar are joined by a space (`'Am F'`). */
  readonly chords: readonly string[];
  /** Per bar: whether the singer sings in that bar. */
  readonly vocalBars: readonly boolean[];
  /** Drum groove name. */
  readonly groove: string;
}

/** What was composed: everything but the audio. */
export interface SongMeta {
  readonly seed: number;
  readonly sampleRate: number;
  /** Frames per channel. */
  readonly frames: number;
  /** `frames / sampleRate`. */
  readonly seconds: number;
  readonly tempoBpm: number;
  readonly key: MusicalKey;
  /** Length of a 4/4 bar, s. */
  readonly barSeconds: number;
  readonly voiceRange: VoiceRange;
  readonly sections: readonly SectionInfo[];
}

/** The options {@link buildScore} needs, already validated and defaulted. */
export interface ResolvedSongOptions {
  readonly seed: number;
  readonly frames: number;
  readonly sampleRate: number;
  readonly tempoBpm: number | undefined;
  readonly key: MusicalKey | undefined;
}

/** A composed song, ready to render. */
export interface Score {
  readonly meta: SongMeta;
  /** Voices per stem, sorted by start frame. */
  readonly voices: Readonly<Record<StemName, Voice[]>>;
  /** Stem effects (applied after the voices, before the fade). */
  readonly buses: Readonly<Record<StemName, Bus[]>>;
}

/** Range of the drawn tempo, BPM, both ends included. */
export const TEMPO_RANGE_BPM = Object.freeze([90, 140] as const);

/** Beats per bar (4/4 throughout). */
const BEATS_PER_BAR = 4;
/** Grid steps per bar for drums (sixteenth notes). */
const STEPS_PER_BAR = 16;
/** Eighth notes per bar. */
const EIGHTHS_PER_BAR = 8;

/** Relative levels of the instruments before mastering (linear amplitude). */
const LEVEL = Object.freeze({
  kick: 0.9,
  snare: 1.2,
  hat: 0.55,
  openHat: 0.3,
  crash: 0.35,
  tom: 0.6,
  bass: 0.42,
  pad: 0.25,
  guitar: 0.14,
  keys: 0.22,
  vocal: 0.24,
  consonant: 1.5,
});

/** Ceiling of the drum-bus saturator (raw level, before mastering). */
const DRUM_BUS_CEILING = 0.5;
/** Ceiling of the saturator on the other-instruments bus (tames guitar pick transients). */
const OTHER_BUS_CEILING = 0.4;

/** Standard guitar tuning, MIDI notes of the open strings, low E to high E. */
const GUITAR_OPEN_STRINGS = Object.freeze([40, 45, 50, 55, 59, 64]);
/** Highest fret searched for a voicing. */
const GUITAR_MAX_ROOT_FRET = 7;

/** Lowest MIDI note of a bass root (E1); roots fall in the octave above it. */
const BASS_LOWEST_ROOT = 28;
/** Release of a bass note, s. */
const BASS_RELEASE_SECONDS = 0.02;

/** Lowest and highest MIDI notes of the two vocal ranges. */
const VOCAL_RANGES: Readonly<Record<VoiceRange, readonly [number, number]>> = Object.freeze({
  high: [57, 76],
  low: [48, 67],
});

/** Standard deviation of the singer's intonation error, semitones (8 cents). */
const VOCAL_INTONATION_SD_SEMITONES = 0.08;

/** Gap between a sung note and the next one when they are not slurred, s. */
const VOCAL_ARTICULATION_SECONDS = 0.07;

/** Longest fade-out at the end of the song, s. */
const MAX_FADE_OUT_SECONDS = 2;

type VowelName = 'a' | 'e' | 'i' | 'o' | 'u';
const VOWEL_NAMES: readonly VowelName[] = ['a', 'e', 'i', 'o', 'u'];
const VOWEL_WEIGHTS = [4, 2, 2, 3, 1];
/** Formant bandwidths are widened by this factor from the table (less whistly on a synthetic source). */
const BANDWIDTH_SCALE = 1.4;

function vowel(freqs: [number, number, number, number], bw: [number, number, number, number]): Vowel {
  return Object.freeze({
    freqs,
    bandwidths: bw.map((b) => b * BANDWIDTH_SCALE) as [number, number, number, number],
  });
}

/**
 * Formants (F1–F4) and bandwidths of sung vowels: alto for the high voice, tenor for the low
 * one, from the Csound manual's formant table (Appendix "Formant Values").
 *
 * @see https://csound.com/docs/manual/MiscFormants.html
 */
const VOWELS: Readonly<Record<VoiceRange, Readonly<Record<VowelName, Vowel>>>> = Object.freeze({
  high: Object.freeze({
    a: vowel([800, 1150, 2800, 3500], [80, 90, 120, 130]),
    e: vowel([400, 1600, 2700, 3300], [60, 80, 120, 150]),
    i: vowel([350, 1700, 2700, 3700], [50, 100, 120, 150]),
    o: vowel([450, 800, 2830, 3500], [70, 80, 100, 130]),
    u: vowel([325, 700, 2530, 3500], [50, 60, 170, 180]),
  }),
  low: Object.freeze({
    a: vowel([650, 1080, 2650, 2900], [80, 90, 120, 130]),
    e: vowel([400, 1700, 2600, 3200], [70, 80, 100, 120]),
    i: vowel([290, 1870, 2800, 3250], [40, 90, 100, 120]),
    o: vowel([400, 800, 2600, 2800], [40, 80, 100, 120]),
    u: vowel([350, 600, 2700, 2900], [40, 60, 100, 120]),
  }),
});

/** Noise band, length and placement of each consonant. */
interface ConsonantShape {
  readonly centerHz: number;
  readonly bandwidthHz: number;
  readonly seconds: number;
  readonly level: number;
  readonly attackFraction: number;
}
const CONSONANTS: Readonly<Record<string, ConsonantShape>> = Object.freeze({
  s: { centerHz: 6500, bandwidthHz: 3500, seconds: 0.085, level: 0.55, attackFraction: 0.4 },
  sh: { centerHz: 3200, bandwidthHz: 1800, seconds: 0.09, level: 0.5, attackFraction: 0.4 },
  t: { centerHz: 4200, bandwidthHz: 3000, seconds: 0.018, level: 1, attackFraction: 0.1 },
  k: { centerHz: 2300, bandwidthHz: 1600, seconds: 0.022, level: 0.9, attackFraction: 0.1 },
  h: { centerHz: 1600, bandwidthHz: 2600, seconds: 0.05, level: 0.35, attackFraction: 0.5 },
});
const CONSONANT_NAMES = Object.keys(CONSONANTS);
const CONSONANT_WEIGHTS = [3, 1, 3, 2, 1];

/** Chord progressions as 0-based scale degrees. */
const PROGRESSIONS: Readonly<Record<KeyMode, readonly (readonly number[])[]>> = Object.freeze({
  major: [
    [0, 4, 5, 3],
    [5, 3, 0, 4],
    [0, 5, 3, 4],
    [0, 3, 4, 3],
    [0, 3, 5, 4],
    [1, 4, 0, 0],
    [0, 2, 3, 4],
    [3, 0, 4, 5],
  ],
  minor: [
    [0, 5, 2, 6],
    [0, 3, 6, 2],
    [0, 6, 5, 6],
    [0, 5, 3, 4],
    [0, 3, 4, 0],
    [5, 6, 0, 0],
  ],
});

/** A drum groove on a sixteenth-note grid: X accent, x normal, g ghost, o open hat. */
interface Groove {
  readonly kick: string;
  readonly snare: string;
  readonly hat: string;
}
const GROOVES: Readonly<Record<string, Groove>> = Object.freeze({
  sparse: { kick: 'x.......x.......', snare: '................', hat: 'x...x...x...x...' },
  halfTime: { kick: 'x.........x.....', snare: '........X.......', hat: 'x.x.x.x.x.x.x.x.' },
  rock8: { kick: 'x.......x.x.....', snare: '....X.......X...', hat: 'X.x.X.x.X.x.X.x.' },
  rockSync: { kick: 'x......x..x.....', snare: '....X.......X..g', hat: 'X.x.X.x.X.x.X.x.' },
  rock8Open: { kick: 'x.......x.x.....', snare: '....X.......X...', hat: 'X.x.X.x.X.x.X.o.' },
  drive16: { kick: 'x.....x.x.x.....', snare: '....X.......X...', hat: 'XgxgXgxgXgxgXgxg' },
  fourFloor: { kick: 'X...X...X...X...', snare: '....X.......X...', hat: 'x.o.x.o.x.o.x.o.' },
});
const SECTION_GROOVES: Readonly<Record<SectionKind, readonly string[]>> = Object.freeze({
  intro: ['sparse', 'halfTime'],
  verse: ['rock8', 'rockSync', 'halfTime'],
  chorus: ['drive16', 'fourFloor', 'rock8Open'],
  bridge: ['halfTime', 'sparse'],
});

/** Bass rhythm per bar in eighths: R root, O octave, F fifth, - tie, . rest. */
const BASS_PATTERNS: Readonly<Record<string, string>> = Object.freeze({
  whole: 'R-------',
  halves: 'R---R---',
  rock: 'R--R--R-',
  eighths: 'RRRRRRRR',
  octaves: 'RORORORO',
  rootFifth: 'R-R-F-R-',
  push: 'R--R-.RR',
});
const SECTION_BASS: Readonly<Record<SectionKind, readonly string[]>> = Object.freeze({
  intro: ['whole', 'halves'],
  verse: ['rock', 'eighths', 'rootFifth', 'push'],
  chorus: ['eighths', 'octaves', 'rock'],
  bridge: ['halves', 'whole', 'rootFifth'],
});

/** Guitar strums per bar in eighths: D down, U up, . nothing. */
const STRUMS: Readonly<Record<SectionKind, readonly string[]>> = Object.freeze({
  intro: ['D...D...', 'D.......', 'D..D..D.'],
  verse: ['D.D.D.D.', 'D..UD.DU', 'D...D...', 'D..D..D.'],
  chorus: ['D.DU.UDU', 'D.D.DUDU', 'D..UD.DU'],
  bridge: ['D.......', 'D...D...'],
});

/** Which 2-bar vocal slots of an 8-bar verse are sung. */
const VERSE_SLOT_PATTERNS: readonly (readonly boolean[])[] = [
  [true, true, false, true],
  [true, false, true, true],
  [true, true, true, false],
  [true, false, true, false],
];

/** A note of a melody template, in beats from the start of its 2-bar slot. */
interface MelodyNote {
  readonly beat: number;
  readonly beats: number;
  readonly midi: number;
  readonly vowel: VowelName;
  readonly consonant: string | null;
  readonly slur: boolean;
  readonly scoop: boolean;
  readonly velocity: number;
  /** Intonation error in semitones. */
  readonly detune: number;
}

/** A section before it is clipped to the song: its kind and first bar. */
interface SectionPlan {
  readonly kind: SectionKind;
  readonly startBar: number;
  readonly bars: number;
}

/** Velocity of a grid character, or 0. */
function gridVelocity(c: string | undefined): number {
  switch (c) {
    case 'X':
      return 1;
    case 'x':
    case 'o':
      return 0.8;
    case 'g':
      return 0.35;
    default:
      return 0;
  }
}

/**
 * Composes the song for resolved options.
 *
 * @param o - validated options (frames, sample rate, seed; optional tempo and key)
 * @returns the meta data, the voices per stem and the stem buses
 */
export function buildScore(o: ResolvedSongOptions): Score {
  const sr = o.sampleRate;
  const root = new Rng(o.seed);
  const drawnTempo = root.int(TEMPO_RANGE_BPM[0], TEMPO_RANGE_BPM[1]);
  const drawnKey = makeKey(root.int(0, 11), root.chance(0.6) ? 'major' : 'minor');
  const tempoBpm = o.tempoBpm ?? drawnTempo;
  const key = o.key ?? drawnKey;
  const formRng = root.fork();
  const harmonyRng = root.fork();
  const drumRng = root.fork();
  const bassRng = root.fork();
  const otherRng = root.fork();
  const vocalRng = root.fork();

  const beatFrames = (60 / tempoBpm) * sr;
  const barFrames = BEATS_PER_BAR * beatFrames;
  const frameAtBeat = (beat: number): number => Math.round(beat * beatFrames);
  const songSeconds = o.frames / sr;

  // Form: intro, then verse, chorus (and a bridge every other time) until the song is full.
  const introBars = songSeconds < 20 ? 1 : songSeconds < 60 ? 2 : formRng.choice([2, 4]);
  const plans: SectionPlan[] = [{ kind: 'intro', startBar: 0, bars: introBars }];
  let bar = introBars;
  for (let cycle = 0; bar * barFrames < o.frames; cycle++) {
    const kinds: SectionKind[] = cycle % 2 === 1 ? ['verse', 'chorus', 'bridge'] : ['verse', 'chorus'];
    for (const kind of kinds) {
      const bars = kind === 'bridge' ? 4 : 8;
      plans.push({ kind, startBar: bar, bars });
      bar += bars;
    }
  }
  const totalBars = bar;

  // Harmony: one progression per section kind, one or two chords per bar.
  const progressions = PROGRESSIONS[key.mode];
  const verseProg = harmonyRng.choice(progressions);
  let chorusProg = harmonyRng.choice(progressions);
  if (chorusProg === verseProg) chorusProg = progressions[(progressions.indexOf(verseProg) + 1) % progressions.length]!;
  const bridgeProg = harmonyRng.choice(progressions);
  const progFor: Record<SectionKind, readonly number[]> = {
    intro: harmonyRng.chance(0.5) ? verseProg : chorusProg,
    verse: verseProg,
    chorus: chorusProg,
    bridge: bridgeProg,
  };
  const chordsPerBarFor: Record<SectionKind, number> = {
    intro: 1,
    verse: 1,
    chorus: harmonyRng.chance(0.3) ? 2 : 1,
    bridge: 1,
  };
  /** Chords of each bar (one or two) and the section plan each bar belongs to. */
  const barChords: Chord[][] = [];
  const barPlan: SectionPlan[] = [];
  for (const plan of plans) {
    const prog = progFor[plan.kind];
    const perBar = chordsPerBarFor[plan.kind];
    for (let b = 0; b < plan.bars; b++) {
      const chords: Chord[] = [];
      for (let h = 0; h < perBar; h++) chords.push(diatonicTriad(key, prog[(b * perBar + h) % prog.length]!));
      barChords.push(chords);
      barPlan.push(plan);
    }
  }
  const chordAt = (barIndex: number, eighth: number): Chord => {
    const chords = barChords[barIndex]!;
    return chords[Math.floor((eighth * chords.length) / EIGHTHS_PER_BAR)]!;
  };

  const voices: Record<StemName, Voice[]> = { drums: [], bass: [], other: [], vocals: [] };
  const inSong = (frame: number): boolean => frame >= 0 && frame < o.frames;

  // Drums.
  const grooveFor: Record<SectionKind, string> = {
    intro: drumRng.choice(SECTION_GROOVES.intro),
    verse: drumRng.choice(SECTION_GROOVES.verse),
    chorus: drumRng.choice(SECTION_GROOVES.chorus),
    bridge: drumRng.choice(SECTION_GROOVES.bridge),
  };
  composeDrums({
    rng: drumRng,
    sr,
    plans,
    totalBars,
    grooveFor,
    frameAtBeat,
    inSong,
    out: voices.drums,
  });

  // Bass.
  composeBass({ rng: bassRng, sr, key, totalBars, barPlan, chordAt, frameAtBeat, inSong, out: voices.bass });

  // Other: pad, guitar, keys.
  composeOther({ rng: otherRng, sr, plans, totalBars, barPlan, chordAt, frameAtBeat, inSong, out: voices.other });

  // Vocals.
  const voiceRange: VoiceRange = vocalRng.chance(0.5) ? 'high' : 'low';
  const vocalBars = composeVocals({
    rng: vocalRng,
    sr,
    key,
    plans,
    voiceRange,
    chordAt,
    frameAtBeat,
    frames: o.frames,
    out: voices.vocals,
  });
  const buses: Record<StemName, Bus[]> = {
    drums: [new SoftClipBus(DRUM_BUS_CEILING)],
    bass: [],
    other: [new SoftClipBus(OTHER_BUS_CEILING)],
    vocals: [
      new PingPongDelay({
        sampleRate: sr,
        delayFrames: beatFrames / 2,
        feedback: vocalRng.uniform(0.28, 0.4),
        dampingHz: 3500,
        send: vocalRng.uniform(0.15, 0.25),
      }),
    ],
  };

  for (const name of STEM_NAMES) {
    // Stable sort: equal starts keep composition order, which fixes the summation order.
    voices[name] = voices[name].filter((v) => v.end > v.start && v.start < o.frames).sort((a, b) => a.start - b.start);
  }

  const sections: SectionInfo[] = [];
  for (const plan of plans) {
    const startFrame = Math.round(plan.startBar * barFrames);
    if (startFrame >= o.frames) break;
    const endFrame = Math.min(o.frames, Math.round((plan.startBar + plan.bars) * barFrames));
    const chords: string[] = [];
    const sung: boolean[] = [];
    for (let b = plan.startBar; b < plan.startBar + plan.bars && b * barFrames < o.frames; b++) {
      chords.push(barChords[b]!.map((c) => c.name).join(' '));
      sung.push(vocalBars.has(b));
    }
    sections.push(
      Object.freeze({
        kind: plan.kind,
        startFrame,
        endFrame,
        startSeconds: startFrame / sr,
        endSeconds: endFrame / sr,
        chords: Object.freeze(chords),
        vocalBars: Object.freeze(sung),
        groove: grooveFor[plan.kind],
      }),
    );
  }

  const meta: SongMeta = Object.freeze({
    seed: o.seed,
    sampleRate: sr,
    frames: o.frames,
    seconds: songSeconds,
    tempoBpm,
    key,
    barSeconds: barFrames / sr,
    voiceRange,
    sections: Object.freeze(sections),
  });
  return { meta, voices, buses };
}

/** Frames of the fade-out at the end of a song of `frames` frames. */
export function fadeOutFrames(frames: number, sampleRate: number): number {
  return Math.min(Math.round(MAX_FADE_OUT_SECONDS * sampleRate), Math.floor(frames / 10));
}

// #region drums

interface DrumContext {
  rng: Rng;
  sr: number;
  plans: readonly SectionPlan[];
  totalBars: number;
  grooveFor: Record<SectionKind, string>;
  frameAtBeat: (beat: number) => number;
  inSong: (frame: number) => boolean;
  out: Voice[];
}

type DrumPiece = 'kick' | 'snare' | 'hat' | 'openHat' | 'crash' | 'tomHigh' | 'tomMid' | 'tomLow';

interface DrumHit {
  piece: DrumPiece;
  frame: number;
  velocity: number;
  chokeAfter?: number;
}

function composeDrums(c: DrumContext): void {
  const { rng, sr } = c;
  // The kit, drawn once per song.
  const kit = {
    kickStart: rng.uniform(110, 160),
    kickEnd: rng.uniform(45, 58),
    kickPitchTau: rng.uniform(0.025, 0.045),
    kickTau: rng.uniform(0.06, 0.1),
    snareTone: rng.uniform(170, 220),
    snareNoiseTau: rng.uniform(0.05, 0.09),
    snareHp: rng.uniform(900, 1600),
    snareLp: rng.uniform(7000, 10000),
    hatHp: rng.uniform(6500, 9000),
    hatTau: rng.uniform(0.012, 0.025),
    openHatTau: rng.uniform(0.12, 0.2),
    crashHp: rng.uniform(3500, 5000),
    crashTau: rng.uniform(0.5, 0.8),
    hatPan: rng.uniform(0.2, 0.45) * (rng.chance(0.5) ? 1 : -1),
  };
  const toms: Record<'tomHigh' | 'tomMid' | 'tomLow', { f0: number; f1: number; pan: number }> = {
    tomHigh: { f0: 240, f1: 190, pan: 0.35 },
    tomMid: { f0: 170, f1: 135, pan: 0 },
    tomLow: { f0: 125, f1: 95, pan: -0.35 },
  };

  const hits: DrumHit[] = [];
  const add = (piece: DrumPiece, beat: number, velocity: number): void => {
    const jitter = Math.max(-0.004, Math.min(0.004, rng.normal(0, 0.0015)));
    const frame = Math.max(0, c.frameAtBeat(beat) + Math.round(jitter * sr));
    if (!c.inSong(frame)) return;
    hits.push({ piece, frame, velocity: Math.max(0.1, Math.min(1.2, velocity * (1 + rng.normal(0, 0.06)))) });
  };

  for (const plan of c.plans) {
    const groove = GROOVES[c.grooveFor[plan.kind]]!;
    for (let b = 0; b < plan.bars; b++) {
      const barIndex = plan.startBar + b;
      if (barIndex >= c.totalBars) break;
      const barBeat = barIndex * BEATS_PER_BAR;
      const lastBar = b === plan.bars - 1 && plan.bars >= 4;
      const miniFill = !lastBar && b % 4 === 3 && rng.chance(0.25);
      const fillFrom = lastBar ? rng.choice([8, 12]) : miniFill ? 12 : STEPS_PER_BAR;
      const crash = b === 0 && (plan.kind !== 'intro' || rng.chance(0.5));
      const extraKick = rng.chance(0.3) ? rng.choice([7, 14, 15]) : -1;
      const extraGhost = rng.chance(0.2) ? rng.choice([10, 15]) : -1;
      for (let step = 0; step < STEPS_PER_BAR; step++) {
        const beat = barBeat + step / 4;
        if (step >= fillFrom) continue;
        const kv = gridVelocity(groove.kick[step]) || (step === extraKick ? 0.7 : 0) || (crash && step === 0 ? 1 : 0);
        if (kv > 0) add('kick', beat, kv);
        const sv = gridVelocity(groove.snare[step]) || (step === extraGhost ? 0.3 : 0);
        if (sv > 0) add('snare', beat, sv);
        const hc = groove.hat[step];
        if (crash && step === 0) add('crash', beat, 1);
        else if (hc === 'o') add('openHat', beat, 0.8);
        else {
          const hv = gridVelocity(hc);
          if (hv > 0) add('hat', beat, hv);
        }
      }
      if (fillFrom < STEPS_PER_BAR) {
        const useToms = lastBar && rng.chance(0.6);
        const pieces: DrumPiece[] = ['tomHigh', 'tomHigh', 'tomMid', 'tomMid', 'tomLow', 'tomLow', 'tomLow', 'tomLow'];
        for (let step = fillFrom; step < STEPS_PER_BAR; step++) {
          const k = step - fillFrom;
          const span = STEPS_PER_BAR - fillFrom;
          const velocity = 0.55 + (0.45 * (k + 1)) / span;
          const beat = barBeat + step / 4;
          if (useToms) {
            const piece = pieces[Math.min(pieces.length - 1, Math.floor((k * pieces.length) / span))]!;
            add(step % 4 === 0 && k > 0 ? 'snare' : piece, beat, velocity);
          } else {
            add('snare', beat, velocity);
          }
          if (step === fillFrom) add('kick', beat, 0.8);
        }
      }
    }
  }

  // Choke an open hat at the next hi-hat hit of either kind.
  let openIndex = -1;
  hits.sort((a, b) => a.frame - b.frame);
  hits.forEach((h, i) => {
    if (h.piece !== 'hat' && h.piece !== 'openHat') return;
    if (openIndex >= 0) {
      const open = hits[openIndex]!;
      open.chokeAfter = Math.max(1, h.frame - open.frame);
      openIndex = -1;
    }
    if (h.piece === 'openHat') openIndex = i;
  });

  let seed = rng.nextUint32();
  for (const h of hits) {
    seed = (seed + 0x6d2b79f5) | 0;
    const v = h.velocity;
    switch (h.piece) {
      case 'kick':
        c.out.push(
          new PitchedDrumVoice({
            start: h.frame,
            sampleRate: sr,
            amp: LEVEL.kick * v,
            pan: 0,
            fStartHz: kit.kickStart,
            fEndHz: kit.kickEnd,
            pitchTau: kit.kickPitchTau,
            ampTau: kit.kickTau,
            noiseAmp: 0.25 * LEVEL.kick * v,
            noiseTau: 0.004,
            seed,
          }),
        );
        break;
      case 'snare':
        c.out.push(
          new SnareVoice({
            start: h.frame,
            sampleRate: sr,
            amp: LEVEL.snare * v,
            pan: 0.05,
            toneHz: kit.snareTone,
            toneMix: 0.6,
            toneTau: 0.05,
            noiseTau: kit.snareNoiseTau,
            highpassHz: kit.snareHp,
            lowpassHz: kit.snareLp,
            seed,
          }),
        );
        break;
      case 'hat':
      case 'openHat':
      case 'crash': {
        const open = h.piece === 'openHat';
        const crash = h.piece === 'crash';
        c.out.push(
          new NoiseDrumVoice({
            start: h.frame,
            sampleRate: sr,
            amp: (crash ? LEVEL.crash : open ? LEVEL.openHat : LEVEL.hat) * v,
            pan: crash ? -kit.hatPan : kit.hatPan,
            highpassHz: crash ? kit.crashHp : kit.hatHp,
            tau: crash ? kit.crashTau : open ? kit.openHatTau : kit.hatTau,
            ...(h.chokeAfter !== undefined ? { chokeAfter: h.chokeAfter } : {}),
            seed,
          }),
        );
        break;
      }
      default: {
        const tom = toms[h.piece];
        c.out.push(
          new PitchedDrumVoice({
            start: h.frame,
            sampleRate: sr,
            amp: LEVEL.tom * v,
            pan: tom.pan,
            fStartHz: tom.f0,
            fEndHz: tom.f1,
            pitchTau: 0.08,
            ampTau: 0.1,
            noiseAmp: 0.3 * LEVEL.tom * v,
            noiseTau: 0.01,
            seed,
          }),
        );
      }
    }
  }
}

// #endregion

// #region bass

interface BassContext {
  rng: Rng;
  sr: number;
  key: MusicalKey;
  totalBars: number;
  barPlan: readonly SectionPlan[];
  chordAt: (bar: number, eighth: number) => Chord;
  frameAtBeat: (beat: number) => number;
  inSong: (frame: number) => boolean;
  out: Voice[];
}

interface BassNote {
  eighth: number;
  eighths: number;
  midi: number;
  velocity: number;
  /** Name of the chord the note was chosen for. */
  chord: string;
}

function composeBass(c: BassContext): void {
  const { rng, sr } = c;
  const tone = {
    sawMix: rng.uniform(0.4, 0.9),
    cutoffStart: rng.uniform(900, 1600),
    cutoffEnd: rng.uniform(280, 450),
    cutoffTau: rng.uniform(0.03, 0.07),
    decayTau: rng.uniform(0.15, 0.4),
    sustain: rng.uniform(0.55, 0.8),
  };
  const patternFor: Record<SectionKind, string> = {
    intro: BASS_PATTERNS[rng.choice(SECTION_BASS.intro)]!,
    verse: BASS_PATTERNS[rng.choice(SECTION_BASS.verse)]!,
    chorus: BASS_PATTERNS[rng.choice(SECTION_BASS.chorus)]!,
    bridge: BASS_PATTERNS[rng.choice(SECTION_BASS.bridge)]!,
  };
  const rootMidi = (pc: number): number => BASS_LOWEST_ROOT + pitchClass(pc - BASS_LOWEST_ROOT);
  const scale = scalePcs(c.key);

  const notes: BassNote[] = [];
  for (let bar = 0; bar < c.totalBars; bar++) {
    const pattern = patternFor[c.barPlan[bar]!.kind];
    for (let e = 0; e < EIGHTHS_PER_BAR; e++) {
      const ch = pattern[e];
      if (ch === '.' || ch === undefined) continue;
      const eighth = bar * EIGHTHS_PER_BAR + e;
      const chord = c.chordAt(bar, e);
      const r = rootMidi(chord.root);
      const prev = notes[notes.length - 1];
      if (ch === '-') {
        // A tie extends the sounding note; after a rest there is nothing to extend, and a new
        // chord under a tie re-strikes on the new root.
        if (prev === undefined || prev.eighth + prev.eighths !== eighth) continue;
        if (prev.chord === chord.name) prev.eighths++;
        else notes.push({ eighth, eighths: 1, midi: r, velocity: 0.9, chord: chord.name });
        continue;
      }
      const midi = ch === 'O' ? r + 12 : ch === 'F' ? r + 7 : r;
      notes.push({ eighth, eighths: 1, midi, velocity: e % 2 === 0 ? 1 : 0.85, chord: chord.name });
    }
    // A passing note into the next bar's root.
    const last = notes[notes.length - 1];
    const nextBar = bar + 1;
    if (last !== undefined && nextBar < c.totalBars && rng.chance(0.45)) {
      const target = rootMidi(c.chordAt(nextBar, 0).root);
      const lastEighth = bar * EIGHTHS_PER_BAR + EIGHTHS_PER_BAR - 1;
      if (target !== last.midi && last.eighth <= lastEighth && last.eighth + last.eighths > lastEighth) {
        const below = target - 1;
        const stepBelow = [target - 2, target - 1].find((m) => scale.includes(pitchClass(m))) ?? below;
        const approach = rng.chance(0.5) ? below : rng.chance(0.5) ? target + 1 : stepBelow;
        if (last.eighth < lastEighth) last.eighths = lastEighth - last.eighth;
        else notes.pop();
        notes.push({ eighth: lastEighth, eighths: 1, midi: approach, velocity: 0.8, chord: last.chord });
      }
    }
  }

  const eighthBeat = BEATS_PER_BAR / EIGHTHS_PER_BAR;
  const release = Math.round(BASS_RELEASE_SECONDS * sr);
  for (let i = 0; i < notes.length; i++) {
    const note = notes[i]!;
    const start = c.frameAtBeat(note.eighth * eighthBeat);
    if (!c.inSong(start)) continue;
    const next = notes[i + 1];
    const endBeat = (note.eighth + note.eighths) * eighthBeat;
    const nextStart = next !== undefined ? c.frameAtBeat(next.eighth * eighthBeat) : c.frameAtBeat(endBeat);
    const legato = Math.round((c.frameAtBeat(endBeat) - start) * rng.uniform(0.8, 0.95));
    // Monophonic: the release ends before the next note starts.
    const gate = Math.max(1, Math.min(legato, nextStart - start - release - 1));
    c.out.push(
      new BassVoice({
        start,
        sampleRate: sr,
        freqHz: midiToHz(note.midi),
        gate,
        amp: LEVEL.bass * note.velocity * rng.uniform(0.92, 1.05),
        pan: 0,
        attack: 0.004,
        decayTau: tone.decayTau,
        sustain: tone.sustain,
        release: BASS_RELEASE_SECONDS,
        sawMix: tone.sawMix,
        cutoffStartHz: tone.cutoffStart,
        cutoffEndHz: tone.cutoffEnd,
        cutoffTau: tone.cutoffTau,
        phase: 0,
      }),
    );
  }
}

// #endregion

// #region other

interface OtherContext {
  rng: Rng;
  sr: number;
  plans: readonly SectionPlan[];
  totalBars: number;
  barPlan: readonly SectionPlan[];
  chordAt: (bar: number, eighth: number) => Chord;
  frameAtBeat: (beat: number) => number;
  inSong: (frame: number) => boolean;
  out: Voice[];
}

/** A close voicing of `chord` between `lo` and `hi` nearest to `previous` (voice leading). */
function padVoicing(chord: Chord, previous: readonly number[] | undefined, lo: number, hi: number): number[] {
  const candidates: number[][] = [];
  for (let inversion = 0; inversion < chord.pcs.length; inversion++) {
    const pcs = chord.pcs.map((_, i) => chord.pcs[(i + inversion) % chord.pcs.length]!);
    for (let base = lo; base <= hi; base++) {
      if (pitchClass(base) !== pcs[0]) continue;
      const notes = [base];
      for (let i = 1; i < pcs.length; i++) {
        let m = notes[i - 1]! + 1;
        while (pitchClass(m) !== pcs[i]) m++;
        notes.push(m);
      }
      if (notes[notes.length - 1]! <= hi) candidates.push(notes);
    }
  }
  const reference = previous ?? [(lo + hi) / 2 - 4, (lo + hi) / 2, (lo + hi) / 2 + 4];
  let best = candidates[0]!;
  let bestCost = Infinity;
  for (const cand of candidates) {
    let cost = 0;
    for (let i = 0; i < cand.length; i++) cost += Math.abs(cand[i]! - (reference[i] ?? reference[0]!));
    if (cost < bestCost) {
      bestCost = cost;
      best = cand;
    }
  }
  return best;
}

/** MIDI notes per guitar string (null = muted) of a chord shape with the root on string 0 or 1. */
function guitarVoicing(chord: Chord): (number | null)[] {
  let rootString = 0;
  let rootFret = pitchClass(chord.root - GUITAR_OPEN_STRINGS[0]!);
  const fretOnA = pitchClass(chord.root - GUITAR_OPEN_STRINGS[1]!);
  if (rootFret > GUITAR_MAX_ROOT_FRET || (fretOnA < rootFret && fretOnA <= 5)) {
    rootString = 1;
    rootFret = fretOnA;
  }
  const shape: (number | null)[] = [];
  for (let s = 0; s < GUITAR_OPEN_STRINGS.length; s++) {
    const open = GUITAR_OPEN_STRINGS[s]!;
    if (s < rootString) {
      shape.push(null);
      continue;
    }
    if (s === rootString) {
      shape.push(open + rootFret);
      continue;
    }
    let chosen: number | null = null;
    const lo = Math.max(0, rootFret - 1);
    for (let fret = lo; fret <= rootFret + 3 && chosen === null; fret++) {
      if (chord.pcs.includes(pitchClass(open + fret))) chosen = open + fret;
    }
    if (chosen === null && chord.pcs.includes(pitchClass(open))) chosen = open;
    shape.push(chosen);
  }
  return shape;
}

function composeOther(c: OtherContext): void {
  const { rng, sr } = c;
  const eighthBeat = BEATS_PER_BAR / EIGHTHS_PER_BAR;
  const padCutoff = rng.uniform(1400, 2600);
  const padPan = rng.uniform(-0.15, 0.15);
  const guitarPan = rng.uniform(0.3, 0.55) * (rng.chance(0.5) ? 1 : -1);
  const keysPan = -guitarPan * rng.uniform(0.5, 1);
  const strumSpread = rng.uniform(0.006, 0.014);

  // Which instruments play in each section kind (the pad always plays outside verses; a verse
  // without pad has guitar).
  const verseHasPad = rng.chance(0.6);
  const uses: Record<SectionKind, { pad: boolean; guitar: boolean; keys: boolean; strum: string }> = {
    intro: { pad: true, guitar: rng.chance(0.5), keys: false, strum: rng.choice(STRUMS.intro) },
    verse: { pad: verseHasPad, guitar: !verseHasPad || rng.chance(0.8), keys: false, strum: rng.choice(STRUMS.verse) },
    chorus: { pad: true, guitar: rng.chance(0.75), keys: rng.chance(0.6), strum: rng.choice(STRUMS.chorus) },
    bridge: { pad: true, guitar: rng.chance(0.3), keys: rng.chance(0.5), strum: rng.choice(STRUMS.bridge) },
  };

  // Pad: one voice per chord change (repeated chords are held).
  let previousVoicing: number[] | undefined;
  let held: { chord: Chord; startBeat: number; kind: SectionKind } | undefined;
  const flushPad = (endBeat: number): void => {
    if (held === undefined) return;
    const start = c.frameAtBeat(held.startBeat);
    const voicing = padVoicing(held.chord, previousVoicing, 52, 72);
    previousVoicing = voicing;
    if (c.inSong(start)) {
      const phases: number[] = [];
      for (let i = 0; i < 2 * voicing.length; i++) phases.push(rng.uniform());
      c.out.push(
        new PadVoice({
          start,
          sampleRate: sr,
          freqsHz: voicing.map(midiToHz),
          detuneCents: rng.uniform(5, 10),
          gate: c.frameAtBeat(endBeat) - start,
          attack: rng.uniform(0.05, 0.25),
          release: 0.3,
          amp: LEVEL.pad * (held.kind === 'verse' ? 0.7 : 1),
          pan: padPan,
          width: rng.uniform(0.5, 0.8),
          cutoffHz: padCutoff * (held.kind === 'chorus' ? 1.3 : 1),
          phases,
        }),
      );
    }
    held = undefined;
  };
  for (let bar = 0; bar < c.totalBars; bar++) {
    const kind = c.barPlan[bar]!.kind;
    for (let e = 0; e < EIGHTHS_PER_BAR; e += EIGHTHS_PER_BAR / 2) {
      const beat = (bar * EIGHTHS_PER_BAR + e) * eighthBeat;
      const chord = c.chordAt(bar, e);
      if (!uses[kind].pad) {
        flushPad(beat);
        continue;
      }
      if (held !== undefined && held.chord.name === chord.name && held.kind === kind) continue;
      flushPad(beat);
      held = { chord, startBeat: beat, kind };
    }
  }
  flushPad(c.totalBars * BEATS_PER_BAR);

  // Guitar: strums become per-string pluck and mute events of one six-string voice.
  const strings: StringEvent[][] = GUITAR_OPEN_STRINGS.map(() => []);
  for (let bar = 0; bar < c.totalBars; bar++) {
    const use = uses[c.barPlan[bar]!.kind];
    if (!use.guitar) continue;
    for (let e = 0; e < EIGHTHS_PER_BAR; e++) {
      const stroke = use.strum[e];
      if (stroke !== 'D' && stroke !== 'U') continue;
      const shape = guitarVoicing(c.chordAt(bar, e));
      const t0 = c.frameAtBeat((bar * EIGHTHS_PER_BAR + e) * eighthBeat) + Math.round(rng.normal(0, 0.002) * sr);
      const order = stroke === 'D' ? [0, 1, 2, 3, 4, 5] : [5, 4, 3, 2];
      const accent = (e % 2 === 0 ? 1 : 0.75) * (stroke === 'D' ? 1 : 0.7) * rng.uniform(0.85, 1);
      order.forEach((s, k) => {
        const time = Math.max(0, t0 + Math.round(k * strumSpread * sr));
        const midi = shape[s];
        if (!c.inSong(time)) return;
        if (midi === null || midi === undefined) {
          if (stroke === 'D') strings[s]!.push({ time, freqHz: 0, velocity: 0 });
          return;
        }
        strings[s]!.push({ time, freqHz: midiToHz(midi), velocity: accent * (1 - 0.04 * k) });
      });
    }
    // Damp every string at the end of a guitar section.
    const nextKind = bar + 1 < c.totalBars ? c.barPlan[bar + 1]!.kind : undefined;
    if (nextKind === undefined || !uses[nextKind].guitar) {
      const time = c.frameAtBeat((bar + 1) * BEATS_PER_BAR);
      if (c.inSong(time)) for (const list of strings) list.push({ time, freqHz: 0, velocity: 0 });
    }
  }
  for (const list of strings) list.sort((a, b) => a.time - b.time);
  if (strings.some((list) => list.some((e) => e.freqHz > 0))) {
    c.out.push(
      new GuitarVoice({
        sampleRate: sr,
        strings,
        pan: guitarPan,
        amp: LEVEL.guitar,
        ringSeconds: rng.uniform(1.2, 2.2),
        muteSeconds: 0.08,
        pickPosition: rng.uniform(0.12, 0.22),
        seed: rng.nextUint32(),
      }),
    );
  }

  // Electric piano: eighth-note arpeggios of the chord.
  const arpeggio = rng.choice([
    [0, 1, 2, 3, 2, 1, 0, 1],
    [0, 2, 1, 3, 0, 2, 1, 3],
    [0, 1, 2, 1, 3, 2, 1, 2],
  ]);
  for (let bar = 0; bar < c.totalBars; bar++) {
    if (!uses[c.barPlan[bar]!.kind].keys) continue;
    for (let e = 0; e < EIGHTHS_PER_BAR; e++) {
      const chord = c.chordAt(bar, e);
      const voicing = padVoicing(chord, undefined, 60, 76);
      const tones = [...voicing, voicing[0]! + 12];
      const midi = tones[arpeggio[e]! % tones.length]!;
      const start = c.frameAtBeat((bar * EIGHTHS_PER_BAR + e) * eighthBeat);
      if (!c.inSong(start)) continue;
      c.out.push(
        new KeysVoice({
          start,
          sampleRate: sr,
          freqHz: midiToHz(midi),
          gate: c.frameAtBeat(1.5 * eighthBeat),
          amp: LEVEL.keys * (e % 2 === 0 ? 1 : 0.8) * rng.uniform(0.85, 1),
          pan: keysPan,
          decayTau: 0.5,
          release: 0.08,
          modDepth: 0.25,
          modTau: 0.15,
        }),
      );
    }
  }
}

// #endregion

// #region vocals

interface VocalContext {
  rng: Rng;
  sr: number;
  key: MusicalKey;
  plans: readonly SectionPlan[];
  voiceRange: VoiceRange;
  chordAt: (bar: number, eighth: number) => Chord;
  frameAtBeat: (beat: number) => number;
  frames: number;
  out: Voice[];
}

/** Beats in a 2-bar vocal slot. */
const SLOT_BEATS = 2 * BEATS_PER_BAR;

/** Writes a melody for one 2-bar slot whose first bar is `firstBar` (for its chords). */
function composePhrase(
  rng: Rng,
  key: MusicalKey,
  range: readonly [number, number],
  chordAt: (bar: number, eighth: number) => Chord,
  firstBar: number,
  chorus: boolean,
  startMidi: number,
): MelodyNote[] {
  const [lo, hi] = range;
  const scale = notesInRange(scalePcs(key), lo, hi);
  const offset = rng.choice([0, 0.5, 1]);
  const length = Math.min(SLOT_BEATS - offset - 0.5, chorus ? rng.int(11, 14) / 2 : rng.int(9, 13) / 2);
  const durations: number[] = [];
  let total = 0;
  while (total < length) {
    let d = rng.weighted([0.5, 1, 1.5, 2], [3, 4, 1, 1]);
    if (total + d > length || length - total - d < 0.5) d = length - total;
    durations.push(d);
    total += d;
  }
  // End on a longer note.
  if (durations.length > 1 && durations[durations.length - 1]! < 1) {
    const lastTwo = durations.pop()! + durations.pop()!;
    durations.push(lastTwo);
  }

  const notes: MelodyNote[] = [];
  let beat = offset;
  let midi = startMidi;
  let vowelName: VowelName = rng.weighted(VOWEL_NAMES, VOWEL_WEIGHTS);
  durations.forEach((beats, i) => {
    const absBeat = firstBar * BEATS_PER_BAR + beat;
    const bar = Math.floor(absBeat / BEATS_PER_BAR);
    const eighth = Math.floor((absBeat - bar * BEATS_PER_BAR) * 2);
    const chord = chordAt(bar, eighth);
    const last = i === durations.length - 1;
    const step = rng.weighted([-2, -1, 0, 1, 2], [1, 3, 2, 3, 1]);
    let index = scale.indexOf(midi);
    if (index < 0) index = Math.floor(scale.length / 2);
    const candidate = scale[Math.max(0, Math.min(scale.length - 1, index + step))]!;
    if (Number.isInteger(beat) || last) {
      // Strong beat or phrase end: the nearest chord tone.
      const tones = notesInRange(chord.pcs, lo, hi);
      midi = tones.reduce((best, m) => (Math.abs(m - candidate) < Math.abs(best - candidate) ? m : best), tones[0]!);
    } else {
      midi = candidate;
    }
    const slur = i > 0 && rng.chance(0.2);
    if (!slur) vowelName = rng.weighted(VOWEL_NAMES, VOWEL_WEIGHTS);
    notes.push({
      beat,
      beats,
      midi,
      vowel: vowelName,
      consonant: !slur && rng.chance(0.65) ? rng.weighted(CONSONANT_NAMES, CONSONANT_WEIGHTS) : null,
      slur,
      scoop: !slur && rng.chance(0.3),
      velocity: rng.uniform(0.8, 1) * (Number.isInteger(beat) ? 1 : 0.9),
      detune: Math.max(-0.25, Math.min(0.25, rng.normal(0, VOCAL_INTONATION_SD_SEMITONES))),
    });
    beat += beats;
  });
  return notes;
}

/**
 * Writes the sung melody (verse melody and chorus melody, each reused whenever the section
 * recurs) and its voices.
 *
 * @returns the set of bar indices in which the singer sings
 */
function composeVocals(c: VocalContext): Set<number> {
  const { rng, sr } = c;
  const range = VOCAL_RANGES[c.voiceRange];
  const vowels = VOWELS[c.voiceRange];
  const singer = {
    vibratoHz: rng.uniform(5, 6.2),
    vibratoDepth: rng.uniform(0.012, 0.025),
    vibratoDelay: rng.uniform(0.15, 0.28),
    glideTau: rng.uniform(0.02, 0.04),
    breath: rng.uniform(0.06, 0.14),
    pan: Math.max(-0.1, Math.min(0.1, rng.normal(0, 0.03))),
  };
  const verseSlots = rng.choice(VERSE_SLOT_PATTERNS);
  const templates = new Map<SectionKind, MelodyNote[][]>();
  const middle = Math.round((range[0] + range[1]) / 2) - 2;
  const sungBars = new Set<number>();

  for (const plan of c.plans) {
    if (plan.kind !== 'verse' && plan.kind !== 'chorus') continue;
    const slots = plan.kind === 'verse' ? verseSlots : [true, true, true, true];
    let melody = templates.get(plan.kind);
    if (melody === undefined) {
      melody = [];
      let start = middle + (plan.kind === 'chorus' ? 3 : 0);
      for (let s = 0; s < plan.bars / 2; s++) {
        const phrase = composePhrase(rng, c.key, range, c.chordAt, plan.startBar + 2 * s, plan.kind === 'chorus', start);
        melody.push(phrase);
        start = phrase[phrase.length - 1]?.midi ?? start;
      }
      templates.set(plan.kind, melody);
    }
    melody.forEach((phrase, s) => {
      if (!slots[s]) return;
      const slotBeat = (plan.startBar + 2 * s) * BEATS_PER_BAR;
      const gap = Math.round(VOCAL_ARTICULATION_SECONDS * sr);
      const sung: SungNote[] = [];
      phrase.forEach((note, i) => {
        const start = c.frameAtBeat(slotBeat + note.beat);
        const next = phrase[i + 1];
        const nominalEnd = c.frameAtBeat(slotBeat + note.beat + note.beats);
        const end = next !== undefined && next.slur ? nominalEnd : nominalEnd - gap;
        if (start >= c.frames) return;
        sung.push({
          start,
          end: Math.max(start + 1, end),
          // Intonation: singers land a few cents off the note.
          freqHz: midiToHz(note.midi + note.detune),
          vowel: vowels[note.vowel],
          velocity: note.velocity,
          scoop: note.scoop,
        });
        const bar = Math.floor((slotBeat + note.beat) / BEATS_PER_BAR);
        for (let b = bar; b * BEATS_PER_BAR < slotBeat + note.beat + note.beats; b++) sungBars.add(b);
        if (note.consonant !== null) {
          const shape = CONSONANTS[note.consonant]!;
          const length = Math.round(shape.seconds * sr);
          const consonantStart = start - Math.round(length * 0.8);
          if (consonantStart >= 0) {
            c.out.push(
              new ConsonantVoice({
                start: consonantStart,
                sampleRate: sr,
                length,
                centerHz: shape.centerHz,
                bandwidthHz: shape.bandwidthHz,
                amp: LEVEL.vocal * LEVEL.consonant * shape.level * note.velocity,
                pan: singer.pan,
                attackFraction: shape.attackFraction,
                seed: rng.nextUint32(),
              }),
            );
          }
        }
      });
      if (sung.length === 0) return;
      c.out.push(
        new VocalPhraseVoice({
          sampleRate: sr,
          notes: sung,
          amp: LEVEL.vocal,
          pan: singer.pan,
          vibratoHz: singer.vibratoHz,
          vibratoDepth: singer.vibratoDepth,
          vibratoDelay: singer.vibratoDelay,
          glideTau: singer.glideTau,
          breath: singer.breath,
          tail: 0.3,
          seed: rng.nextUint32(),
        }),
      );
    });
  }
  return sungBars;
}

// #endregion
