import { describe, expect, it } from 'vitest';
import { Chunker, triangleWeights } from '../../src/core/chunker.js';

describe('triangleWeights', () => {
  it('is upstream’s triangle: (i+1)/171990 rising, (343980−i)/171990 falling, peak 1 at 171989 and 171990', () => {
    const w = triangleWeights(343980);
    expect(w.length).toBe(343980);
    expect(w[0]).toBe(Math.fround(1 / 171990));
    expect(w[171988]).toBe(Math.fround(171989 / 171990));
    expect(w[171989]).toBe(1);
    expect(w[171990]).toBe(1);
    expect(w[171991]).toBe(Math.fround(171989 / 171990));
    expect(w[343979]).toBe(Math.fround(1 / 171990));
    // Off-by-one ports put the peak at 171991: make sure there is exactly one plateau pair.
    expect(w.filter((v) => v === 1).length).toBe(2);
  });

  it('handles odd segments (max = segment − ⌊segment/2⌋) and the transition power', () => {
    const w = triangleWeights(5); // arange(1, 3) ++ arange(3, 0, -1) = [1, 2, 3, 2, 1] / 3
    expect(Array.from(w)).toEqual([1 / 3, 2 / 3, 1, 2 / 3, 1 / 3].map(Math.fround));
    const w2 = triangleWeights(4, 2); // [1, 2, 2, 1] / 2, squared
    expect(Array.from(w2)).toEqual([0.25, 1, 1, 0.25]);
  });
});

describe('Chunker', () => {
  it('plans the spec example: L′ = 600000 → chunks 343980, 342015, 84030 starting at 0, 257003, 385995', () => {
    const plan = new Chunker(600000, { segment: 343980 });
    expect(plan.stride).toBe(257985);
    expect(plan.chunks.map((c) => [c.offset, c.length, c.start, c.trim])).toEqual([
      [0, 343980, 0, 0],
      [257985, 342015, 257003, 982],
      [515970, 84030, 385995, 129975],
    ]);
  });

  it('plans the fixture tracks (window starts from the manifest)', () => {
    expect(new Chunker(100000, { segment: 343980 }).chunks.map((c) => c.start)).toEqual([-121990]);
    expect(new Chunker(700001, { segment: 343980 }).chunks.map((c) => c.start)).toEqual([0, 257985, 435996]);
    expect(new Chunker(420713, { segment: 343980 }).chunks.map((c) => c.start)).toEqual([0, 167359]);
    expect(new Chunker(441000, { segment: 343980 }).chunks.map((c) => [c.offset, c.length, c.start])).toEqual([
      [0, 343980, 0],
      [257985, 183015, 177503],
    ]);
  });

  it('normalised weights sum to 1 at every position and equal w / Σw', () => {
    for (const [length, overlap] of [
      [700001, 0.25],
      [200000, 0.6],
      [50000, 0],
    ] as const) {
      const plan = new Chunker(length, { segment: 44100, overlap });
      const total = new Float64Array(length);
      for (const c of plan.chunks) {
        const g = plan.normalizedWeights(c.index);
        for (let i = 0; i < c.length; i++) total[c.offset + i]! += g[i]!;
      }
      let worst = 0;
      for (const v of total) worst = Math.max(worst, Math.abs(v - 1));
      expect(worst).toBeLessThan(1e-12);
    }
    // In an overlap of the default plan the two weights cross-fade linearly.
    const plan = new Chunker(600000, { segment: 343980 });
    const g1 = plan.normalizedWeights(1);
    const w = plan.weights;
    const p = 300000; // covered by chunks 0 and 1
    expect(g1[p - 257985]).toBeCloseTo(w[p - 257985]! / (w[p]! + w[p - 257985]!), 12);
  });

  it('finalUpTo is the next offset, and the length after the last chunk', () => {
    const plan = new Chunker(600000, { segment: 343980 });
    expect([0, 1, 2].map((i) => plan.finalUpTo(i))).toEqual([257985, 515970, 600000]);
  });

  it('rejects bad options naming the value', () => {
    expect(() => new Chunker(0, { segment: 10 })).toThrow(/length \(0\)/);
    expect(() => new Chunker(10, { segment: 10, overlap: 1 })).toThrow(/overlap \(1\)/);
    expect(() => new Chunker(10, { segment: 1.5 })).toThrow(/segment \(1.5\)/);
    expect(() => new Chunker(10, { segment: 10, transitionPower: 0 })).toThrow(/transitionPower \(0\)/);
    expect(() => new Chunker(10, { segment: 10 }).normalizedWeights(3)).toThrow(/index \(3\)/);
  });
});
