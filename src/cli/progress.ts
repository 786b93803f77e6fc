import { SingleBar } from 'cli-progress';
import type { DoneEvent, EpochEvent, StartEvent, StepEvent, TrainEvent } from '../events.js';
import { percent } from '../format.js';

/**
 * What `mnist-dp train` prints while it runs: JSON lines (`--json`), or lines for people with, when
 * stderr is a terminal, a progress bar per epoch. Also the number formatting the CLI shares.
 */

/** 235146 → `235,146`. */
export const int = (n: number): string => Math.round(n).toLocaleString('en-US');

export { percent };

/** An image (row-major, values 0 to `max`: 1 for floats, 255 for bytes) as text, darker characters for more ink, two per pixel. */
export function drawImage(pixels: ArrayLike<number>, height: number, width: number, max = 1): string {
  const shades = ' .:-=+*#%@';
  const lines: string[] = [];
  for (let y = 0; y < height; y++) {
    let line = '';
    for (let x = 0; x < width; x++) line += shades[Math.min(shades.length - 1, Math.floor((pixels[y * width + x] / max) * shades.length))].repeat(2);
    lines.push(`  |${line}|`);
  }
  return lines.join('\n');
}

/** Seconds with one decimal: `4.5 s`. */
export const seconds = (s: number): string => `${s.toFixed(1)} s`;

/** A loss value: four decimals, or exponent notation when tiny or huge. */
export const loss = (x: number): string => (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e4) ? x.toExponential(3) : x.toFixed(4));

/** Quotes a path for a shell command line when it needs it. */
export const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export interface Reporter {
  onEvent(e: TrainEvent): void;
  /** Stops the progress bar, if any (before an error or interrupt message is printed). */
  close(): void;
}

export interface ReporterStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** `--json`: each event but 'step' as one JSON line on stdout. */
export function jsonReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    onEvent(e) {
      if (e.type !== 'step') out.write(`${JSON.stringify(e)}\n`);
    },
    close() {},
  };
}

export function startLine(e: StartEvent): string {
  const resumed = e.startEpoch > 0 || e.startStep > 0 ? ` · resuming at epoch ${e.startEpoch + 1}, step ${e.startStep + 1}` : '';
  return `mnist-dp: ${e.spec} · ${int(e.parameters)} parameters · ${e.workers} worker${e.workers === 1 ? '' : 's'} · ${e.kernels} kernels · ` +
    `${int(e.trainSize)} train / ${int(e.valSize)} val / ${int(e.testSize)} test${resumed}\n          ${e.recipe}${e.checkpoint ? ` → ${e.checkpoint}` : ''}`;
}

export function epochLine(e: EpochEvent): string {
  const val = e.valAccuracy === null ? '' : `  val acc ${percent(e.valAccuracy)}${e.best ? ' (best)' : ''}`;
  const stop = e.stopsEarly ? '  (no improvement: stopping early)' : '';
  return `epoch ${e.epoch}/${e.epochs}  train loss ${loss(e.trainLoss)}${val}  ${int(e.samplesPerSecond)} samples/s  ${seconds(e.seconds)}${stop}`;
}

/** The last line of a finished run (an interrupted one is reported by the caller). */
export function doneLine(e: DoneEvent): string {
  const test = e.testAccuracy === null ? 'test set not evaluated (--no-test)' : `test accuracy ${percent(e.testAccuracy)}${e.stoppedEarly && e.best ? ` (the best epoch's model, epoch ${e.best.epoch})` : ''}`;
  const saved = e.checkpoint ? `checkpoint saved to ${e.checkpoint}` : 'no checkpoint saved';
  const best = e.best ? `\nbest validation accuracy ${percent(e.best.valAccuracy)} at epoch ${e.best.epoch}: its model is in ${e.best.checkpoint} ` +
    `(its test accuracy: mnist-dp eval --model ${shellQuote(e.best.checkpoint)})` : '';
  return `${test} · ${saved} · ${seconds(e.seconds)}${best}`;
}

/** Lines for people on stdout; a progress bar on stderr when it is a terminal. */
export function humanReporter(streams: ReporterStreams = { stdout: process.stdout, stderr: process.stderr }): Reporter {
  const { stdout, stderr } = streams;
  const tty = Boolean(stderr.isTTY);
  let start: StartEvent | null = null;
  let bar: SingleBar | null = null;
  let barEpoch = 0;

  const stopBar = () => {
    bar?.stop();
    bar = null;
  };
  const payload = (e: StepEvent) => {
    const remaining = (e.stepsPerEpoch - e.step) * (start?.batchSize ?? 0);
    return {
      epoch: e.epoch,
      epochs: e.epochs,
      loss: loss(e.loss),
      speed: int(e.samplesPerSecond),
      etaS: e.samplesPerSecond > 0 ? Math.ceil(remaining / e.samplesPerSecond) : '?',
    };
  };
  const onStep = (e: StepEvent) => {
    if (!tty) return;
    if (bar && barEpoch !== e.epoch) stopBar();
    if (!bar) {
      bar = new SingleBar({
        format: 'epoch {epoch}/{epochs} [{bar}] {value}/{total} loss {loss} samples/s {speed} ETA {etaS}s',
        stream: stderr,
        barsize: 30,
        hideCursor: true,
        clearOnComplete: true,
        barCompleteChar: '█',
        barIncompleteChar: '░',
      });
      barEpoch = e.epoch;
      bar.start(e.stepsPerEpoch, e.step, payload(e));
    } else {
      bar.update(e.step, payload(e));
    }
  };

  return {
    onEvent(e) {
      switch (e.type) {
        case 'start':
          start = e;
          stdout.write(`${startLine(e)}\n`);
          break;
        case 'step':
          onStep(e);
          break;
        case 'epoch':
          stopBar();
          stdout.write(`${epochLine(e)}\n`);
          break;
        case 'done':
          stopBar();
          if (!e.aborted) stdout.write(`${doneLine(e)}\n`);
          break;
      }
    },
    close: stopBar,
  };
}
