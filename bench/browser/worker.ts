/**
 * The benchmark's worker: `?ort=webgpu-build` runs the WebAssembly provider on the build that
 * also carries WebGPU (`onnxruntime-web`), to compare it with the WebAssembly-only build
 * OrtWebBackend picks for the CPU. (Imported statically: a module worker that awaited at top
 * level could miss the page's first message.)
 */
import * as ortWithWebGpu from 'onnxruntime-web';
import { serveSeparation } from 'demucs-mobile/web';

const build = new URL(self.location.href).searchParams.get('ort');
serveSeparation(undefined, build === 'webgpu-build' ? { ort: ortWithWebGpu } : {});
