/**
 * The browser demo: pick or drop a song, watch the model download and the separation (with
 * an ETA), cancel, then play the stems (mute/solo) and download each as WAV.
 *
 * Everything heavy runs in `worker.ts` through {@link WebSeparator}; this file only drives
 * the page. The page's state is mirrored on `document.body.dataset.state` and the last
 * result on `window.demucsDemo`, for the browser tests.
 */
import { ERROR_CODES, isDemucsError } from 'demucs-mobile';
import { encodeWav } from 'demucs-mobile/audio';
import { WebSeparator, type ExecutionReport, type SeparationStage, type WebModelInfo, type WebSeparationResult } from 'demucs-mobile/web';

interface DemoConfig {
  readonly modelUrl: string;
  readonly sha256: string;
  readonly modelBytes: number;
  readonly wasmPaths: string;
}

type State = 'idle' | 'loading-model' | 'decoding' | 'separating' | 'done' | 'cancelled' | 'error';

/** What the tests read. */
interface DemoHandle {
  state: State;
  info?: WebModelInfo;
  result?: WebSeparationResult;
  error?: { name: string; message: string; code?: string };
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const ui = {
  drop: $<HTMLLabelElement>('drop'),
  file: $<HTMLInputElement>('file'),
  filename: $('filename'),
  shifts: $<HTMLSelectElement>('shifts'),
  backend: $('backend'),
  status: $('status'),
  stage: $('stage'),
  progress: $<HTMLProgressElement>('progress'),
  cancel: $<HTMLButtonElement>('cancel'),
  detail: $('detail'),
  error: $('error'),
  stems: $('stems'),
  rows: $('stem-rows'),
  play: $<HTMLButtonElement>('play'),
  clock: $('clock'),
  summary: $('summary'),
};

const handle: DemoHandle = { state: 'idle' };
(window as unknown as { demucsDemo: DemoHandle }).demucsDemo = handle;

function setState(state: State): void {
  handle.state = state;
  document.body.dataset.state = state;
}

const config: DemoConfig = await (await fetch('/config.json')).json();
const separator = new WebSeparator({ worker: new Worker('/worker.js', { type: 'module', name: 'demucs-mobile' }) });
let modelInfo: Promise<WebModelInfo> | undefined;
let modelReady = false;
/** Cancels the model load: only the Cancel button does, not a new file replacing a run. */
let modelLoad: AbortController | undefined;
let current: AbortController | undefined;

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;
const clock = (seconds: number): string => `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, '0')}`;

function describeExecution(e: ExecutionReport): string {
  const what = e.provider === 'webgpu' ? 'WebGPU' : `WebAssembly, ${e.threads} thread${e.threads === 1 ? '' : 's'}`;
  const why = e.fallbacks.map((f) => `${f.provider === 'webgpu' ? 'WebGPU' : `${f.threads ?? 'More'} threads`} not used: ${f.reason}.`);
  return [`Running on ${what}.`, ...why].join(' ');
}

function loadModel(): Promise<WebModelInfo> {
  if (modelInfo !== undefined) return modelInfo;
  modelLoad = new AbortController();
  modelInfo = separator
    .load(config.modelUrl, {
      sha256: config.sha256,
      backend: { wasmPaths: config.wasmPaths },
      signal: modelLoad.signal,
      onDownloadProgress: ({ loaded, total, fromCache }) => {
        if (fromCache) {
          ui.stage.textContent = 'Model found in this browser’s cache';
          ui.detail.textContent = 'Checking it and starting the model…';
          ui.progress.value = 1;
          return;
        }
        const size = total ?? config.modelBytes;
        ui.progress.value = size > 0 ? loaded / size : 0;
        ui.detail.textContent = `${mb(loaded)} of ${mb(size)} (downloaded once, then kept in this browser)`;
        if (loaded >= size) ui.detail.textContent = 'Checking the download and starting the model…';
      },
    })
    .then((info) => {
      modelReady = true;
      handle.info = info;
      ui.backend.textContent = describeExecution(info.execution);
      return info;
    });
  // A failed or cancelled load is tried again next time.
  modelInfo.catch(() => (modelInfo = undefined));
  return modelInfo;
}

async function run(file: File): Promise<void> {
  current?.abort(new DOMException('replaced by a new file', 'AbortError'));
  const controller = new AbortController();
  current = controller;
  const { signal } = controller;
  stopPlayback();
  delete handle.result;
  delete handle.error;
  ui.error.hidden = true;
  ui.stems.hidden = true;
  ui.rows.replaceChildren();
  ui.status.hidden = false;
  ui.cancel.disabled = false;
  ui.filename.textContent = file.name;
  ui.progress.value = 0;
  ui.detail.textContent = '';
  try {
    setState('loading-model');
    ui.stage.textContent = 'Downloading the model';
    const model = loadModel();
    // The worker decodes the file at once (a bad file fails here, before the model is ready).
    const result = separator.separate(file, {
      signal,
      shifts: Number(ui.shifts.value),
      onStage: (stage: SeparationStage) => {
        if (stage === 'decoding') {
          setState('decoding');
          ui.stage.textContent = 'Reading the song';
        } else if (stage === 'resampling') {
          ui.stage.textContent = 'Converting to 44.1 kHz';
        } else if (stage === 'waiting-for-model') {
          setState('loading-model');
          ui.stage.textContent = 'Downloading the model';
        } else {
          setState('separating');
          ui.stage.textContent = 'Separating';
          ui.progress.value = 0;
          ui.detail.textContent = 'Estimating time left…';
        }
      },
      onProgress: (p) => {
        ui.progress.value = p.fraction;
        const eta = p.etaSeconds === undefined ? 'estimating time left…' : `about ${clock(Math.ceil(p.etaSeconds))} left`;
        ui.detail.textContent = `${Math.round(p.fraction * 100)} % (${p.windowsDone} of ${p.windowsTotal} windows), ${eta}`;
      },
    });
    // Observe both; the first failure wins.
    const [, separated] = await Promise.all([model, result]);
    if (signal.aborted) return;
    handle.result = separated;
    showStems(separated, file.name);
    ui.status.hidden = true;
    setState('done');
  } catch (e) {
    if (current !== controller) return; // a newer file took over
    if (signal.aborted) {
      ui.stage.textContent = 'Cancelled';
      ui.detail.textContent = 'No stems were made. Choose a song to start again.';
      ui.progress.value = 0;
      ui.cancel.disabled = true;
      setState('cancelled');
      return;
    }
    showError(e, file.name);
  }
}

function showError(e: unknown, name: string): void {
  const error = e instanceof Error ? e : new Error(String(e));
  const code = isDemucsError(error) ? error.code : undefined;
  handle.error = { name: error.name, message: error.message, ...(code === undefined ? {} : { code }) };
  ui.status.hidden = true;
  const title = document.createElement('strong');
  title.textContent = `Could not separate ${name}`;
  const message = document.createElement('p');
  message.textContent = error.message;
  ui.error.replaceChildren(title, message);
  if (code !== undefined) {
    const fix = document.createElement('p');
    fix.textContent = ERROR_CODES[code].fix;
    ui.error.append(fix);
  }
  ui.error.hidden = false;
  setState('error');
}

// #region Playback: one AudioBufferSourceNode per stem, each through its own gain (mute/solo).

interface StemTrack {
  readonly name: string;
  readonly channels: readonly Float32Array[];
  /** Made on the first play, when the page may start audio. */
  nodes?: { readonly buffer: AudioBuffer; readonly gain: GainNode };
  mute: boolean;
  solo: boolean;
}

let audio: AudioContext | undefined;
let tracks: StemTrack[] = [];
let sources: AudioBufferSourceNode[] = [];
let startedAt = 0;
let offset = 0;
let duration = 0;
let timer: number | undefined;

function context(): AudioContext {
  audio ??= new AudioContext({ sampleRate: 44100 });
  return audio;
}

function applyGains(): void {
  const anySolo = tracks.some((t) => t.solo);
  for (const t of tracks) if (t.nodes !== undefined) t.nodes.gain.gain.value = (anySolo ? t.solo : !t.mute) ? 1 : 0;
}

function position(): number {
  return sources.length > 0 && audio !== undefined ? Math.min(duration, offset + audio.currentTime - startedAt) : offset;
}

function stopPlayback(keepPosition = false): void {
  if (keepPosition) offset = position();
  for (const s of sources) {
    s.onended = null;
    s.stop();
  }
  sources = [];
  if (!keepPosition) offset = 0;
  if (timer !== undefined) clearInterval(timer);
  timer = undefined;
  ui.play.textContent = 'Play';
}

function play(): void {
  const ctx = context();
  void ctx.resume();
  if (offset >= duration) offset = 0;
  for (const t of tracks) {
    if (t.nodes !== undefined) continue;
    const buffer = ctx.createBuffer(2, t.channels[0]!.length, 44100);
    t.channels.forEach((c, i) => buffer.copyToChannel(c as Float32Array<ArrayBuffer>, i));
    const gain = ctx.createGain();
    gain.connect(ctx.destination);
    t.nodes = { buffer, gain };
  }
  applyGains();
  startedAt = ctx.currentTime;
  sources = tracks.map((t) => {
    const s = ctx.createBufferSource();
    s.buffer = t.nodes!.buffer;
    s.connect(t.nodes!.gain);
    s.start(0, offset);
    return s;
  });
  sources[0]!.onended = () => stopPlayback();
  ui.play.textContent = 'Pause';
  timer = window.setInterval(() => (ui.clock.textContent = `${clock(position())} / ${clock(duration)}`), 250);
}

ui.play.addEventListener('click', () => (sources.length > 0 ? stopPlayback(true) : play()));

function showStems(result: WebSeparationResult, fileName: string): void {
  const base = fileName.replace(/\.[^.]*$/, '');
  duration = (result.stems[result.sources[0]!]![0]!.length ?? 0) / result.sampleRate;
  tracks = result.sources.map((name) => ({ name, channels: result.stems[name]!, mute: false, solo: false }));
  ui.rows.replaceChildren(
    ...tracks.map((t) => {
      const row = document.createElement('tr');
      row.dataset.stem = t.name;
      const name = document.createElement('td');
      name.className = 'name';
      name.textContent = t.name;
      const controls = document.createElement('td');
      for (const kind of ['mute', 'solo'] as const) {
        const label = document.createElement('label');
        label.className = 'toggle';
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.name = `${kind}-${t.name}`;
        box.addEventListener('change', () => {
          t[kind] = box.checked;
          applyGains();
        });
        label.append(box, kind === 'mute' ? 'Mute' : 'Solo');
        controls.append(label);
      }
      const download = document.createElement('td');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Download WAV';
      button.addEventListener('click', () => {
        const wav = encodeWav({ sampleRate: result.sampleRate, channels: result.stems[t.name]! });
        const url = URL.createObjectURL(new Blob([wav as Uint8Array<ArrayBuffer>], { type: 'audio/wav' }));
        const a = document.createElement('a');
        a.href = url;
        a.download = `${base}.${t.name}.wav`;
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      });
      download.append(button);
      row.append(name, controls, download);
      return row;
    }),
  );
  applyGains();
  offset = 0;
  ui.clock.textContent = `0:00 / ${clock(duration)}`;
  const engine = handle.info === undefined ? '' : ` on ${handle.info.execution.provider === 'webgpu' ? 'WebGPU' : `WebAssembly (${handle.info.execution.threads} thread${handle.info.execution.threads === 1 ? '' : 's'})`}`;
  ui.summary.textContent = `${fileName}: ${duration.toFixed(1)} s of audio separated in ${result.seconds.toFixed(1)} s${engine}.`;
  ui.stems.hidden = false;
}

// #endregion

// #region Picking and dropping

ui.file.addEventListener('change', () => {
  const file = ui.file.files?.[0];
  if (file !== undefined) void run(file);
  ui.file.value = '';
});
ui.cancel.addEventListener('click', () => {
  const reason = new DOMException('cancelled by the user', 'AbortError');
  if (!modelReady) modelLoad?.abort(reason);
  current?.abort(reason);
});
for (const type of ['dragenter', 'dragover'] as const) {
  ui.drop.addEventListener(type, (e) => {
    e.preventDefault();
    ui.drop.classList.add('over');
  });
}
ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
ui.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  ui.drop.classList.remove('over');
  const file = e.dataTransfer?.files[0];
  if (file !== undefined) void run(file);
});

// #endregion

setState('idle');
