/**
 * The whole host pipeline (normalisation, shift, chunking, STFT, iSTFT, overlap-add,
 * de-normalisation) around the stand-in model of `fixtures/chunking`, against upstream
 * PyTorch `apply_model` outputs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Separator, type ModelSession } from '../../src/index.js';
import { OrtNodeBackend } from '../../src/node.js';
import { fixturePath, manifest, maxAbsDiff, readF32 } from '../helpers/fixtures.js';

const BASE_FRAMES = 700001;
const TOLERANCE = 2e-6; // fixture README: max |diff| ≤ 2e-6, raw units

let session: ModelSession;
const base = readF32('chunking/track_base.f32', [2, BASE_FRAMES]);
const track = (n: number) => ({
  sampleRate: 44100,
  channels: [base.subarray(0, n), base.subarray(BASE_FRAMES, BASE_FRAMES + n)],
});

beforeAll(async () => {
  session = await new OrtNodeBackend({ threads: 1 }).load(fixturePath('chunking/standin.onnx'));
});
afterAll(() => session?.dispose());

describe('Separator with the stand-in model (fixtures/chunking)', () => {
  it('reads the stand-in model spec by rank: 2 sources, 343980 samples, 336 frames', () => {
    expect(session.spec.sources).toEqual(['source0', 'source1']);
    expect(session.spec.segmentSamples).toBe(343980);
    expect(session.spec.frames).toBe(336);
    expect(session.spec.dynamicSegment).toBe(false);
  });

  const cases = [
    { name: 'len100000', frames: 100000, file: 'chunking/len100000_stems.f32' },
    { name: 'len400000', frames: 400000, file: 'chunking/len400000_stems.f32' },
    { name: 'len700001', frames: 700001, file: 'chunking/len700001_stems.f32' },
  ];
  for (const c of cases) {
    it(`matches ${c.name} (shifts 0) within ${TOLERANCE}`, async () => {
      const m = manifest().fixtures.chunking.cases[c.name];
      const result = await new Separator(session, { shifts: 0 }).separate(track(c.frames));
      expect(result.stats.mean).toBeCloseTo(m.track_mean, 12);
      expect(result.stats.std / m.track_std_unbiased - 1).toBeLessThan(1e-12);
      const ref = readF32(c.file, [2, 2, c.frames]);
      for (let s = 0; s < 2; s++) {
        for (let ch = 0; ch < 2; ch++) {
          const refRow = ref.subarray((s * 2 + ch) * c.frames, (s * 2 + ch + 1) * c.frames);
          const { max, index } = maxAbsDiff(result.stems[`source${s}`]![ch]!, refRow);
          expect(max, `source ${s} channel ${ch} worst at ${index}`).toBeLessThanOrEqual(TOLERANCE);
        }
      }
    });
  }

  it('matches the forced shift s = 1337 (20713 zeros prepended) within tolerance', async () => {
    const result = await new Separator(session, { shifts: 1 }).separate(track(400000), { shiftOffsets: [1337] });
    expect(result.shiftOffsets).toEqual([1337]);
    const ref = readF32('chunking/len400000_shift1337_stems.f32', [2, 2, 400000]);
    for (let s = 0; s < 2; s++) {
      for (let ch = 0; ch < 2; ch++) {
        const refRow = ref.subarray((s * 2 + ch) * 400000, (s * 2 + ch + 1) * 400000);
        expect(maxAbsDiff(result.stems[`source${s}`]![ch]!, refRow).max).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  it('treats s = 22050 exactly as shifts 0 (no padding)', async () => {
    const a = await new Separator(session, { shifts: 0 }).separate(track(100000));
    const b = await new Separator(session).separate(track(100000), { shiftOffsets: [22050] });
    for (const name of ['source0', 'source1']) {
      for (let ch = 0; ch < 2; ch++) expect(maxAbsDiff(a.stems[name]![ch]!, b.stems[name]![ch]!).max).toBe(0);
    }
  });
});

describe('Separator behaviour (stand-in model)', () => {
  const audio = () => track(700001);

  it('stops at an aborted signal with its reason, between windows, and emits nothing after', async () => {
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const seen: number[] = [];
    const run = new Separator(session, { shifts: 0 }).separate(audio(), {
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p.windowsDone);
        if (p.windowsDone === 1) controller.abort(reason);
      },
    });
    await expect(run).rejects.toBe(reason);
    expect(seen).toEqual([0, 1]);
  });

  it('streams contiguous blocks that reassemble to the in-memory result, and reports progress with an ETA', async () => {
    const whole = await new Separator(session, { shifts: 2, seed: 5 }).separate(audio());
    const events: { done: number; eta: number | undefined }[] = [];
    const stream = new Separator(session, { shifts: 2, seed: 5 }).stream(audio(), {
      onProgress: (p) => events.push({ done: p.windowsDone, eta: p.etaSeconds }),
    });
    let next = 0;
    let blocks = 0;
    for await (const block of stream) {
      expect(block.start).toBe(next);
      for (let s = 0; s < 2; s++) {
        for (let c = 0; c < 2; c++) {
          const expected = whole.stems[`source${s}`]![c]!.subarray(block.start, block.start + block.frames);
          expect(maxAbsDiff(block.stems[s]![c]!, expected).max).toBe(0);
        }
      }
      next += block.frames;
      blocks++;
    }
    expect(next).toBe(700001);
    // Two shift rounds of 3 windows each, blocks as soon as both rounds pass a position.
    expect(stream.info?.windowsTotal).toBe(6);
    expect(blocks).toBeGreaterThanOrEqual(3);
    expect(events.map((e) => e.done)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(events[0]!.eta).toBeUndefined();
    expect(events[3]!.eta).toBeGreaterThan(0);
    // The same seed draws the same shifts (CPython random.seed(5)).
    expect(stream.info?.shiftOffsets).toEqual(whole.shiftOffsets);
  });

  it('rejects bad options and inputs naming the value', async () => {
    expect(() => new Separator(session, { shifts: -1 })).toThrow(/shifts \(-1\)/);
    expect(() => new Separator(session, { overlap: 1 })).toThrow(/overlap \(1\)/);
    expect(() => new Separator(session, { segment: 8 })).toThrow(/segment \(8 s = 352800 samples\) must not exceed/);
    expect(() => new Separator(session, { seed: 0.5 })).toThrow(/seed \(0.5\)/);
    const sep = new Separator(session);
    await expect(sep.separate({ sampleRate: 48000, channels: [new Float32Array(10)] })).rejects.toMatchObject({ code: 'ERR_SAMPLE_RATE' });
    await expect(sep.separate({ sampleRate: 44100, channels: [new Float32Array(0), new Float32Array(0)] })).rejects.toMatchObject({ code: 'ERR_AUDIO_EMPTY' });
    const six = Array.from({ length: 6 }, () => new Float32Array(10));
    await expect(sep.separate({ sampleRate: 44100, channels: six })).rejects.toThrow(/6 channels; give 1 or 2/);
    await expect(sep.separate({ sampleRate: 44100, channels: [new Float32Array(10)] }, { shiftOffsets: [22051] })).rejects.toThrow(
      /shiftOffsets\[0\] \(22051\) must be an integer in \[0, 22050\]/,
    );
  });
});
