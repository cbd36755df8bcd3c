/**
 * The executable behind the `demucs-mobile` bin: wires signals and the process exit code to
 * {@link main}.
 *
 * @internal
 */
import { EXIT } from './exit-codes.js';
import { main } from './main.js';

const controller = new AbortController();
let interrupts = 0;
const onSignal = (): void => {
  interrupts += 1;
  // A second Ctrl-C stops at once; the first lets the run remove its partial files.
  if (interrupts > 1) process.exit(EXIT.INTERRUPTED);
  controller.abort(new DOMException('interrupted', 'AbortError'));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }, controller.signal).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`demucs-mobile: unexpected failure: ${String(e)}\n`);
    process.exitCode = EXIT.FAILURE;
  },
);
