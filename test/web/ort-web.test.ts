/**
 * OrtWebBackend's provider choice and fallback reasons, run in Node with onnxruntime-web's
 * Node build (WebAssembly) and the stand-in model. Browser globals (`navigator.gpu`,
 * `crossOriginIsolated`, `hardwareConcurrency`) are stubbed; a wrapper around the real module
 * plays a WebGPU provider that fails, and gives each test a fresh `env`.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { OrtWebBackend } from '../../src/web.js';
import { fixturePath } from '../helpers/fixtures.js';
import { rejection } from '../helpers/rejection.js';

const STANDIN = new Uint8Array(readFileSync(fixturePath('chunking/standin.onnx')));
let real: { InferenceSession: { create(bytes: Uint8Array, o: object): Promise<unknown> }; Tensor: unknown };

beforeAll(async () => {
  const mod = (await import('onnxruntime-web')) as unknown as { default?: typeof real } & typeof real;
  real = mod.default ?? mod;
});
afterEach(() => vi.unstubAllGlobals());

/** A module whose sessions are the real WebAssembly ones, with its own `env` and a scripted WebGPU. */
function fakeOrt(webgpu: 'fails' | 'works' = 'fails') {
  const attempts: string[] = [];
  const ort = {
    env: { wasm: {} as { numThreads?: number; wasmPaths?: unknown; proxy?: boolean }, webgpu: {} as { adapter?: unknown } },
    Tensor: real.Tensor,
    InferenceSession: {
      async create(bytes: Uint8Array, options: { executionProviders: string[] }) {
        const provider = options.executionProviders[0]!;
        attempts.push(provider);
        if (provider === 'webgpu' && webgpu === 'fails') throw new Error('no available backend found. ERR: [webgpu] backend not found.');
        return real.InferenceSession.create(bytes, { ...options, executionProviders: ['wasm'] });
      },
    },
  };
  return { ort, attempts };
}

describe('OrtWebBackend', () => {
  it('loads the stand-in model on WebAssembly and says why WebGPU was passed over (no navigator.gpu)', async () => {
    const { ort, attempts } = fakeOrt();
    const session = await new OrtWebBackend({ ort }).load(STANDIN);
    expect(session.spec.sources).toEqual(['source0', 'source1']);
    expect(session.execution.provider).toBe('wasm');
    expect(session.execution.fallbacks).toEqual([{ provider: 'webgpu', reason: 'navigator.gpu is undefined (no WebGPU in this browser or context)' }]);
    expect(attempts).toEqual(['wasm']);
    await session.dispose();
  });

  it('reports a browser without a GPU adapter, and one whose WebGPU session fails', async () => {
    vi.stubGlobal('navigator', { hardwareConcurrency: 1, gpu: { requestAdapter: async () => null } });
    const noAdapter = await new OrtWebBackend({ ort: fakeOrt().ort }).load(STANDIN);
    expect(noAdapter.execution.fallbacks).toEqual([{ provider: 'webgpu', reason: 'navigator.gpu.requestAdapter() returned null (no usable GPU adapter)' }]);
    await noAdapter.dispose();

    const adapter = { name: 'fake adapter' };
    vi.stubGlobal('navigator', { hardwareConcurrency: 1, gpu: { requestAdapter: async () => adapter } });
    const { ort, attempts } = fakeOrt('fails');
    const failing = await new OrtWebBackend({ ort }).load(STANDIN);
    expect(attempts).toEqual(['webgpu', 'wasm']);
    expect(ort.env.webgpu.adapter).toBe(adapter);
    expect(failing.execution.provider).toBe('wasm');
    expect(failing.execution.fallbacks[0]!.reason).toMatch(/^onnxruntime-web could not create a session: no available backend found/);
    await failing.dispose();
  });

  it('passes over a software adapter (SwiftShader) unless softwareGpu is set', async () => {
    vi.stubGlobal('navigator', { hardwareConcurrency: 1, gpu: { requestAdapter: async () => ({ info: { vendor: 'google', architecture: 'swiftshader' } }) } });
    const passed = await new OrtWebBackend({ ort: fakeOrt('works').ort }).load(STANDIN);
    expect(passed.execution.provider).toBe('wasm');
    expect(passed.execution.fallbacks).toEqual([
      { provider: 'webgpu', reason: 'the only GPU adapter is a software one (google swiftshader), far slower than WebAssembly on the same CPU' },
    ]);
    await passed.dispose();
    const forced = await new OrtWebBackend({ ort: fakeOrt('works').ort, softwareGpu: true }).load(STANDIN);
    expect(forced.execution.provider).toBe('webgpu');
    await forced.dispose();
  });

  it('chooses WebGPU when the adapter and the session are there', async () => {
    vi.stubGlobal('navigator', { hardwareConcurrency: 1, gpu: { requestAdapter: async () => ({}) } });
    const { ort } = fakeOrt('works');
    const session = await new OrtWebBackend({ ort }).load(STANDIN);
    expect(session.execution).toMatchObject({ provider: 'webgpu', fallbacks: [] });
    await session.dispose();
  });

  it('runs single-threaded when the page is not cross-origin isolated, saying so; threaded when it is', async () => {
    vi.stubGlobal('navigator', { hardwareConcurrency: 4 });
    vi.stubGlobal('crossOriginIsolated', false);
    const plain = fakeOrt();
    const single = await new OrtWebBackend({ ort: plain.ort, providers: ['wasm'], wasmPaths: '/ort/' }).load(STANDIN);
    expect(plain.ort.env.wasm).toEqual({ numThreads: 1, proxy: false, wasmPaths: '/ort/' });
    expect(single.execution).toMatchObject({ provider: 'wasm', threads: 1, crossOriginIsolated: false });
    expect(single.execution.fallbacks).toHaveLength(1);
    expect(single.execution.fallbacks[0]).toMatchObject({ provider: 'wasm', threads: 4 });
    expect(single.execution.fallbacks[0]!.reason).toMatch(/not cross-origin isolated \(crossOriginIsolated is false\)/);
    await single.dispose();

    vi.stubGlobal('crossOriginIsolated', true);
    const isolated = fakeOrt();
    const threaded = await new OrtWebBackend({ ort: isolated.ort, providers: ['wasm'] }).load(STANDIN);
    expect(isolated.ort.env.wasm.numThreads).toBe(4);
    expect(threaded.execution).toMatchObject({ provider: 'wasm', threads: 4, fallbacks: [], crossOriginIsolated: true });
    await threaded.dispose();
  });

  it('fails with every provider\'s reason when none loads, and checks options and checksums', async () => {
    const { ort } = fakeOrt();
    const none = await rejection(new OrtWebBackend({ ort, providers: ['webgpu'] }).load(STANDIN));
    expect(none.code).toBe('ERR_MODEL_LOAD');
    expect(none.message).toMatch(/on any provider: webgpu: navigator\.gpu is undefined/);

    const garbage = await rejection(new OrtWebBackend({ ort, providers: ['wasm'] }).load(new Uint8Array([1, 2, 3])));
    expect(garbage.code).toBe('ERR_MODEL_LOAD');
    expect(garbage.message).toMatch(/^onnxruntime-web could not load the model \(3 bytes\) on any provider: wasm: onnxruntime-web could not create a session/);

    const sum = await rejection(new OrtWebBackend({ ort }).load(STANDIN, { sha256: '0'.repeat(64) }));
    expect(sum.code).toBe('ERR_MODEL_CHECKSUM');
    expect(() => new OrtWebBackend({ providers: ['webgl' as 'wasm'] })).toThrow(new RangeError("providers[0] (\"webgl\") must be one of 'webgpu', 'wasm'"));
    expect(() => new OrtWebBackend({ providers: [] })).toThrow(RangeError);
    expect(() => new OrtWebBackend({ threads: 0 })).toThrow(new RangeError('threads (0) must be a positive integer'));
    await expect(new OrtWebBackend({ ort }).load(STANDIN, { sha256: 'abc' })).rejects.toThrow(new TypeError('sha256 ("abc") must be 64 hexadecimal digits'));
  });
});
