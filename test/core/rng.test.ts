import { describe, expect, it } from 'vitest';
import { PythonRandom } from '../../src/core/rng.js';

// Golden values from CPython 3.11: random.seed(seed); [random.randint(0, 22050) for _ in range(6)]
const GOLDEN: [number | bigint, number[]][] = [
  [0, [12623, 13781, 1326, 8484, 16753, 15922]],
  [1, [4402, 18651, 2067, 8358, 3863, 16234]],
  [42, [20952, 3648, 819, 9012, 8024, 7314]],
  [1337, [20242, 17474, 11988, 18709, 19195, 5429]],
  [2 ** 32 + 5, [5153, 15908, 9256, 19806, 475, 11634]],
  [123456789012345678n, [14193, 16702, 6668, 4346, 4486, 21260]],
];

describe('PythonRandom', () => {
  it.each(GOLDEN)('seed %s draws the same shifts as CPython', (seed, expected) => {
    const rng = new PythonRandom(seed);
    expect(Array.from({ length: 6 }, () => rng.randint(0, 22050))).toEqual(expected);
  });

  it('matches getrandbits(32) and treats negative seeds as their absolute value', () => {
    const rng = new PythonRandom(42);
    expect([rng.getrandbits(32), rng.getrandbits(32), rng.getrandbits(32)]).toEqual([2746317213, 478163327, 107420369]);
    expect(new PythonRandom(-42).randint(0, 22050)).toBe(20952);
  });

  it('rejects bad arguments with the value', () => {
    expect(() => new PythonRandom(1.5)).toThrow(/seed \(1.5\)/);
    expect(() => new PythonRandom(1).randint(5, 4)).toThrow(/\[5, 4\]/);
    expect(() => new PythonRandom(1).getrandbits(33)).toThrow(/k \(33\)/);
  });
});
