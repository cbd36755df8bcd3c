/**
 * The web demo (`examples/web`) in Debian's chromium, driven by playwright-core: it separates
 * `e2e/mix.wav` with onnxruntime-web in a Web Worker and its stems match onnxruntime-node's
 * on the same input; the model is cached; cancel works; bad files give readable errors; and
 * without cross-origin isolation it runs single-threaded, saying why. Screenshots go to
 * `test-artifacts/`.
 *
 * The real model on WebAssembly takes tens of seconds per 7.8 s window on two cores; the
 * fixture song is 10 s (two windows).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Separator } from '../../src/index.js';
import { OrtNodeBackend } from '../../src/node.js';
import { decodeWav } from '../../src/io/wav.js';
import { startDemoServer, type DemoServer } from '../../examples/web/server.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, ensureChromium } from '../helpers/chromium.js';
import { e2eMix } from '../helpers/e2e-input.js';
import { fixturePath, REPO_ROOT, snrDb } from '../helpers/fixtures.js';
import { realModelPath } from '../helpers/model.js';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const MIX = fixturePath('e2e/mix.wav');
const SOURCES = ['drums', 'bass', 'other', 'vocals'];
const MODEL_PATH = '/models/htdemucs.onnx';

const skip = ensureChromium() !== undefined;

/** What the page exposes on `window.demucsDemo` (see examples/web/app.ts). */
interface Handle {
  state: string;
  info?: { fromCache: boolean; execution: { provider: string; threads: number; crossOriginIsolated: boolean; fallbacks: { provider: string; threads?: number; reason: string }[] } };
  error?: { name: string; message: string; code?: string };
  result?: { sources: string[]; sampleRate: number };
}

const handle = (page: Page): Promise<Handle> =>
  page.evaluate(() => {
    const h = (window as unknown as { demucsDemo: Handle & { result?: unknown } }).demucsDemo;
    return JSON.parse(JSON.stringify({ ...h, result: h.result === undefined ? undefined : { sources: (h.result as Handle['result'])!.sources, sampleRate: (h.result as Handle['result'])!.sampleRate } }));
  });

async function waitForState(page: Page, states: readonly string[], timeout: number): Promise<string> {
  await page.waitForFunction((s) => s.includes(document.body.dataset.state ?? ''), states, { timeout, polling: 200 });
  return page.evaluate(() => document.body.dataset.state ?? '');
}

/** The page's stems as float32 arrays, fetched out as base64. */
async function pageStems(page: Page): Promise<Record<string, Float32Array[]>> {
  const encoded = await page.evaluate(() => {
    const r = (window as unknown as { demucsDemo: { result: { sources: string[]; stems: Record<string, Float32Array[]> } } }).demucsDemo.result;
    const b64 = (c: Float32Array): string => {
      const u8 = new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
      let s = '';
      for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
      return btoa(s);
    };
    return Object.fromEntries(r.sources.map((name) => [name, r.stems[name]!.map(b64)]));
  });
  return Object.fromEntries(
    Object.entries(encoded).map(([name, channels]) => [
      name,
      channels.map((c) => {
        const bytes = Buffer.from(c, 'base64');
        return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      }),
    ]),
  );
}

const joined = (channels: readonly Float32Array[]): Float32Array => {
  const out = new Float32Array(channels.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of channels) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

describe.skipIf(skip)('the web demo in chromium', () => {
  let isolated: DemoServer;
  let plain: DemoServer;
  let browser: Browser;
  let context: BrowserContext;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    isolated = await startDemoServer({ port: 0 });
    plain = await startDemoServer({ port: 0, isolation: false });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
    // One context for the whole file: its Cache API storage carries the model between pages.
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1000, height: 800 } });
    context.on('weberror', (e) => pageErrors.push(e.error().message));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await isolated?.close();
    await plain?.close();
    expect(pageErrors).toEqual([]);
  });

  it('separates e2e/mix.wav on threaded WebAssembly in a worker; stems match onnxruntime-node at ≥ 60 dB SNR', async () => {
    const page = await context.newPage();
    await page.goto(isolated.url);
    const env = await page.evaluate(() => ({ isolated: crossOriginIsolated, cores: navigator.hardwareConcurrency }));
    expect(env.isolated).toBe(true);
    await page.selectOption('#shifts', '0');
    const started = performance.now();
    await page.setInputFiles('#file', MIX);
    await waitForState(page, ['separating'], 120_000);
    const state = await waitForState(page, ['done', 'error', 'cancelled'], 240_000);
    const seconds = (performance.now() - started) / 1000;
    const h = await handle(page);
    expect(state, JSON.stringify(h.error)).toBe('done');
    expect(h.info!.fromCache).toBe(false);
    expect(h.info!.execution).toMatchObject({ provider: 'wasm', threads: env.cores, crossOriginIsolated: true });
    // Headless chromium on this machine has no GPU adapter; if one appears, WebGPU is chosen instead and this needs updating.
    expect(h.info!.execution.fallbacks.map((f) => f.provider)).toEqual(['webgpu']);
    expect(h.info!.execution.fallbacks[0]!.reason).toMatch(/^navigator\.gpu/);
    expect(await page.locator('#backend').textContent()).toContain(`Running on WebAssembly, ${env.cores} thread`);
    expect(await page.locator('#summary').textContent()).toContain('mix.wav: 10.0 s of audio separated in');
    expect(await page.locator('#stem-rows tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.stem))).toEqual(SOURCES);
    await page.screenshot({ path: join(ARTIFACTS, 'web-demo-done.png'), fullPage: true });

    // A stem downloads as a WAV of the same audio (16-bit).
    const stems = await pageStems(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('tr[data-stem="vocals"] button')]);
    expect(download.suggestedFilename()).toBe('mix.vocals.wav');
    const wav = decodeWav(new Uint8Array(readFileSync((await download.path())!)));
    expect(wav.sampleRate).toBe(44100);
    expect(snrDb(joined(stems.vocals!), joined(wav.channels))).toBeGreaterThan(50);
    await page.close();
    expect(isolated.hits.get(MODEL_PATH)).toBe(1);

    // The same input through onnxruntime-node in this process.
    const session = await new OrtNodeBackend().load(await realModelPath());
    const reference = await new Separator(session, { shifts: 0 }).separate({ sampleRate: 44100, channels: e2eMix() });
    await session.dispose();
    const report: Record<string, string> = {};
    for (const name of SOURCES) {
      const snr = snrDb(joined(reference.stems[name]!), joined(stems[name]!));
      report[name] = `${snr.toFixed(1)} dB`;
      expect(snr, name).toBeGreaterThanOrEqual(60);
    }
    console.info(`browser vs onnxruntime-node (page run ${seconds.toFixed(1)} s):`, report);
  });

  it('reads the model from the Cache API on the next visit, and cancels mid-separation: "Cancelled", no stems', async () => {
    const page = await context.newPage();
    await page.goto(isolated.url);
    await page.selectOption('#shifts', '0');
    await page.setInputFiles('#file', MIX);
    await waitForState(page, ['separating'], 120_000);
    await page.waitForFunction(() => /0 of 2 windows/.test(document.getElementById('detail')!.textContent ?? ''), undefined, { timeout: 30_000 });
    const h = await handle(page);
    expect(h.info!.fromCache).toBe(true);
    expect(isolated.hits.get(MODEL_PATH)).toBe(1);

    const clicked = performance.now();
    await page.click('#cancel');
    expect(await waitForState(page, ['cancelled', 'done', 'error'], 5_000)).toBe('cancelled');
    expect(performance.now() - clicked).toBeLessThan(2_000);
    expect(await page.locator('#stage').textContent()).toBe('Cancelled');
    expect(await page.locator('#stems').isHidden()).toBe(true);
    const after = await handle(page);
    expect(after.result).toBeUndefined();
    expect(after.error).toBeUndefined();
    await page.screenshot({ path: join(ARTIFACTS, 'web-demo-cancelled.png'), fullPage: true });
    await page.close();
  });

  it('shows a readable error for a text file and a truncated WAV; without COOP/COEP it runs single-threaded and says why', async () => {
    const page = await context.newPage();
    await page.goto(plain.url);
    const env = await page.evaluate(() => ({ isolated: crossOriginIsolated, cores: navigator.hardwareConcurrency }));
    expect(env.isolated).toBe(false);

    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('these are my notes, not a song\n') });
    expect(await waitForState(page, ['error', 'done'], 30_000)).toBe('error');
    const error = page.locator('#error');
    expect(await error.isVisible()).toBe(true);
    expect(await error.textContent()).toContain('Could not separate notes.txt');
    expect(await error.textContent()).toContain('notes.txt: not a recognised audio file: it starts with text "these are my notes, not a song');
    expect(await error.textContent()).toContain('Convert the file to WAV or FLAC');
    expect((await handle(page)).error!.code).toBe('ERR_AUDIO_FORMAT');
    await page.screenshot({ path: join(ARTIFACTS, 'web-demo-error.png'), fullPage: true });

    await page.setInputFiles('#file', { name: 'cut.wav', mimeType: 'audio/wav', buffer: readFileSync(MIX).subarray(0, 100_000) });
    await page.waitForFunction(() => document.getElementById('error')!.textContent!.includes('cut.wav'), undefined, { timeout: 30_000 });
    expect(await error.textContent()).toContain('cut.wav: WAV data chunk declares 3528000 bytes but only 99942 bytes are present');
    expect((await handle(page)).error!.code).toBe('ERR_AUDIO_TRUNCATED');

    // The model went on loading behind the errors; without isolation it runs on one thread.
    await page.waitForFunction(() => (window as unknown as { demucsDemo: Handle }).demucsDemo.info !== undefined, undefined, { timeout: 120_000, polling: 500 });
    const { execution } = (await handle(page)).info!;
    expect(execution).toMatchObject({ provider: 'wasm', threads: 1, crossOriginIsolated: false });
    if (env.cores > 1) {
      expect(execution.fallbacks).toContainEqual({
        provider: 'wasm',
        threads: env.cores,
        reason: expect.stringMatching(/^the page is not cross-origin isolated \(crossOriginIsolated is false\)/),
      });
    }
    expect(await page.locator('#backend').textContent()).toContain('Running on WebAssembly, 1 thread.');
    await page.close();
  });
});
