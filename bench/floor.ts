/**
 * The floor of a benchmark case: model-only time for a number of windows. Loads the model
 * with the CLI's session settings and calls `session.run` on one fixed window, N times, with
 * nothing else in the loop. Prints one JSON line: `{ loadS, runS, runsMs }`.
 *
 *   tsx bench/floor.ts <model.onnx> <windows> <backend options JSON>
 */
import { OrtNodeBackend, type OrtNodeBackendOptions } from '../src/backends/ort-node.js';

const [model, windowsText, optionsJson] = process.argv.slice(2);
const windows = Number(windowsText);
const options = JSON.parse(optionsJson ?? '{}') as OrtNodeBackendOptions;
const t0 = performance.now();
const session = await new OrtNodeBackend(options).load(model!);
const loadS = (performance.now() - t0) / 1000;
const { segmentSamples: L, frames: T, bins: F } = session.spec;
// A fixed music-like window; HTDemucs has no data-dependent control flow, so the values do
// not change the cost.
let seed = 12345;
const noise = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.5;
const input = { wave: Float32Array.from({ length: 2 * L }, noise), spec: Float32Array.from({ length: 4 * F * T }, noise) };
const runsMs: number[] = [];
for (let i = 0; i < windows; i++) {
  const t = performance.now();
  await session.run([input]);
  runsMs.push(Math.round(performance.now() - t));
}
await session.dispose();
console.log(JSON.stringify({ loadS, runS: runsMs.reduce((a, b) => a + b, 0) / 1000, runsMs }));
