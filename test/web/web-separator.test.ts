/**
 * WebSeparator and serveSeparation talking over a real MessageChannel (structured clone and
 * transfer as between a page and its worker), with onnxruntime-web's Node build and the
 * stand-in model: the result matches the PyTorch fixture, and stages, progress, cancel and
 * errors cross intact.
 */
import { readFileSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeWav } from '../../src/audio.js';
import { resampledLength } from '../../src/io/resample.js';
import { serveSeparation, WebSeparator, type SeparationStage, type WorkerLike, type WorkerScope } from '../../src/web.js';
import { fixturePath, maxAbsDiff, readF32 } from '../helpers/fixtures.js';
import { rejection } from '../helpers/rejection.js';

const STANDIN = new Uint8Array(readFileSync(fixturePath('chunking/standin.onnx')));
const BASE_FRAMES = 700001;
const base = readF32('chunking/track_base.f32', [2, BASE_FRAMES]);

/** A page/worker pair over a MessageChannel; `posted` records what the page sent. */
function connect(): { separator: WebSeparator; posted: { message: unknown; transfer: Transferable[] }[]; close(): void } {
  const { port1, port2 } = new MessageChannel();
  const posted: { message: unknown; transfer: Transferable[] }[] = [];
  const worker: WorkerLike = {
    postMessage: (message, transfer) => {
      posted.push({ message, transfer });
      port1.postMessage(message, transfer as never);
    },
    addEventListener: (type, listener) => {
      if (type === 'message') port1.on('message', (data) => listener({ data }));
    },
    terminate: () => port1.close(),
  };
  const scope: WorkerScope = {
    postMessage: (message, transfer) => port2.postMessage(message, transfer as never),
    addEventListener: (_type, listener) => port2.on('message', (data) => listener({ data })),
  };
  expect(serveSeparation(scope)).toBe(true);
  return { separator: new WebSeparator({ worker }), posted, close: () => port2.close() };
}

let opened: ReturnType<typeof connect>[] = [];
afterEach(async () => {
  for (const c of opened) {
    await c.separator.dispose();
    c.close();
  }
  opened = [];
});

function open(): ReturnType<typeof connect> {
  const c = connect();
  opened.push(c);
  return c;
}

describe('WebSeparator over a MessageChannel', () => {
  it('loads bytes, separates planar audio with stages and progress, and matches the fixture; stems are transferred', async () => {
    const { separator, posted } = open();
    const info = await separator.load(STANDIN.slice(), { backend: { providers: ['wasm'] } });
    expect(info.spec.sources).toEqual(['source0', 'source1']);
    expect(info.execution.provider).toBe('wasm');
    expect(info.fromCache).toBe(false);

    const stages: SeparationStage[] = [];
    const fractions: number[] = [];
    const left = base.slice(0, 100000);
    const right = base.slice(BASE_FRAMES, BASE_FRAMES + 100000);
    const result = await separator.separate(
      { sampleRate: 44100, channels: [left, right] },
      { shifts: 0, onStage: (s) => stages.push(s), onProgress: (p) => fractions.push(p.fraction) },
    );
    expect(stages).toEqual(['separating']);
    expect(fractions).toEqual([0, 1]);
    expect(result).toMatchObject({ sampleRate: 44100, inputSampleRate: 44100, sources: ['source0', 'source1'], shiftOffsets: [] });
    expect(left.length).toBe(100000); // copied, not transferred, by default
    const sent = posted.find((p) => (p.message as { type: string }).type === 'separate')!;
    expect(sent.transfer).toHaveLength(2);
    const ref = readF32('chunking/len100000_stems.f32', [2, 2, 100000]);
    for (let s = 0; s < 2; s++) {
      for (let c = 0; c < 2; c++) {
        const { max } = maxAbsDiff(result.stems[`source${s}`]![c]!, ref.subarray((s * 2 + c) * 100000, (s * 2 + c + 1) * 100000));
        expect(max).toBeLessThanOrEqual(2e-6);
      }
    }
  });

  it('decodes and resamples a file in the worker (48 kHz mono WAV → 44.1 kHz stereo stems)', async () => {
    const { separator } = open();
    await separator.load(STANDIN.slice(), { backend: { providers: ['wasm'] } });
    const mono = base.slice(0, 48000);
    const wav = encodeWav({ sampleRate: 48000, channels: [mono] }, { bitDepth: 32, clipMode: 'none' });
    const stages: SeparationStage[] = [];
    const result = await separator.separate(wav, { shifts: 1, seed: 3, name: 'song.wav', onStage: (s) => stages.push(s) });
    expect(stages).toEqual(['decoding', 'resampling', 'separating']);
    expect(result.inputSampleRate).toBe(48000);
    expect(result.stems.source0![0]!.length).toBe(resampledLength(48000, 48000, 44100));
    expect(result.seed).toBe(3);
    expect(result.shiftOffsets).toHaveLength(1);
  });

  it('reports a bad file with its name and code, at once and even before a model is loaded', async () => {
    const { separator } = open();
    const text = new TextEncoder().encode('these are my notes, not a song\n');
    const notAudio = await rejection(separator.separate(text, { name: 'notes.txt' }));
    expect(notAudio.code).toBe('ERR_AUDIO_FORMAT');
    expect(notAudio.name).toBe('DemucsError');
    expect(notAudio.message).toMatch(/^notes\.txt: /);

    const wav = encodeWav({ sampleRate: 44100, channels: [base.slice(0, 44100)] });
    const truncated = await rejection(separator.separate(wav.subarray(0, 20000), { name: 'cut.wav' }));
    expect(truncated.code).toBe('ERR_AUDIO_TRUNCATED');

    const unloaded = await rejection(separator.separate({ sampleRate: 44100, channels: [base.slice(0, 1000)] }));
    expect(unloaded.message).toBe('no model loaded: call load() before separate()');
  });

  it('cancels at once with the signal\'s reason; the worker serves the next call', async () => {
    const { separator } = open();
    await separator.load(STANDIN.slice(), { backend: { providers: ['wasm'] } });
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const long = { sampleRate: 44100, channels: [base.slice(0, BASE_FRAMES), base.slice(BASE_FRAMES)] };
    const p = separator.separate(long, {
      shifts: 0,
      signal: controller.signal,
      onProgress: (pr) => {
        if (pr.windowsDone === 1) controller.abort(reason);
      },
    });
    await expect(p).rejects.toBe(reason);
    const next = await separator.separate({ sampleRate: 44100, channels: [base.slice(0, 50000)] }, { shifts: 0 });
    expect(next.stems.source1![1]!.length).toBe(50000);
    await separator.dispose();
    expect((await rejection(separator.separate(long))).code).toBe('ERR_DISPOSED');
  });
});
