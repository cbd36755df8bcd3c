/**
 * A deterministic synthesiser of multitrack pop/rock songs with known stems (drums, bass,
 * other, vocals), for demos, benchmarks and separation-quality measurements against true
 * stems.
 *
 * What it plays: a short intro, then verse (8 bars), chorus (8 bars) and, every other time, a
 * bridge (4 bars), in 4/4 at 90–140 BPM in a major or minor key, fading out over the last
 * 2 s. **Drums:** kick, snare, hi-hats, crash and tom/snare fills, through a soft saturator.
 * **Bass:** a monophonic line on the chord roots (E1–D#2) with octaves, fifths and passing notes.
 * **Other:** a detuned-sawtooth pad with stereo width, a Karplus–Strong strummed guitar and an
 * FM electric piano. **Vocals:** a glottal-pulse source through four moving vowel formants, with
 * vibrato, glides, scoops, consonant noise bursts and a ping-pong echo; silent in the intro,
 * the bridge and some verse bars.
 *
 * - **Deterministic:** the same options give bit-identical output. The composition draws from a
 *   seeded integer PRNG (`Rng` in `rng.ts`). Per-sample arithmetic uses only `+ - * /`,
 *   `Math.sqrt` and `Math.floor`, which IEEE 754 rounds exactly everywhere; `Math.exp`,
 *   `Math.cos`, `Math.sin`, `Math.log` and `**` run only at set-up, event and control rate.
 *   V8 implements those with its own port of fdlibm, so a given Node version gives the same
 *   bits on every OS and CPU.
 * - **Block-size independent:** every voice advances one frame at a time over absolute frame
 *   indices, so {@link renderSongBlocks} gives the same samples for any `blockFrames`, and
 *   {@link synthesizeSong} (which uses the same renderer) gives the same samples again.
 * - **Mastered:** every stem is scaled by one common factor so the mix peaks at
 *   {@link TARGET_PEAK} (≈ -1 dBFS); nothing clips.
 * - **Mix = sum of stems, exactly:** `mix[c][i] === Math.fround(drums[c][i] + bass[c][i] +
 *   other[c][i] + vocals[c][i])`, the sum evaluated in double precision, left to right, on
 *   the float32 stem samples, then rounded once to float32.
 *
 * @example
 * ```ts
 * const song = synthesizeSong({ seed: 7, seconds: 30 });
 * song.meta.tempoBpm;          // e.g. 117
 * song.stems.vocals[0].length; // 1323000 frames
 * for (const block of renderSongBlocks({ seed: 7, seconds: 1200 }, 65536)) {
 *   write(block.mix); // 20 minutes with bounded memory
 * }
 * ```
 *
 * @packageDocumentation
 */

import {
  buildScore,
  fadeOutFrames,
  STEM_NAMES,
  type ResolvedSongOptions,
  type Score,
  type SongMeta,
  type StemName,
} from './score.js';
import { makeKey, parseKey, type KeyMode, type MusicalKey } from './theory.js';
import { MAX_RENDER_FRAMES, type Voice } from './voices.js';

export { STEM_NAMES, TEMPO_RANGE_BPM } from './score.js';
export type { SectionInfo, SectionKind, SongMeta, StemName, VoiceRange } from './score.js';
export type { KeyMode, MusicalKey } from './theory.js';
export { parseKey } from './theory.js';

/** Default sample rate, Hz (the HTDemucs rate). */
export const DEFAULT_SAMPLE_RATE_HZ = 44100;

/** Peak of the mastered mix: 0.89 ≈ -1.01 dBFS. */
export const TARGET_PEAK = 0.89;

/** Stereo. */
export const CHANNELS = 2;

/** Lowest and highest accepted sample rates, Hz. */
const SAMPLE_RATE_RANGE_HZ = [22050, 192000] as const;
/** Lowest and highest accepted tempos, BPM. */
const TEMPO_LIMITS_BPM = [40, 240] as const;
/** Most frames per channel a song may have (Float32Array lengths stay far below engine limits). */
const MAX_FRAMES = 2 ** 31 - 1;

/** Frames rendered per internal step; each voice is called once per step. */
const RENDER_CHUNK_FRAMES = MAX_RENDER_FRAMES;

/** Options of {@link synthesizeSong} and {@link renderSongBlocks}. */
export interface SongOptions {
  /** Seed of the song; any safe integer (its low 32 bits are used). */
  seed: number;
  /** Length of the song, s (rounded to whole frames). */
  seconds: number;
  /**
   * Sample rate, Hz.
   * @defaultValue 44100
   */
  sampleRate?: number;
  /**
   * Tempo, BPM.
   * @defaultValue drawn from the seed, an integer in 90..140
   */
  tempoBpm?: number;
  /**
   * Key, as a name (`'A minor'`, `'F#m'`, `'Bb'`) or `{ tonic, mode }` with tonic 0 = C … 11 = B.
   * @defaultValue drawn from the seed (major 60 % of the time)
   */
  key?: string | { tonic: number; mode: KeyMode };
}

/** The four stems, each `[left, right]`. */
export type StemSignals = Record<StemName, Float32Array[]>;

/** What was composed and how it was mastered. */
export interface SongInfo extends SongMeta {
  /** The common factor applied to every stem so the mix peaks at {@link TARGET_PEAK}. */
  readonly masterGain: number;
  /** Peak absolute sample of the mix. */
  readonly peak: number;
}

/** A rendered song: stems, their mix, and what was composed. */
export interface Song {
  readonly sampleRate: number;
  /** The stems, each `[left, right]` float32 at `sampleRate`. */
  readonly stems: StemSignals;
  /** `[left, right]`: the float32 sum of the stems (see the module remarks). */
  readonly mix: Float32Array[];
  readonly meta: SongInfo;
}

/** One block yielded by {@link renderSongBlocks}. */
export interface SongBlock {
  /** Frame index of the block's first frame within the song. */
  readonly start: number;
  /** Frames in the block (`blockFrames`, less for the last block). */
  readonly frames: number;
  /** `[left, right]` of the mix. */
  readonly mix: Float32Array[];
  /** The stems of the block, when asked for with `stems: true`. */
  readonly stems?: StemSignals;
}

/** Options of {@link renderSongBlocks}. */
export interface RenderBlocksOptions {
  /**
   * Also yield the stems of each block.
   * @defaultValue false
   */
  stems?: boolean;
  /**
   * The master gain, when already known (from {@link measureMasterGain} or a
   * {@link Song}'s `meta.masterGain`); skips the measuring pass.
   * @defaultValue measured by rendering the song once before the first block
   */
  masterGain?: number;
}

/**
 * Validates options and fills in defaults.
 *
 * @throws TypeError when `seed` is not a safe integer or `key` is neither a string nor `{ tonic, mode }`.
 * @throws RangeError naming the option and value when a number is out of range or `key` is not a key.
 */
function resolveOptions(options: SongOptions): ResolvedSongOptions {
  const { seed, seconds } = options;
  if (!Number.isSafeInteger(seed)) throw new TypeError(`seed (${String(seed)}) must be a safe integer`);
  const sampleRate = options.sampleRate ?? DEFAULT_SAMPLE_RATE_HZ;
  if (!Number.isInteger(sampleRate) || sampleRate < SAMPLE_RATE_RANGE_HZ[0] || sampleRate > SAMPLE_RATE_RANGE_HZ[1]) {
    throw new RangeError(
      `sampleRate (${String(sampleRate)}) must be an integer in ${SAMPLE_RATE_RANGE_HZ[0]}..${SAMPLE_RATE_RANGE_HZ[1]} Hz`,
    );
  }
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new RangeError(`seconds (${String(seconds)}) must be a finite number > 0`);
  }
  const frames = Math.round(seconds * sampleRate);
  if (frames < 1 || frames > MAX_FRAMES) {
    throw new RangeError(`seconds (${seconds}) gives ${frames} frames; it must give 1..${MAX_FRAMES}`);
  }
  const { tempoBpm } = options;
  if (tempoBpm !== undefined && !(Number.isFinite(tempoBpm) && tempoBpm >= TEMPO_LIMITS_BPM[0] && tempoBpm <= TEMPO_LIMITS_BPM[1])) {
    throw new RangeError(`tempoBpm (${String(tempoBpm)}) must be in ${TEMPO_LIMITS_BPM[0]}..${TEMPO_LIMITS_BPM[1]}`);
  }
  let key: MusicalKey | undefined;
  const given = options.key;
  if (typeof given === 'string') key = parseKey(given);
  else if (given !== undefined) {
    if (
      typeof given !== 'object' ||
      !Number.isInteger(given.tonic) ||
      given.tonic < 0 ||
      given.tonic > 11 ||
      (given.mode !== 'major' && given.mode !== 'minor')
    ) {
      throw new TypeError(`key (${JSON.stringify(given)}) must be a key name or { tonic: 0..11, mode: 'major' | 'minor' }`);
    }
    key = makeKey(given.tonic, given.mode);
  }
  return { seed, frames, sampleRate, tempoBpm, key };
}

/**
 * Renders the raw (un-mastered) stems frame range by frame range, in order. The raw stems are
 * the float32 rounding of the double-precision voice sums after the stem buses and fade-out.
 */
class RawRenderer {
  readonly #score: Score;
  readonly #frames: number;
  readonly #fadeStart: number;
  readonly #fadeLength: number;
  readonly #next: Record<StemName, number> = { drums: 0, bass: 0, other: 0, vocals: 0 };
  readonly #active: Record<StemName, Voice[]> = { drums: [], bass: [], other: [], vocals: [] };
  /** Stem accumulators, all zeros between chunks. */
  readonly #accL = new Float64Array(RENDER_CHUNK_FRAMES);
  readonly #accR = new Float64Array(RENDER_CHUNK_FRAMES);
  #position = 0;

  constructor(score: Score) {
    this.#score = score;
    this.#frames = score.meta.frames;
    this.#fadeLength = fadeOutFrames(this.#frames, score.meta.sampleRate);
    this.#fadeStart = this.#frames - this.#fadeLength;
  }

  /** Renders the next `n` frames into `out[stem][channel]` from index `offset`. */
  render(n: number, out: StemSignals, offset: number): void {
    if (this.#position + n > this.#frames) {
      throw new RangeError(`cannot render ${n} frames at ${this.#position}: the song has ${this.#frames}`);
    }
    for (let done = 0; done < n; ) {
      const step = Math.min(RENDER_CHUNK_FRAMES, n - done);
      this.#renderChunk(step, out, offset + done);
      done += step;
    }
  }

  #renderChunk(n: number, out: StemSignals, offset: number): void {
    const t0 = this.#position;
    const t1 = t0 + n;
    const accL = this.#accL;
    const accR = this.#accR;
    for (const name of STEM_NAMES) {
      const voices = this.#score.voices[name];
      let next = this.#next[name];
      let active = this.#active[name];
      while (next < voices.length && voices[next]!.start < t1) active.push(voices[next++]!);
      this.#next[name] = next;
      for (const v of active) {
        const from = Math.max(v.start, t0);
        const to = Math.min(v.end, t1);
        if (to > from) v.render(accL, accR, t0, from, to);
      }
      if (active.some((v) => v.end <= t1)) {
        active = active.filter((v) => v.end > t1);
        this.#active[name] = active;
      }
      for (const bus of this.#score.buses[name]) bus.process(accL, accR, n);
      if (t1 > this.#fadeStart) {
        for (let t = Math.max(t0, this.#fadeStart); t < t1; t++) {
          const g = (this.#frames - t) / this.#fadeLength;
          accL[t - t0]! *= g * g;
          accR[t - t0]! *= g * g;
        }
      }
      // NOTE: an explicit loop (`Float32Array#set` from a Float64Array is several times
      // slower) that also clears the accumulators for the next stem.
      const l = out[name][0]!;
      const r = out[name][1]!;
      for (let j = 0; j < n; j++) {
        l[offset + j] = accL[j]!;
        r[offset + j] = accR[j]!;
        accL[j] = 0;
        accR[j] = 0;
      }
    }
    this.#position = t1;
  }
}

/** `[left, right]` float32 arrays of `n` frames. */
function stereo(n: number): Float32Array[] {
  return [new Float32Array(n), new Float32Array(n)];
}

/** Zeroed stems of `n` frames. */
function allocateStems(n: number): StemSignals {
  return { drums: stereo(n), bass: stereo(n), other: stereo(n), vocals: stereo(n) };
}

/** Largest |drums + bass + other + vocals| (double sum of float32 samples) over `[0, n)`. */
function peakOfSum(stems: StemSignals, n: number): number {
  let peak = 0;
  for (let c = 0; c < CHANNELS; c++) {
    const d = stems.drums[c]!, b = stems.bass[c]!, o = stems.other[c]!, v = stems.vocals[c]!;
    for (let i = 0; i < n; i++) {
      const s = Math.abs(d[i]! + b[i]! + o[i]! + v[i]!);
      if (s > peak) peak = s;
    }
  }
  return peak;
}

/**
 * Scales the raw stems in place by `gain` (rounding to float32) and writes their sum to `mix`.
 *
 * @returns the peak absolute sample of the mix
 */
function master(stems: StemSignals, mix: Float32Array[], n: number, gain: number): number {
  let peak = 0;
  for (let c = 0; c < CHANNELS; c++) {
    const d = stems.drums[c]!, b = stems.bass[c]!, o = stems.other[c]!, v = stems.vocals[c]!;
    const m = mix[c]!;
    for (let i = 0; i < n; i++) {
      const dv = Math.fround(d[i]! * gain);
      const bv = Math.fround(b[i]! * gain);
      const ov = Math.fround(o[i]! * gain);
      const vv = Math.fround(v[i]! * gain);
      d[i] = dv;
      b[i] = bv;
      o[i] = ov;
      v[i] = vv;
      // The float32 stem values, summed in double left to right, rounded once.
      const mv = Math.fround(dv + bv + ov + vv);
      m[i] = mv;
      const a = Math.abs(mv);
      if (a > peak) peak = a;
    }
  }
  return peak;
}

/** The gain that maps a raw mix peak onto {@link TARGET_PEAK}. */
function gainForPeak(rawPeak: number): number {
  return rawPeak > 0 ? TARGET_PEAK / rawPeak : 1;
}

/**
 * Composes a song without rendering it (fast: no audio).
 *
 * @param options - see {@link SongOptions}
 * @returns tempo, key, voice range and sections with their chords and sung bars
 * @throws TypeError or RangeError for invalid options (see {@link SongOptions})
 */
export function planSong(options: SongOptions): SongMeta {
  return buildScore(resolveOptions(options)).meta;
}

/**
 * Renders the song once, keeping nothing, to find the master gain that
 * {@link renderSongBlocks} would otherwise measure itself.
 *
 * @param options - see {@link SongOptions}
 * @returns the factor applied to every stem so the mix peaks at {@link TARGET_PEAK}
 */
export function measureMasterGain(options: SongOptions): number {
  return measureGain(resolveOptions(options));
}

function measureGain(resolved: ResolvedSongOptions): number {
  const renderer = new RawRenderer(buildScore(resolved));
  const scratch = allocateStems(RENDER_CHUNK_FRAMES);
  let peak = 0;
  for (let start = 0; start < resolved.frames; start += RENDER_CHUNK_FRAMES) {
    const n = Math.min(RENDER_CHUNK_FRAMES, resolved.frames - start);
    renderer.render(n, scratch, 0);
    peak = Math.max(peak, peakOfSum(scratch, n));
  }
  return gainForPeak(peak);
}

/**
 * Renders a song block by block with bounded memory (for 20-minute songs and longer).
 *
 * @remarks Without `masterGain`, the song is rendered twice: once, keeping nothing, to find
 * the master gain (before the first block is yielded), and once for the blocks. The samples
 * are identical to {@link synthesizeSong}'s for every `blockFrames`. Each block's arrays are
 * fresh and owned by the caller.
 *
 * @param options - see {@link SongOptions}
 * @param blockFrames - frames per block (the last block may be shorter)
 * @param render - whether to yield stems, and a known master gain
 * @returns a generator of blocks in order, covering the whole song
 * @throws RangeError when `blockFrames` is not a positive integer or `masterGain` is not a
 *   positive finite number; TypeError or RangeError for invalid song options (thrown here,
 *   not at the first `next()`)
 */
export function renderSongBlocks(
  options: SongOptions,
  blockFrames: number,
  render: RenderBlocksOptions = {},
): Generator<SongBlock, void, undefined> {
  const resolved = resolveOptions(options);
  if (!Number.isSafeInteger(blockFrames) || blockFrames < 1) {
    throw new RangeError(`blockFrames (${String(blockFrames)}) must be a positive integer`);
  }
  const { masterGain } = render;
  if (masterGain !== undefined && !(Number.isFinite(masterGain) && masterGain > 0)) {
    throw new RangeError(`masterGain (${String(masterGain)}) must be a positive finite number`);
  }
  return blocks(resolved, blockFrames, render.stems === true, masterGain);
}

function* blocks(
  resolved: ResolvedSongOptions,
  blockFrames: number,
  withStems: boolean,
  knownGain: number | undefined,
): Generator<SongBlock, void, undefined> {
  const gain = knownGain ?? measureGain(resolved);
  const renderer = new RawRenderer(buildScore(resolved));
  for (let start = 0; start < resolved.frames; start += blockFrames) {
    const n = Math.min(blockFrames, resolved.frames - start);
    const stems = allocateStems(n);
    renderer.render(n, stems, 0);
    const mix = stereo(n);
    master(stems, mix, n, gain);
    yield withStems ? { start, frames: n, mix, stems } : { start, frames: n, mix };
  }
}

/**
 * Synthesises a whole song in memory: four stereo stems and their mix.
 *
 * @remarks Renders once (the stems are mastered in place). Memory is five stereo float32
 * signals: about 2.1 GB for 20 minutes at 44.1 kHz; use {@link renderSongBlocks} to stream.
 *
 * @param options - see {@link SongOptions}
 * @returns the stems, the mix and the song's meta data, with the master gain and mix peak
 * @throws TypeError or RangeError for invalid options (see {@link SongOptions})
 *
 * @example
 * ```ts
 * const { stems, mix, meta } = synthesizeSong({ seed: 1, seconds: 10 });
 * meta.peak; // 0.89 (to float32 precision)
 * ```
 */
export function synthesizeSong(options: SongOptions): Song {
  const resolved = resolveOptions(options);
  const score = buildScore(resolved);
  const n = resolved.frames;
  const stems = allocateStems(n);
  new RawRenderer(score).render(n, stems, 0);
  const masterGain = gainForPeak(peakOfSum(stems, n));
  const mix = stereo(n);
  const peak = master(stems, mix, n, masterGain);
  return {
    sampleRate: resolved.sampleRate,
    stems,
    mix,
    meta: Object.freeze({ ...score.meta, masterGain, peak }),
  };
}
