import { beforeAll, describe, expect, it } from 'vitest';
import { KernelMemory, loadHostKernels } from '../../src/core/kernels.js';

describe('KernelMemory', () => {
  beforeAll(async () => {
    expect(await loadHostKernels()).toBe(true);
  });

  it('views each reserved buffer whole, at its aligned offset, without overlap', () => {
    const m = new KernelMemory();
    const a = m.reserve(3);
    const b = m.reserve(5, 8);
    const c = m.reserve(17);
    expect(() => m.view(a)).toThrow(/view\(\) before seal\(\)/);
    m.seal();
    expect(() => m.reserve(1)).toThrow(/reserve\(\) after seal\(\)/);
    expect([a % 64, b % 64, c % 64]).toEqual([0, 0, 0]);
    const [va, vb, vc] = [m.view(a), m.view64(b), m.view(c)];
    expect([va.length, vb.length, vc.length]).toEqual([3, 5, 17]);
    va.fill(1);
    vb.fill(2);
    vc.fill(3);
    expect([...va, ...vb, ...vc]).toEqual([1, 1, 1, 2, 2, 2, 2, 2, ...Array<number>(17).fill(3)]);
  });

  it('refuses an offset that is not a buffer of the view’s value size', () => {
    const m = new KernelMemory();
    const a = m.reserve(4);
    m.seal();
    expect(() => m.view64(a)).toThrow(new RegExp(`view64\\(${a}\\) is not a buffer of 8-byte values`));
    expect(() => m.view(a + 4)).toThrow(/is not a buffer of 4-byte values/);
  });
});
