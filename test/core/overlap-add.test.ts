import { describe, expect, it } from 'vitest';
import { OverlapAdd } from '../../src/core/overlap-add.js';

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
