/**
 * A browser build of the built package: esbuild bundles an application importing
 * `demucs-mobile`, `demucs-mobile/audio` and `demucs-mobile/web` (resolved through
 * package.json "exports" to `dist/`, rebuilt by the global setup) for the browser, and the
 * result pulls in no Node-only module, builds without a warning, and keeps onnxruntime-web
 * and the codecs in chunks loaded on demand.
 */
import { builtinModules } from 'node:module';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures.js';

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

async function bundleFor(contents: string, conditions: string[] = []): Promise<Metafile> {
  const result = await build({
    stdin: { contents, resolveDir: REPO_ROOT, loader: 'ts' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: '/virtual-out',
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: REPO_ROOT,
    // Resolve demucs-mobile through its "exports" (dist/), not the repository's tsconfig paths.
    tsconfigRaw: '{}',
    conditions,
  });
  expect(result.errors).toEqual([]);
  expect(result.warnings.map((w) => w.text)).toEqual([]);
  return result.metafile;
}

/** Every module path in the bundle, and every import esbuild left external. */
function inventory(meta: Metafile): { inputs: string[]; externals: string[] } {
  const inputs = Object.keys(meta.inputs);
  const externals = Object.values(meta.inputs).flatMap((i) => i.imports.filter((im) => im.external && im.path !== '<runtime>').map((im) => im.path));
  return { inputs, externals };
}

const APP = `
  import { Separator, Stft } from 'demucs-mobile';
  import { decodeAudio, encodeWav, resample } from 'demucs-mobile/audio';
  import { OrtWebBackend, WebSeparator, fetchModel, serveSeparation } from 'demucs-mobile/web';
  console.log(Separator, Stft, decodeAudio, encodeWav, resample, OrtWebBackend, WebSeparator, fetchModel, serveSeparation);
`;

describe('browser bundle of demucs-mobile + demucs-mobile/web', () => {
  for (const conditions of [[], ['onnxruntime-web-use-extern-wasm']]) {
    it(`has no Node-only module and no warning${conditions.length > 0 ? ` (condition ${conditions[0]})` : ''}`, async () => {
      const meta = await bundleFor(APP, conditions);
      const { inputs, externals } = inventory(meta);
      expect(externals).toEqual([]);
      const nodeOnly = inputs.filter(
        (p) =>
          NODE_BUILTINS.has(p) ||
          /(^|\/)node_modules\/onnxruntime-node\//.test(p) ||
          /\/onnxruntime-web\/dist\/ort\.node\./.test(p) ||
          /^dist\/(node|cli)\.js$/.test(p),
      );
      expect(nodeOnly).toEqual([]);
      // A package's own "browser" field may stub a Node module out (mediabunny's node.js,
      // the encoders' worker_threads); those come in empty.
      for (const p of inputs.filter((i) => i.startsWith('(disabled):'))) expect(meta.inputs[p]!.bytes, p).toBe(0);
      expect(inputs.some((p) => p.includes('/onnxruntime-web/dist/ort.wasm.'))).toBe(true);
      expect(inputs.some((p) => /\/onnxruntime-web\/dist\/ort\.(bundle\.)?min\.mjs$/.test(p))).toBe(true);
    });
  }

  it('keeps onnxruntime-web, PFFFT and the codecs out of the entry chunk (loaded on demand)', async () => {
    const meta = await bundleFor(APP);
    // The entry chunk and every chunk it imports statically: what loads before the app runs.
    const loaded = new Set<string>();
    const visit = (name: string): void => {
      if (loaded.has(name)) return;
      loaded.add(name);
      for (const im of meta.outputs[name]!.imports) if (im.kind === 'import-statement') visit(im.path);
    };
    visit(Object.entries(meta.outputs).find(([, o]) => o.entryPoint === '<stdin>')![0]);
    const eager = [...loaded].flatMap((name) => Object.keys(meta.outputs[name]!.inputs));
    const eagerBytes = [...loaded].reduce((n, name) => n + meta.outputs[name]!.bytes, 0);
    for (const lazy of ['onnxruntime-web', 'pffft', 'mpg123-decoder', 'mediabunny', 'ogg-opus-decoder', '@wasm-audio-decoders']) {
      expect(eager.filter((p) => p.includes(lazy)), lazy).toEqual([]);
    }
    expect(eager.length).toBeGreaterThan(10);
    expect(eagerBytes).toBeLessThan(400_000);
  });
});
