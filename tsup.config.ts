import { defineConfig } from 'tsup';

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
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    splitting: true,
    treeshake: true,
    external: ['onnxruntime-node', 'onnxruntime-common', 'onnxruntime-web'],
  },
  {
    entry: { cli: 'src/cli/bin.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    banner: { js: '#!/usr/bin/env node' },
    external: ['onnxruntime-node'],
  },
]);
