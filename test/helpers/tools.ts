/**
 * External programs some tests use as independent producers (sox, ffmpeg). `.ci/run`
 * installs them; on a developer machine without them those tests are skipped, but under CI
 * (`CI` set) a missing tool fails the tests instead of silently skipping them.
 */
import { spawnSync } from 'node:child_process';

/** Whether a command-line tool runs. */
export function hasTool(command: string, versionFlag = '--version'): boolean {
  return spawnSync(command, [versionFlag], { stdio: 'ignore' }).status === 0;
}

/** True when tests needing `command` should be skipped: missing and not under CI. */
export function skipWithout(command: string, versionFlag?: string): boolean {
  return !hasTool(command, versionFlag) && !process.env.CI;
}
