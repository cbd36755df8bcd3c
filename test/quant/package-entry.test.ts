/**
 * The built `demucs-mobile/quant` entry (`dist/quant.*`, rebuilt by the global setup when
 * stale): both module formats load, and it stays free of runtimes and Node built-ins, so it
 * also works in browsers.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { isPffftGlue, NODE_BUILTIN, reachableChunks } from '../helpers/dist-chunks.js';

const dist = join(REPO_ROOT, 'dist');

describe('demucs-mobile/quant', () => {
  it('is declared in package.json exports and loads with ESM import and CJS require', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.exports['./quant']).toEqual({
      import: { types: './dist/quant.d.ts', default: './dist/quant.js' },
      require: { types: './dist/quant.d.cts', default: './dist/quant.cjs' },
    });
    const esm = await import(join(dist, 'quant.js'));
    const cjs = createRequire(import.meta.url)(join(dist, 'quant.cjs'));
    for (const name of [
      'readModel',
      'writeModel',
      'retargetSegment',
      'fuseAttention',
      'fuseGroupNorm',
      'convTransposeAsConv',
      'segmentLengths',
      'inspectModel',
      'topologicalSort',
      'GraphIndex',
      'toFloat16',
      'quantizeInt8',
      'buildCalibrationSet',
      'collectActivationRanges',
      'ortCalibrationRunner',
      'float32ToFloat16Bits',
    ]) {
      expect(typeof esm[name], name).toBe('function');
      expect(typeof cjs[name], name).toBe('function');
    }
    expect(esm.ModelProtoSchema.typeName).toBe('onnx.ModelProto');
    expect(cjs.RETARGET_CONSTANT_NAMES).toHaveLength(90);
  });

  it('keeps onnxruntime and Node built-ins out of every chunk it reaches', () => {
    for (const entry of ['quant.js', 'quant.cjs']) {
      for (const file of reachableChunks(dist, entry)) {
        const code = readFileSync(join(dist, file), 'utf8');
        expect(code, `${entry} → ${file}`).not.toMatch(/(?:from\s*|require\(|import\()\s*["']onnxruntime-/);
        if (isPffftGlue(file)) continue;
        expect(code, `${entry} → ${file}`).not.toMatch(NODE_BUILTIN);
      }
    }
  });
});
