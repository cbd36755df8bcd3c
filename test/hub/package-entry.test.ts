/**
 * The built `demucs-mobile/qualcomm` entry (`dist/qualcomm.*`, rebuilt by the global setup
 * when stale): Node-only in the exports map, loads as ESM and CJS (h5wasm, ESM-only, is
 * reached from both), and the core and browser-safe entries never reach axios or h5wasm.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reachableChunks } from '../helpers/dist-chunks.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const dist = join(REPO_ROOT, 'dist');

describe('demucs-mobile/qualcomm', () => {
  it('is a Node-only subpath export and loads with ESM import and CJS require', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.exports['./qualcomm']).toEqual({
      node: {
        import: { types: './dist/qualcomm.d.ts', default: './dist/qualcomm.js' },
        require: { types: './dist/qualcomm.d.cts', default: './dist/qualcomm.cjs' },
      },
    });
    expect(pkg.scripts['test:hub']).toBe('vitest run test/hub');
    const esm = await import(join(dist, 'qualcomm.js'));
    const cjs = createRequire(import.meta.url)(join(dist, 'qualcomm.cjs'));
    for (const name of ['QualcommHubBackend', 'QaiHubClient', 'writeDataset', 'readDataset', 'hubCompileOptions', 'QualcommHubError', 'FileHubCache']) {
      expect(typeof esm[name], name).toBe('function');
      expect(typeof cjs[name], name).toBe('function');
    }
    expect(esm.JobSchema.typeName).toBe('qai_hub.api.Job');
    expect(cjs.MOBILE_PROFILE).toEqual({ name: 'mobile', segmentSamples: 44100, overlap: 0.25 });
    const h5 = await cjs.writeDataset([{ name: 'input', samples: [{ data: new Float32Array([1, 2, 3]), shape: [1, 3] }] }]);
    const back = await esm.readDataset(h5);
    expect([...back[0].samples[0].data]).toEqual([1, 2, 3]);
  });

  it('keeps axios and h5wasm out of the core, audio and quant entries', () => {
    for (const entry of ['index.js', 'index.cjs', 'audio.js', 'audio.cjs', 'quant.js', 'quant.cjs']) {
      for (const file of reachableChunks(dist, entry)) {
        expect(readFileSync(join(dist, file), 'utf8'), `${entry} → ${file}`).not.toMatch(/(?:from\s*|require\(|import\()\s*["'](axios|h5wasm)["']/);
      }
    }
  });
});
