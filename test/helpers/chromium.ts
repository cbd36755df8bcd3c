/**
 * Debian's `chromium` for the browser tests, driven by playwright-core (which downloads no
 * browser). When it is missing it is installed with apt-get if we are root (CI, containers);
 * otherwise the browser tests are skipped with the reason, except under CI, where a missing
 * browser fails them (the rule of `tools.ts`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where the browser is: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a headless run as root in a container. */
export const CHROMIUM_ARGS: readonly string[] = ['--no-sandbox', '--disable-dev-shm-usage', '--mute-audio'];

function installWithApt(): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  console.warn(`browser tests: ${CHROMIUM_PATH} is missing; installing Debian's chromium with apt-get (a few minutes)…`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
}

/**
 * Makes sure the browser is there.
 *
 * @returns undefined when it is, or why the browser tests are skipped.
 * @throws under CI when it is missing and cannot be installed.
 */
export function ensureChromium(): string | undefined {
  if (!existsSync(CHROMIUM_PATH) && process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0) {
    installWithApt();
  }
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const reason = `${CHROMIUM_PATH} is missing and could not be installed (not root, or no apt-get); install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`;
  if (process.env.CI) throw new Error(`browser tests: ${reason}`);
  console.warn(`browser tests skipped: ${reason}`);
  return reason;
}
