/**
 * Node.js entry (`demucs-mobile/node`): the onnxruntime-node backend and file helpers.
 * onnxruntime-node is an optional peer dependency, imported only when a model is loaded.
 *
 * @packageDocumentation
 */
export { OrtNodeBackend, type OrtNodeBackendOptions, type OrtNodeLoadOptions } from './backends/ort-node.js';
export { sha256Hex, verifySha256 } from './node/sha256.js';
export { HTDEMUCS_NPM, locatePackagedModel, resolvePackagedModel, type PackagedModel } from './node/models.js';
export { WavFileSource, WavFileWriter, type WavFileWriterOptions } from './node/wav-file.js';
