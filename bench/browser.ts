/**
 * `npm run bench:browser`: the browser's speed against onnxruntime-node on the same machine,
 * in one run, on the same input (`fixtures/e2e/mix.wav`, 10 s, two model windows, shifts 0).
 *
 *   npm run bench:browser                  # a table
 *   npm run bench:browser -- --write       # also update docs/benchmarks.md
 *   npm run bench:browser -- --webgpu-timeout 900
 *
 * Rows:
 * - onnxruntime-node: `OrtNodeBackend` defaults (a thread per core, session on a worker thread);
 * - chromium, WebAssembly with threads: the demo server with COOP/COEP (cross-origin isolated);
 * - chromium, WebAssembly without threads: the same server without those headers;
 * - chromium, WebAssembly on the WebGPU build of onnxruntime-web (what the backend avoids);
 * - chromium, WebGPU: only when `navigator.gpu.requestAdapter()` gives an adapter. Headless
 *   chromium gives none by default; with `--enable-unsafe-webgpu` it offers SwiftShader, a
 *   software (CPU) Vulkan, which is measured and labelled as such.
 *
 * Each browser row runs in a fresh worker (a fresh onnxruntime-web); the model comes from the
 * Cache API after the first download on each origin. Time per second of audio is the
 * separation (decode, model windows, overlap-add) over the audio's length; load time is the
 * model's download or cache read, sha256 check and session creation. Ratios are against the
 * onnxruntime-node row of the same run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { chromium, type BrowserContext } from 'playwright-core';
import { Separator } from '../src/index.js';
import { OrtNodeBackend } from '../src/node.js';
import { decodeWav } from '../src/io/wav.js';
import { resolvePackagedModel } from '../src/node/models.js';
import { startDemoServer, type DemoServer } from '../examples/web/server.js';

const ROOT = resolve(import.meta.dirname, '..');
const MIX = resolve(ROOT, '../shared/fixtures/e2e/mix.wav');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-dev-shm-usage', '--mute-audio'];

interface Row {
  readonly name: string;
  readonly provider: string;
  readonly threads: number;
  readonly loadSeconds: number;
  readonly windowSeconds: readonly number[];
  /** Separation seconds per second of audio; undefined when it did not finish. */
  readonly perAudioSecond: number | undefined;
  readonly note: string;
  /** The machine's 1-minute load average when the row started (others share its cores). */
  readonly load: number;
}

interface BenchResult {
  ok: boolean;
  info?: { execution: { provider: string; threads: number; fallbacks: { provider: string; threads?: number; reason: string }[] } };
  loadSeconds: number;
  separateSeconds?: number;
  windowSeconds: number[];
  audioSeconds?: number;
  error?: string;
}

const { values } = parseArgs({
  options: {
    write: { type: 'boolean', default: false },
    'webgpu-timeout': { type: 'string', default: '900' },
    'skip-webgpu': { type: 'boolean', default: false },
  },
});

async function nodeRow(): Promise<Row> {
  const load = loadavg()[0]!;
  const wav = decodeWav(new Uint8Array(readFileSync(MIX)));
  const loadStart = performance.now();
  const session = await new OrtNodeBackend().load(await resolvePackagedModel(undefined, [ROOT]));
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const marks: number[] = [];
  const started = performance.now();
  await new Separator(session, { shifts: 0 }).separate(wav, { onProgress: () => marks.push(performance.now()) });
  const seconds = (performance.now() - started) / 1000;
  await session.dispose();
  const audioSeconds = wav.channels[0]!.length / wav.sampleRate;
  return {
    name: 'onnxruntime-node (native, CPU)',
    provider: 'cpu',
    threads: availableParallelism(),
    loadSeconds,
    windowSeconds: marks.slice(1).map((t, i) => (t - marks[i]!) / 1000),
    perAudioSecond: seconds / audioSeconds,
    note: 'OrtNodeBackend defaults',
    load,
  };
}

const PAGE = '<!doctype html><meta charset="utf-8"><title>bench</title><script type="module" src="/bench-page.js"></script>';

async function server(isolation: boolean): Promise<DemoServer> {
  return startDemoServer({
    port: 0,
    isolation,
    extra: {
      entries: { 'bench-page': join(ROOT, 'bench/browser/page.ts'), 'bench-worker': join(ROOT, 'bench/browser/worker.ts') },
      files: { '/bench.html': PAGE, '/mix.wav': new Uint8Array(readFileSync(MIX)) },
    },
  });
}

async function browserRow(
  context: BrowserContext,
  at: DemoServer,
  name: string,
  options: { providers: string[]; threads?: number; ort?: string; softwareGpu?: boolean; timeoutSeconds: number },
  note: (r: BenchResult) => string,
): Promise<Row> {
  const load = loadavg()[0]!;
  const page = await context.newPage();
  try {
    await page.goto(`${at.url}bench.html`);
    await page.waitForFunction(() => 'runBench' in window);
    const r = (await page.evaluate((o) => (window as unknown as { runBench(o: unknown): Promise<unknown> }).runBench(o), options)) as BenchResult;
    const e = r.info?.execution;
    console.log(`${name}: ${JSON.stringify(r)}`);
    return {
      name,
      provider: e?.provider ?? options.providers.join(', '),
      threads: e?.threads ?? NaN,
      loadSeconds: r.loadSeconds,
      windowSeconds: r.windowSeconds,
      perAudioSecond: r.ok ? r.separateSeconds! / r.audioSeconds! : undefined,
      note: r.ok ? note(r) : `${note(r)}; did not finish: ${r.error}`,
      load,
    };
  } finally {
    await page.close();
  }
}

/** Fills the Cache API of a server's origin once, so the measured loads all read the cache. */
async function warmCache(context: BrowserContext, at: DemoServer): Promise<void> {
  const page = await context.newPage();
  await page.goto(`${at.url}bench.html`);
  await page.waitForFunction(() => 'warmCache' in window);
  await page.evaluate(() => (window as unknown as { warmCache(): Promise<void> }).warmCache());
  await page.close();
}

function machine(chromiumVersion: string): string {
  const version = (pkg: string) => JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version as string;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return (
    `${cpu}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Node ${process.version}, ` +
    `${chromiumVersion} (headless, Debian package), onnxruntime-node ${version('onnxruntime-node')}, onnxruntime-web ${version('onnxruntime-web')}`
  );
}

function table(rows: readonly Row[]): string {
  const node = rows[0]!.perAudioSecond!;
  const fmt = (x: number) => x.toFixed(2);
  return [
    '| run | provider | threads | model load | per window | time per second of audio | vs onnxruntime-node | load avg | notes |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const per = r.perAudioSecond === undefined ? 'did not finish' : `${fmt(r.perAudioSecond)} s`;
      const ratio = r.perAudioSecond === undefined ? '–' : `**${(r.perAudioSecond / node).toFixed(1)}×**`;
      return `| ${r.name} | ${r.provider} | ${r.threads} | ${fmt(r.loadSeconds)} s | ${r.windowSeconds.map(fmt).join(', ') || '–'} s | ${per} | ${ratio} | ${r.load.toFixed(1)} | ${r.note} |`;
    }),
  ].join('\n');
}

function writeDocs(body: string): void {
  const path = join(ROOT, 'docs', 'benchmarks.md');
  const text = readFileSync(path, 'utf8');
  const start = '<!-- bench:browser:start -->';
  const end = '<!-- bench:browser:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`docs/benchmarks.md has no ${start} … ${end} section`);
  writeFileSync(path, `${text.slice(0, a + start.length)}\n${body}\n${text.slice(b)}`);
}

const chromiumVersion = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim().replace(/ built on.*$/, '');
const rows: Row[] = [await nodeRow()];
console.log(`${rows[0]!.name}: ${JSON.stringify(rows[0])}`);

const isolated = await server(true);
const plain = await server(false);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
// One context: its Cache API storage keeps the model between the rows of each origin.
const context = await browser.newContext();
let webgpuNote = '';
try {
  await warmCache(context, isolated);
  await warmCache(context, plain);
  const reasons = (r: BenchResult) => (r.info?.execution.fallbacks ?? []).map((f) => `${f.provider}${f.threads === undefined ? '' : ` ×${f.threads}`}: ${f.reason}`).join('; ');
  rows.push(await browserRow(context, isolated, 'chromium, WebAssembly, threads on (cross-origin isolated)', { providers: ['webgpu', 'wasm'], timeoutSeconds: 900 }, (r) => `passed over ${reasons(r)}`));
  webgpuNote = rows[1]!.note;
  rows.push(await browserRow(context, plain, 'chromium, WebAssembly, threads off (not isolated)', { providers: ['wasm'], timeoutSeconds: 900 }, reasons));
  rows.push(
    await browserRow(context, isolated, 'chromium, WebAssembly on the WebGPU (JSEP) build', { providers: ['wasm'], ort: 'webgpu-build', timeoutSeconds: 900 }, () => '`onnxruntime-web` instead of `onnxruntime-web/wasm`'),
  );
} finally {
  await browser.close();
}

if (!values['skip-webgpu']) {
  const gpuBrowser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'] });
  try {
    const gpuContext = await gpuBrowser.newContext();
    const page = await gpuContext.newPage();
    await page.goto(`${isolated.url}bench.html`);
    const adapter = await page.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: Record<string, unknown> } | null> } }).gpu;
      const a = await gpu?.requestAdapter();
      return a === null || a === undefined ? null : `${a.info?.vendor ?? ''} ${a.info?.architecture ?? ''} ${a.info?.description ?? ''}`.trim();
    });
    await page.close();
    console.log(`WebGPU adapter with --enable-unsafe-webgpu: ${adapter}`);
    if (adapter !== null) {
      await warmCache(gpuContext, isolated);
      rows.push(
        await browserRow(
          gpuContext,
          isolated,
          `chromium --enable-unsafe-webgpu, WebGPU on "${adapter}"`,
          { providers: ['webgpu'], softwareGpu: true, timeoutSeconds: Number(values['webgpu-timeout']) },
          () => 'a software (CPU) GPU, not a real one; OrtWebBackend passes such adapters over unless `softwareGpu: true`',
        ),
      );
    }
  } finally {
    await gpuBrowser.close();
  }
}
await isolated.close();
await plain.close();

const stamp = `Measured ${new Date().toISOString().slice(0, 10)}; ${machine(chromiumVersion)}. Input: fixtures/e2e/mix.wav (10 s, 2 windows), shifts 0.`;
const out =
  `${stamp} The machine's cores were shared with other jobs: "load avg" is its 1-minute load average as each row started ` +
  `(${availableParallelism()} means fully busy).\n\n${table(rows)}\n\nWebGPU in default headless chromium: ${webgpuNote}.`;
console.log(`\n${out}`);
if (values.write) writeDocs(out);
