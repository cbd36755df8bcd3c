/**
 * The resampler (`src/io/resample.ts`): frequency response measured with tones (passband
 * gain and phase, stopband and image rejection), exact lengths, bitwise block-size
 * independence, identity at equal rates, a round trip, and argument errors.
 */
import { describe, expect, it } from 'vitest';

import { Resampler, RESAMPLER_DEFAULTS, resample, resampledLength } from '../../src/io/resample.js';
import { fitTone, measureResponse, mulberry32, roundTripErrorDb, type ResponseSummary } from '../../scripts/resampler-response.js';

// #region Helpers

const random = mulberry32;

/** White noise in [−0.5, 0.5), one array per channel. */
function noise(channels: number, frames: number, seed: number): Float32Array[] {
  const next = random(seed);
  return Array.from({ length: channels }, () => Float32Array.from({ length: frames }, () => next() - 0.5));
}

/** Runs a stream through `resampler` in blocks of the given sizes (cycled) and concatenates. */
function streamed(resampler: Resampler, input: readonly Float32Array[], sizes: () => number): Float32Array[] {
  const frames = input[0]!.length;
  const parts: Float32Array[][] = [];
  const take = (block: readonly Float32Array[]) => parts.push(block.map((b) => b.slice()));
  for (let start = 0; start < frames; ) {
    const end = Math.min(frames, start + sizes());
    take(resampler.process(input.map((c) => c.subarray(start, end))));
    start = end;
  }
  take(resampler.flush());
  return input.map((_, c) => {
    const out = new Float32Array(parts.reduce((n, p) => n + p[c]!.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p[c]!, o);
      o += p[c]!.length;
    }
    return out;
  });
}

/** Bitwise equality of float32 arrays (distinguishes −0 and NaN payloads). */
function expectBitwiseEqual(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  let firstDifference = -1;
  for (let i = 0; i < a.length && firstDifference < 0; i++) if (a[i] !== b[i]) firstDifference = i;
  expect(firstDifference).toBe(-1);
}

// #endregion

// #region Frequency response

describe('frequency response, measured with tones', () => {
  const summaries = new Map<string, ResponseSummary>();
  const measured = (inputRate: number, outputRate: number): ResponseSummary => {
    const key = `${inputRate}>${outputRate}`;
    let summary = summaries.get(key);
    if (summary === undefined) {
      summary = measureResponse(inputRate, outputRate, { passTones: 32, stopTones: 32 });
      summaries.set(key, summary);
    }
    return summary;
  };

  const cases = [
    [48000, 44100],
    [44100, 48000],
    [22050, 44100],
    [96000, 44100],
    // 11025 phases: the coefficients are interpolated from a finer table instead of stored.
    [44056, 44100],
  ] as const;

  it.each(cases)('%i → %i Hz: passband gain within ±0.01 dB and zero phase up to 0.9 × the lower Nyquist', (inputRate, outputRate) => {
    const r = measured(inputRate, outputRate);
    expect(r.passbandTop).toBeCloseTo(0.9 * (Math.min(inputRate, outputRate) / 2), 6);
    expect(r.passband).toHaveLength(32);
    for (const tone of r.passband) {
      expect(Math.abs(tone.gainDb)).toBeLessThan(0.01);
      // Delay-compensated: output frame k is the input at time k·in/out.
      expect(Math.abs(tone.phaseError)).toBeLessThan(1e-6);
    }
    // The measured ripple is far inside the requirement: about 5e-5 dB.
    expect(r.rippleDb).toBeLessThan(1e-4);
    expect(r.rippleDb).toBeGreaterThan(0);
  });

  it.each(cases)('%i → %i Hz: everything but the tone ≥ 100 dB down (images, aliases, noise)', (inputRate, outputRate) => {
    const r = measured(inputRate, outputRate);
    for (const tone of r.passband) expect(tone.spurDb).toBeLessThan(-100);
  });

  it.each(cases.filter(([i, o]) => o < i))('%i → %i Hz: tones above the output Nyquist attenuated ≥ 100 dB', (inputRate, outputRate) => {
    const r = measured(inputRate, outputRate);
    expect(r.stopband).toHaveLength(32);
    expect(r.stopband[0]!.frequency).toBe(outputRate / 2 + 1);
    expect(r.stopband.at(-1)!.frequency).toBe(inputRate / 2 - 1);
    for (const tone of r.stopband) expect(tone.outputDb).toBeLessThan(-100);
  });

  it('fits tones exactly in float64 (the measurement itself)', () => {
    const y = Float32Array.from({ length: 4096 }, (_, k) => 0.25 * Math.cos(0.3 * k - 1.1));
    const fit = fitTone(y, 0.3, 0, 4096);
    expect(fit.amplitude).toBeCloseTo(0.25, 7);
    expect(fit.phase).toBeCloseTo(-1.1, 6);
    expect(10 * Math.log10(fit.residualPower / fit.power)).toBeLessThan(-140); // float32 rounding
  });
});

// #endregion

// #region Lengths

describe('resampledLength', () => {
  const reference = (frames: number, inputRate: number, outputRate: number): number =>
    Number((2n * BigInt(frames) * BigInt(outputRate) + BigInt(inputRate)) / (2n * BigInt(inputRate)));

  it('is round(frames · out / in), halves up', () => {
    expect(resampledLength(0, 48000, 44100)).toBe(0);
    expect(resampledLength(1, 48000, 44100)).toBe(1);
    expect(resampledLength(1, 44100, 8000)).toBe(0); // 0.18
    expect(resampledLength(48000, 48000, 44100)).toBe(44100);
    expect(resampledLength(1, 2, 1)).toBe(1); // 0.5 rounds up
    expect(resampledLength(3, 2, 1)).toBe(2); // 1.5
    expect(resampledLength(160, 48000, 44100)).toBe(147);
    expect(resampledLength(7, 44100, 44100)).toBe(7);
  });

  it('is exact for random and huge frame counts, where frames · out overflows float64 integers', () => {
    const next = random(4);
    const rates = [8000, 11025, 16000, 22050, 32000, 44056, 44100, 44101, 48000, 88200, 96000, 176400, 192000];
    for (let i = 0; i < 2000; i++) {
      const inputRate = rates[Math.floor(next() * rates.length)]!;
      const outputRate = rates[Math.floor(next() * rates.length)]!;
      // Up to the largest count whose result is still a safe integer.
      const limit = Math.min(Number.MAX_SAFE_INTEGER, Math.floor((Number.MAX_SAFE_INTEGER / outputRate) * inputRate));
      const frames = Math.floor(next() * (i % 2 === 0 ? 1e7 : limit));
      expect(resampledLength(frames, inputRate, outputRate)).toBe(reference(frames, inputRate, outputRate));
    }
    expect(resampledLength(2 ** 52 + 1, 192000, 44101)).toBe(reference(2 ** 52 + 1, 192000, 44101));
    expect(() => resampledLength(2 ** 52, 44100, 96000)).toThrow(/beyond Number.MAX_SAFE_INTEGER/);
  });

  it('rejects bad arguments, naming them', () => {
    expect(() => resampledLength(-1, 48000, 44100)).toThrow(/frames must be a non-negative integer \(got -1\)/);
    expect(() => resampledLength(1.5, 48000, 44100)).toThrow(RangeError);
    expect(() => resampledLength(10n as unknown as number, 48000, 44100)).toThrow(new TypeError('frames must be a non-negative integer (got 10)'));
    expect(() => resampledLength(10, 0, 44100)).toThrow(/inputRate must be a positive integer \(got 0\)/);
    expect(() => resampledLength(10, 48000, Number.NaN)).toThrow(/outputRate must be a positive integer \(got NaN\)/);
  });
});

describe('exact output lengths', () => {
  const pairs = [
    [48000, 44100],
    [44100, 48000],
    [22050, 44100],
    [44100, 22050],
    [96000, 44100],
    [192000, 44100],
    [8000, 44100],
    [44100, 8000],
    [32000, 44100],
    [44056, 44100],
    [44100, 44100],
  ] as const;
  const frameCounts = [0, 1, 2, 3, 5, 8, 13, 100, 147, 159, 160, 161, 1000, 4801];

  it.each(pairs)('%i → %i Hz: one-shot and streamed lengths equal resampledLength for 0, 1, … frames', (inputRate, outputRate) => {
    for (const frames of frameCounts) {
      const input = noise(2, frames, frames);
      const expected = resampledLength(frames, inputRate, outputRate);
      const once = resample({ sampleRate: inputRate, channels: input }, outputRate);
      expect(once.sampleRate).toBe(outputRate);
      expect(once.channels.map((c) => c.length)).toEqual([expected, expected]);
      const blocks = streamed(new Resampler(inputRate, outputRate, 2), input, () => 7);
      expect(blocks.map((c) => c.length)).toEqual([expected, expected]);
    }
  });

  it('returns nothing from process() until the look-ahead is there, and only final frames', () => {
    const r = new Resampler(48000, 44100, 1);
    expect(r.latency).toBeGreaterThan(0);
    // Output frame 0 sits at input frame 0 and needs input up to frame `latency`.
    expect(r.process([new Float32Array(r.latency)])[0]!.length).toBe(0);
    expect(r.process([new Float32Array(1)])[0]!.length).toBe(1);
    expect(r.process([new Float32Array(0)])[0]!.length).toBe(0);
  });
});

// #endregion

// #region Streaming

describe('block-size independence', () => {
  const pairs = [
    [48000, 44100, 2],
    [44100, 48000, 2],
    [96000, 44100, 1],
    [8000, 44100, 3],
    [44100, 22050, 2],
    [44056, 44100, 2],
  ] as const;

  it.each(pairs)('%i → %i Hz, %i channels: any partition (1-frame blocks included) is bitwise the one-shot result', (inputRate, outputRate, channels) => {
    const frames = 6000;
    const input = noise(channels, frames, 99);
    const once = resample({ sampleRate: inputRate, channels: input }, outputRate).channels;
    const next = random(inputRate + outputRate);
    const sizes = [0, 1, 1, 2, 3, 17, 64, 500, 4096];
    const partitions: (() => number)[] = [
      () => 1,
      () => frames,
      () => sizes[Math.floor(next() * sizes.length)]!,
      () => Math.floor(next() * 900),
    ];
    for (const partition of partitions) {
      const out = streamed(new Resampler(inputRate, outputRate, channels), input, partition);
      out.forEach((c, i) => expectBitwiseEqual(c, once[i]!));
    }
  });

  it('gives the same stream again after reset(), and refuses process() or flush() after flush()', () => {
    const input = noise(2, 3000, 5);
    const r = new Resampler(44100, 48000, 2);
    const first = streamed(r, input, () => 333);
    expect(() => r.process(input)).toThrow(/process\(\) called after flush\(\); call reset\(\)/);
    expect(() => r.flush()).toThrow(/flush\(\) called twice/);
    r.reset();
    const second = streamed(r, input, () => 1000);
    second.forEach((c, i) => expectBitwiseEqual(c, first[i]!));
  });

  it('keeps memory bounded: the returned views never exceed what a block produces', () => {
    const r = new Resampler(48000, 44100, 2);
    const block = noise(2, 1024, 8);
    for (let i = 0; i < 200; i++) {
      const out = r.process(block);
      expect(out[0]!.length).toBeLessThanOrEqual(Math.ceil((1024 * 147) / 160) + 1);
      // Views of one internal buffer that holds at most a few blocks' output.
      expect(out[0]!.buffer.byteLength).toBeLessThanOrEqual(4 * 4096);
    }
  });
});

describe('equal rates', () => {
  it('copies the input unchanged, streamed or in one call', () => {
    const input = noise(2, 5000, 3);
    const once = resample({ sampleRate: 32000, channels: input }, 32000);
    expect(once.channels[0]).not.toBe(input[0]);
    once.channels.forEach((c, i) => expectBitwiseEqual(c, input[i]!));
    const r = new Resampler(32000, 32000, 2);
    expect(r.latency).toBe(0);
    expect(r.filterLength).toBe(0);
    const out = streamed(r, input, () => 777);
    out.forEach((c, i) => expectBitwiseEqual(c, input[i]!));
  });
});

// #endregion

// #region Round trip

describe('round trip', () => {
  it('44.1 kHz → 48 kHz → 44.1 kHz returns band-limited noise with error ≤ −90 dB, aligned in time (edges skipped)', () => {
    // The requirement is −90 dB; measured −115.6 dB (two passes of ±5.6e-6 ripple).
    expect(roundTripErrorDb(44100, 48000)).toBeLessThan(-110);
  });

  it('48 kHz → 44.1 kHz → 48 kHz does too: noise below 19 kHz stays within the 19845 Hz passband', () => {
    expect(roundTripErrorDb(48000, 44100)).toBeLessThan(-110);
  });
});

// #endregion

// #region Errors

describe('errors', () => {
  it('rejects bad rates and channel counts, naming the argument and value', () => {
    expect(() => new Resampler(0, 44100, 2)).toThrow(new RangeError('inputRate must be a positive integer (got 0)'));
    expect(() => new Resampler(44100.5, 44100, 2)).toThrow(/inputRate must be a positive integer \(got 44100.5\)/);
    expect(() => new Resampler(48000, -1, 2)).toThrow(/outputRate must be a positive integer \(got -1\)/);
    expect(() => new Resampler('48000' as unknown as number, 44100, 2)).toThrow(
      new TypeError('inputRate must be a positive integer (got "48000")'),
    );
    expect(() => new Resampler(48000, 44100, 0)).toThrow(/channelCount must be a positive integer \(got 0\)/);
    expect(() => new Resampler(48000, 100, 1)).toThrow(/outputRate \/ inputRate must be within 1\/256 and 256 \(got 100 \/ 48000\)/);
    expect(() => resample({ sampleRate: 0, channels: [new Float32Array(1)] }, 44100)).toThrow(/inputRate .*\(got 0\)/);
    expect(() => resample({ sampleRate: 48000, channels: [] }, 44100)).toThrow(/audio.channels is empty \(0 channels\)/);
  });

  it('rejects bad options, naming them', () => {
    expect(() => new Resampler(48000, 44100, 1, { stopbandAttenuation: 20 })).toThrow(
      /options.stopbandAttenuation must be within \[40, 180\] dB \(got 20\)/,
    );
    expect(() => new Resampler(48000, 44100, 1, { stopbandEdge: 1.2 })).toThrow(/options.stopbandEdge must be within \(0, 1\] \(got 1.2\)/);
    expect(() => new Resampler(48000, 44100, 1, { passbandEdge: 0.95, stopbandEdge: 0.9 })).toThrow(
      /options.passbandEdge must be within \(0, stopbandEdge = 0.9\) \(got 0.95\)/,
    );
    expect(() => new Resampler(48000, 44100, 1, { passbandEdge: Number.NaN })).toThrow(
      new RangeError('options.passbandEdge must be within (0, stopbandEdge = 1) (got NaN)'),
    );
    expect(() => new Resampler(48000, 44100, 1, { stopbandAttenuation: '100' as unknown as number })).toThrow(
      new TypeError('options.stopbandAttenuation must be a number (got "100")'),
    );
    // An option passed as undefined (from plain JavaScript) takes its default.
    const lax = { stopbandAttenuation: undefined } as unknown as { stopbandAttenuation: number };
    expect(new Resampler(48000, 44100, 1, lax).filterLength).toBe(new Resampler(48000, 44100, 1).filterLength);
  });

  it('rejects input of the wrong shape', () => {
    const r = new Resampler(48000, 44100, 2);
    expect(() => r.process([new Float32Array(4)])).toThrow(new RangeError('input has 1 channels but the resampler was made for 2'));
    expect(() => r.process([new Float32Array(4), new Float32Array(5)])).toThrow(
      /input\[1\] has 5 frames but input\[0\] has 4; channels must have equal lengths/,
    );
    expect(() => r.process([new Float32Array(4), new Float64Array(4) as unknown as Float32Array])).toThrow(
      new TypeError('input[1] must be a Float32Array (got Float64Array(4))'),
    );
    expect(() => r.process('ab' as unknown as Float32Array[])).toThrow(TypeError);
  });
});

// #endregion

describe('options', () => {
  it('documents its defaults, and a wider transition band means fewer taps', () => {
    expect(RESAMPLER_DEFAULTS).toEqual({ stopbandAttenuation: 105, passbandEdge: 0.9, stopbandEdge: 1 });
    const standard = new Resampler(48000, 44100, 1);
    const loose = new Resampler(48000, 44100, 1, { passbandEdge: 0.8 });
    const deep = new Resampler(48000, 44100, 1, { stopbandAttenuation: 140 });
    expect(loose.filterLength).toBeLessThan(standard.filterLength / 1.8);
    expect(deep.filterLength).toBeGreaterThan(standard.filterLength * 1.3);
  });

  it('meets a non-default design: 80 dB with a passband to 0.8', () => {
    const r = measureResponse(48000, 44100, { passTones: 12, stopTones: 12, options: { stopbandAttenuation: 80, passbandEdge: 0.8 } });
    expect(r.passbandTop).toBeCloseTo(0.8 * 22050, 6);
    expect(r.rippleDb).toBeLessThan(0.001);
    expect(r.stopbandDb).toBeLessThan(-78);
  });
});
