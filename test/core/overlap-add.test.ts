import { beforeAll, describe, expect, it } from 'vitest';
import { loadHostKernels } from '../../src/core/kernels.js';
import { OverlapAdd } from '../../src/core/overlap-add.js';
import { noise } from '../helpers/noise.js';

describe('OverlapAdd', () => {
  it('accumulates scaled, gained rows and drains the finished prefix in order', () => {
    const ola = new OverlapAdd(2, 6);
    // Two rows of stride 8; take samples [2, 6) of each row.
    const src = Float32Array.from([0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 10, 20, 30, 40, 0, 0]);
    ola.add(0, src, 8, 2, 4, Float64Array.from([1, 1, 0.5, 0.5]), 2);
    ola.add(2, src, 8, 2, 4, Float64Array.from([0.5, 0.5, 1, 1]));
    const out: number[][] = [];
    ola.drain(4, (rows, start, count) => {
      expect([start, count]).toEqual([0, 4]);
      out.push(...rows.map((r) => Array.from(r)));
    });
    expect(out).toEqual([
      [2, 4, 3 + 0.5, 4 + 1],
      [20, 40, 30 + 5, 40 + 10],
    ]);
    expect(ola.position).toBe(4);
    const tail: number[][] = [];
    ola.drain(6, (rows) => tail.push(...rows.map((r) => Array.from(r))));
    expect(tail).toEqual([
      [3, 4],
      [30, 40],
    ]);
    // Drained positions are zeroed for reuse.
    ola.add(6, src, 8, 2, 1, Float64Array.from([1]));
    ola.drain(7, (rows) => expect(Array.from(rows[0]!)).toEqual([1]));
  });

  it('refuses writes outside its span and drains beyond capacity', () => {
    const ola = new OverlapAdd(1, 4);
    const src = new Float32Array(8);
    const g = new Float64Array(8);
    expect(() => ola.add(1, src, 8, 0, 4, g)).toThrow(/span \[1, 5\) is outside the accumulator \[0, 4\)/);
    expect(() => ola.drain(5, () => undefined)).toThrow(/upTo \(5\)/);
    let called = false;
    ola.drain(0, () => (called = true));
    expect(called).toBe(false);
  });
});

describe('OverlapAdd on the SIMD kernels', () => {
  beforeAll(async () => {
    expect(await loadHostKernels()).toBe(true);
  });

  it('gives the JavaScript loops’ rows bit for bit, with and without row scales, and drains them scaled to float32 alike', () => {
    // Odd counts exercise the kernels' scalar tails; the second window overlaps the first.
    const rows = 4;
    const capacity = 1001;
    const src = noise(rows * 1200, 7);
    const gains = Float64Array.from(noise(1200, 8), (g) => g + 0.5);
    const run = (kernels: boolean) => {
      const ola = new OverlapAdd(rows, capacity, { kernels });
      expect(ola.kernels).toBe(kernels);
      ola.add(0, src, 1200, 3, 999, gains, 0.5);
      ola.add(333, src, 1200, 100, 667, gains, 1 / 3, [0.25, 0, 1, 0.75]);
      const raw: number[][] = [];
      ola.drain(333, (r) => raw.push(...r.map((a) => Array.from(a))));
      const scaled: number[][] = [];
      ola.drainScaled(1000, 0.37, -0.01, [3, 1, 2], (r, start, count) => {
        expect([start, count]).toEqual([333, 667]);
        scaled.push(...r.map((a) => Array.from(a)));
      });
      return { raw, scaled };
    };
    const js = run(false);
    const simd = run(true);
    expect(simd.raw).toEqual(js.raw);
    expect(simd.scaled).toEqual(js.scaled);
    // Row 1's scale is 0 in the second add: its overlap holds the first add alone.
    expect(js.scaled[1]![0]).toBe(Math.fround(0.5 * gains[333]! * src[1200 + 3 + 333]! * 0.37 - 0.01));
  });

  it('drainScaled with no rows still advances, then hands out rows on both paths', () => {
    for (const kernels of [false, true]) {
      const ola = new OverlapAdd(2, 4, { kernels });
      ola.add(0, Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), 4, 0, 4, Float64Array.of(1, 1, 1, 1), 1);
      const seen: number[][] = [];
      ola.drainScaled(2, 1, 0, [], (r, start, count) => seen.push([r.length, start, count]));
      ola.drainScaled(4, 2, 1, [1], (r, start, count) => seen.push([r.length, start, count, ...r[0]!]));
      expect(seen).toEqual([[0, 0, 2], [1, 2, 2, 15, 17]]);
      expect(ola.position).toBe(4);
    }
  });

  it('drainScaled refuses a row that does not exist', () => {
    expect(() => new OverlapAdd(2, 4).drainScaled(1, 1, 0, [2], () => undefined)).toThrow(/row \(2\) must be in \[0, 2\)/);
  });
});
