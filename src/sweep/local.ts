import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { badOption } from '../errors.js';
import { writeFileAtomic } from '../atomic-write.js';
import { percent } from '../format.js';
import { finishSweep, type SweepResults } from './report.js';
import { trialsOf, type SweepSpec } from './spec.js';
import { FileLog, FolderStore } from './store.js';
import { runTrial, type TrialOutcome, type TrialProgress } from './trial.js';

/**
 * A sweep on this machine: `concurrency` trials at a time in this process, each with `workers` threads,
 * checkpoints in DIR/trials, the results log in DIR/log.json. Stopped (Ctrl-C) and started again with
 * --resume, it goes on from every trial's last checkpoint with the same decisions.
 */

export interface SweepHooks {
  /** A line of progress for people. */
  onLine?: (line: string) => void;
  /** Aborting stops every running trial after its current step, with its checkpoint kept; the sweep resolves with null. */
  signal?: AbortSignal;
}

/** What DIR/sweep.json records: which spec this folder's sweep runs. */
interface SweepRecord {
  id: string;
  spec: string;
}

/** Makes DIR ready for the spec's sweep, or refuses a folder that holds another sweep (or this one, without --resume). */
export async function prepareSweepDir(spec: SweepSpec, specFile: string, dir: string, resume: boolean): Promise<void> {
  const record = join(dir, 'sweep.json');
  if (existsSync(record)) {
    const was = JSON.parse(await readFile(record, 'utf8')) as SweepRecord;
    if (was.id !== spec.id) throw badOption(`--dir ${dir} holds the sweep of another spec (${was.spec}, id ${was.id}); give another --dir`);
    if (!resume) throw badOption(`--dir ${dir} holds this sweep already (id ${spec.id}); add --resume to continue it, or give another --dir`);
  } else if (resume) {
    throw badOption(`--resume: ${dir} holds no sweep to continue (no sweep.json); leave out --resume to start one`);
  }
  await mkdir(join(dir, 'trials'), { recursive: true });
  await writeFileAtomic(record, `${JSON.stringify({ id: spec.id, spec: specFile } satisfies SweepRecord, null, 2)}\n`);
}

export const progressLine = (p: TrialProgress) =>
  `${p.trial}  epoch ${p.epoch}/${p.epochs}  val acc ${p.valAccuracy === null ? '–' : percent(p.valAccuracy)}`;

export function outcomeLine(o: TrialOutcome): string {
  const best = o.bestValAccuracy === null ? '' : `, best val acc ${percent(o.bestValAccuracy)} at epoch ${o.bestEpoch}`;
  if (o.status === 'completed') return `${o.name}  completed ${o.epochs} epochs${best}`;
  if (o.status === 'stopped') return `${o.name}  stopped after ${o.epochs} epochs (${o.reason})${best}`;
  if (o.status === 'failed') return `${o.name}  failed: ${o.reason}`;
  return `${o.name}  interrupted after ${o.epochs} epochs`;
}

/** Runs the spec's trials here and finishes the sweep; null when it was interrupted. */
export async function runLocalSweep(spec: SweepSpec, specFile: string, dir: string, resume: boolean, hooks: SweepHooks = {}): Promise<SweepResults | null> {
  await prepareSweepDir(spec, specFile, dir, resume);
  const trials = trialsOf(spec);
  const store = new FolderStore(join(dir, 'trials'));
  const log = await FileLog.open(join(dir, 'log.json'));
  const say = hooks.onLine ?? (() => {});
  const outcomes: TrialOutcome[] = new Array(trials.length);
  let next = 0;
  // `concurrency` runners take trials in order; each trial's reports enter the log as its epochs end.
  const runner = async () => {
    while (next < trials.length && !hooks.signal?.aborted) {
      const i = next++;
      outcomes[i] = await runTrial(trials[i], { store, log, scheduler: spec.scheduler, signal: hooks.signal, onProgress: (p) => say(progressLine(p)) });
      say(outcomeLine(outcomes[i]));
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, trials.length) }, runner));
  if (hooks.signal?.aborted) return null;
  return finishSweep(spec, specFile, trials, outcomes, (name) => store.file(name), dir);
}
