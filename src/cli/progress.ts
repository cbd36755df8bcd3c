/**
 * Progress output of the CLI: one bar per file with ETA on a terminal (several at once with
 * `--jobs`), plain lines otherwise, nothing with `--quiet`. Progress always goes to stderr
 * so stdout stays machine-readable.
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

/** How progress is shown. */
export type ProgressMode = 'bar' | 'lines' | 'quiet';

/** Hands out one reporter per file; bars of files running at once stack. */
export interface ProgressBoard {
  /**
   * A reporter for one file.
   *
   * @param label - the file's name.
   */
  reporter(label: string): ProgressReporter;
  /**
   * Prints a line without tearing the bars (they are redrawn below it).
   *
   * @param text - the line, without a newline.
   */
  log(text: string): void;
  /** Stops every bar. */
  stop(): void;
}

/** Formats seconds as `1m05s` / `42s`. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * A board for the run.
 *
 * @param mode - `'bar'` (a TTY), `'lines'` (logs, pipes) or `'quiet'`.
 * @param stream - where to write.
 * @returns the board.
 */
export function createProgressBoard(mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr): ProgressBoard {
  if (mode === 'quiet') return { reporter: () => ({ update() {}, done() {} }), log() {}, stop() {} };
  if (mode === 'lines') {
    return {
      reporter(label) {
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
      },
      log: (text) => stream.write(`${text}\n`),
      stop() {},
    };
  }
  const multi = new cliProgress.MultiBar(
    {
      format: '{label} |{bar}| {percentage}% | {value}/{total} windows | {elapsed} elapsed | ETA {etaText}',
      stream,
      hideCursor: true,
      barsize: 30,
      fps: 5,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    reporter(label) {
      let bar: cliProgress.SingleBar | undefined;
      return {
        update(p) {
          const payload = { label, etaText: p.etaSeconds === undefined ? '…' : formatSeconds(p.etaSeconds), elapsed: formatSeconds(p.elapsedSeconds) };
          if (bar === undefined) bar = multi.create(p.windowsTotal, p.windowsDone, payload);
          else bar.update(p.windowsDone, payload);
        },
        done() {
          bar?.stop();
        },
      };
    },
    log: (text) => multi.log(`${text}\n`),
    stop: () => multi.stop(),
  };
}
