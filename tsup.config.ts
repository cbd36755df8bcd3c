import { copyFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { defineConfig } from 'tsup';
import type { Plugin } from 'esbuild';

/** The worker-thread host of onnxruntime-node sessions is plain CommonJS, copied as is. */
const copyWorker = async (): Promise<void> => {
  copyFileSync('src/backends/ort-node-worker.cjs', 'dist/ort-node-worker.cjs');
};

/** PFFFT's WebAssembly files, next to the chunk that loads them (see {@link pffftForBundlers}). */
const copyAssets = async (): Promise<void> => {
  await copyWorker();
  copyFileSync('node_modules/@echogarden/pffft-wasm/dist/simd/pffft.wasm', 'dist/pffft-simd.wasm');
  copyFileSync('node_modules/@echogarden/pffft-wasm/dist/non-simd/pffft.wasm', 'dist/pffft.wasm');
};

/**
 * Makes `@echogarden/pffft-wasm`'s Emscripten glue safe for browser bundlers, and bundles it.
 *
 * The glue reaches Node's `module` builtin with `await import("module")` inside its Node-only
 * branch; a browser bundler cannot resolve that literal and fails (esbuild, webpack) or warns
 * (Vite). Here the specifier is computed, with the bundlers' ignore comments, so they leave it
 * to run time, where the branch never runs in a browser. Both builds name their binary
 * `pffft.wasm`; the SIMD one becomes `pffft-simd.wasm` so both can sit in `dist/` beside the
 * chunk that loads them (`new URL(…, import.meta.url)`, which Vite and webpack follow).
 */
const pffftForBundlers: Plugin = {
  name: 'pffft-for-bundlers',
  setup(build) {
    build.onLoad({ filter: /[\\/]@echogarden[\\/]pffft-wasm[\\/]dist[\\/](simd|non-simd)[\\/]pffft\.js$/ }, async (args) => {
      const simd = /[\\/]simd[\\/]pffft\.js$/.test(args.path);
      let code = await readFile(args.path, 'utf8');
      const replace = (from: string, to: string, count: number): void => {
        const parts = code.split(from);
        if (parts.length - 1 !== count) {
          throw new Error(`pffft-for-bundlers: expected ${count} × ${JSON.stringify(from)} in ${args.path}, found ${parts.length - 1}; update the patch for this version`);
        }
        code = parts.join(to);
      };
      replace('await import("module")', 'await import(/* webpackIgnore: true */ /* @vite-ignore */ ["node", "module"].join(":"))', 1);
      if (simd) replace('"pffft.wasm"', '"pffft-simd.wasm"', 2);
      return { contents: code, loader: 'js' };
    });
  },
};

/**
 * One entry per subpath export (see package.json "exports"). Runtimes stay external:
 * onnxruntime-* are optional peers loaded with a dynamic import inside the backends.
 */
export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      node: 'src/node.ts',
      audio: 'src/audio.ts',
      quant: 'src/quant.ts',
      web: 'src/web.ts',
      'web-worker': 'src/web-worker.ts',
      qualcomm: 'src/qualcomm.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    splitting: true,
    treeshake: true,
    external: ['onnxruntime-node', 'onnxruntime-common', 'onnxruntime-web'],
    noExternal: ['@echogarden/pffft-wasm'],
    esbuildPlugins: [pffftForBundlers],
    // import.meta.url locates the worker scripts and PFFFT's binaries; shimmed in the CJS build.
    shims: true,
    onSuccess: copyAssets,
  },
  {
    entry: { cli: 'src/cli/bin.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    banner: { js: '#!/usr/bin/env node' },
    external: ['onnxruntime-node'],
    onSuccess: copyWorker,
  },
]);
