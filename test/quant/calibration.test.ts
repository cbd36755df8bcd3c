/**
 * Calibration sets and activation ranges: the windows equal, bit for bit, the inputs the
 * Separator gives the model; the pick is deterministic and spans the loudness range; ranges
 * come from in-graph min/max probes, run through onnxruntime-node on a tiny HTDemucs-shaped
 * graph.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readModelSpec, Separator, type ModelSession, type ModelSpec, type PlanarAudio, type WindowInput } from '../../src/index.js';
import {
  buildCalibrationSet,
  collectActivationRanges,
  int8ActivationNames,
  modelSpecOf,
  ortCalibrationRunner,
  readModel,
  writeModel,
  type CalibrationRunner,
} from '../../src/quant.js';
import { synthesizeSong } from '../../scripts/synth/song.js';
import { noise } from '../helpers/noise.js';
import { tinyHtdemucs, TINY } from '../helpers/quant-models.js';

/** The spec of a 1 s (44100-sample) 4-source model. */
const SPEC_1S: ModelSpec = readModelSpec(
  [
    { name: 'wave', shape: [1, 2, 44100] },
    { name: 'spec', shape: [1, 4, 2048, 44] },
  ],
  [
    { name: 'spec_out', shape: [1, 4, 4, 2048, 44] },
    { name: 'wave_out', shape: [1, 4, 2, 44100] },
  ],
).spec;

/** A session that records every window it is given and returns zeros. */
function recordingSession(spec: ModelSpec): { session: ModelSession; inputs: { wave: Float32Array; spec: Float32Array }[] } {
  const inputs: { wave: Float32Array; spec: Float32Array }[] = [];
  const S = spec.sources.length;
  const session: ModelSession = {
    spec,
    maxBatch: 1,
    async run(batch: readonly WindowInput[]) {
      return batch.map((w) => {
        // The Separator reuses its buffers: keep copies.
        inputs.push({ wave: w.wave.slice(), spec: w.spec.slice() });
        const L = w.wave.length / 2;
        return { wave: new Float32Array(S * 2 * L), spec: new Float32Array(S * w.spec.length) };
      });
    },
    dispose: () => Promise.resolve(),
  };
  return { session, inputs };
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

const song = (seed: number, seconds: number): PlanarAudio => ({ sampleRate: 44100, channels: synthesizeSong({ seed, seconds }).mix });

describe('buildCalibrationSet', () => {
  it('builds exactly the windows the Separator (shifts 0) feeds the model: stereo, mono, shorter segment and overlap', async () => {
    const stereo = song(31, 3.3);
    const mono: PlanarAudio = { sampleRate: 44100, channels: [song(32, 2.1).channels[0]!] };
    for (const [audio, options] of [
      [stereo, {}],
      [mono, {}],
      [stereo, { segment: 0.5, overlap: 0.1 }],
    ] as const) {
      const { session, inputs } = recordingSession(SPEC_1S);
      await new Separator(session, { shifts: 0, ...options }).separate(audio);
      const windows = await buildCalibrationSet([audio], SPEC_1S, { windows: 1000, ...options });
      expect(windows.length).toBe(inputs.length);
      windows.forEach((w, i) => {
        expect(sameBits(w.wave, inputs[i]!.wave), `wave of window ${i}`).toBe(true);
        expect(sameBits(w.spec, inputs[i]!.spec), `spec of window ${i}`).toBe(true);
        expect(w.track).toBe(0);
      });
      expect(windows[0]!.start).toBe(0);
    }
  });

  it('picks deterministically: the loudest window plus one per loudness stratum, in track and time order', async () => {
    const audio = [song(41, 12), song(42, 9)];
    const all = await buildCalibrationSet(audio, SPEC_1S, { windows: 1000 });
    expect(all.length).toBe(16 + 12); // ⌈(L − 44100) / 33075⌉ + 1 chunks per track
    const a = await buildCalibrationSet(audio, SPEC_1S, { windows: 5 });
    const b = await buildCalibrationSet(audio, SPEC_1S, { windows: 5 });
    const key = (ws: typeof a) => ws.map((w) => `${w.track}:${w.start}`);
    expect(key(a)).toEqual(key(b));
    expect(a).toHaveLength(5);
    const sorted = [...a].sort((x, y) => x.track - y.track || x.start - y.start);
    expect(key(a)).toEqual(key(sorted));
    const ranked = [...all].sort((x, y) => x.rms - y.rms);
    expect(a.some((w) => w.rms === ranked[ranked.length - 1]!.rms)).toBe(true);
    // One window in each quarter of the remaining loudness ranking.
    const rest = ranked.slice(0, -1);
    for (let q = 0; q < 4; q++) {
      const stratum = rest.slice(Math.floor((q * rest.length) / 4), Math.floor(((q + 1) * rest.length) / 4));
      expect(a.filter((w) => stratum.some((s) => s.track === w.track && s.start === w.start)), `stratum ${q}`).toHaveLength(1);
    }
    const otherSeed = await buildCalibrationSet(audio, SPEC_1S, { windows: 5, seed: 7 });
    expect(key(otherSeed)).not.toEqual(key(a));
    // Each window is the Separator's input for its track (checked above); here, its size.
    expect(a[0]!.wave.length).toBe(2 * 44100);
    expect(a[0]!.spec.length).toBe(4 * 2048 * 44);
  });

  it('refuses wrong rates, empty lists, bad counts and segments longer than the model', async () => {
    await expect(buildCalibrationSet([{ sampleRate: 48000, channels: [new Float32Array(48000)] }], SPEC_1S)).rejects.toThrow(
      /calibration track 0 is at 48000 Hz; the model runs at 44100 Hz/,
    );
    await expect(buildCalibrationSet([], SPEC_1S)).rejects.toMatchObject({ code: 'ERR_AUDIO_EMPTY' });
    await expect(buildCalibrationSet([song(1, 1)], SPEC_1S, { windows: 0 })).rejects.toThrow(new RangeError('windows (0) must be a positive integer'));
    await expect(buildCalibrationSet([song(1, 1)], SPEC_1S, { segment: 2 })).rejects.toThrow(/must not exceed the model's window of 44100 samples/);
  });
});

describe('collectActivationRanges', () => {
  const model = tinyHtdemucs();
  const options = { mode: 'static', minElements: 1 } as const;
  const windows = () => {
    const wave = noise(2 * TINY.samples, 5, 2);
    const spec = noise(4 * 2048 * TINY.frames, 6, 3);
    const wave2 = noise(2 * TINY.samples, 7, 1);
    const spec2 = noise(4 * 2048 * TINY.frames, 8, 5);
    return [
      { wave, spec, track: 0, start: 0, rms: 1 },
      { wave: wave2, spec: spec2, track: 0, start: 4096, rms: 1 },
    ];
  };

  it('reads the model spec of a model file', () => {
    expect(modelSpecOf(model)).toMatchObject({ segmentSamples: TINY.samples, frames: TINY.frames, sources: ['source0'] });
  });

  it('measures min and max of each quantized input over all windows through onnxruntime, leaving the model unchanged', async () => {
    const before = writeModel(model);
    const names = int8ActivationNames(model, options);
    expect(names).toEqual(['spec', 'wave_t']);
    const ranges = await collectActivationRanges(model, windows(), ortCalibrationRunner(ort, { intraOpNumThreads: 1 }), options);
    expect(Buffer.compare(Buffer.from(writeModel(model)), Buffer.from(before))).toBe(0);
    const [w1, w2] = windows();
    const extent = (...xs: Float32Array[]) => ({ min: Math.min(...xs.map((x) => x.reduce((a, b) => Math.min(a, b)))), max: Math.max(...xs.map((x) => x.reduce((a, b) => Math.max(a, b)))) });
    expect(ranges.spec).toEqual(extent(w1!.spec, w2!.spec));
    expect(ranges.wave_t).toEqual(extent(w1!.wave, w2!.wave));
    expect(Object.keys(ranges)).toEqual(names);
  });

  it('asks the runner only for scalar probes, one window at a time, and reports progress', async () => {
    const fetched: string[][] = [];
    const progress: number[] = [];
    const runner: CalibrationRunner = {
      async open(bytes) {
        const probed = readModel(bytes);
        expect(probed.graph!.node.filter((n) => n.opType === 'ReduceMin' || n.opType === 'ReduceMax')).toHaveLength(4);
        expect(probed.graph!.node.filter((n) => n.opType === 'ReduceSum')).toHaveLength(2);
        return {
          async run(feeds, fetches) {
            expect(feeds.map((f) => [f.name, f.dims])).toEqual([
              ['wave', [1, 2, TINY.samples]],
              ['spec', [1, 4, 2048, TINY.frames]],
            ]);
            fetched.push([...fetches]);
            return Object.fromEntries(fetches.map((f, i) => [f, Float32Array.of(f.endsWith('_min') ? -i : i)]));
          },
          release: () => Promise.resolve(),
        };
      },
    };
    const ranges = await collectActivationRanges(model, windows(), runner, { ...options, onProgress: (done) => progress.push(done) });
    expect(fetched).toHaveLength(2);
    expect(fetched[0]).toEqual([
      'spec_calibration_min',
      'spec_calibration_max',
      'spec_calibration_sum',
      'wave_t_calibration_min',
      'wave_t_calibration_max',
      'wave_t_calibration_sum',
    ]);
    expect(progress).toEqual([1, 2]);
    expect(ranges).toEqual({ spec: { min: -0, max: 1 }, wave_t: { min: -3, max: 4 } });
  });

  it('refuses windows that do not fit the model and non-finite activations', async () => {
    const bad = [{ wave: new Float32Array(2 * 5000), spec: new Float32Array(4 * 2048 * 5), track: 0, start: 0, rms: 0 }];
    const runner = ortCalibrationRunner(ort);
    await expect(collectActivationRanges(model, bad, runner, options)).rejects.toThrow(/does not fit the model's 4096-sample window/);
    const nan = windows();
    nan[0]!.spec[3] = NaN;
    await expect(collectActivationRanges(model, nan, runner, options)).rejects.toMatchObject({ code: 'ERR_NON_FINITE' });
  });
});
