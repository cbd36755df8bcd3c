/**
 * End to end with the real weights: `fixtures/e2e/mix.wav` through the whole pipeline on
 * onnxruntime-node, against the PyTorch reference stems.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemucsError, Separator, type ModelSession } from '../../src/index.js';
import { OrtNodeBackend } from '../../src/node.js';
import { fixturePath, maxAbsDiff, readF32, snrDb } from '../helpers/fixtures.js';
import { e2eMix } from '../helpers/e2e-input.js';
import { realModelPath } from '../helpers/model.js';

const FRAMES = 441000;
const SOURCES = ['drums', 'bass', 'other', 'vocals'];

let session: ModelSession;
beforeAll(async () => {
  session = await new OrtNodeBackend().load(await realModelPath());
});
afterAll(() => session?.dispose());

describe('OrtNodeBackend with the real htdemucs model', () => {
  it('reads the model spec from the graph', () => {
    expect(session.spec.sources).toEqual(SOURCES);
    expect(session.spec.segmentSamples).toBe(343980);
    expect(session.spec.frames).toBe(336);
    expect(session.maxBatch).toBe(1);
  });

  it('separates e2e/mix.wav within SNR ≥ 60 dB and max |diff| ≤ 3e-4 of PyTorch, per stem', async () => {
    const progress: number[] = [];
    const result = await new Separator(session, { shifts: 0 }).separate(
      { sampleRate: 44100, channels: e2eMix() },
      { onProgress: (p) => progress.push(p.windowsDone) },
    );
    expect(progress).toEqual([0, 1, 2]);
    const ref = readF32('e2e/stems_torch.f32', [4, 2, FRAMES]);
    const report: Record<string, string> = {};
    SOURCES.forEach((name, s) => {
      const est = new Float32Array(2 * FRAMES);
      est.set(result.stems[name]![0]!, 0);
      est.set(result.stems[name]![1]!, FRAMES);
      const refStem = ref.subarray(s * 2 * FRAMES, (s + 1) * 2 * FRAMES);
      const snr = snrDb(refStem, est);
      const { max } = maxAbsDiff(refStem, est);
      report[name] = `${snr.toFixed(1)} dB, max ${max.toExponential(2)}`;
      expect(snr, name).toBeGreaterThanOrEqual(60);
      expect(max, name).toBeLessThanOrEqual(3e-4);
    });
    console.info('e2e parity vs PyTorch:', report);
  });

  it('separates silence to silence: σ = 0 gives no NaN, stems stay below -140 dBFS', async () => {
    const silence = new Float32Array(2 * 44100);
    const result = await new Separator(session, { shifts: 1, seed: 1 }).separate({ sampleRate: 44100, channels: [silence, silence] });
    expect(result.stats).toEqual({ mean: 0, std: 0, frames: 2 * 44100 });
    for (const name of SOURCES) {
      for (const ch of result.stems[name]!) {
        let peak = 0;
        for (const v of ch) {
          expect(Number.isFinite(v)).toBe(true);
          peak = Math.max(peak, Math.abs(v));
        }
        expect(peak, name).toBeLessThan(1e-7);
      }
    }
  });

  it('rejects a model that is not HTDemucs (the stand-in with an extra input would be; a WAV file is not ONNX)', async () => {
    await expect(new OrtNodeBackend().load(fixturePath('e2e/mix.wav'))).rejects.toMatchObject({ code: 'ERR_MODEL_LOAD' });
    await expect(new OrtNodeBackend().load('/nonexistent/model.onnx')).rejects.toMatchObject({ code: 'ERR_MODEL_NOT_FOUND' });
    await expect(
      new OrtNodeBackend().load(fixturePath('chunking/standin.onnx'), { sha256: '0'.repeat(64) }),
    ).rejects.toBeInstanceOf(DemucsError);
  });
});
