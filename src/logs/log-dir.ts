import { closeSync, existsSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { badOption } from '../errors.js';
import type { EpochEvent, TrainEvent } from '../events.js';
import { encodeEvent, FILE_VERSION, frameRecord, type Scalar } from './tensorboard.js';

/**
 * `train --log-dir DIR`: a listener of the training events that writes, per epoch, one row of
 * `DIR/metrics.csv` (the epoch event's fields, as Lightning's CSVLogger does) and one event of scalars to a
 * TensorBoard event file `DIR/events.out.tfevents.<seconds>.<host>`. Both files are appended to, one
 * whole row or record per write, as those tools do: a crash loses at most the epoch being written, and a
 * resumed run adds its epochs to the same metrics.csv (and a new event file beside the first; TensorBoard
 * reads every file in the folder).
 */

/** metrics.csv's columns: the epoch event's fields (stepMicros flattened). */
export const CSV_COLUMNS = [
  'epoch', 'trainLoss', 'valLoss', 'valAccuracy', 'lr', 'samplesPerSecond', 'seconds', 'elapsedSeconds',
  'stepMicros.gradients', 'stepMicros.update', 'stepMicros.barriers', 'best',
] as const;

function csvRow(e: EpochEvent): string {
  const value = (column: (typeof CSV_COLUMNS)[number]): unknown => {
    if (column.startsWith('stepMicros.')) return e.stepMicros[column.slice('stepMicros.'.length) as keyof EpochEvent['stepMicros']];
    return e[column as keyof EpochEvent];
  };
  return CSV_COLUMNS.map((c) => {
    const v = value(c);
    return v === null || v === undefined ? '' : String(v);
  }).join(',');
}

/** The scalars TensorBoard shows for an epoch (step = the epoch, from 1). */
function epochScalars(e: EpochEvent): Scalar[] {
  const scalars: Scalar[] = [{ tag: 'loss/train', value: e.trainLoss }];
  if (e.valLoss !== null) scalars.push({ tag: 'loss/validation', value: e.valLoss });
  if (e.valAccuracy !== null) scalars.push({ tag: 'accuracy/validation', value: e.valAccuracy });
  scalars.push(
    { tag: 'learning_rate', value: e.lr },
    { tag: 'samples_per_second', value: e.samplesPerSecond },
    { tag: 'step_micros/gradients', value: e.stepMicros.gradients },
    { tag: 'step_micros/update', value: e.stepMicros.update },
    { tag: 'step_micros/barriers', value: e.stepMicros.barriers },
  );
  return scalars;
}

/** What logDirListener returns: feed it the events; `close` ends the files. */
export interface RunLogger {
  onEvent(e: TrainEvent): void;
  close(): void;
  /** The two files it writes. */
  readonly csvFile: string;
  readonly eventFile: string;
}

/**
 * Logs a training run into `dir` (made if missing): metrics.csv and a TensorBoard event file. Throws
 * BAD_OPTION naming --log-dir when the folder cannot be made or written.
 */
export function logDirListener(dir: string): RunLogger {
  const csvFile = join(dir, 'metrics.csv');
  const stamp = Math.floor(Date.now() / 1000);
  let eventFile = join(dir, `events.out.tfevents.${stamp}.${hostname()}`);
  for (let n = 1; existsSync(eventFile); n++) eventFile = join(dir, `events.out.tfevents.${stamp}.${hostname()}.${n}`);
  let csv: number, events: number;
  try {
    mkdirSync(dir, { recursive: true });
    csv = openSync(csvFile, 'a');
    events = openSync(eventFile, 'a');
  } catch (err) {
    throw badOption(`--log-dir ${dir} cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give a folder you can write to`);
  }
  if (statSync(csvFile).size === 0) writeSync(csv, `${CSV_COLUMNS.join(',')}\n`);
  const record = (e: Parameters<typeof encodeEvent>[0]) => writeSync(events, frameRecord(encodeEvent(e)));
  record({ wallTime: Date.now() / 1000, step: 0, fileVersion: FILE_VERSION });
  let lastEpoch = 0;
  let closed = false;
  return {
    csvFile,
    eventFile,
    onEvent(e) {
      if (closed) return;
      if (e.type === 'epoch') {
        lastEpoch = e.epoch;
        writeSync(csv, `${csvRow(e)}\n`);
        record({ wallTime: Date.now() / 1000, step: e.epoch, scalars: epochScalars(e) });
      } else if (e.type === 'done' && e.testAccuracy !== null) {
        record({ wallTime: Date.now() / 1000, step: lastEpoch, scalars: [{ tag: 'accuracy/test', value: e.testAccuracy }, { tag: 'loss/test', value: e.testLoss ?? NaN }] });
      }
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(csv);
      closeSync(events);
    },
  };
}
