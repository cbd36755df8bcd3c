import { copyFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

/** The worker-thread host of onnxruntime-node sessions is plain CommonJS, copied as is. */
const copyWorker = async (): Promise<void> => {
  copyFileSync('src/backends/ort-node-worker.cjs', 'dist/ort-node-worker.cjs');
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
    // import.meta.url locates the worker script; shimmed in the CJS build.
    shims: true,
    onSuccess: copyWorker,
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
