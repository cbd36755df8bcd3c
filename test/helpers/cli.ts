/**
 * Runs the built `demucs-mobile` binary (`dist/cli.js`) as a user would.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './fixtures.js';

/** What a CLI run printed and returned. */
export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Path of the built binary. */
export const CLI = join(REPO_ROOT, 'dist', 'cli.js');

/** Options of {@link runProcess} and {@link runCli}. */
export interface RunOptions {
  /** Working directory. @defaultValue the repository root */
  cwd?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Called with the child process once it is spawned. */
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
}

/**
 * Runs a command with no stdin and collects what it prints.
 *
 * @param command - the executable.
 * @param args - its arguments.
 * @param options - working directory, environment, and a callback with the child process.
 */
export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
    options.onSpawn?.(child);
  });
}

/**
 * Runs `node dist/cli.js ...args`.
 *
 * @param args - command-line arguments.
 * @param options - working directory, environment, and a callback with the child process.
 */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  return runProcess(process.execPath, [CLI, ...args], options);
}
