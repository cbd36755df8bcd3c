/**
 * The package as npm publishes it: `npm pack`, checked by publint and arethetypeswrong, then
 * installed into a scratch project outside the repository and used the ways a consumer
 * would (ESM `import`, CJS `require`, a browser bundle, the `demucs-mobile` bin). The other
 * package tests load `dist/` in place, where a file missing from `files`, a dependency only
 * the repository has, or a wrong `exports` condition cannot show.
 *
 * Slow part: the pack and the install, done once in `beforeAll` (a few seconds: the install
 * is `--offline` from the npm cache that `npm ci` filled, with a registry fallback).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type BuildFailure, type BuildResult, type Message } from 'esbuild';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/fixtures.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  exports: Record<string, unknown>;
  bin: Record<string, string>;
};

/** What `npm pack --json` reports. */
interface PackReport {
  readonly filename: string;
  readonly files: readonly { readonly path: string; readonly size: number }[];
}

/** One problem in `attw --format json` output. */
interface AttwProblem {
  readonly kind: string;
  readonly entrypoint?: string;
  readonly resolutionKind?: string;
}

/**
 * The environment for npm in the scratch project: without the variables `npm test` sets for
 * this repository (`npm_config_local_prefix` would point the install back at the repo).
 */
function scratchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^npm_(config_local_prefix|package_|lifecycle_|command$)/i.test(key)) delete env[key];
  }
  return env;
}

/** Runs a command, returning stdout; throws with stderr when it fails. */
function run(command: string, args: readonly string[], cwd: string): string {
  const r = spawnSync(command, args, { cwd, env: scratchEnv(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** The conditions each attw resolution mode matches (TypeScript's, with `types` first). */
const MODE_CONDITIONS: Record<string, readonly string[]> = {
  bundler: ['types', 'import', 'default'],
  'node16-cjs': ['types', 'node', 'require', 'default'],
  'node16-esm': ['types', 'node', 'import', 'default'],
};

/**
 * Whether an `exports` entry has any branch for a resolution mode. When it has none, the
 * package does not offer the entry there on purpose, and attw's `NoResolution` says just that.
 */
function offersEntry(target: unknown, mode: string | undefined): boolean {
  const conditions = MODE_CONDITIONS[mode ?? ''];
  if (conditions === undefined) return true; // an unknown mode: report its problems
  const offers = (t: unknown): boolean =>
    typeof t === 'string' || (t !== null && typeof t === 'object' && Object.entries(t).some(([k, v]) => conditions.includes(k) && offers(v)));
  return offers(target);
}

let work: string;
let scratch: string;
let tarball: string;
let report: PackReport;
/** How the install got its dependencies. */
let installMode: 'offline' | 'registry';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'demucs-tarball-'));
  // dist/ is fresh (global setup), so the prepack build is skipped.
  const packed = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], REPO_ROOT);
  report = (JSON.parse(packed) as PackReport[])[0]!;
  tarball = join(work, report.filename);

  scratch = join(work, 'scratch');
  mkdirSync(scratch);
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }, null, 2));
  // As in the repository's .npmrc: onnxruntime-node's install script fetches GPU binaries.
  writeFileSync(join(scratch, '.npmrc'), 'onnxruntime-node-install=skip\n');
  const install = ['install', tarball, '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'];
  try {
    run('npm', [...install, '--offline'], scratch);
    installMode = 'offline';
  } catch (e) {
    console.warn(`offline install failed, using the registry: ${(e as Error).message.split('\n')[0]}`);
    run('npm', [...install, '--prefer-offline'], scratch);
    installMode = 'registry';
  }
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('packed tarball', () => {
  it('holds dist/, README, LICENSE and package.json only: no sources, tests or model weights', () => {
    const paths = report.files.map((f) => f.path);
    for (const path of paths) expect(path).toMatch(/^(dist\/.+|README\.md|LICENSE|package\.json)$/);
    expect(paths.filter((p) => /\.(onnx|ort|f32|wav|flac|mp3|tgz)$/i.test(p) || /(^|\/)test\//.test(p))).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json']));
    // Every file the exports map and the bin point at is in it.
    const targets = JSON.stringify(pkg.exports).match(/\.\/dist\/[^"]+/g)!;
    for (const target of [...targets, ...Object.values(pkg.bin)]) expect(paths, target).toContain(target.replace(/^\.\//, ''));
    // A model file is ~174 MB; nothing published comes close to even 5 MB.
    expect(Math.max(...report.files.map((f) => f.size))).toBeLessThan(5_000_000);
  });

  it('passes publint with no message at any level', async () => {
    const bytes = readFileSync(tarball);
    const { messages, pkg: linted } = await publint({
      pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer },
      level: 'suggestion',
      strict: true,
    });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, linted, { color: false }) ?? m.code}`)).toEqual([]);
  });

  it('passes arethetypeswrong, except for resolutions the package does not offer by design', () => {
    // attw exits 1 when it finds any problem; the JSON says which.
    const r = spawnSync('npx', ['attw', tarball, '--format', 'json'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.stdout.trimStart().startsWith('{'), r.stderr).toBe(true);
    const result = JSON.parse(r.stdout) as { analysis: { problems: AttwProblem[] } };
    const unexpected = result.analysis.problems.filter(
      (p) =>
        !(
          p.kind === 'NoResolution' &&
          p.entrypoint !== undefined &&
          p.entrypoint !== '.' &&
          // node10 (TypeScript's `moduleResolution: "node"`) ignores `exports`, so no subpath
          // resolves there; every runtime this package supports (Node ≥ 20.19, bundlers) and
          // TypeScript's node16/nodenext/bundler modes read `exports`. The root entry works
          // under node10 through `main`/`types` (asserted below).
          (p.resolutionKind === 'node10' ||
            // A subpath the exports map deliberately leaves out of a mode: `./node` has only a
            // `node` condition, so a browser bundler fails loudly rather than pull in
            // onnxruntime-node (also asserted below); an ESM-only entry has no `require`.
            !offersEntry(pkg.exports[p.entrypoint], p.resolutionKind))
        ),
    );
    expect(unexpected).toEqual([]);
    // The root entry resolves, with types, in every mode, node10 included.
    expect(result.analysis.problems.filter((p) => p.entrypoint === '.')).toEqual([]);
  });
});

describe('installed from the tarball into a scratch project', () => {
  /** Names each entry must export, by entry. */
  const API = {
    'demucs-mobile': ['Separator', 'Stft', 'Istft', 'Chunker', 'OverlapAdd', 'DemucsError', 'readModelSpec'],
    'demucs-mobile/audio': ['decodeAudio', 'encodeAudio', 'decodeWav', 'resample'],
    'demucs-mobile/node': ['OrtNodeBackend', 'prepareInput', 'StemFiles', 'resolveModel'],
    'demucs-mobile/quant': ['readModel', 'writeModel', 'retargetSegment'],
  };

  /**
   * A script that loads every entry with `load` (an `import` or a `require` expression of
   * `spec`) and prints the type of each name, the version it found and the FFT engine.
   */
  const probe = (load: string, version: string): string => `
    const api = ${JSON.stringify(API)};
    const out = { version: ${version} };
    for (const [spec, names] of Object.entries(api)) {
      const m = ${load};
      out[spec] = Object.fromEntries(names.map((n) => [n, typeof m[n]]));
    }
    out.fft = await (${load.replaceAll('spec', "'demucs-mobile'")}).loadWasmFft();
    console.log(JSON.stringify(out));`;

  const expected = {
    version: pkg.version,
    ...Object.fromEntries(Object.entries(API).map(([spec, names]) => [spec, Object.fromEntries(names.map((n) => [n, 'function']))])),
    // The WebAssembly FFT, an ESM-only dependency, loads from the installed layout either way.
    fft: 'pffft-wasm-simd',
  };

  it('installs without onnxruntime, an optional peer', () => {
    expect(['offline', 'registry']).toContain(installMode);
    const installed = JSON.parse(readFileSync(join(scratch, 'node_modules', 'demucs-mobile', 'package.json'), 'utf8'));
    expect(installed.version).toBe(pkg.version);
    expect(spawnSync(process.execPath, ['-e', "require.resolve('onnxruntime-node')"], { cwd: scratch }).status).not.toBe(0);
  });

  it('loads every entry with ESM import', () => {
    writeFileSync(
      join(scratch, 'esm.mjs'),
      `import { createRequire } from 'node:module';\n${probe('await import(spec)', "createRequire(import.meta.url)('demucs-mobile/package.json').version")}`,
    );
    expect(JSON.parse(run(process.execPath, ['esm.mjs'], scratch))).toEqual(expected);
    const resolved = run(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('demucs-mobile'), import.meta.resolve('demucs-mobile/quant'))"], scratch);
    expect(resolved.trim()).toMatch(/\/node_modules\/demucs-mobile\/dist\/index\.js .*\/dist\/quant\.js$/);
  });

  it('loads every entry with CJS require', () => {
    writeFileSync(join(scratch, 'cjs.cjs'), `(async () => {${probe('require(spec)', "require('demucs-mobile/package.json').version")}})();`);
    expect(JSON.parse(run(process.execPath, ['cjs.cjs'], scratch))).toEqual(expected);
    const resolved = run(process.execPath, ['-p', "require.resolve('demucs-mobile') + ' ' + require.resolve('demucs-mobile/quant')"], scratch);
    expect(resolved.trim()).toMatch(/\/node_modules\/demucs-mobile\/dist\/index\.cjs .*\/dist\/quant\.cjs$/);
  });

  it('bundles the core and audio entries for a browser, with no Node built-in', async () => {
    writeFileSync(
      join(scratch, 'browser.js'),
      `import { Separator } from 'demucs-mobile';
       import { decodeAudio } from 'demucs-mobile/audio';
       export { Separator, decodeAudio };`,
    );
    const result = await build({
      absWorkingDir: scratch,
      entryPoints: ['browser.js'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      splitting: true,
      outdir: 'bundle',
      metafile: true,
      logLevel: 'silent',
    }).catch((e: BuildFailure) => e);
    const where = (m: Message): string => `${m.location?.file ?? ''}:${m.location?.line ?? ''} ${m.text}`;
    expect(result.errors.map(where)).toEqual([]);
    expect(result.warnings.map(where)).toEqual([]);
    const metafile = (result as BuildResult<{ metafile: true }>).metafile;
    const inputs = Object.keys(metafile.inputs);
    // The ESM build of the installed package was bundled.
    expect(inputs).toEqual(expect.arrayContaining(['node_modules/demucs-mobile/dist/index.js', 'node_modules/demucs-mobile/dist/audio.js']));
    const builtins: string[] = [];
    for (const [file, input] of Object.entries(metafile.inputs)) {
      if (isBuiltin(file)) builtins.push(file);
      for (const i of input.imports) {
        // `(disabled):x` is a dependency's own `browser` field mapping a Node-only module to
        // nothing (mediabunny's encoders disable `worker_threads` that way): no Node code
        // enters the bundle. `<runtime>` is esbuild's helper module.
        if (i.path.startsWith('(disabled):') || i.path === '<runtime>') continue;
        if (isBuiltin(i.path) || i.external === true) builtins.push(`${file} → ${i.path}`);
      }
    }
    expect(builtins).toEqual([]);
  });

  it('refuses to bundle demucs-mobile/node for a browser (it has only a node condition)', async () => {
    writeFileSync(join(scratch, 'browser-node.js'), `export { OrtNodeBackend } from 'demucs-mobile/node';`);
    const failure = await build({ absWorkingDir: scratch, entryPoints: ['browser-node.js'], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' }).then(
      () => undefined,
      (e: BuildFailure) => e,
    );
    expect(failure?.errors.map((e) => e.text)).toEqual([expect.stringMatching(/Could not resolve "demucs-mobile\/node"/)]);
  });

  it('runs the installed bin: npx demucs-mobile --version and --help', () => {
    expect(run('npx', ['--offline', 'demucs-mobile', '--version'], scratch).trim()).toBe(pkg.version);
    expect(run('npx', ['--offline', 'demucs-mobile', '--help'], scratch)).toMatch(/separate/);
  });
});
