/**
 * OrtNodeBackend's `fuseAttention`, `rewriteForCpu` and `optimizedModelCache` with the real
 * model: the cached copy is keyed by the choices, the fused copy holds MultiHeadAttention in
 * place of every Softmax, the rewritten one LayerNormalization and Conv in place of the
 * frequency branch's GroupNorms and every ConvTranspose, and the e2e song separated through
 * them (from the cache and from bytes) stays within the fixtures' tolerance of the PyTorch
 * stems.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Separator, type ModelSession } from '../../src/index.js';
import { OrtNodeBackend, type OrtNodeBackendOptions } from '../../src/node.js';
import { readModel } from '../../src/quant.js';
import { e2eMix } from '../helpers/e2e-input.js';
import { realModelPath } from '../helpers/model.js';
import { e2eSnrs } from '../helpers/quant-models.js';

const cache = mkdtempSync(join(tmpdir(), 'ort-fuse-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

/** Per-stem SNR (dB) of the e2e song through a session, against the PyTorch stems. */
async function e2e(session: ModelSession): Promise<number[]> {
  try {
    const result = await new Separator(session, { shifts: 0 }).separate({ sampleRate: 44100, channels: e2eMix() });
    return e2eSnrs(session.spec.sources.map((name) => [...result.stems[name]!]));
  } finally {
    await session.dispose();
  }
}

const options: OrtNodeBackendOptions = { threads: 2, worker: false };
const ops = (path: string) => readModel(readFileSync(path)).graph!.node.map((n) => n.opType);

describe('OrtNodeBackend fuseAttention', () => {
  it('caches a fused copy under its own key and separates through it within 1e-4 (80 dB) of PyTorch', async () => {
    const model = await realModelPath();
    const snrs = await e2e(await new OrtNodeBackend({ ...options, fuseAttention: true, optimizedModelCache: cache }).load(model));
    console.info('fused, cached: e2e SNR vs PyTorch (dB):', snrs.map((s) => s.toFixed(1)).join(', '));
    for (const s of snrs) expect(s).toBeGreaterThan(80);
    const files = readdirSync(cache);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/-ort[0-9.]+\.mha\.extended\.onnx$/);
    const fused = ops(join(cache, files[0]!));
    expect(fused.filter((o) => o === 'MultiHeadAttention')).toHaveLength(10);
    expect(fused).not.toContain('Softmax');

    // The unfused choice gets a copy of its own; the fused copy is reused, not rewritten (a
    // rewrite renames a new file into place; a reuse only touches it).
    const before = statSync(join(cache, files[0]!)).ino;
    await (await new OrtNodeBackend({ ...options, optimizedModelCache: cache }).load(model)).dispose();
    await (await new OrtNodeBackend({ ...options, fuseAttention: true, optimizedModelCache: cache }).load(model)).dispose();
    const after = readdirSync(cache).sort();
    expect(after).toHaveLength(2);
    const plain = after.find((f) => !f.includes('.mha.'))!;
    expect(plain).toMatch(/-ort[0-9.]+\.extended\.onnx$/);
    expect(ops(join(cache, plain)).filter((o) => o === 'Softmax')).toHaveLength(10);
    expect(statSync(join(cache, files[0]!)).ino).toBe(before);
  });

  it('fuses model bytes in memory, with the same stems', async () => {
    const bytes = new Uint8Array(readFileSync(await realModelPath()));
    const snrs = await e2e(await new OrtNodeBackend({ ...options, fuseAttention: true }).load(bytes));
    for (const s of snrs) expect(s).toBeGreaterThan(80);
  });
});

describe('OrtNodeBackend rewriteForCpu', () => {
  it('caches a rewritten copy under its own key and separates through it within 1e-4 (80 dB) of PyTorch', async () => {
    const model = await realModelPath();
    const before = new Set(readdirSync(cache));
    const snrs = await e2e(await new OrtNodeBackend({ ...options, rewriteForCpu: true, optimizedModelCache: cache }).load(model));
    console.info('CPU rewrites, cached: e2e SNR vs PyTorch (dB):', snrs.map((s) => s.toFixed(1)).join(', '));
    for (const s of snrs) expect(s).toBeGreaterThan(80);
    const added = readdirSync(cache).filter((f) => !before.has(f));
    expect(added).toHaveLength(1);
    expect(added[0]).toMatch(/-ort[0-9.]+\.cpu\.extended\.onnx$/);
    const rewritten = ops(join(cache, added[0]!));
    expect(rewritten).not.toContain('ConvTranspose');
    // 74 GroupNorms as exported; the 42 of one row (time branch, transformer) stay.
    expect(rewritten.filter((o) => o === 'InstanceNormalization')).toHaveLength(42);
    expect(rewritten.filter((o) => o === 'Softmax')).toHaveLength(10);
  });

  it('applies both rewrites to model bytes in memory, with the same stems', async () => {
    const bytes = new Uint8Array(readFileSync(await realModelPath()));
    const snrs = await e2e(await new OrtNodeBackend({ ...options, fuseAttention: true, rewriteForCpu: true }).load(bytes));
    for (const s of snrs) expect(s).toBeGreaterThan(80);
  });
});
