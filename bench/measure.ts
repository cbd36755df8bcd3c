/**
 * Runs one measured process for the benchmark scripts (`bench/run.ts`,
 * `scripts/model-variants.ts`): wall time, output, exit code, and the peak RSS of every Node
 * process it starts, recorded by `bench/rss-probe.mjs` (preloaded through `NODE_OPTIONS`).
 *
 * @packageDocumentation
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
const PROBE = pathToFileURL(join(ROOT, 'bench', 'rss-probe.mjs')).href;

/** One measured run. */
export interface Run {
  /** Wall time from spawn to exit, in seconds. */
  seconds: number;
  /** Sum of the peak RSS of every Node process of the run (an upper bound on the tree's peak), in MB. */
  peakMb: number;
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Runs a command to completion from the repository root, timing it and collecting the peak RSS
 * of its Node processes.
 *
 * @param command - the executable.
 * @param args - its arguments.
 * @param env - added to this process's environment.
 */
export function measure(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const rssFile = join(tmpdir(), `bench-rss-${process.pid}-${Date.now()}.txt`);
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env, NODE_OPTIONS: `--import=${PROBE}`, BENCH_RSS_FILE: rssFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const kb = existsSync(rssFile)
        ? readFileSync(rssFile, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[1]))
        : [];
      rmSync(rssFile, { force: true });
      resolvePromise({ seconds, peakMb: kb.reduce((a, b) => a + b, 0) / 1024, stdout, stderr, code });
    });
  });
}

/**
 * A run that exited 0, or an Error naming it with the end of its stderr.
 *
 * @param run - the run.
 * @param what - its name in the error.
 */
export function check(run: Run, what: string): Run {
  if (run.code !== 0) throw new Error(`${what} failed (exit ${run.code}):\n${run.stderr.slice(-2000)}`);
  return run;
}
