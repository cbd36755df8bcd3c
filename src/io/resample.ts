/**
 * Sample-rate conversion: a streaming, zero-phase, windowed-sinc (Kaiser) polyphase resampler
 * for any pair of integer rates, exact in length and independent of block size.
 *
 * @packageDocumentation
 */

import type { PlanarAudio } from '../core/audio.js';
import { describeValue } from '../core/errors.js';
import { isFloat32Array } from '../core/typed-arrays.js';

// #region Options and lengths

/**
 * Filter design of a {@link Resampler}. Frequencies are fractions of the **lower Nyquist**
 * frequency, `min(inputRate, outputRate) / 2`: for 48000 → 44100 Hz (and back) that is
 * 22050 Hz.
 *
 * The defaults keep everything up to 0.9 × the lower Nyquist (19845 Hz at 44.1 kHz) within
 * ±0.0001 dB and remove everything from the lower Nyquist up by more than 100 dB, so
 * downsampling aliases nothing and upsampling leaves no image within 100 dB of the signal.
 * `docs/resampler.md` has the measured response.
 */
export interface ResamplerOptions {
  /**
   * Stopband attenuation the Kaiser window is designed for, in dB, between 40 and 180. The
   * passband ripple is the same relative error, `10^(−A/20)`: 105 dB is ±5.6e-6
   * (±0.00005 dB). Kaiser's length formula is an estimate: the measured attenuation at the
   * stopband edge can fall short of the design by up to about 1 dB, which is why the default
   * is 105 for a promised 100. Each 20 dB more costs about 20 % more filter taps.
   *
   * @defaultValue 105
   */
  readonly stopbandAttenuation?: number;
  /**
   * End of the passband, as a fraction of the lower Nyquist, in
   * (0, {@link ResamplerOptions.stopbandEdge}).
   *
   * @defaultValue 0.9
   */
  readonly passbandEdge?: number;
  /**
   * Start of the stopband, as a fraction of the lower Nyquist, in
   * ({@link ResamplerOptions.passbandEdge}, 1].
   * At 1, nothing aliases when downsampling. The filter length is inversely proportional to
   * `stopbandEdge − passbandEdge`.
   *
   * @defaultValue 1
   */
  readonly stopbandEdge?: number;
}

/** The defaults of {@link ResamplerOptions}. */
export const RESAMPLER_DEFAULTS: Readonly<Required<ResamplerOptions>> = Object.freeze({
  stopbandAttenuation: 105,
  passbandEdge: 0.9,
  stopbandEdge: 1,
});

/** Largest ratio between the two rates, either way. */
const MAX_RATIO = 256;

/**
 * Largest precomputed polyphase table, in coefficients (8 MB as float64). Rate pairs whose
 * reduced ratio has more phases than fit (44100 ↔ 44056, 44100 ↔ 44101, …) interpolate the
 * coefficients of each output sample from a finely sampled table instead.
 */
const MAX_TABLE_COEFFICIENTS = 1 << 20;

/** Sub-phases per input sample of the interpolated table, before scaling for downsampling. */
const SUB_PHASES = 128;

/** Block size of the one-shot {@link resample}, which bounds its working memory. */
const ONE_SHOT_BLOCK_FRAMES = 1 << 16;

function greatestCommonDivisor(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Checks a count or rate: `TypeError` for a non-number, `RangeError` out of range. */
function checkInteger(name: string, value: unknown, min: 0 | 1): number {
  const message = `${name} must be a ${min === 0 ? 'non-negative' : 'positive'} integer (got ${describeValue(value)})`;
  if (typeof value !== 'number') throw new TypeError(message);
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(message);
  return value;
}

function checkRate(name: string, rate: unknown): number {
  return checkInteger(name, rate, 1);
}

/** `floor(a · b / c)` for non-negative safe integers, exact while `(a mod c) · b` is safe. */
function floorMulDiv(a: number, b: number, c: number): number {
  const q = Math.floor(a / c);
  const r = a - q * c;
  return q * b + Math.floor((r * b) / c);
}

/**
 * Length of `frames` input frames at `inputRate` once resampled to `outputRate`:
 * `round(frames · outputRate / inputRate)`, halves rounded up, computed exactly in integers.
 * A {@link Resampler} produces exactly this many frames over a stream.
 *
 * @param frames - input frames, a non-negative integer.
 * @param inputRate - input sample rate in Hz, a positive integer.
 * @param outputRate - output sample rate in Hz, a positive integer.
 * @returns the output frame count.
 * @throws `RangeError` when an argument is not an integer in range, or the result is not a
 *   safe integer; `TypeError` when an argument is not a number.
 *
 * @example
 * ```ts
 * resampledLength(48000, 48000, 44100); // 44100
 * resampledLength(1, 48000, 44100); // 1 (0.91875 rounds up)
 * ```
 */
export function resampledLength(frames: number, inputRate: number, outputRate: number): number {
  checkInteger('frames', frames, 0);
  checkRate('inputRate', inputRate);
  checkRate('outputRate', outputRate);
  const g = greatestCommonDivisor(inputRate, outputRate);
  const up = outputRate / g;
  const down = inputRate / g;
  // round(x / down) = floor((2x + down) / (2·down)), with x = frames·up split to stay exact.
  const q = Math.floor(frames / down);
  const r = frames - q * down;
  const length = q * up + Math.floor((2 * r * up + down) / (2 * down));
  if (!Number.isSafeInteger(length)) {
    throw new RangeError(`frames (${frames}) resampled from ${inputRate} to ${outputRate} Hz is beyond Number.MAX_SAFE_INTEGER`);
  }
  return length;
}

// #endregion

// #region Filter design

/** Zeroth-order modified Bessel function of the first kind, by its power series. */
function besselI0(x: number): number {
  const h = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; term > sum * 1e-17; k++) {
    term *= h / (k * k);
    sum += term;
  }
  return sum;
}

/** Kaiser's β for a stopband attenuation of `a` dB (Kaiser 1974; Oppenheim & Schafer 7.6). */
function kaiserBeta(a: number): number {
  if (a > 50) return 0.1102 * (a - 8.7);
  if (a >= 21) return 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21);
  return 0;
}

/** The continuous prototype: a Kaiser-windowed sinc in units of input samples. */
interface Prototype {
  /** Cutoff (−6 dB point), in cycles per input sample. */
  readonly cutoff: number;
  /** Half-width of the support, in input samples: the response is 0 for |t| ≥ halfWidth. */
  readonly halfWidth: number;
  /** Kaiser β. */
  readonly beta: number;
  /** 1 / I0(β). */
  readonly norm: number;
}

function designPrototype(inputRate: number, outputRate: number, options: Required<ResamplerOptions>): Prototype {
  const lowerNyquist = Math.min(inputRate, outputRate) / 2;
  const pass = (options.passbandEdge * lowerNyquist) / inputRate;
  const stop = (options.stopbandEdge * lowerNyquist) / inputRate;
  const a = options.stopbandAttenuation;
  // Kaiser's length estimate: order = (A − 7.95) / (2.285 · Δω), Δω in radians per sample.
  const order = (a - 7.95) / (2.285 * 2 * Math.PI * (stop - pass));
  const beta = kaiserBeta(a);
  return { cutoff: (pass + stop) / 2, halfWidth: order / 2, beta, norm: 1 / besselI0(beta) };
}

/** The prototype's impulse response at `t` input samples from its centre. */
function prototypeAt(p: Prototype, t: number): number {
  const x = t / p.halfWidth;
  if (x >= 1 || x <= -1) return 0;
  const window = besselI0(p.beta * Math.sqrt(1 - x * x)) * p.norm;
  const u = 2 * p.cutoff * t;
  const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
  return 2 * p.cutoff * sinc * window;
}

/**
 * Fills `row` with the taps for an output time `tau` input samples past input frame `n`:
 * `row[j]` weighs input frame `n − left + j`, so `row[j] = h(tau + left − j)`.
 */
function fillTaps(p: Prototype, tau: number, left: number, row: Float64Array): void {
  for (let j = 0; j < row.length; j++) row[j] = prototypeAt(p, tau + left - j);
}

// #endregion

// #region Resampler

function checkOptions(options: ResamplerOptions | undefined): Required<ResamplerOptions> {
  // An option given as undefined takes its default.
  const numeric = (name: keyof ResamplerOptions): number => {
    const value: unknown = options?.[name] ?? RESAMPLER_DEFAULTS[name];
    if (typeof value !== 'number') throw new TypeError(`options.${name} must be a number (got ${describeValue(value)})`);
    return value;
  };
  // Negated comparisons so that NaN fails them.
  const a = numeric('stopbandAttenuation');
  if (!(a >= 40 && a <= 180)) throw new RangeError(`options.stopbandAttenuation must be within [40, 180] dB (got ${a})`);
  const stop = numeric('stopbandEdge');
  if (!(stop > 0 && stop <= 1)) throw new RangeError(`options.stopbandEdge must be within (0, 1] (got ${stop})`);
  const pass = numeric('passbandEdge');
  if (!(pass > 0 && pass < stop)) {
    throw new RangeError(`options.passbandEdge must be within (0, stopbandEdge = ${stop}) (got ${pass})`);
  }
  return { stopbandAttenuation: a, passbandEdge: pass, stopbandEdge: stop };
}

/**
 * A streaming sample-rate converter: pushes planar blocks of any size and returns the output
 * frames that are final, with no delay to compensate.
 *
 * @remarks
 * Output frame `k` is the band-limited input evaluated at input time `k · inputRate /
 * outputRate` (input frame 0 and output frame 0 coincide), with the signal taken as zero
 * outside the input: a conversion there and back lines up with the original. The filter is
 * a Kaiser-windowed sinc (see {@link ResamplerOptions}) applied in polyphase form for the
 * ratio `outputRate / inputRate` reduced by its greatest common divisor (44100 / 48000 =
 * 147 / 160): one precomputed set of taps per output phase, float64 coefficients and
 * accumulation, float32 output.
 *
 * Every output frame is computed from the same input frames in the same order whatever the
 * block sizes, so the output of any partition of a stream into {@link process} calls,
 * followed by {@link flush}, is bitwise the same, and its length is
 * {@link resampledLength}`(total input frames, inputRate, outputRate)`. Memory per channel
 * is at most 1.5 × (largest block + filter length) of input history and the largest block's
 * output. Equal rates copy the input unchanged.
 *
 * @example
 * ```ts
 * const resampler = new Resampler(48000, 44100, 2);
 * for (const block of blocks) write(resampler.process(block)); // views: consume or copy now
 * write(resampler.flush());
 * ```
 */
export class Resampler {
  /** Input sample rate, in Hz. */
  readonly inputRate: number;
  /** Output sample rate, in Hz. */
  readonly outputRate: number;
  /** Channels of every block. */
  readonly channelCount: number;
  /**
   * Look-ahead, in input frames: output frame `k` is returned once input frame
   * `floor(k · inputRate / outputRate) + latency` has been pushed (0 for equal rates). The
   * output needs no delay compensation; this is only how much input it waits for.
   */
  readonly latency: number;
  /** Filter taps per output frame, in input frames (0 for equal rates). */
  readonly filterLength: number;

  /** Taps before the output's input frame `floor(k · down / up)`. */
  readonly #left: number;
  /** Reduced ratio: `up / down = outputRate / inputRate`. */
  readonly #up: number;
  readonly #down: number;
  readonly #downDiv: number;
  readonly #downMod: number;
  /** Exact mode: `up` rows of taps, row `phase` for fraction `phase / up`. */
  readonly #table: Float64Array | undefined;
  /** Interpolated mode: rows for fractions `(r − 1) / subPhases`, r = 0 … subPhases + 2. */
  readonly #fine: Float64Array | undefined;
  readonly #subPhases: number;
  readonly #taps: Float64Array;

  /** Input history per channel; `#history[c][i]` is input frame `#historyStart + i`. */
  #history: Float32Array[];
  #historyStart: number;
  #historyLength: number;
  #received = 0;
  #outputs: Float32Array[];
  /** Next output frame, its input frame `floor(k · down / up)` and phase `k · down mod up`. */
  #nextK = 0;
  #nextFrame = 0;
  #nextPhase = 0;
  #flushed = false;

  /**
   * @param inputRate - input sample rate in Hz, a positive integer.
   * @param outputRate - output sample rate in Hz, a positive integer, within a factor of 256
   *   of `inputRate`.
   * @param channelCount - channels of every block, a positive integer.
   * @param options - filter design; see {@link ResamplerOptions} for the defaults.
   * @throws `RangeError` when a rate, the channel count or an option is out of range;
   *   `TypeError` when one is not a number.
   */
  constructor(inputRate: number, outputRate: number, channelCount: number, options?: ResamplerOptions) {
    this.inputRate = checkRate('inputRate', inputRate);
    this.outputRate = checkRate('outputRate', outputRate);
    if (Math.max(inputRate, outputRate) > MAX_RATIO * Math.min(inputRate, outputRate)) {
      throw new RangeError(
        `outputRate / inputRate must be within 1/${MAX_RATIO} and ${MAX_RATIO} (got ${outputRate} / ${inputRate})`,
      );
    }
    this.channelCount = checkInteger('channelCount', channelCount, 1);
    const design = checkOptions(options);
    const g = greatestCommonDivisor(inputRate, outputRate);
    this.#up = outputRate / g;
    this.#down = inputRate / g;
    this.#downDiv = Math.floor(this.#down / this.#up);
    this.#downMod = this.#down % this.#up;

    if (this.#up === this.#down) {
      this.latency = 0;
      this.filterLength = 0;
      this.#left = 0;
      this.#table = undefined;
      this.#fine = undefined;
      this.#subPhases = 0;
      this.#taps = new Float64Array(0);
    } else {
      const p = designPrototype(inputRate, outputRate, design);
      // Frame n = floor(k·down/up) and output time n + tau, tau in [0, 1): the support
      // |t| < halfWidth covers frames n − half + 1 … n + half. At least 1 + down / (2·up) frames
      // of look-ahead, so process() never returns a frame past resampledLength(), whatever
      // the stream's final length. Taps are padded with zeros on the right to a multiple of
      // 4 for the unrolled kernel.
      const half = Math.max(Math.ceil(p.halfWidth), Math.ceil(1 + this.#down / (2 * this.#up)));
      const taps = 4 * Math.ceil((2 * half) / 4);
      const left = half - 1;
      this.#left = left;
      this.latency = taps - 1 - left;
      this.filterLength = taps;
      if (this.#up * taps <= MAX_TABLE_COEFFICIENTS) {
        const table = new Float64Array(this.#up * taps);
        for (let phase = 0; phase < this.#up; phase++) {
          fillTaps(p, phase / this.#up, left, table.subarray(phase * taps, (phase + 1) * taps));
        }
        this.#table = table;
        this.#fine = undefined;
        this.#subPhases = 0;
      } else {
        const subPhases = Math.max(8, Math.ceil(SUB_PHASES * Math.min(1, this.#up / this.#down)));
        const fine = new Float64Array((subPhases + 3) * taps);
        for (let r = 0; r < subPhases + 3; r++) {
          fillTaps(p, (r - 1) / subPhases, left, fine.subarray(r * taps, (r + 1) * taps));
        }
        this.#table = undefined;
        this.#fine = fine;
        this.#subPhases = subPhases;
      }
      this.#taps = new Float64Array(taps);
    }
    this.#history = Array.from({ length: channelCount }, () => new Float32Array(0));
    this.#outputs = Array.from({ length: channelCount }, () => new Float32Array(0));
    this.#historyStart = 0;
    this.#historyLength = 0;
    this.reset();
  }

  /**
   * Starts a new stream with the same filter, discarding any input held back.
   */
  reset(): void {
    this.#received = 0;
    this.#nextK = 0;
    this.#nextFrame = 0;
    this.#nextPhase = 0;
    this.#flushed = false;
    // Input frames before 0 are zeros: keep as many as frame 0 has taps on its left.
    const lead = this.#left;
    this.#ensureHistory(lead);
    for (const h of this.#history) h.fill(0, 0, lead);
    this.#historyStart = -lead;
    this.#historyLength = lead;
  }

  /**
   * Pushes a block of planar input and returns the output frames that are now final.
   *
   * @param input - one `Float32Array` per channel, all of the same length (0 is allowed).
   * @returns one array per channel, all of the same length: **views into an internal buffer
   *   that the next call overwrites**; consume or copy them before calling again.
   * @throws `RangeError` when the channel count differs from the constructor's or the
   *   channels differ in length; `TypeError` when a channel is not a `Float32Array`; `Error`
   *   after {@link flush} (call {@link reset} first).
   */
  process(input: readonly Float32Array[]): readonly Float32Array[] {
    if (this.#flushed) throw new Error('Resampler.process() called after flush(); call reset() to start a new stream');
    const frames = this.#checkInput(input);
    if (this.#up === this.#down) {
      const outputs = this.#ensureOutputs(frames);
      for (let c = 0; c < this.channelCount; c++) outputs[c]!.set(input[c]!);
      this.#received += frames;
      this.#nextK += frames;
      return outputs.map((o) => o.subarray(0, frames));
    }
    this.#append(input, frames);
    this.#received += frames;
    // Frames whose last tap, floor(k·down/up) + latency, has arrived.
    return this.#render(this.#countUpTo(this.#received - 1 - this.latency));
  }

  /**
   * Ends the stream: returns the remaining output frames, taking the input as zero past its
   * end, so that the whole output has {@link resampledLength}`(total input frames,
   * inputRate, outputRate)` frames. Call {@link reset} to start another stream.
   *
   * @returns one array per channel, views into an internal buffer as for {@link process}.
   * @throws `Error` when the stream was already flushed.
   */
  flush(): readonly Float32Array[] {
    if (this.#flushed) throw new Error('Resampler.flush() called twice; call reset() to start a new stream');
    this.#flushed = true;
    const total = resampledLength(this.#received, this.inputRate, this.outputRate);
    const count = total - this.#nextK;
    if (this.#up === this.#down || count <= 0) return this.#outputs.map((o) => o.subarray(0, 0));
    // Zeros past the end, up to the last tap of the last frame.
    const lastFrame = floorMulDiv(total - 1, this.#down, this.#up);
    const zeros = lastFrame + this.latency + 1 - (this.#historyStart + this.#historyLength);
    if (zeros > 0) {
      this.#compact();
      this.#ensureHistory(this.#historyLength + zeros);
      for (const h of this.#history) h.fill(0, this.#historyLength, this.#historyLength + zeros);
      this.#historyLength += zeros;
    }
    return this.#render(count);
  }

  /** Number of output frames from `#nextK` whose input frame is at most `lastFrame`. */
  #countUpTo(lastFrame: number): number {
    if (lastFrame < this.#nextFrame) return 0;
    // Frames k with floor(k·down/up) ≤ lastFrame are k < ceil((lastFrame + 1)·up / down).
    const n = lastFrame + 1;
    const q = Math.floor(n / this.#down);
    const r = n - q * this.#down;
    const end = q * this.#up + Math.ceil((r * this.#up) / this.#down);
    return end - this.#nextK;
  }

  #checkInput(input: readonly Float32Array[]): number {
    if (!Array.isArray(input)) {
      throw new TypeError(`input must be an array of Float32Array (got ${describeValue(input)})`);
    }
    if (input.length !== this.channelCount) {
      throw new RangeError(`input has ${input.length} channels but the resampler was made for ${this.channelCount}`);
    }
    let frames = 0;
    for (let c = 0; c < input.length; c++) {
      const channel: unknown = input[c];
      if (!isFloat32Array(channel)) throw new TypeError(`input[${c}] must be a Float32Array (got ${describeValue(channel)})`);
      if (c === 0) frames = channel.length;
      else if (channel.length !== frames) {
        throw new RangeError(`input[${c}] has ${channel.length} frames but input[0] has ${frames}; channels must have equal lengths`);
      }
    }
    return frames;
  }

  #ensureOutputs(frames: number): Float32Array[] {
    if (this.#outputs[0]!.length < frames) {
      this.#outputs = this.#outputs.map(() => new Float32Array(frames));
    }
    return this.#outputs;
  }

  #ensureHistory(frames: number): void {
    if (this.#history[0]!.length >= frames) return;
    const capacity = Math.max(frames, Math.ceil(this.#history[0]!.length * 1.5));
    this.#history = this.#history.map((h) => {
      const grown = new Float32Array(capacity);
      grown.set(h.subarray(0, this.#historyLength));
      return grown;
    });
  }

  /** Drops history before the first tap of the next output frame. */
  #compact(): void {
    const keepFrom = this.#nextFrame - this.#left;
    const drop = Math.min(keepFrom - this.#historyStart, this.#historyLength);
    if (drop <= 0) return;
    for (const h of this.#history) h.copyWithin(0, drop, this.#historyLength);
    this.#historyStart += drop;
    this.#historyLength -= drop;
  }

  #append(input: readonly Float32Array[], frames: number): void {
    if (frames === 0) return;
    this.#compact();
    this.#ensureHistory(this.#historyLength + frames);
    for (let c = 0; c < this.channelCount; c++) this.#history[c]!.set(input[c]!, this.#historyLength);
    this.#historyLength += frames;
  }

  /** Computes the next `count` output frames into the output buffers and returns views. */
  #render(count: number): readonly Float32Array[] {
    const outputs = this.#ensureOutputs(count);
    const taps = this.#taps.length;
    const up = this.#up;
    const downDiv = this.#downDiv;
    const downMod = this.#downMod;
    const table = this.#table;
    const history = this.#history;
    const channels = this.channelCount;
    const x = history[0]!;
    const y = history[channels === 2 ? 1 : 0]!;
    const outX = outputs[0]!;
    const outY = outputs[channels === 2 ? 1 : 0]!;
    // History index of the first tap of input frame 0.
    const origin = -this.#left - this.#historyStart;
    let frame = this.#nextFrame;
    let phase = this.#nextPhase;
    for (let i = 0; i < count; i++) {
      let h: Float64Array;
      let o: number;
      if (table !== undefined) {
        h = table;
        o = phase * taps;
      } else {
        this.#interpolateTaps(phase);
        h = this.#taps;
        o = 0;
      }
      const start = frame + origin;
      // Four partial sums per channel, combined as (a + b) + (c + d): the same operations in
      // the same order for every channel count and block partition, so results are bitwise
      // reproducible. Stereo shares each coefficient load between both channels.
      if (channels === 2) {
        let xa = 0, xb = 0, xc = 0, xd = 0, ya = 0, yb = 0, yc = 0, yd = 0; // prettier-ignore
        for (let j = 0; j < taps; j += 4) {
          const q = start + j;
          const p = o + j;
          const h0 = h[p]!, h1 = h[p + 1]!, h2 = h[p + 2]!, h3 = h[p + 3]!; // prettier-ignore
          xa += h0 * x[q]!;
          ya += h0 * y[q]!;
          xb += h1 * x[q + 1]!;
          yb += h1 * y[q + 1]!;
          xc += h2 * x[q + 2]!;
          yc += h2 * y[q + 2]!;
          xd += h3 * x[q + 3]!;
          yd += h3 * y[q + 3]!;
        }
        outX[i] = xa + xb + (xc + xd);
        outY[i] = ya + yb + (yc + yd);
      } else {
        for (let c = 0; c < channels; c++) {
          const z = history[c]!;
          let za = 0, zb = 0, zc = 0, zd = 0; // prettier-ignore
          for (let j = 0; j < taps; j += 4) {
            const q = start + j;
            const p = o + j;
            za += h[p]! * z[q]!;
            zb += h[p + 1]! * z[q + 1]!;
            zc += h[p + 2]! * z[q + 2]!;
            zd += h[p + 3]! * z[q + 3]!;
          }
          outputs[c]![i] = za + zb + (zc + zd);
        }
      }
      frame += downDiv;
      phase += downMod;
      if (phase >= up) {
        phase -= up;
        frame += 1;
      }
    }
    this.#nextK += count;
    this.#nextFrame = frame;
    this.#nextPhase = phase;
    return outputs.map((out) => out.subarray(0, count));
  }

  /** Interpolated mode: fills `#taps` for fraction `phase / up` by 4-point Lagrange. */
  #interpolateTaps(phase: number): void {
    const fine = this.#fine!;
    const taps = this.#taps;
    const n = taps.length;
    const u = (phase * this.#subPhases) / this.#up;
    const i = Math.floor(u);
    const f = u - i;
    // Nodes at sub-phases i − 1, i, i + 1, i + 2, stored in rows i … i + 3.
    const wm = (-f * (f - 1) * (f - 2)) / 6;
    const w0 = ((f + 1) * (f - 1) * (f - 2)) / 2;
    const w1 = (-(f + 1) * f * (f - 2)) / 2;
    const w2 = ((f + 1) * f * (f - 1)) / 6;
    const r = i * n;
    for (let j = 0; j < n; j++) {
      taps[j] = wm * fine[r + j]! + w0 * fine[r + n + j]! + w1 * fine[r + 2 * n + j]! + w2 * fine[r + 3 * n + j]!;
    }
  }
}

// #endregion

/**
 * Resamples a whole signal in one call: {@link Resampler} over the input in blocks, then
 * `flush()`. The result is bitwise the same as any streaming run of the same input.
 *
 * @param audio - the input; its `sampleRate` is the input rate.
 * @param outputRate - output sample rate in Hz, a positive integer.
 * @param options - filter design; see {@link ResamplerOptions}.
 * @returns new channel arrays of {@link resampledLength} frames at `outputRate`; a copy when
 *   the rates are equal.
 * @throws `RangeError` when `audio` has no channels, and as the {@link Resampler}
 *   constructor and {@link Resampler.process} do.
 *
 * @example
 * ```ts
 * const model = resample({ sampleRate: 48000, channels: [left, right] }, 44100);
 * ```
 */
export function resample(audio: PlanarAudio, outputRate: number, options?: ResamplerOptions): PlanarAudio {
  if (audio.channels.length === 0) throw new RangeError('audio.channels is empty (0 channels); need at least one');
  const resampler = new Resampler(audio.sampleRate, outputRate, audio.channels.length, options);
  const frames = audio.channels[0]?.length ?? 0;
  const total = resampledLength(frames, audio.sampleRate, outputRate);
  const channels = audio.channels.map(() => new Float32Array(total));
  let written = 0;
  const write = (block: readonly Float32Array[]): void => {
    block.forEach((b, c) => channels[c]!.set(b, written));
    written += block[0]?.length ?? 0;
  };
  for (let start = 0; start < frames; start += ONE_SHOT_BLOCK_FRAMES) {
    const end = Math.min(frames, start + ONE_SHOT_BLOCK_FRAMES);
    write(resampler.process(audio.channels.map((c) => c.subarray(start, end))));
  }
  write(resampler.flush());
  return { sampleRate: outputRate, channels };
}
