/**
 * Measures the frequency response of the resampler (`src/io/resample.ts`) with pure tones and
 * prints the table of `docs/resampler.md`:
 *
 * ```sh
 * npx tsx scripts/resampler-response.ts          # the response table
 * npx tsx scripts/resampler-response.ts --speed  # also times 3 minutes of stereo audio
 * ```
 *
 * Each tone is resampled in one call; the output is analysed in float64 away from the edges,
 * where every filter tap falls inside the input. The tests (`test/io/resample.test.ts`) use
 * the same measurements.
 *
 * @packageDocumentation
 */

import { pathToFileURL } from 'node:url';
import { Resampler, resample, type ResamplerOptions } from '../src/io/resample.js';

/** Amplitude of every test tone (−6 dBFS). */
export const TONE_AMPLITUDE = 0.5;
/** Phase of every test tone at input frame 0, in radians. */
const TONE_PHASE = 0.7;
/** Output frames analysed per tone, after the edges are skipped. */
const ANALYSED_FRAMES = 8192;

/** A least-squares fit of `a·cos(ωk) + b·sin(ωk)` to a signal. */
export interface ToneFit {
  /** Amplitude `hypot(a, b)`. */
  readonly amplitude: number;
  /** Phase φ of `amplitude · cos(ωk + φ)`, in radians. */
  readonly phase: number;
  /** Mean square of the signal minus the fitted sinusoid. */
  readonly residualPower: number;
  /** Mean square of the signal. */
  readonly power: number;
}

/**
 * Fits a sinusoid of known angular frequency `omega` (radians per sample) to `y[from … to)`,
 * in float64.
 */
export function fitTone(y: Float32Array, omega: number, from: number, to: number): ToneFit {
  let cc = 0, ss = 0, cs = 0, yc = 0, ys = 0, yy = 0; // prettier-ignore
  for (let k = from; k < to; k++) {
    const c = Math.cos(omega * k);
    const s = Math.sin(omega * k);
    const v = y[k]!;
    cc += c * c;
    ss += s * s;
    cs += c * s;
    yc += v * c;
    ys += v * s;
    yy += v * v;
  }
  const det = cc * ss - cs * cs;
  const a = (yc * ss - ys * cs) / det;
  const b = (ys * cc - yc * cs) / det;
  let residual = 0;
  for (let k = from; k < to; k++) {
    const r = y[k]! - a * Math.cos(omega * k) - b * Math.sin(omega * k);
    residual += r * r;
  }
  const n = to - from;
  return { amplitude: Math.hypot(a, b), phase: Math.atan2(-b, a), residualPower: residual / n, power: yy / n };
}

/** How one tone comes out of the resampler. */
export interface ToneResponse {
  /** Tone frequency, in Hz. */
  readonly frequency: number;
  /** Gain of the tone, in dB. */
  readonly gainDb: number;
  /** Phase of the output tone minus the phase of the input tone at the same time, in radians. */
  readonly phaseError: number;
  /** Everything but the tone (images, aliases, noise), in dB relative to the input tone. */
  readonly spurDb: number;
  /** All output, in dB relative to the input tone (for tones that should be removed). */
  readonly outputDb: number;
}

/**
 * Resamples a tone of `frequency` Hz and measures its gain, phase and everything else in the
 * output, over output frames whose taps all fall inside the input.
 */
export function toneResponse(
  inputRate: number,
  outputRate: number,
  frequency: number,
  options?: ResamplerOptions,
): ToneResponse {
  const { latency, filterLength } = new Resampler(inputRate, outputRate, 1, options);
  // Output frames whose taps lie within the input: skip filterLength input frames per side.
  const margin = Math.ceil(((filterLength + 2) * outputRate) / inputRate) + 2;
  const frames = Math.ceil(((ANALYSED_FRAMES + 2 * margin) * inputRate) / outputRate) + latency;
  const x = new Float32Array(frames);
  const omegaIn = (2 * Math.PI * frequency) / inputRate;
  for (let n = 0; n < frames; n++) x[n] = TONE_AMPLITUDE * Math.cos(omegaIn * n + TONE_PHASE);
  const y = resample({ sampleRate: inputRate, channels: [x] }, outputRate, options).channels[0]!;
  const fit = fitTone(y, (2 * Math.PI * frequency) / outputRate, margin, margin + ANALYSED_FRAMES);
  const tonePower = (TONE_AMPLITUDE * TONE_AMPLITUDE) / 2;
  let phaseError = fit.phase - TONE_PHASE;
  phaseError -= 2 * Math.PI * Math.round(phaseError / (2 * Math.PI));
  return {
    frequency,
    gainDb: 20 * Math.log10(fit.amplitude / TONE_AMPLITUDE),
    phaseError,
    spurDb: 10 * Math.log10(fit.residualPower / tonePower),
    outputDb: 10 * Math.log10(fit.power / tonePower),
  };
}

/** The summary of a conversion's response. */
export interface ResponseSummary {
  readonly inputRate: number;
  readonly outputRate: number;
  /** Filter taps per output frame. */
  readonly filterLength: number;
  /** Highest passband tone, in Hz: 0.9 × the lower Nyquist by default. */
  readonly passbandTop: number;
  /** Passband tones measured. */
  readonly passband: readonly ToneResponse[];
  /** Largest |gain| over the passband tones, in dB. */
  readonly rippleDb: number;
  /** Largest |phase error| over the passband tones, in radians. */
  readonly phaseError: number;
  /**
   * Worst spur over the passband tones, in dB: image rejection when upsampling, aliasing and
   * noise when downsampling.
   */
  readonly spurDb: number;
  /** Stopband tones (downsampling only: the input's band above the output Nyquist). */
  readonly stopband: readonly ToneResponse[];
  /** Loudest output over the stopband tones, in dB (−Infinity when there are none). */
  readonly stopbandDb: number;
}

/**
 * Measures a conversion with `passTones` tones from 20 Hz to the passband edge and, when
 * downsampling, `stopTones` tones from just above the output Nyquist to just below the input
 * Nyquist, packed towards the transition band where the attenuation is least.
 */
export function measureResponse(
  inputRate: number,
  outputRate: number,
  { passTones = 40, stopTones = 40, options }: { passTones?: number; stopTones?: number; options?: ResamplerOptions } = {},
): ResponseSummary {
  const lowerNyquist = Math.min(inputRate, outputRate) / 2;
  const passbandTop = (options?.passbandEdge ?? 0.9) * lowerNyquist;
  const passband: ToneResponse[] = [];
  for (let i = 0; i < passTones; i++) {
    const f = 20 + ((passbandTop - 20) * i) / (passTones - 1);
    passband.push(toneResponse(inputRate, outputRate, f, options));
  }
  const stopband: ToneResponse[] = [];
  if (outputRate < inputRate) {
    const from = outputRate / 2 + 1;
    const to = inputRate / 2 - 1;
    for (let i = 0; i < stopTones; i++) {
      const f = from + (to - from) * (i / (stopTones - 1)) ** 2;
      stopband.push(toneResponse(inputRate, outputRate, f, options));
    }
  }
  const max = (values: number[]): number => values.reduce((m, v) => Math.max(m, v), -Infinity);
  return {
    inputRate,
    outputRate,
    filterLength: new Resampler(inputRate, outputRate, 1, options).filterLength,
    passbandTop,
    passband,
    rippleDb: max(passband.map((t) => Math.abs(t.gainDb))),
    phaseError: max(passband.map((t) => Math.abs(t.phaseError))),
    spurDb: max(passband.map((t) => t.spurDb)),
    stopband,
    stopbandDb: max(stopband.map((t) => t.outputDb)),
  };
}

/** The conversions in the table. */
export const CONVERSIONS: readonly (readonly [number, number])[] = [
  [48000, 44100],
  [44100, 48000],
  [22050, 44100],
  [44100, 22050],
  [96000, 44100],
  [44100, 96000],
  [32000, 44100],
  [8000, 44100],
  [192000, 44100],
  [44056, 44100],
];

/** A deterministic PRNG (mulberry32), uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Band-limited noise: 200 sinusoids at random frequencies in [20, `topHz`] Hz and random
 * phases, summed in float64 and scaled to a peak of 0.5.
 */
export function bandLimitedNoise(frames: number, sampleRate: number, topHz: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const x = new Float64Array(frames);
  for (let s = 0; s < 200; s++) {
    const omega = (2 * Math.PI * (20 + next() * (topHz - 20))) / sampleRate;
    const phase = 2 * Math.PI * next();
    for (let n = 0; n < frames; n++) x[n]! += Math.cos(omega * n + phase);
  }
  const scale = 0.5 / x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return Float32Array.from(x, (v) => v * scale);
}

/** Top of the round-trip noise: 19 kHz, or less when 0.86 × the lower Nyquist is lower. */
export function roundTripBand(rate: number, via: number): number {
  return Math.min(19000, 0.86 * (Math.min(rate, via) / 2));
}

/**
 * Converts one second of noise limited to {@link roundTripBand} from `rate` to `via` and
 * back, and returns the error relative to the original in dB, skipping two filter lengths
 * at each edge (where the signal's cut-off start and end ring).
 */
export function roundTripErrorDb(rate: number, via: number): number {
  const original = bandLimitedNoise(rate, rate, roundTripBand(rate, via), 21);
  const there = resample({ sampleRate: rate, channels: [original] }, via);
  const back = resample(there, rate).channels[0]!;
  if (back.length !== original.length) throw new Error(`round trip changed the length: ${original.length} → ${back.length}`);
  const skip = 2 * Math.max(new Resampler(rate, via, 1).filterLength, new Resampler(via, rate, 1).filterLength);
  let error = 0;
  let signal = 0;
  for (let n = skip; n < original.length - skip; n++) {
    error += (back[n]! - original[n]!) ** 2;
    signal += original[n]! ** 2;
  }
  return 10 * Math.log10(error / signal);
}

/**
 * Times the one-shot conversion of `seconds` of stereo noise, best of `runs` (the first run
 * includes the filter design and the JIT warming up): wall-clock and CPU milliseconds. On a
 * machine shared with other work the CPU time is the steadier of the two.
 */
export function timeConversion(
  inputRate: number,
  outputRate: number,
  seconds: number,
  runs = 3,
): { wallMs: number; cpuMs: number } {
  const frames = seconds * inputRate;
  const next = mulberry32(1);
  const channels = [0, 1].map(() => Float32Array.from({ length: frames }, () => next() - 0.5));
  let wallMs = Infinity;
  let cpuMs = Infinity;
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    resample({ sampleRate: inputRate, channels }, outputRate);
    const used = process.cpuUsage(cpu);
    wallMs = Math.min(wallMs, performance.now() - start);
    cpuMs = Math.min(cpuMs, (used.user + used.system) / 1000);
  }
  return { wallMs, cpuMs };
}

function main(): void {
  if (process.argv.includes('--speed')) {
    for (const [inputRate, outputRate] of [
      [48000, 44100],
      [44100, 48000],
      [96000, 44100],
    ] as const) {
      const { wallMs, cpuMs } = timeConversion(inputRate, outputRate, 180);
      const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
      console.log(`${inputRate} → ${outputRate}, 180 s stereo: ${s(wallMs)} wall, ${s(cpuMs)} CPU (best of 3)`);
    }
    console.log();
  }
  console.log('| conversion | taps | passband (Hz) | max \\|gain\\| (dB) | max \\|phase\\| (rad) | worst spur (dB) | worst stopband tone (dB) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [inputRate, outputRate] of CONVERSIONS) {
    const r = measureResponse(inputRate, outputRate);
    const stop = r.stopband.length === 0 ? '–' : r.stopbandDb.toFixed(1);
    console.log(
      `| ${inputRate} → ${outputRate} | ${r.filterLength} | 20–${r.passbandTop.toFixed(0)} | ${r.rippleDb.toExponential(1)} | ` +
        `${r.phaseError.toExponential(1)} | ${r.spurDb.toFixed(1)} | ${stop} |`,
    );
  }
  console.log();
  console.log('| round trip | noise band (Hz) | error (dB) |');
  console.log('|---|---|---|');
  for (const [rate, via] of [
    [44100, 48000],
    [44100, 96000],
    [44100, 32000],
    [48000, 44100],
    [44100, 8000],
  ] as const) {
    const band = roundTripBand(rate, via).toFixed(0);
    console.log(`| ${rate} → ${via} → ${rate} | 20–${band} | ${roundTripErrorDb(rate, via).toFixed(1)} |`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
