/**
 * The executable behind the `demucs-mobile` bin: tunes the allocator, wires signals and the
 * process exit code to {@link main}.
 *
 * @internal
 */
import { spawn } from 'node:child_process';
import { MALLOC_TUNING } from '../node/malloc-tuning.js';
import { EXIT } from './exit-codes.js';

/** Set to `0` to run without the allocator re-exec (see {@link MALLOC_TUNING}). */
const OPT_OUT = 'DEMUCS_MOBILE_MALLOC_TUNING';

function needsReexec(): boolean {
  if (process.platform !== 'linux' || process.env[OPT_OUT] === '0') return false;
  return Object.entries(MALLOC_TUNING).some(([k, v]) => process.env[k] !== v);
}

function reexec(): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...MALLOC_TUNING },
  });
  // The child handles interrupts (cleans up its partial files); the terminal already sends
  // Ctrl-C to both, and `kill <pid>` reaches only this process, so forward as well.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const s of signals) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`demucs-mobile: could not start: ${e.message}\n`);
    process.exitCode = EXIT.FAILURE;
  });
  child.on('exit', (code, signal) => {
    for (const s of signals) process.off(s, forward);
    if (signal !== null) process.kill(process.pid, signal);
    else process.exitCode = code ?? EXIT.FAILURE;
  });
}

async function run(): Promise<void> {
  const { main } = await import('./main.js');
  const controller = new AbortController();
  let firstInterrupt = 0;
  const onSignal = (): void => {
    const now = Date.now();
    if (firstInterrupt === 0) {
      firstInterrupt = now;
      controller.abort(new DOMException('interrupted', 'AbortError'));
    } else if (now - firstInterrupt > 1000) {
      // A second Ctrl-C (not the same one delivered twice) stops at once.
      process.exit(EXIT.INTERRUPTED);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  try {
    process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }, controller.signal);
  } catch (e) {
    process.stderr.write(`demucs-mobile: unexpected failure: ${String(e)}\n`);
    process.exitCode = EXIT.FAILURE;
  }
}

if (needsReexec()) reexec();
else void run();
