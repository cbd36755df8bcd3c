import { describe, expect, it } from 'vitest';
import { mixStemOutput, selectStems } from '../../src/core/stem-selection.js';

const SOURCES = ['drums', 'bass', 'other', 'vocals'];

describe('selectStems', () => {
  it('defaults to every source in model order', () => {
    expect(selectStems(SOURCES)).toEqual(SOURCES.map((name, i) => ({ name, sources: [i] })));
  });

  it('two stems: the stem and no_<stem> summing the others in model order', () => {
    expect(selectStems(SOURCES, { twoStems: 'bass' })).toEqual([
      { name: 'bass', sources: [1] },
      { name: 'no_bass', sources: [0, 2, 3] },
    ]);
  });

  it('a subset keeps the order asked for', () => {
    expect(selectStems(SOURCES, { stems: ['vocals', 'drums'] })).toEqual([
      { name: 'vocals', sources: [3] },
      { name: 'drums', sources: [0] },
    ]);
  });

  it('rejects unknown, repeated, empty and conflicting selections by name', () => {
    expect(() => selectStems(SOURCES, { stems: ['vocals', 'guitar'] })).toThrow(/stems: unknown stem "guitar" \(this model has drums, bass, other, vocals\)/);
    expect(() => selectStems(SOURCES, { twoStems: 'piano' })).toThrow(/twoStems: unknown stem "piano"/);
    expect(() => selectStems(SOURCES, { stems: ['bass', 'bass'] })).toThrow(/"bass" is listed twice/);
    expect(() => selectStems(SOURCES, { stems: [] })).toThrow(/the list is empty/);
    expect(() => selectStems(SOURCES, { stems: ['bass'], twoStems: 'vocals' })).toThrow(/not both/);
  });
});

describe('mixStemOutput', () => {
  const stems = SOURCES.map((_, s) => [0, 1].map((c) => Float32Array.from({ length: 5 }, (_, i) => (s + 1) * 0.1 + c + i * 0.01)));
  const scratch = [new Float32Array(8), new Float32Array(8)];

  it('returns the source arrays themselves for a single stem', () => {
    const out = mixStemOutput(stems, { name: 'bass', sources: [1] }, scratch);
    expect(out[0]).toBe(stems[1]![0]);
  });

  it('sums several sources into the scratch, sample by sample, as float32', () => {
    const out = mixStemOutput(stems, { name: 'no_vocals', sources: [0, 1, 2] }, scratch);
    expect(out[1]!.buffer).toBe(scratch[1]!.buffer);
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < 5; i++) {
        expect(out[c]![i]).toBe(Math.fround(Math.fround(stems[0]![c]![i]! + stems[1]![c]![i]!) + stems[2]![c]![i]!));
      }
    }
  });
});
