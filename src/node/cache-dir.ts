/**
 * The per-user cache directory. Node only.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Environment variable that overrides the cache directory. */
export const CACHE_DIR_ENV = 'DEMUCS_MOBILE_CACHE';

/**
 * The cache directory: `$DEMUCS_MOBILE_CACHE` when set, else the platform's user cache
 * folder: `$XDG_CACHE_HOME/demucs-mobile` or `~/.cache/demucs-mobile` (Linux and others),
 * `~/Library/Caches/demucs-mobile` (macOS), `%LOCALAPPDATA%\demucs-mobile\Cache` (Windows).
 *
 * @param env - the environment to read (defaults to `process.env`).
 * @returns an absolute path; it may not exist yet.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[CACHE_DIR_ENV];
  if (override !== undefined && override !== '') return override;
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'demucs-mobile');
  if (process.platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'demucs-mobile', 'Cache');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'demucs-mobile');
}
