/**
 * The built package (`dist/`, rebuilt by the global setup when stale): both module formats
 * load and the core entry stays free of runtimes. The docs build is checked in
 * test/scripts/check-links.test.ts, the packed tarball in test/package/tarball.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/fixtures.js';
import { isPffftGlue, NODE_BUILTIN, reachableChunks } from './helpers/dist-chunks.js';

const dist = join(REPO_ROOT, 'dist');

describe('package', () => {
  it('loads with ESM import and CJS require, exposing the same API', async () => {
    const esm = await import(join(dist, 'index.js'));
    const cjs = createRequire(import.meta.url)(join(dist, 'index.cjs'));
    for (const name of ['Separator', 'Stft', 'Istft', 'Chunker', 'OverlapAdd', 'DemucsError', 'readModelSpec']) {
      expect(typeof esm[name], name).toBe('function');
      expect(typeof cjs[name], name).toBe('function');
    }
    const node = createRequire(import.meta.url)(join(dist, 'node.cjs'));
    expect(typeof node.OrtNodeBackend).toBe('function');
    const web = await import(join(dist, 'web.js'));
    const webCjs = createRequire(import.meta.url)(join(dist, 'web.cjs'));
    for (const name of ['OrtWebBackend', 'WebSeparator', 'serveSeparation', 'fetchModel', 'createSeparationWorker']) {
      expect(typeof web[name], name).toBe('function');
      expect(typeof webCjs[name], name).toBe('function');
    }
    // The WebAssembly FFT package is ESM-only; the CJS build must still reach it.
    expect(await cjs.loadWasmFft()).toBe('pffft-wasm-simd');
  });

  it('keeps onnxruntime and Node built-ins out of the core and audio entries, and onnxruntime-node out of the web entries', () => {
    // Every chunk the browser-safe entries can reach, in both formats.
    for (const entry of ['index.js', 'index.cjs', 'audio.js', 'audio.cjs', 'web.js', 'web.cjs', 'web-worker.js']) {
      const runtimes = entry.startsWith('web') ? /(?:from\s*|require\(|import\()\s*["']onnxruntime-(?!web["'/])/ : /(?:from\s*|require\(|import\()\s*["']onnxruntime-/;
      for (const file of reachableChunks(dist, entry)) {
        const code = readFileSync(join(dist, file), 'utf8');
        expect(code, `${entry} → ${file}`).not.toMatch(runtimes);
        if (isPffftGlue(file)) continue;
        expect(code, `${entry} → ${file}`).not.toMatch(NODE_BUILTIN);
      }
    }
  });

  it('ships the CLI as an executable ESM bin', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.bin['demucs-mobile']).toBe('./dist/cli.js');
    expect(readFileSync(join(dist, 'cli.js'), 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
    const version = spawnSync(process.execPath, [join(dist, 'cli.js'), '--version'], { encoding: 'utf8' });
    expect(version.stdout.trim()).toBe(pkg.version);
    expect(readdirSync(dist).filter((f) => f.endsWith('.onnx'))).toEqual([]);
  });
});
