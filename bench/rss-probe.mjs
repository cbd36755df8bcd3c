// Preloaded into every Node process of a benchmark run (via NODE_OPTIONS=--import): appends
// this process's peak resident set size to the file named by BENCH_RSS_FILE when it exits.
import { appendFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    // maxRSS is in kilobytes and covers every thread of the process (onnxruntime's included).
    appendFileSync(file, `${process.pid} ${process.resourceUsage().maxRSS}\n`);
  });
}
