/**
 * The benchmark's page: `window.runBench(options)` loads the model in a fresh worker, separates
 * `/mix.wav` once (shifts 0) and returns the timings, measured here in the page.
 */
import { fetchModel, WebSeparator, type WebExecutionProvider } from 'demucs-mobile/web';

/** One benchmark run, as the driver asks for it. */
interface BenchOptions {
  readonly providers: WebExecutionProvider[];
  readonly threads?: number;
  readonly ort?: 'webgpu-build';
  readonly softwareGpu?: boolean;
  /** Give up after this many seconds of separation (WebGPU on a software adapter). */
  readonly timeoutSeconds: number;
}

async function runBench(options: BenchOptions) {
  const config = await (await fetch('/config.json')).json();
  const worker = new Worker(`/bench-worker.js${options.ort === undefined ? '' : `?ort=${options.ort}`}`, { type: 'module' });
  const separator = new WebSeparator({ worker });
  try {
    const loadStart = performance.now();
    let info;
    try {
      info = await separator.load(config.modelUrl, {
        sha256: config.sha256,
        backend: {
          providers: options.providers,
          wasmPaths: config.wasmPaths,
          ...(options.threads === undefined ? {} : { threads: options.threads }),
          ...(options.softwareGpu === undefined ? {} : { softwareGpu: options.softwareGpu }),
        },
      });
    } catch (e) {
      return { ok: false as const, loadSeconds: (performance.now() - loadStart) / 1000, windowSeconds: [], error: `load failed: ${e instanceof Error ? e.message : String(e)}` };
    }
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const bytes = new Uint8Array(await (await fetch('/mix.wav')).arrayBuffer());
    const marks: number[] = [];
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`timeout after ${options.timeoutSeconds} s`)), options.timeoutSeconds * 1000);
    try {
      const result = await separator.separate(bytes, {
        shifts: 0,
        signal: controller.signal,
        onProgress: () => marks.push(performance.now()),
      });
      const windowSeconds = marks.slice(1).map((t, i) => (t - marks[i]!) / 1000);
      const frames = result.stems[result.sources[0]!]![0]!.length;
      return { ok: true as const, info, loadSeconds, separateSeconds: result.seconds, windowSeconds, audioSeconds: frames / result.sampleRate };
    } catch (e) {
      const windowSeconds = marks.slice(1).map((t, i) => (t - marks[i]!) / 1000);
      return { ok: false as const, info, loadSeconds, windowSeconds, error: e instanceof Error ? e.message : String(e) };
    } finally {
      clearTimeout(timer);
    }
  } finally {
    worker.terminate();
  }
}

/** Downloads the model into this origin's Cache API (where the worker's loads then find it). */
async function warmCache(): Promise<void> {
  const config = await (await fetch('/config.json')).json();
  await fetchModel(config.modelUrl, { sha256: config.sha256 });
}

Object.assign(window, { runBench, warmCache });
