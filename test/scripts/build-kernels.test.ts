/**
 * The committed WebAssembly kernels (`src/core/gen/host-kernels-wasm.ts`) are what
 * `wasm/assembly/host-kernels.ts` compiles to: a change to the source without
 * `npm run gen:kernels` fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileKernels, kernelsModuleText, KERNELS_MODULE } from '../../scripts/build-kernels.js';
import { HOST_KERNELS_WASM_BASE64 } from '../../src/core/gen/host-kernels-wasm.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

describe('build-kernels', () => {
  it('the committed module is the compiled source (run `npm run gen:kernels` when this fails)', async () => {
    const binary = await compileKernels();
    expect(readFileSync(join(REPO_ROOT, KERNELS_MODULE), 'utf8')).toBe(kernelsModuleText(binary));
    expect(Buffer.from(HOST_KERNELS_WASM_BASE64, 'base64').equals(Buffer.from(binary))).toBe(true);
  });

  it('exports the six kernels and a memory, and stays under the 4 KiB that browsers instantiate synchronously on a page', async () => {
    const module = await WebAssembly.compile(Buffer.from(HOST_KERNELS_WASM_BASE64, 'base64'));
    const exports = WebAssembly.Module.exports(module).map((e) => `${e.name}:${e.kind}`).sort();
    expect(exports).toEqual(['istftUnpack:function', 'memory:memory', 'overlapAddFrames:function', 'overlapAddRow:function', 'scaleToFloat32:function', 'stftFrames:function', 'stftPack:function']);
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    expect(Buffer.from(HOST_KERNELS_WASM_BASE64, 'base64').length).toBeLessThan(4096);
  });
});
