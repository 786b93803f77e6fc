import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { train } from '../api.js';
import { bestCheckpointFile, loadCheckpoint } from '../checkpoint.js';
import type { EpochMetrics } from '../events.js';
import { EarlyStop } from '../engine/early-stop.js';
import { MnistDpError } from '../errors.js';
import { resolveOptions } from '../options.js';
import { decide, decisionEpochs, type Decision } from './schedulers.js';
import type { SchedulerSpec, Trial } from './spec.js';
import type { CheckpointStore, ResultLog } from './store.js';

/**
 * One trial, wherever it runs (this process for a local sweep, a `mnist-dp worker` for a queue): trains
 * through the library API from the trial's last checkpoint in the store, up to the next epoch at which the
 * scheduler judges it, reports the epochs to the sweep's log, and goes on or stops as the decision says.
 * Every stretch of epochs is a resume of the checkpoint, which is exact, so a trial cut anywhere (a
 * decision, Ctrl-C, kill -9) ends with the same weights as one that never was.
 */

export type TrialStatus = 'completed' | 'stopped' | 'failed' | 'interrupted';

/** How a trial ended: what the results table shows. */
export interface TrialOutcome {
  name: string;
  status: TrialStatus;
  /** Why: `budget`, the scheduler's reason, `early stop`, the error's message, or `interrupted`. */
  reason: string;
  /** Epochs trained. */
  epochs: number;
  bestValAccuracy: number | null;
  /** The epoch (from 1) of bestValAccuracy: its model is in the trial's `.best.ckpt`. */
  bestEpoch: number | null;
  /** Training and validation time, summed over the epochs. */
  seconds: number;
  /** Validation accuracy after each epoch. */
  valAccuracies: (number | null)[];
}

/** Sent after each epoch a trial trains. */
export interface TrialProgress {
  trial: string;
  epoch: number;
  epochs: number;
  valAccuracy: number | null;
  trainLoss: number;
}

export interface TrialContext {
  store: CheckpointStore;
  log: ResultLog;
  scheduler: SchedulerSpec;
  /** Aborting hands the trial back: it stops after the current step, its checkpoint is kept, and the outcome is `interrupted`. */
  signal?: AbortSignal;
  onProgress?: (p: TrialProgress) => void;
}

function outcome(name: string, status: TrialStatus, reason: string, metrics: readonly EpochMetrics[]): TrialOutcome {
  let best: EpochMetrics | null = null;
  for (const m of metrics) if (m.valAccuracy !== null && (!best || m.valAccuracy > best.valAccuracy!)) best = m;
  return {
    name, status, reason, epochs: metrics.length, bestValAccuracy: best?.valAccuracy ?? null, bestEpoch: best?.epoch ?? null,
    seconds: metrics.reduce((s, m) => s + m.seconds, 0), valAccuracies: metrics.map((m) => m.valAccuracy),
  };
}

/** Runs (or resumes, or merely reports) a trial to its end as the scheduler and its own options decide. */
export async function runTrial(trial: Trial, ctx: TrialContext): Promise<TrialOutcome> {
  const file = ctx.store.file(trial.name);
  let budget: number;
  let earlyStop: EarlyStop;
  let options = trial.options;
  try {
    const o = resolveOptions(trial.options);
    budget = o.epochs;
    earlyStop = new EarlyStop(o.earlyStop, o.minDelta);
    options = { ...options, keepBest: o.valSize > 0 }; // the best epoch's model is the trial's model
  } catch (err) {
    if (err instanceof MnistDpError) return outcome(trial.name, 'failed', err.message, []);
    throw err;
  }
  const judged = decisionEpochs(ctx.scheduler, budget);
  await ctx.store.fetch(trial.name);
  let metrics: EpochMetrics[] = existsSync(file) ? (await loadCheckpoint(file)).metrics : [];

  // Reports epochs from `from` on to the log (once each, whoever reports them) and returns the decision about the last.
  let reported = 0;
  const reportUpTo = async (): Promise<Decision | 'early stop'> => {
    let decision: Decision | 'early stop' = { stop: false };
    for (; reported < metrics.length; reported++) {
      const m = metrics[reported];
      const { log, at } = await ctx.log.report({ trial: trial.name, epoch: m.epoch, valAccuracy: m.valAccuracy });
      decision = earlyStop.observe(m) && m.epoch < budget ? 'early stop' : decide(ctx.scheduler, budget, log, at);
      if (decision === 'early stop' || decision.stop) break;
    }
    return decision;
  };

  for (;;) {
    const decision = await reportUpTo();
    if (decision === 'early stop') return outcome(trial.name, 'stopped', 'early stop', metrics);
    if (decision.stop) return outcome(trial.name, 'stopped', decision.reason, metrics);
    if (metrics.length >= budget) return outcome(trial.name, 'completed', 'budget', metrics);
    if (ctx.signal?.aborted) return outcome(trial.name, 'interrupted', 'interrupted', metrics);

    // Train up to the next epoch that is judged (or the end); the trainer stops there on our abort, before its test set.
    const until = judged.find((e) => e > metrics.length) ?? budget;
    const segment = new AbortController();
    const handBack = () => segment.abort();
    ctx.signal?.addEventListener('abort', handBack);
    let keeping = Promise.resolve();
    try {
      const result = await train({ ...options, out: file, resume: existsSync(file) ? file : undefined }, {
        signal: segment.signal,
        onEvent: (e) => {
          if (e.type !== 'epoch') return;
          // The checkpoint of this epoch is on disk now; its bytes are read at once, before the next epoch's save.
          const bytes = readFileSync(file);
          const best = e.best ? readFileSync(bestCheckpointFile(file)) : null;
          keeping = keeping.then(() => ctx.store.keep(trial.name, bytes, false)).then(() => (best ? ctx.store.keep(trial.name, best, true) : undefined));
          ctx.onProgress?.({ trial: trial.name, epoch: e.epoch, epochs: budget, valAccuracy: e.valAccuracy, trainLoss: e.trainLoss });
          if (e.epoch >= until || e.stopsEarly) segment.abort();
        },
      });
      metrics = result.metrics;
    } catch (err) {
      await keeping;
      if (err instanceof MnistDpError && err.code !== 'WORKER_FAILED') return outcome(trial.name, 'failed', err.message, metrics);
      throw err;
    } finally {
      ctx.signal?.removeEventListener('abort', handBack);
    }
    await keeping;
    // A stop mid-epoch (the trial handed back) saved a checkpoint that no epoch event announced.
    if (ctx.signal?.aborted && existsSync(file)) await ctx.store.keep(trial.name, await readFile(file), false);
  }
}
