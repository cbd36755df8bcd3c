/**
 * The CLI's pipeline (WAV file source → Separator → WAV file writers) in one process with
 * given backend options, to measure a setting's effect on the whole run, not just on
 * `session.run`. Prints `{ seconds, windows }`.
 *
 *   tsx bench/pipeline.ts <model.onnx> <input.wav> <out-dir> <backend options JSON>
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { Separator } from '../src/core/separator.js';
import { OrtNodeBackend, type OrtNodeBackendOptions } from '../src/backends/ort-node.js';
import { WavFileSource, WavFileWriter } from '../src/node/wav-file.js';

const [model, input, out, optionsJson] = process.argv.slice(2);
const started = performance.now();
const session = await new OrtNodeBackend(JSON.parse(optionsJson ?? '{}') as OrtNodeBackendOptions).load(model!);
const source = await WavFileSource.open(input!);
mkdirSync(out!, { recursive: true });
const writers = await Promise.all(
  session.spec.sources.map((name) => WavFileWriter.create(join(out!, `${name}.wav`), { channelCount: 2, sampleRate: 44100, frames: source.frames })),
);
let windows = 0;
for await (const block of new Separator(session, { seed: 1 }).stream(source, { onProgress: (p) => (windows = p.windowsDone) })) {
  for (const [s, w] of writers.entries()) await w.write(block.stems[s]!);
}
for (const w of writers) await w.finish();
await source.close();
await session.dispose();
console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, windows }));
