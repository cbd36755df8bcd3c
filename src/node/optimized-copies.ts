/**
 * Keeps the directory of optimised model copies (`OrtNodeBackendOptions.optimizedModelCache`)
 * bounded. A copy is keyed by its source file's identity, so every reinstall of a model
 * (a new inode and modification time) makes a new copy of about 210 MB for htdemucs, and
 * nothing removed the old ones: this machine's cache held thirteen htdemucs copies (2.7 GB)
 * after a day of clean-clone test runs.
 */
import { readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

/** How every optimised copy's file name ends. */
export const OPTIMIZED_COPY_SUFFIX = '.extended.onnx';

/** How a copy being written is named: `<copy>.<pid>.partial`, renamed into place when complete. */
export const PARTIAL_SUFFIX = '.partial';

/**
 * Age after which a `.partial` file is taken for the leftover of a process that died while
 * writing it, in milliseconds: writing htdemucs's copy takes seconds, so an hour is far.
 */
export const STALE_PARTIAL_MS = 60 * 60 * 1000;

/**
 * Marks a copy as used now (its modification time), so {@link pruneOptimizedCopies} keeps the
 * copies in use. A cache that cannot be written to is left as it is.
 *
 * @param path - the copy.
 */
export async function touchCopy(path: string): Promise<void> {
  const now = new Date();
  await utimes(path, now, now).catch(() => undefined);
}

/**
 * Removes all but the `keep` most recently used optimised copies in `dir` (newest modification
 * time first; {@link touchCopy} refreshes it on every use) and `.partial` files older than
 * {@link STALE_PARTIAL_MS}. Other files are left alone, and a file another process removes
 * meanwhile is skipped.
 *
 * @param dir - the cache directory.
 * @param keep - copies to keep, at least 1.
 * @param now - the current time in ms since the epoch (for tests).
 * @returns the names of the files removed.
 * @throws RangeError when `keep` is not a positive integer.
 */
export async function pruneOptimizedCopies(dir: string, keep: number, now: number = Date.now()): Promise<string[]> {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep (${keep}) must be a positive integer`);
  const names = await readdir(dir).catch(() => [] as string[]);
  const copies: { name: string; mtimeMs: number }[] = [];
  const doomed: string[] = [];
  for (const name of names) {
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info === undefined || !info.isFile()) continue;
    if (name.endsWith(OPTIMIZED_COPY_SUFFIX)) copies.push({ name, mtimeMs: info.mtimeMs });
    else if (name.endsWith(PARTIAL_SUFFIX) && now - info.mtimeMs > STALE_PARTIAL_MS) doomed.push(name);
  }
  copies.sort((a, b) => b.mtimeMs - a.mtimeMs || a.name.localeCompare(b.name));
  doomed.push(...copies.slice(keep).map((c) => c.name));
  const removed: string[] = [];
  for (const name of doomed) {
    try {
      await rm(join(dir, name));
      removed.push(name);
    } catch {
      // Removed by another process meanwhile, or not ours to remove: nothing to do.
    }
  }
  return removed;
}
