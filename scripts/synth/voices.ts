/**
 * The sound generators of the song synthesiser: drums, bass, pad, electric piano, a six-string
 * plucked guitar, a singing voice, consonant noise, and a ping-pong delay bus.
 *
 * Every voice is a small state machine that is advanced one sample at a time, in order, over
 * absolute frame indices. Nothing depends on where a render call starts or stops, so a song
 * rendered in blocks of any size is bit-identical to one rendered in one go. Control-rate work
 * (the vocal formants) happens at frames counted from the voice's own start, for the same
 * reason.
 *
 * NOTE: the hot loops index typed arrays with `!`; every index is bounded by the loop.
 *
 * @internal
 * @packageDocumentation
 */

/** Entries of the sine table over one period (a power of two). */
const SINE_TABLE_SIZE = 4096;

/** One period of a sine, with a guard point so linear interpolation never wraps. */
const SINE_TABLE: Float64Array = (() => {
  const table = new Float64Array(SINE_TABLE_SIZE + 1);
  for (let i = 0; i <= SINE_TABLE_SIZE; i++) table[i] = Math.sin((2 * Math.PI * i) / SINE_TABLE_SIZE);
  return table;
})();

/** 2^-31: turns an int32 into a double in [-1, 1). */
const INT32_TO_UNIT = 1 / 2147483648;

/** Level at which a decaying envelope is considered silent: -80 dB. */
const SILENCE_LEVEL = 1e-4;

/** Largest delay line of a guitar string in samples (lowest note ≈ 22 Hz at 44.1 kHz). */
const KS_BUFFER_LENGTH = 2048;

/** Frames between two updates of the vocal formant filters. */
const VOCAL_CONTROL_PERIOD = 32;

/** Added and subtracted in feedback paths so values below ~1e-20 become exact zeros (no denormals). */
const DENORMAL_FLUSH = 1e-20;

/**
 * Where a voice writes and how to render it.
 *
 * `render` adds the voice's frames `[from, to)` into `l` and `r` at index `frame - base`. It is
 * called with contiguous, increasing ranges inside `[start, end)`.
 */
export interface Voice {
  /** First frame the voice writes. */
  readonly start: number;
  /** One past the last frame it writes. */
  readonly end: number;
  render(l: Float64Array, r: Float64Array, base: number, from: number, to: number): void;
}

/** A stem-wide effect applied in place to a rendered block, frame by frame in order. */
export interface Bus {
  process(l: Float64Array, r: Float64Array, n: number): void;
}

/** Sine of 2π·phase for phase in [0, 1), by table lookup with linear interpolation. */
function sin01(phase: number): number {
  const x = phase * SINE_TABLE_SIZE;
  const i = x | 0;
  const a = SINE_TABLE[i]!;
  return a + (SINE_TABLE[i + 1]! - a) * (x - i);
}

/** PolyBLEP residual for a sawtooth with normalised phase `p` and increment `dt`. */
function polyBlep(p: number, dt: number): number {
  if (p < dt) {
    const t = p / dt;
    return t + t - t * t - 1;
  }
  if (p > 1 - dt) {
    const t = (p - 1) / dt;
    return t * t + t + t + 1;
  }
  return 0;
}

/** Next state of a 32-bit xorshift generator (never zero for a non-zero state). */
function xorshift(s: number): number {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  return s | 0;
}

/** Makes a valid (non-zero) xorshift state from any integer. */
function noiseSeed(seed: number): number {
  const s = Math.imul(seed | 0, 0x9e3779b1) ^ 0x5bd1e995;
  return s === 0 ? 1 : s;
}

/**
 * Constant-power pan gains.
 *
 * @param pan - -1 (left) … 0 (centre) … 1 (right)
 * @returns `[left, right]` gains
 */
export function panGains(pan: number): [number, number] {
  const angle = ((Math.max(-1, Math.min(1, pan)) + 1) * Math.PI) / 4;
  return [Math.cos(angle), Math.sin(angle)];
}

/** Per-sample multiplier of an exponential decay with time constant `tau` seconds. */
export function decayPerSample(tau: number, sampleRate: number): number {
  return Math.exp(-1 / (tau * sampleRate));
}

/** Frames until an exponential decay with time constant `tau` seconds reaches -80 dB. */
export function framesToSilence(tau: number, sampleRate: number): number {
  return Math.ceil(-Math.log(SILENCE_LEVEL) * tau * sampleRate);
}

/** Coefficient of a one-pole low-pass `y += a (x - y)` with cut-off `hz`. */
function onePoleLowpass(hz: number, sampleRate: number): number {
  return 1 - Math.exp((-2 * Math.PI * hz) / sampleRate);
}

/** Coefficient of a one-pole high-pass `y = a (y + x - xPrev)` with cut-off `hz`. */
function onePoleHighpass(hz: number, sampleRate: number): number {
  return 1 / (1 + (2 * Math.PI * hz) / sampleRate);
}

// #region drums

/** Parameters of a {@link PitchedDrumVoice} (kick or tom). */
export interface PitchedDrumParams {
  start: number;
  sampleRate: number;
  /** Peak amplitude of the body. */
  amp: number;
  pan: number;
  /** Body frequency at the hit, Hz. */
  fStartHz: number;
  /** Body frequency it settles to, Hz. */
  fEndHz: number;
  /** Time constant of the pitch drop, s. */
  pitchTau: number;
  /** Time constant of the body decay, s. */
  ampTau: number;
  /** Amplitude of the noise click/skin. */
  noiseAmp: number;
  /** Time constant of the noise decay, s. */
  noiseTau: number;
  seed: number;
}

/** A kick drum or tom: a sine with a falling pitch envelope plus a short noise transient. */
export class PitchedDrumVoice implements Voice {
  readonly start: number;
  readonly end: number;
  readonly #gl: number;
  readonly #gr: number;
  readonly #fEnd: number;
  readonly #fSpan: number;
  readonly #pitchDecay: number;
  readonly #ampDecay: number;
  readonly #noiseDecay: number;
  readonly #invSr: number;
  #phase = 0;
  #pitchEnv = 1;
  #ampEnv: number;
  #noiseEnv: number;
  #noise: number;

  constructor(p: PitchedDrumParams) {
    this.start = p.start;
    this.end = p.start + framesToSilence(p.ampTau, p.sampleRate);
    [this.#gl, this.#gr] = panGains(p.pan);
    this.#fEnd = p.fEndHz;
    this.#fSpan = p.fStartHz - p.fEndHz;
    this.#pitchDecay = decayPerSample(p.pitchTau, p.sampleRate);
    this.#ampDecay = decayPerSample(p.ampTau, p.sampleRate);
    this.#noiseDecay = decayPerSample(p.noiseTau, p.sampleRate);
    this.#invSr = 1 / p.sampleRate;
    this.#ampEnv = p.amp;
    this.#noiseEnv = p.noiseAmp;
    this.#noise = noiseSeed(p.seed);
  }

  render(l: Float64Array, r: Float64Array, base: number, from: number, to: number): void {
    const gl = this.#gl, gr = this.#gr, fEnd = this.#fEnd, fSpan = this.#fSpan, invSr = this.#invSr;
    const pd = this.#pitchDecay, ad = this.#ampDecay, nd = this.#noiseDecay;
    let phase = this.#phase, pEnv = this.#pitchEnv, aEnv = this.#ampEnv, nEnv = this.#noiseEnv, ns = this.#noise;
    for (let t = from; t < to; t++) {
      phase += (fEnd + fSpan * pEnv) * invSr;
      if (phase >= 1) phase -= 1;
      pEnv *= pd;
      ns = xorshift(ns);
      const y = sin01(phase) * aEnv + ns * INT32_TO_UNIT * nEnv;
      aEnv *= ad;
      nEnv *= nd;
      const j = t - base;
      l[j]! += y * gl;
      r[j]! += y * gr;
    }
    this.#phase = phase;
    this.#pitchEnv = pEnv;
    this.#ampEnv = aEnv;
    this.#noiseEnv = nEnv;
    this.#noise = ns;
  }
}

/** Parameters of a {@link SnareVoice}. */
export interface SnareParams {
  start: number;
  sampleRate: number;
  amp: number;
  pan: number;
  /** Frequency of the drum-head tone, Hz. */
  toneHz: number;
  /** Tone level relative to the noise. */
  toneMix: number;
  /** Time constant of the tone decay, s. */
  toneTau: number;
  /** Time constant of the snare-wire noise decay, s. */
  noiseTau: number;
  /** High-pass cut-off of the noise, Hz. */
  highpassHz: number;
  /** Low-pass cut-off of the noise, Hz. */
  lowpassHz: number;
  seed: number;
}

/** A snare drum: a decaying head tone plus band-limited noise (the wires). */
export class SnareVoice implements Voice {
  readonly start: number;
  readonly end: number;
  readonly #gl: number;
  readonly #gr: number;
  readonly #toneInc: number;
  readonly #toneDecay: number;
  readonly #noiseDecay: number;
  readonly #hp: number;
  readonly #lp: number;
  #phase = 0;
  #toneEnv: number;
  #noiseEnv: number;
  #noise: number;
  #hpX = 0;
  #hpY = 0;
  #lpY = 0;

  constructor(p: SnareParams) {
    this.start = p.start;
    this.end = p.start + framesToSilence(Math.max(p.noiseTau, p.toneTau), p.sampleRate);
    [this.#gl, this.#gr] = panGains(p.pan);
    this.#toneInc = p.toneHz / p.sampleRate;
    this.#toneDecay = decayPerSample(p.toneTau, p.sampleRate);
    this.#noiseDecay = decayPerSample(p.noiseTau, p.sampleRate);
    this.#hp = onePoleHighpass(p.highpassHz, p.sampleRate);
    this.#lp = onePoleLowpass(p.lowpassHz, p.sampleRate);
    this.#toneEnv = p.amp * p.toneMix;
    this.#noiseEnv = p.amp;
    this.#noise = noiseSeed(p.seed);
  }

  render(l: Float64Array, r: Float64Array, base: number, from: number, to: number): void {
    const gl = this.#gl, gr = this.#gr, inc = this.#toneInc, td = this.#toneDecay, nd = this.#noiseDecay;
    const hp = this.#hp, lp = this.#lp;
    let phase = this.#phase, tEnv = this.#toneEnv, nEnv = this.#noiseEnv, ns = this.#noise;
    let hpX = this.#hpX, hpY = this.#hpY, lpY = this.#lpY;
    for (let t = from; t < to; t++) {
      phase += inc;
      if (phase >= 1) phase -= 1;
      ns = xorshift(ns);
      const x = ns * INT32_TO_UNIT;
      hpY = hp * (hpY + x - hpX);
      hpX = x;
      lpY += lp * (hpY - lpY);
      const y = sin01(phase) * tEnv + lpY * nEnv;
      tEnv *= td;
      nEnv *= nd;
      const j = t - base;
      l[j]! += y * gl;
      r[j]! += y * gr;
    }
    this.#phase = phase;
    this.#toneEnv = tEnv;
    this.#noiseEnv = nEnv;
    this.#noise = ns;
    this.#hpX = hpX;
    this.#hpY = hpY;
    this.#lpY = lpY;
  }
}

/** Parameters of a {@link NoiseDrumVoice} (hi-hat, crash). */
export interface NoiseDrumParams {
  start: number;
  sampleRate: number;
  amp: number;
  pan: number;
  /** Cut-off of the two high-pass stages, Hz. */
  highpassHz: number;
  /** Time constant of the decay, s. */
  tau: number;
  /** Frames from the start at which a choke (e.g. a closed hat after an open one) cuts it. */
  chokeAfter?: number;
  seed: number;
}

/** Length in frames of the fade applied when a hat is choked. */
const CHOKE_FADE_FRAMES = 256;

/** Per-sample decay after a choke: -80 dB over {@link CHOKE_FADE_FRAMES}. */
const CHOKE_DECAY = Math.exp(Math.log(SILENCE_LEVEL) / CHOKE_FADE_FRAMES);

/** A hi-hat or cymbal: white noise through two one-pole high-passes, with an exponential decay. */
export class NoiseDrumVoice implements Voice {
  readonly start: number;
  readonly end: number;
  readonly #gl: number;
  readonly #gr: number;
  readonly #hp: number;
  #decay: number;
  readonly #chokeAt: number;
  #env: number;
  #noise: number;
  #x1 = 0;
  #y1 = 0;
  #y2 = 0;

  constructor(p: NoiseDrumParams) {
    this.start = p.start;
    const natural = framesToSilence(p.tau, p.sampleRate);
    const choke = p.chokeAfter !== undefined && p.chokeAfter < natural ? p.chokeAfter : natural;
    this.#chokeAt = p.start + choke;
    this.end = Math.min(p.start + natural, this.#chokeAt + CHOKE_FADE_FRAMES);
    [this.#gl, this.#gr] = panGains(p.pan);
    this.#hp = onePoleHighpass(p.highpassHz, p.sampleRate);
    this.#decay = decayPerSample(p.tau, p.sampleRate);
    this.#env = p.amp;
    this.#noise = noiseSeed(p.seed);
  }

  render(l: Float64Array, r: Float64Array, base: number, from: number, to: number): void {
    const gl = this.#gl, gr = this.#gr, hp = this.#hp, chokeAt = this.#chokeAt;
    let decay = this.#decay;
    let env = this.#env, ns = this.#noise, x1 = this.#x1, y1 = this.#y1, y2 = this.#y2;
    for (let t = from; t < to; t++) {
      if (t === chokeAt) decay = Math.min(decay, CHOKE_DECAY);
      ns = xorshift(ns);
      const x = ns * INT32_TO_UNIT;
      const h1 = hp * (y1 + x - x1);
      x1 = x;
      y2 = hp * (y2 + h1 - y1);
      y1 = h1;
      const y = y2 * env;
      env *= decay;
      const j = t - base;
      l[j]! += y * gl;
      r[j]! += y * gr;
    }
    this.#decay = decay;
    this.#env = env;
    this.#noise = ns;
    this.#x1 = x1;
    this.#y1 = y1;
    this.#y2 = y2;
  }
}

// #endregion

// #region bass

/** Parameters of a {@link BassVoice}. */
export interface BassParams {
  start: number;
  sampleRate: number;
  freqHz: number;
  /** Frames from the start to the note-off. */
  gate: number;
  amp: number;
  pan: number;
  /** Attack, s. */
  attack: number;
  /** Decay time constant towards the sustain level, s. */
  decayTau: number;
  /** Sustain level, 0..1. */
  sustain: number;
  /** Linear release after the note-off, s. */
  release: number;
  /** Level of the sawtooth relative to the sine. */
  sawMix: number;
  /** Low-pass cut-off at the attack, Hz. */
  cutoffStartHz: number;
  /** Low-pass cut-off it settles to, Hz. */
  cutoffEndHz: number;
  /** Time constant of the cut-off sweep, s. */
  cutoffTau: number;
  phase: number;
}

/** A bass note: a sine plus a PolyBLEP sawtooth through a two-pole low-pass with a short sweep. */
export class BassVoice implements Voice {
  readonly start: number;
  readonly end: number;
  readonly #gl: number;
  readonly #gr: number;
  readonly #inc: number;
  readonly #gate: number;
  readonly #attack: number;
  readonly #release: number;
  readonly #sustain: number;
  readonly #decay: number;
  readonly #amp: number;
  readonly #sawMix: number;
  readonly #lpEnd: number;
  readonly #lpSpan: number;
  readonly #lpDecay: number;
  #n = 0;
  #phase: number;
  #decEnv = 1;
  #lpEnv = 1;
  #level = 0;
  #releaseFrom = 0;
  #y1 = 0;
  #y2 = 0;

  constructor(p: BassParams) {
    const attack = Math.max(1, Math.round(p.attack * p.sampleRate));
    const release = Math.max(1, Math.round(p.release * p.sampleRate));
    this.#gate = Math.max(attack, p.gate);
    this.start = p.start;
    this.end = p.start + this.#gate + release;
    [this.#gl, this.#gr] = panGains(p.pan);
    this.#inc = p.freqHz / p.sampleRate;
    this.#attack = attack;
    this.#release = release;
    this.#sustain = p.sustain;
    this.#decay = decayPerSample(p.decayTau, p.sampleRate);
    this.#amp = p.amp;
    this.#sawMix = p.sawMix;
    const lpEnd = onePoleLowpass(p.cutoffEndHz, p.sampleRate);
    this.#lpEnd = lpEnd;
    this.#lpSpan = onePoleLowpass(p.cutoffStartHz, p.sampleRate) - lpEnd;
    this.#lpDecay = decayPerSample(p.cutoffTau, p.sampleRate);
    this.#phase = p.phase;
  }

  render(l: Float64Array, r: Float64Array, base: number, from: number, to: number): void {
    const gl = this.#gl, gr = this.#gr, dt = this.#inc, gate = this.#gate, attack = this.#attack;
    const release = this.#release, sustain = this.#sustain, decay = this.#decay, amp = this.#amp;
    const sawMix = this.#sawMix, lpEnd = this.#lpEnd, lpSpan = this.#lpSpan, lpDecay = this.#lpDecay;
    let n = this.#n, phase = this.#phase, decEnv = this.#decEnv, lpEnv = this.#lpEnv;
    let level = this.#level, releaseFrom = this.#releaseFrom, y1 = this.#y1, y2 = this.#y2;
    for (let t = from; t < to; t++, n++) {
      if (n < attack) {
        level = (n + 1) / attack;
      } else if (n < gate) {
        level = sustain + (1 - sustain) * decEnv;
        decEnv *= decay;
      } else {
        if (n === gate) releaseFrom = level;
        level = releaseFrom * (1 - (n - gate + 1) / release);
      }
      phase += dt;
      if (phase >= 1) phase -= 1;
      const x = sin01(phase) + sawMix * (phase + phase - 1 - polyBlep(phase, dt));
      const a = lpEnd + lpSpan * lpEnv;
      lpEnv *= lpDecay;
      y1 += a * (x - y1);
      y2 += a * (y1 - y2);
      const y = y2 * level * amp;
      const j = t - base;
      l[j]! += y * gl;
      r[j]! += y * gr;
    }
    this.#n = n;
    this.#phase = phase;
    this.#decEnv = decEnv;
    this.#lpEnv = lpEnv;
    this.#level = level;
    this.#releaseFrom = releaseFrom;
    this.#y1 = y1;
    this.#y2 = y2;
  }
}

// #endregion

// #region other: pad, keys, guitar

/** Parameters of a {@link PadVoice}. */
export interface PadParams {
  start: number;
  sampleRate: number;
  /** Frequencies of the chord tones, Hz. */
  freqsHz: readonly number[];
  /** Detune of the two oscillators of each tone, ± cents. */
  detuneCents: number;
  /** Frames from the start to the note-off. */
  gate: number;
  attack: number;
  release: number;
  amp: number;
  pan: number;
  /** Stereo width 0..1: how far the two detuned oscillator groups are pulled apart. */
  width: number;
  /** Low-pass cut-off, Hz. */
  cutoffHz: number;
  /** Initial phases, two per tone (A then B), in [0, 1). */
  phases: readonly number[];
}

/** Largest render call in frames; the renderer never asks for more (see RENDER_CHUNK_FRAMES). */
export const MAX_RENDER_FRAMES = 4096;

const padScratchA = new Float64Array(MAX_RENDER_FRAMES);
const padScratchB = new Float64Array(MAX_RENDER_FRAMES);

/**
 * A sustained chord: per tone, two detuned PolyBLEP sawtooths, one group leaning left and one
 * right (the stereo width), then a two-pole low-pass per side and a linear attack/release.
 */
export class PadVoice implements Voice {
  readonly start: number;
  readonly end: number;
  readonly #incA: Float64Array;
  readonly #incB: Float64Array;
  readonly #phA: Float64Array;
  readonly #phB: Float64Array;
  readonly #gate: number;
  readonly #attack: number;
  readonly #release: number;
  readonly #lp: number;
  readonly #near: number;
  readonly #far: number;
  readonly #gl: number;
  readonly #gr: number;
  #n = 0;
  #l1 = 0;
  #l2 = 0;
  #r1 = 0;
  #r2 = 0;

  constructor(p: PadParams) {
    const attack = Math.max(1, Math.round(p.attack * p.sampleRate));
    const release = Math.max(1, Math.round(p.release * p.sampleRate));
    this.start = p.start;
    this.#gate = p.gate;
    this.end = p.start + p.gate + release;
    this.#attack = attack;
    this.#release = release;
    const k = p.freqsHz.length;
    this.#incA = new Float64Array(k);
    this.#incB = new Float64Array(k);
    this.#phA = new Float64Array(k);
    this.#phB = new Float64Array(k);
    const ratio = 2 ** (p.detuneCents / 1200);
    for (let i = 0; i < k; i++) {
      const f = p.freqsHz[i]!;
      this.#incA[i] = (f * ratio) / p.sampleRate;
      this.#incB[i] = f / ratio / p.sampleRate;
      this.#phA[i] = p.phases[2 * i] ?? 0;
      this.#phB[i] = p.phases[2 * i + 1] ?? 0;
    }
    this.#lp = onePoleLowpass(p.cutoffHz, p.sampleRate);
    const gain = p.amp / Math.sqrt(k);
    this.#near = gain * (0.5 + 0.5 * p.width);
    this.#far = gain * (0.5 - 0.5 * p.width);
    [this.#gl, this.#gr] = panGains(p.pan);
  }

  render(l: Float64Array, r: Float64Array, base: number, from: number, to: number): void {
    const n0 = to - from;
    const a = padScratchA, b = padScratchB;
    a.fill(0, 0, n0);
    b.fill(0, 0, n0);
    for (let k = 0; k < this.#incA.length; k++) {
      let p = this.#phA[k]!;
      const dt = this.#incA[k]!;
      for (let j = 0; j < n0; j++) {
        p += dt;
        if (p >= 1) p -= 1;
        a[j]! += p + p - 1 - polyBlep(p, dt);
      }
      this.#phA[k] = p;
      let q = this.#phB[k]!;
      const dq = this.#incB[k]!;
      for (let j = 0; j < n0; j++) {
        q += dq;
        if (q >= 1) q -= 1;
        b[j]! += q + q - 1 - polyBlep(q, dq);
      }
      this.#phB[k] = q;
    }
    const gate = this.#gate, attack = this.#attack, release = this.#release, lp = this.#lp;
    const near = this.#near, far = this.#far, gl = this.#gl, gr = this.#gr;
    const releaseFrom = Math.min(1, gate / attack);
    let n = this.#n, l1 = this.#l1, l2 = this.#l2, r1 = this.#r1, r2 = this.#r2;
    for (let j = 0; j < n0; j++, n++) {
      const level = n < gate ? Math.min(1, (n + 1) / attack) : releaseFrom * (1 - (n - gate + 1) / release);
      const xa = a[j]!, xb = b[j]!;
      l1 += lp * (near * xa + far * xb - l1);
      l2 += lp * (l1 - l2);
      r1 += lp * (far * xa + near * xb - r1);
      r2 += lp * (r1 - r2);
      const o = from + j - base;
      l[o]! += l2 * level * gl;
      r[o]! += r2 * level * gr;
    }
    this.#n = n;
    this.#l1 = l1;
    this.#l2 = l2;
    this.#r1 = r1;
    this.#r2 = r2;
  }
}

/** Parameters of a {@link KeysVoice}. */
export interface KeysParams {
  start: number;
  sampleRate: number;
  freqHz: number;
  gate: number;
  amp: number;
  pan: number;
  /** Time constant of the amplitude decay while held, s. */
  decayTau: number;
  /** Linear release after the note-off, s. */
  release: number;
  /** Phase-modulation depth at the attack, in periods. */
  modDepth: number;
  /** Time constant of the modulation-depth decay, s. */
  modTau: number;
}

/** Attack of an electric-piano note, s. */
const KEYS_ATTACK_SECONDS = 0.002;

/** An electric-piano-like note: two-operator phase modulation with a decaying index. */
export class KeysVoice implements Voice {
  readonly start: number;
  readonly end: number;
  readonly #gl: number;
  readonly #gr: number;
  readonly #inc: number;
  readonly #gate: number;
  readonly #attack: number;
  readonly #release: number;
  readonly #decay: number;
  readonly #modDecay: number;
  #n = 0;
  #pc = 0;
  #pm = 0;
  #env: number;
  #mod: number;
  #level = 0;
  #releaseFrom = 0;

  constructor(p: KeysParams) {
    this.start = p.start;
    this.#attack = Math.max(1, Math.round(KEYS_ATTACK_SECONDS * p.sampleRate));
    this.#gate = Math.max(this.#attack, p.gate);
    this.#release = Math.max(1, Math.round(p.release * p.sampleRate));
    this.end = p.start + this.#gate + this.#release;
    [this.#gl, this.#gr] = panGains(p.pan);
    this.#inc = p.freqHz / p.sampleRate;
    this.#decay = decayPerSample(p.decayTau, p.sampleRate);
    this.#modDecay = decayPerSample(p.modTau, p.sampleRate);
    this.#env = p.amp;
    this.#mod = p.modDepth;
  }

  render(l: Float64Array, r: Float64Array, base: number, from: number, to: number): void {
    const gl = this.#gl, gr = this.#gr, inc = this.#inc, gate = this.#gate, attack = this.#attack;
    const release = this.#release, decay = this.#decay, modDecay = this.#modDecay;
    let n = this.#n, pc = this.#pc, pm = this.#pm, env = this.#env, mod = this.#mod;
    let level = this.#level, releaseFrom = this.#releaseFrom;
    for (let t = from; t < to; t++, n++) {
      if (n < attack) level = ((n + 1) / attack) * env;
      else if (n < gate) level = env;
      else {
        if (n === gate) releaseFrom = level;
        level = releaseFrom * (1 - (n - gate + 1) / release);
      }
      env *= decay;
      pc += inc;
      if (pc >= 1) pc -= 1;
      pm += inc;
      if (pm >= 1) pm -= 1;
      let ph = pc + mod * sin01(pm);
      ph -= Math.floor(ph);
      mod *= modDecay;
      const y = sin01(ph) * level;
      const j = t - base;
      l[j]! += y * gl;
      r[j]! += y * gr;
    }
    this.#n = n;
    this.#pc = pc;
    this.#pm = pm;
    this.#env = env;
    this.#mod = mod;
    this.#level = level;
    this.#releaseFrom = releaseFrom;
  }
}

/** One event on a guitar string: a pluck (`freqHz > 0`) or a mute (`freqHz === 0`). */
export interface StringEvent {
  /** Absolute frame of the event. */
  readonly time: number;
  /** Frequency of the plucked note in Hz, or 0 to mute the string. */
  readonly freqHz: number;
  /** Pluck strength 0..1 (ignored for a mute). */
  readonly velocity: number;
}

/** Parameters of a {@link GuitarVoice}. */
export interface GuitarParams {
  sampleRate: number;
  /** Events per string, each list sorted by time. */
  strings: readonly (readonly StringEvent[])[];
  /** Pan of the guitar. */
  pan: number;
  amp: number;
  /** Time for a plucked string to decay by 60 dB, s. */
  ringSeconds: number;
  /** Time for a muted string to decay by 60 dB, s. */
  muteSeconds: number;
  /** Pick position as a fraction of the string length (sets the comb in the excitation). */
  pickPosition: number;
  seed: number;
}

/** Coefficient of the excitation low-pass for the softest pick (one-pole `y += a (x - y)`, two stages). */
const EXCITATION_LOWPASS_MIN = 0.12;
/** Coefficient of the excitation low-pass for the hardest pick. */
const EXCITATION_LOWPASS_MAX = 0.35;

/** State of one Karplus–Strong string. */
interface KsString {
  readonly buf: Float64Array;
  readonly events: readonly StringEvent[];
  /** Index of the next event. */
  next: number;
  /** Length of the circular buffer: the integer part of the loop delay plus one. */
  len: number;
  /** Index of the oldest sample (read with weight `frac`, then overwritten). */
  idx: number;
  /** Fractional part of the loop delay (linear interpolation between the two oldest samples). */
  frac: number;
  /** Loop gain per period. */
  rho: number;
  /** Previous interpolated output (the two-point average's memory). */
  prev: number;
  /** First frame at which the string is silent. */
  deadAt: number;
  noise: number;
}

const guitarScratch = new Float64Array(MAX_RENDER_FRAMES);

/**
 * A six-string plucked guitar: Karplus–Strong strings (two-point average in the loop, linear
 * interpolation for the fractional delay) excited by low-passed noise with a pick-position
 * comb. One voice plays all the song's strums: a string is re-excited at each pluck and damped
 * at each mute; strings that have rung out are skipped.
 */
export class GuitarVoice implements Voice {
  readonly start: number;
  readonly end: number;
  readonly #strings: KsString[];
  readonly #sampleRate: number;
  readonly #amp: number;
  readonly #ringSeconds: number;
  readonly #muteSeconds: number;
  readonly #pick: number;
  readonly #gl: number;
  readonly #gr: number;

  constructor(p: GuitarParams) {
    this.#sampleRate = p.sampleRate;
    this.#amp = p.amp;
    this.#ringSeconds = p.ringSeconds;
    this.#muteSeconds = p.muteSeconds;
    this.#pick = p.pickPosition;
    [this.#gl, this.#gr] = panGains(p.pan);
    let first = Infinity;
    let last = -Infinity;
    this.#strings = p.strings.map((events, s) => {
      const head = events[0];
      const tail = events[events.length - 1];
      if (head !== undefined && tail !== undefined) {
        first = Math.min(first, head.time);
        last = Math.max(last, tail.time);
      }
      return {
        buf: new Float64Array(KS_BUFFER_LENGTH),
        events,
        next: 0,
        len: 2,
        idx: 0,
        frac: 0,
        rho: 0,
        prev: 0,
        deadAt: -1,
        noise: noiseSeed(p.seed + 7919 * (s + 1)),
      };
    });
    this.start = Number.isFinite(first) ? first : 0;
    this.end = Number.isFinite(last) ? last + Math.ceil(p.ringSeconds * p.sampleRate) + 1 : 0;
  }

  render(l: Float64Array, r: Float64Array, base: number, from: number, to: number): void {
    const n = to - from;
    const mono = guitarScratch;
    mono.fill(0, 0, n);
    for (const s of this.#strings) {
      let pos = from;
      while (s.next < s.events.length) {
        const e = s.events[s.next]!;
        if (e.time >= to) break;
        if (e.time > pos) this.#renderString(s, mono, from, pos, e.time);
        this.#apply(s, e);
        pos = Math.max(pos, e.time);
        s.next++;
      }
      this.#renderString(s, mono, from, pos, to);
    }
    const gl = this.#gl, gr = this.#gr, o = from - base;
    for (let j = 0; j < n; j++) {
      const x = mono[j]!;
      l[o + j]! += x * gl;
      r[o + j]! += x * gr;
    }
  }

  #apply(s: KsString, e: StringEvent): void {
    const sr = this.#sampleRate;
    if (e.freqHz <= 0) {
      if (s.deadAt <= e.time) return;
      const periods = (this.#muteSeconds * sr) / s.len;
      s.rho = Math.min(s.rho, 10 ** (-3 / periods));
      s.deadAt = Math.min(s.deadAt, e.time + Math.ceil(this.#muteSeconds * sr));
      return;
    }
    // Loop delay = (len - 1) + frac (interpolated buffer) + 0.5 (two-point average) = period.
    const delay = Math.max(2, Math.min(KS_BUFFER_LENGTH - 1, sr / e.freqHz - 0.5));
    const whole = Math.floor(delay);
    const len = whole + 1;
    s.len = len;
    s.frac = delay - whole;
    s.idx = 0;
    s.rho = 10 ** (-3 / (this.#ringSeconds * e.freqHz));
    s.prev = 0;
    s.deadAt = e.time + Math.ceil(this.#ringSeconds * sr);
    // Excitation: two-pole low-passed noise (darker for softer picks), a pick-position comb,
    // zero mean, unit RMS, then scaled by the velocity.
    const buf = s.buf;
    const a = EXCITATION_LOWPASS_MIN + (EXCITATION_LOWPASS_MAX - EXCITATION_LOWPASS_MIN) * e.velocity;
    let y1 = 0;
    let y2 = 0;
    let ns = s.noise;
    for (let i = 0; i < len; i++) {
      ns = xorshift(ns);
      y1 += a * (ns * INT32_TO_UNIT - y1);
      y2 += a * (y1 - y2);
      buf[i] = y2;
    }
    s.noise = ns;
    const comb = Math.max(1, Math.round(len * this.#pick));
    for (let i = len - 1; i >= comb; i--) buf[i] = buf[i]! - buf[i - comb]!;
    let mean = 0;
    for (let i = 0; i < len; i++) mean += buf[i]!;
    mean /= len;
    let energy = 0;
    for (let i = 0; i < len; i++) energy += (buf[i]! - mean) ** 2;
    const gain = energy > 0 ? (this.#amp * e.velocity) / Math.sqrt(energy / len) : 0;
    for (let i = 0; i < len; i++) buf[i] = (buf[i]! - mean) * gain;
  }

  /** Adds the string's frames `[from, to)` into `mono` at index `frame - base`. */
  #renderString(s: KsString, mono: Float64Array, base: number, from: number, to: number): void {
    const stop = Math.min(to, s.deadAt);
    if (stop <= from) return;
    const buf = s.buf, len = s.len, rho = 0.5 * s.rho, frac = s.frac, keep = 1 - frac;
    let idx = s.idx, prev = s.prev;
    let next = idx + 1 === len ? 0 : idx + 1;
    for (let t = from; t < stop; t++) {
      // buf[idx] is the oldest sample (delay len), buf[next] the one after (delay len - 1).
      const out = frac * buf[idx]! + keep * buf[next]!;
      buf[idx] = rho * (out + prev);
      prev = out;
      idx = next;
      if (++next === len) next = 0;
      mono[t - base]! += out;
    }
    s.idx = idx;
    s.prev = prev;
  }
}

// #endregion

// #region vocals

/** Formant frequencies and bandwidths of one vowel, four formants, Hz. */
export interface Vowel {
  readonly freqs: readonly [number, number, number, number];
  readonly bandwidths: readonly [number, number, number, number];
}

/** One sung note inside a {@link VocalPhraseVoice}. */
export interface SungNote {
  /** Absolute frame of the voiced onset. */
  readonly start: number;
  /** Absolute frame of the note-off. */
  readonly end: number;
  readonly freqHz: number;
  readonly vowel: Vowel;
  /** Loudness 0..1. */
  readonly velocity: number;
  /** Starts a little flat and slides up (a scoop) instead of gliding from the previous note. */
  readonly scoop: boolean;
}

/** Parameters of a {@link VocalPhraseVoice}. */
export interface VocalParams {
  sampleRate: number;
  /** The notes, sorted, not overlapping. */
  notes: readonly SungNote[];
  amp: number;
  pan: number;
  /** Vibrato rate, Hz. */
  vibratoHz: number;
  /** Vibrato depth as a frequency ratio (0.02 ≈ ±35 cents). */
  vibratoDepth: number;
  /** Time after a note's onset before the vibrato fades in, s. */
  vibratoDelay: number;
  /** Time constant of the pitch glide between notes, s. */
  glideTau: number;
  /** Aspiration noise level relative to the glottal source. */
  breath: number;
  /** Time the voice keeps running after the last note-off, s. */
  tail: number;
  seed: number;
}

/** Frequency ratio at which a scooped note starts (about a semitone flat). */
const SCOOP_RATIO = 0.94;
/** Time constant of the vocal amplitude attack, s. */
const VOCAL_ATTACK_TAU = 0.012;
/** Time constant of the vocal amplitude release, s. */
const VOCAL_RELEASE_TAU = 0.035;
/** Time constant of the formant (vowel) transitions, s. */
const FORMANT_TAU = 0.025;
/**
 * Coefficient of the first-difference pre-emphasis `y = x[n] - k x[n-1]` on the vocal output
 * (+6 dB/octave above ~1.5 kHz): restores the presence and air that the four-formant cascade
 * rolls off.
 */
const VOCAL_PRE_EMPHASIS = 0.6;
/** Formant frequency/bandwidth distance below which a transition is complete, Hz. */
const FORMANT_SETTLED_HZ = 0.01;
/** Time constant of the vibrato fade-in, s. */
const VIBRATO_FADE_TAU = 0.12;

/**
 * A sung phrase: a PolyBLEP sawtooth glottal source (−6 dB/octave, the glottal spectrum with lip
 * radiation) plus aspiration noise, through a cascade of four formant resonators whose vowel
 * changes from note to note with smooth transitions; pitch glides between notes, scoops at
 * some onsets, and delayed vibrato; a smoothed syllable envelope.
 */
export class VocalPhraseVoice implements Voice {
  readonly start: number;
  readonly end: number;
  readonly #notes: readonly SungNote[];
  readonly #gl: number;
  readonly #gr: number;
  readonly #sampleRate: number;
  readonly #amp: number;
  readonly #vibInc: number;
  readonly #vibDepth: number;
  readonly #vibDelay: number;
  readonly #kGlide: number;
  readonly #kAttack: number;
  readonly #kRelease: number;
  readonly #kFormant: number;
  readonly #kVibrato: number;
  readonly #breath: number;
  /** Event times: note `i` starts at `2i`, ends at `2i + 1`. */
  readonly #eventTimes: Float64Array;
  #nextEvent = 0;
  #noteStart = 0;
  #formantsSettled = false;
  #n = 0;
  #f: number;
  #fTarget: number;
  #vibPhase = 0;
  #vib = 0;
  #vibTarget = 0;
  #phase = 0;
  #env = 0;
  #envTarget = 0;
  #noise: number;
  readonly #formant = new Float64Array(4);
  readonly #bandwidth = new Float64Array(4);
  readonly #formantTarget = new Float64Array(4);
  readonly #bandwidthTarget = new Float64Array(4);
  readonly #a1 = new Float64Array(4);
  readonly #a2 = new Float64Array(4);
  readonly #b0 = new Float64Array(4);
  readonly #y1 = new Float64Array(4);
  readonly #y2 = new Float64Array(4);

  constructor(p: VocalParams) {
    const first = p.notes[0];
    const last = p.notes[p.notes.length - 1];
    if (first === undefined || last === undefined) throw new RangeError('a vocal phrase needs at least one note');
    const sr = p.sampleRate;
    this.#notes = p.notes;
    this.start = first.start;
    this.end = last.end + Math.ceil(p.tail * sr);
    [this.#gl, this.#gr] = panGains(p.pan);
    this.#sampleRate = sr;
    this.#amp = p.amp;
    this.#vibInc = p.vibratoHz / sr;
    this.#vibDepth = p.vibratoDepth;
    this.#vibDelay = Math.round(p.vibratoDelay * sr);
    this.#kGlide = 1 - decayPerSample(p.glideTau, sr);
    this.#kAttack = 1 - decayPerSample(VOCAL_ATTACK_TAU, sr);
    this.#kRelease = 1 - decayPerSample(VOCAL_RELEASE_TAU, sr);
    this.#kFormant = 1 - decayPerSample(FORMANT_TAU / VOCAL_CONTROL_PERIOD, sr);
    this.#kVibrato = 1 - decayPerSample(VIBRATO_FADE_TAU / VOCAL_CONTROL_PERIOD, sr);
    this.#breath = p.breath;
    this.#noise = noiseSeed(p.seed);
    this.#f = first.freqHz * (first.scoop ? SCOOP_RATIO : 1);
    this.#fTarget = first.freqHz;
    this.#eventTimes = new Float64Array(2 * p.notes.length);
    p.notes.forEach((note, i) => {
      this.#eventTimes[2 * i] = note.start;
      this.#eventTimes[2 * i + 1] = note.end;
    });
    for (let k = 0; k < 4; k++) {
      this.#formant[k] = first.vowel.freqs[k]!;
      this.#bandwidth[k] = first.vowel.bandwidths[k]!;
      this.#formantTarget[k] = first.vowel.freqs[k]!;
      this.#bandwidthTarget[k] = first.vowel.bandwidths[k]!;
    }
  }

  #onEvent(index: number): void {
    const note = this.#notes[index >> 1]!;
    if ((index & 1) === 0) {
      this.#noteStart = note.start;
      this.#fTarget = note.freqHz;
      if (note.scoop) this.#f = note.freqHz * SCOOP_RATIO;
      this.#envTarget = note.velocity;
      this.#vibTarget = 0;
      this.#formantsSettled = false;
      for (let k = 0; k < 4; k++) {
        this.#formantTarget[k] = note.vowel.freqs[k]!;
        this.#bandwidthTarget[k] = note.vowel.bandwidths[k]!;
      }
    } else {
      const next = this.#notes[(index >> 1) + 1];
      if (next === undefined || next.start > note.end) this.#envTarget = 0;
    }
  }

  /** Control-rate update: vibrato fade-in, formant glide, resonator coefficients. */
  #control(t: number): void {
    if (this.#envTarget > 0 && t - this.#noteStart >= this.#vibDelay) this.#vibTarget = this.#vibDepth;
    this.#vib += (this.#vibTarget - this.#vib) * this.#kVibrato;
    if (this.#formantsSettled) return;
    const sr = this.#sampleRate;
    const kf = this.#kFormant;
    let moving = false;
    for (let k = 0; k < 4; k++) {
      let f = this.#formant[k]!;
      let bw = this.#bandwidth[k]!;
      const ft = this.#formantTarget[k]!;
      const bt = this.#bandwidthTarget[k]!;
      f += (ft - f) * kf;
      bw += (bt - bw) * kf;
      // Snap once within a hundredth of a hertz, then stop recomputing until the next vowel.
      if (Math.abs(ft - f) < FORMANT_SETTLED_HZ && Math.abs(bt - bw) < FORMANT_SETTLED_HZ) {
        f = ft;
        bw = bt;
      } else {
        moving = true;
      }
      this.#formant[k] = f;
      this.#bandwidth[k] = bw;
      const radius = Math.exp((-Math.PI * bw) / sr);
      const a1 = -2 * radius * Math.cos((2 * Math.PI * f) / sr);
      const a2 = radius * radius;
      this.#a1[k] = a1;
      this.#a2[k] = a2;
      this.#b0[k] = 1 + a1 + a2;
    }
    this.#formantsSettled = !moving;
  }

  render(l: Float64Array, r: Float64Array, base: number, from: number, to: number): void {
    const gl = this.#gl * this.#amp, gr = this.#gr * this.#amp, invSr = 1 / this.#sampleRate;
    const times = this.#eventTimes, nEvents = times.length;
    const vibInc = this.#vibInc, kGlide = this.#kGlide, kAtk = this.#kAttack, kRel = this.#kRelease;
    const breath = this.#breath;
    const a1 = this.#a1, a2 = this.#a2, b0 = this.#b0, y1 = this.#y1, y2 = this.#y2;
    let nextEvent = this.#nextEvent;
    let nextTime = nextEvent < nEvents ? times[nextEvent]! : Infinity;
    let n = this.#n, f = this.#f, vibPhase = this.#vibPhase, phase = this.#phase, env = this.#env;
    let ns = this.#noise;
    let s01 = y1[0]!, s02 = y2[0]!, s11 = y1[1]!, s12 = y2[1]!;
    let s21 = y1[2]!, s22 = y2[2]!, s31 = y1[3]!, s32 = y2[3]!;
    let t = from;
    while (t < to) {
      if (t >= nextTime) {
        this.#f = f;
        while (t >= nextTime) {
          this.#onEvent(nextEvent++);
          nextTime = nextEvent < nEvents ? times[nextEvent]! : Infinity;
        }
        f = this.#f;
      }
      const inPeriod = n % VOCAL_CONTROL_PERIOD;
      if (inPeriod === 0) this.#control(t);
      // One segment: up to the next control tick, event or the end of the range.
      const stop = Math.min(to, t + VOCAL_CONTROL_PERIOD - inPeriod, nextTime);
      const fTarget = this.#fTarget, envTarget = this.#envTarget, vib = this.#vib;
      const kEnv = envTarget > env ? kAtk : kRel;
      const c0a1 = a1[0]!, c0a2 = a2[0]!, c0b = b0[0]!, c1a1 = a1[1]!, c1a2 = a2[1]!, c1b = b0[1]!;
      const c2a1 = a1[2]!, c2a2 = a2[2]!, c2b = b0[2]!, c3a1 = a1[3]!, c3a2 = a2[3]!, c3b = b0[3]!;
      for (let j = t - base, jEnd = stop - base; j < jEnd; j++) {
        f += (fTarget - f) * kGlide;
        vibPhase += vibInc;
        if (vibPhase >= 1) vibPhase -= 1;
        const dt = f * (1 + vib * sin01(vibPhase)) * invSr;
        phase += dt;
        if (phase >= 1) phase -= 1;
        ns = xorshift(ns);
        env += (envTarget - env) * kEnv;
        const x = (phase + phase - 1 - polyBlep(phase, dt) + breath * ns * INT32_TO_UNIT) * env;
        const v0 = c0b * x - c0a1 * s01 - c0a2 * s02;
        s02 = s01;
        s01 = v0;
        const v1 = c1b * v0 - c1a1 * s11 - c1a2 * s12;
        s12 = s11;
        s11 = v1;
        const v2 = c2b * v1 - c2a1 * s21 - c2a2 * s22;
        s22 = s21;
        s21 = v2;
        const v3 = c3b * v2 - c3a1 * s31 - c3a2 * s32 + DENORMAL_FLUSH - DENORMAL_FLUSH;
        s32 = s31;
        s31 = v3;
        // Pre-emphasis: the cascade alone falls too steeply above the fourth formant.
        const y = v3 - VOCAL_PRE_EMPHASIS * s32;
        l[j]! += y * gl;
        r[j]! += y * gr;
      }
      n += stop - t;
      t = stop;
    }
    this.#nextEvent = nextEvent;
    this.#n = n;
    this.#f = f;
    this.#vibPhase = vibPhase;
    this.#phase = phase;
    this.#env = env;
    this.#noise = ns;
    y1[0] = s01;
    y2[0] = s02;
    y1[1] = s11;
    y2[1] = s12;
    y1[2] = s21;
    y2[2] = s22;
    y1[3] = s31;
    y2[3] = s32;
  }
}

/** Parameters of a {@link ConsonantVoice}. */
export interface ConsonantParams {
  start: number;
  sampleRate: number;
  /** Length in frames. */
  length: number;
  /** Centre of the noise band, Hz. */
  centerHz: number;
  /** Bandwidth of the noise band, Hz. */
  bandwidthHz: number;
  amp: number;
  pan: number;
  /** Fraction of the length spent rising (the rest decays linearly). */
  attackFraction: number;
  seed: number;
}

/** A consonant: a burst of band-pass noise with a triangular envelope (s, t, k, h, …). */
export class ConsonantVoice implements Voice {
  readonly start: number;
  readonly end: number;
  readonly #gl: number;
  readonly #gr: number;
  readonly #a1: number;
  readonly #a2: number;
  readonly #b0: number;
  readonly #rise: number;
  readonly #length: number;
  #n = 0;
  #y1 = 0;
  #y2 = 0;
  #noise: number;

  constructor(p: ConsonantParams) {
    this.start = p.start;
    this.#length = Math.max(2, p.length);
    this.end = p.start + this.#length;
    this.#rise = Math.max(1, Math.round(this.#length * p.attackFraction));
    const [gl, gr] = panGains(p.pan);
    const radius = Math.exp((-Math.PI * p.bandwidthHz) / p.sampleRate);
    const theta = (2 * Math.PI * p.centerHz) / p.sampleRate;
    this.#a1 = -2 * radius * Math.cos(theta);
    this.#a2 = radius * radius;
    // Unity gain near the centre: |H| ≈ b0 / ((1 - r) · 2 sin θ).
    this.#b0 = (1 - radius) * 2 * Math.sin(theta);
    this.#gl = gl * p.amp;
    this.#gr = gr * p.amp;
    this.#noise = noiseSeed(p.seed);
  }

  render(l: Float64Array, r: Float64Array, base: number, from: number, to: number): void {
    const gl = this.#gl, gr = this.#gr, a1 = this.#a1, a2 = this.#a2, b0 = this.#b0;
    const rise = this.#rise, length = this.#length;
    let n = this.#n, y1 = this.#y1, y2 = this.#y2, ns = this.#noise;
    for (let t = from; t < to; t++, n++) {
      const level = n < rise ? (n + 1) / rise : (length - n) / (length - rise);
      ns = xorshift(ns);
      const y = b0 * ns * INT32_TO_UNIT - a1 * y1 - a2 * y2;
      y2 = y1;
      y1 = y;
      const j = t - base;
      l[j]! += y * level * gl;
      r[j]! += y * level * gr;
    }
    this.#n = n;
    this.#y1 = y1;
    this.#y2 = y2;
    this.#noise = ns;
  }
}

// #endregion

// #region buses

/**
 * A smooth saturator, `y = x / sqrt(1 + (x / ceiling)^2)`: nearly linear for |x| well below
 * `ceiling`, approaching ±ceiling for large |x|. Tames drum and pluck transients the way bus
 * compression and tape would, so the mastered mix is not all peaks.
 */
export class SoftClipBus implements Bus {
  readonly #inv: number;

  /** @param ceiling - the level the output approaches for large inputs */
  constructor(ceiling: number) {
    this.#inv = 1 / ceiling;
  }

  process(l: Float64Array, r: Float64Array, n: number): void {
    const inv = this.#inv;
    for (let j = 0; j < n; j++) {
      const x = l[j]! * inv;
      const y = r[j]! * inv;
      l[j] = l[j]! / Math.sqrt(1 + x * x);
      r[j] = r[j]! / Math.sqrt(1 + y * y);
    }
  }
}

/** Parameters of a {@link PingPongDelay}. */
export interface PingPongParams {
  sampleRate: number;
  /** Delay between echoes, frames. */
  delayFrames: number;
  /** Level fed from one side's echo into the other's, 0..1. */
  feedback: number;
  /** Low-pass cut-off in the feedback path, Hz. */
  dampingHz: number;
  /** Level of the mono dry signal sent into the delay. */
  send: number;
}

/**
 * A stereo ping-pong echo, added to the dry signal: the mono send comes back on the left after
 * one delay, on the right after two, and so on, each time quieter and darker.
 */
export class PingPongDelay implements Bus {
  readonly #bufL: Float64Array;
  readonly #bufR: Float64Array;
  readonly #feedback: number;
  readonly #lp: number;
  readonly #send: number;
  #idx = 0;
  #lpL = 0;
  #lpR = 0;

  constructor(p: PingPongParams) {
    const delay = Math.max(1, Math.round(p.delayFrames));
    this.#bufL = new Float64Array(delay);
    this.#bufR = new Float64Array(delay);
    this.#feedback = p.feedback;
    this.#lp = onePoleLowpass(p.dampingHz, p.sampleRate);
    this.#send = p.send;
  }

  process(l: Float64Array, r: Float64Array, n: number): void {
    const bufL = this.#bufL, bufR = this.#bufR, len = bufL.length, fb = this.#feedback, lp = this.#lp;
    const send = this.#send * 0.5;
    let idx = this.#idx, lpL = this.#lpL, lpR = this.#lpR;
    for (let j = 0; j < n; j++) {
      const tapL = bufL[idx]!;
      const tapR = bufR[idx]!;
      const dryL = l[j]!, dryR = r[j]!;
      lpL += lp * (tapL - lpL) + DENORMAL_FLUSH - DENORMAL_FLUSH;
      lpR += lp * (tapR - lpR) + DENORMAL_FLUSH - DENORMAL_FLUSH;
      bufL[idx] = send * (dryL + dryR) + fb * lpR;
      bufR[idx] = fb * lpL;
      if (++idx === len) idx = 0;
      l[j] = dryL + tapL;
      r[j] = dryR + tapR;
    }
    this.#idx = idx;
    this.#lpL = lpL;
    this.#lpR = lpR;
  }
}

// #endregion
