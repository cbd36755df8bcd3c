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
    const reachable = (entry: string, seen = new Set<string>()): Set<string> => {
      if (seen.has(entry)) return seen;
      seen.add(entry);
      const code = readFileSync(join(dist, entry), 'utf8');
      for (const m of code.matchAll(/(?:from\s*|require\(|import\()\s*["']\.\/([^"']+)["']/g)) reachable(m[1]!, seen);
      return seen;
    };
    for (const entry of ['index.js', 'index.cjs', 'audio.js', 'audio.cjs', 'web.js', 'web.cjs', 'web-worker.js']) {
      const runtimes = entry.startsWith('web') ? /(?:from\s*|require\(|import\()\s*["']onnxruntime-(?!web["'/])/ : /(?:from\s*|require\(|import\()\s*["']onnxruntime-/;
      for (const file of reachable(entry)) {
        const code = readFileSync(join(dist, file), 'utf8');
        expect(code, `${entry} → ${file}`).not.toMatch(runtimes);
        // PFFFT's Emscripten glue calls a createRequire()'d `require("fs")` in its Node-only
        // branch, which bundlers do not follow; test/web/bundle.test.ts checks a real browser build.
        if (/^pffft-[\w-]+\.c?js$/.test(file)) continue;
        expect(code, `${entry} → ${file}`).not.toMatch(/["'](node:)?(fs|path|os|child_process|crypto|worker_threads)["']/);
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
