import { describe, expect, it } from 'vitest';
import { readModelSpec, type TensorInfo } from '../../src/core/model-spec.js';
import { DemucsError } from '../../src/core/errors.js';

const npmInputs: TensorInfo[] = [
  { name: 'input', shape: [1, 2, 343980] },
  { name: 'onnx::ReduceMean_1', shape: [1, 4, 2048, 336] },
];
const npmOutputs: TensorInfo[] = [
  { name: 'output', shape: [1, 4, 4, 2048, 336] },
  { name: '5073', shape: [1, 4, 2, 343980] },
];

function shapeError(inputs: TensorInfo[], outputs: TensorInfo[]): DemucsError {
  try {
    readModelSpec(inputs, outputs);
  } catch (e) {
    return e as DemucsError;
  }
  throw new Error('expected readModelSpec to throw');
}

describe('readModelSpec', () => {
  it('reads the npm model: 4 sources, 343980 samples, 336 frames, 2048 bins', () => {
    const { spec, binding } = readModelSpec(npmInputs, npmOutputs);
    expect(spec).toEqual({
      sampleRate: 44100,
      audioChannels: 2,
      segmentSamples: 343980,
      dynamicSegment: false,
      frames: 336,
      bins: 2048,
      sources: ['drums', 'bass', 'other', 'vocals'],
    });
    expect(binding).toEqual({ waveInput: 0, specInput: 1, specOutput: 0, waveOutput: 1 });
  });

  it('binds by rank, not position or name, when an export orders tensors differently', () => {
    const { binding } = readModelSpec([npmInputs[1]!, npmInputs[0]!], [npmOutputs[1]!, npmOutputs[0]!]);
    expect(binding).toEqual({ waveInput: 1, specInput: 0, specOutput: 1, waveOutput: 0 });
  });

  it('names 6 sources with guitar and piano, and reads a 1 s model (44 frames)', () => {
    const six = readModelSpec(npmInputs, [
      { name: 'a', shape: [1, 6, 4, 2048, 336] },
      { name: 'b', shape: [1, 6, 2, 343980] },
    ]);
    expect(six.spec.sources).toEqual(['drums', 'bass', 'other', 'vocals', 'guitar', 'piano']);
    const oneSecond = readModelSpec(
      [
        { name: 'x', shape: [1, 2, 44100] },
        { name: 'y', shape: [1, 4, 2048, 44] },
      ],
      [
        { name: 'z', shape: [1, 4, 4, 2048, 44] },
        { name: 'w', shape: [1, 4, 2, 44100] },
      ],
    );
    expect([oneSecond.spec.segmentSamples, oneSecond.spec.frames]).toEqual([44100, 44]);
  });

  it('reads a dynamic-length model with symbolic dims', () => {
    const { spec } = readModelSpec(
      [
        { name: 'x', shape: [1, 2, 'samples'] },
        { name: 'y', shape: [1, 4, 2048, 'frames'] },
      ],
      [
        { name: 'z', shape: [1, 4, 4, 2048, 'frames'] },
        { name: 'w', shape: [1, 4, 2, 'samples'] },
      ],
    );
    expect(spec.dynamicSegment).toBe(true);
    expect(spec.segmentSamples).toBe(343980);
  });

  it('rejects graphs that are not HTDemucs with ERR_MODEL_SHAPE naming the tensor and shape', () => {
    const mono = shapeError([{ name: 'input', shape: [1, 1, 343980] }, npmInputs[1]!], npmOutputs);
    expect(mono.code).toBe('ERR_MODEL_SHAPE');
    expect(mono.message).toMatch(/waveform input "input" \[1, 1, 343980\] has 1 at axis 1, not 2/);
    const frames = shapeError(npmInputs, [{ name: 'output', shape: [1, 4, 4, 2048, 335] }, npmOutputs[1]!]);
    expect(frames.message).toMatch(/336 frames but the spectral output 335/);
    const three = shapeError([...npmInputs, { name: 'extra', shape: [1] }], npmOutputs);
    expect(three.message).toMatch(/3 inputs \(input, onnx::ReduceMean_1, extra\)/);
    const image = shapeError(
      [
        { name: 'pixel_values', shape: [1, 3, 224, 224] },
        { name: 'mask', shape: [1, 224] },
      ],
      npmOutputs,
    );
    expect(image.code).toBe('ERR_MODEL_SHAPE');
    const batched = shapeError([{ name: 'input', shape: [4, 2, 343980] }, npmInputs[1]!], npmOutputs);
    expect(batched.message).toMatch(/batch 4/);
  });

  it('rejects source names that do not match the count', () => {
    expect(() => readModelSpec(npmInputs, npmOutputs, { sources: ['a', 'b'] })).toThrow(/2 names\) must match the model's 4 sources/);
  });
});
