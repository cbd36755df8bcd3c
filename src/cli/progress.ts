/**
 * Progress output of the CLI: a bar with ETA on a terminal, plain lines otherwise, nothing
 * with `--quiet`. Progress always goes to stderr so stdout stays machine-readable.
 */
import cliProgress from 'cli-progress';
import type { SeparationProgress } from '../core/separator.js';

/** Receives the progress of one file. */
export interface ProgressReporter {
  /** Called with each progress event of the file's separation. */
  update(progress: SeparationProgress): void;
  /** Ends the file's progress output. */
  done(): void;
}

/** Formats seconds as `1m05s` / `42s`. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * A reporter for one file.
 *
 * @param label - the file's name.
 * @param mode - `'bar'` (a TTY), `'lines'` (logs, pipes) or `'quiet'`.
 * @param stream - where to write.
 * @returns the reporter.
 */
export function createReporter(label: string, mode: 'bar' | 'lines' | 'quiet', stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  if (mode === 'quiet') return { update() {}, done() {} };
  if (mode === 'lines') {
    let lastPercent = -1;
    return {
      update(p) {
        const percent = Math.floor(p.fraction * 100);
        if (percent === lastPercent) return;
        lastPercent = percent;
        const eta = p.etaSeconds === undefined ? '' : `, ETA ${formatSeconds(p.etaSeconds)}`;
        stream.write(`${label}: ${percent}% (${p.windowsDone}/${p.windowsTotal} windows${eta})\n`);
      },
      done() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {percentage}% | {value}/{total} windows | {elapsed} elapsed | ETA {etaText}`,
      stream,
      hideCursor: true,
      barsize: 30,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const payload = { etaText: p.etaSeconds === undefined ? '…' : formatSeconds(p.etaSeconds), elapsed: formatSeconds(p.elapsedSeconds) };
      if (!started) {
        bar.start(p.windowsTotal, p.windowsDone, payload);
        started = true;
      } else {
        bar.update(p.windowsDone, payload);
      }
    },
    done() {
      if (started) bar.stop();
    },
  };
}
