// Progress of a dataset run: a bar on a terminal (cli-progress, where installed), else one plain line
// per 10% of the files; hours of audio done and the rate in audio hours per hour.

import { importIfInstalled } from './optional.js';

export interface Progress {
  start(total: number): void;
  file(seconds: number, failed: boolean): void;
  stop(): void;
}

/** A bar on a terminal (cli-progress), else one plain line per 10% of the files. */
export async function progressReporter(quiet: boolean): Promise<Progress> {
  let total = 0;
  let done = 0;
  let failures = 0;
  let audio = 0;
  const t0 = performance.now();
  const stats = () => {
    const hours = (performance.now() - t0) / 3.6e6;
    return { hours: (audio / 3600).toFixed(2), rate: hours > 0 ? (audio / 3600 / hours).toFixed(1) : '-', failures };
  };
  if (quiet) return { start() {}, file() {}, stop() {} };
  const imported = process.stderr.isTTY ? await importIfInstalled('cli-progress', () => import('cli-progress')) : null;
  if (imported) {
    const cliProgress = ((imported as { default?: typeof imported }).default ?? imported) as typeof imported;
    const bar = new cliProgress.SingleBar(
      {
        format:
          'tokenize [{bar}] {value}/{total} files | {hours} h audio | {rate} audio h/h | ETA {eta_formatted} | {failures} failed',
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    return {
      start(n) {
        total = n;
        bar.start(n, 0, stats());
      },
      file(seconds, failed) {
        audio += seconds;
        failures += failed ? 1 : 0;
        done++;
        bar.update(done, stats());
      },
      stop() {
        bar.stop();
      },
    };
  }
  let nextPct = 10;
  return {
    start(n) {
      total = n;
      process.stderr.write(`tokenize: ${n} files to do\n`);
    },
    file(seconds, failed) {
      audio += seconds;
      failures += failed ? 1 : 0;
      done++;
      const pct = total ? Math.floor((100 * done) / total) : 100;
      if (pct >= nextPct || done === total) {
        nextPct = Math.floor(pct / 10) * 10 + 10;
        const elapsed = (performance.now() - t0) / 1000;
        const eta = done ? (elapsed / done) * (total - done) : 0;
        const st = stats();
        process.stderr.write(
          `tokenize: ${pct}% (${done}/${total} files, ${st.hours} h audio, ${st.rate} audio h/h, ETA ${eta.toFixed(0)} s, ${failures} failed)\n`,
        );
      }
    },
    stop() {},
  };
}

/** Runs the whole command; returns the exit code (1 when any file failed). */
