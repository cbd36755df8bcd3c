/**
 * Progress output of model downloads: a bar on a terminal, a line per 10 % otherwise, nothing
 * with `--quiet`. Always on stderr, so stdout stays machine-readable.
 */
import cliProgress from 'cli-progress';
import type { ModelFetchProgress } from '../node/model-store.js';

/** Receives the progress of one model fetch. */
export interface FetchReporter {
  /** Called with each progress event. */
  update(progress: ModelFetchProgress): void;
  /** Ends the output. */
  done(): void;
}

/** Formats a byte count in decimal megabytes: `174.3 MB`. */
export function formatBytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

const VERB = { download: 'downloading', extract: 'extracting' } as const;

/**
 * A reporter for one model fetch.
 *
 * @param mode - `'bar'` (a TTY), `'lines'` (logs, pipes) or `'quiet'`.
 * @param stream - where to write.
 * @returns the reporter.
 */
export function createFetchReporter(mode: 'bar' | 'lines' | 'quiet', stream: NodeJS.WriteStream = process.stderr): FetchReporter {
  if (mode === 'quiet') return { update() {}, done() {} };
  if (mode === 'lines') {
    let phase: string | undefined;
    let step = -1;
    return {
      update(p) {
        if (p.phase !== phase) {
          phase = p.phase;
          step = -1;
        }
        // Every 10 %, or every 10 MB when the size is unknown.
        const s = p.totalBytes ? Math.floor((p.doneBytes / p.totalBytes) * 10) : Math.floor(p.doneBytes / 1e7);
        if (s === step) return;
        step = s;
        const amount = p.totalBytes
          ? `${Math.floor((p.doneBytes / p.totalBytes) * 100)}% (${formatBytes(p.doneBytes)} of ${formatBytes(p.totalBytes)})`
          : formatBytes(p.doneBytes);
        stream.write(`${p.model}: ${VERB[p.phase]} ${amount}\n`);
      },
      done() {},
    };
  }
  let bar: cliProgress.SingleBar | undefined;
  let phase: string | undefined;
  const stop = (): void => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update(p) {
      const payload = { doneText: formatBytes(p.doneBytes), totalText: p.totalBytes === undefined ? '?' : formatBytes(p.totalBytes) };
      if (p.phase !== phase) {
        stop();
        phase = p.phase;
        bar = new cliProgress.SingleBar(
          {
            format: `${p.model}: ${VERB[p.phase].padEnd(11)} |{bar}| {percentage}% | {doneText} of {totalText} | ETA {eta_formatted}`,
            stream,
            hideCursor: true,
            barsize: 30,
            fps: 5,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(p.totalBytes ?? 0, p.doneBytes, payload);
        return;
      }
      if (p.totalBytes !== undefined && bar?.getTotal() !== p.totalBytes) bar?.setTotal(p.totalBytes);
      bar?.update(p.doneBytes, payload);
    },
    done: stop,
  };
}
