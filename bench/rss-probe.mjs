// Preloaded into every Node process of a benchmark run (via NODE_OPTIONS=--import): appends
// this process's peak resident set size to the file named by BENCH_RSS_FILE when it exits.
// Only the main thread reports: NODE_OPTIONS' --import also runs in worker threads, whose
// maxRSS is the same process's, and summing both counted a process with a worker twice.
import { appendFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.BENCH_RSS_FILE;
if (file && isMainThread) {
  process.on('exit', () => {
    // maxRSS is in kilobytes and covers every thread of the process (onnxruntime's included).
    appendFileSync(file, `${process.pid} ${process.resourceUsage().maxRSS}\n`);
  });
}
