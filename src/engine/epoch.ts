import { availableParallelism } from 'node:os';
import type { Position } from '../checkpoint.js';
import type { TrainEvent } from '../events.js';
import { learningRate, type ResolvedTrainOptions, type ScheduleOptions } from '../options.js';
import { failAll } from './barrier.js';
import { Control, STEP_BARRIER } from './memory.js';
import type { EvalResult, RunResult, Task } from './protocol.js';
import { Phase, rangeOf, resetPhase } from './queues.js';
import type { RunMemory } from './run-memory.js';
import type { WorkerGroup } from './worker-group.js';

/**
 * The two kinds of work the coordinator hands its workers: an epoch's steps (one task per worker, which
 * runs every step; see runSteps in step.ts) and an evaluation (the images split into one range per worker).
 */

/** Where the workers' time went, summed over the run (seconds; per worker, averaged over the workers). */
export interface Timing {
  trainSeconds: number;
  gradientSeconds: number;
  updateSeconds: number;
  barrierSeconds: number;
  /** In an MPI job: time in the exchange of gradients between ranks (within barrierSeconds; one worker per step makes it). */
  exchangeSeconds: number;
}

/** What runEpochSteps needs of the run. */
export interface EpochContext {
  o: ResolvedTrainOptions;
  run: RunMemory;
  workers: WorkerGroup;
  stepsPerEpoch: number;
  emit: (e: TrainEvent) => void;
  signal?: AbortSignal;
}

/**
 * Runs steps position.step … stepsPerEpoch − 1 of `epoch` (or up to a stop request) and adds the time to
 * `timing`. The coordinator meanwhile only watches the progress words (a step event every 100 ms) and
 * turns an abort into a stop request, which the workers act on together after a step.
 */
export async function runEpochSteps(ctx: EpochContext, epoch: number, position: Position, timing: Timing): Promise<RunResult> {
  const { o, run, stepsPerEpoch, emit, signal } = ctx;
  const v = run.views;
  const c = v.control;
  Atomics.store(c, Control.stopRequested, signal?.aborted ? 1 : 0);
  Atomics.store(c, Control.stopping, 0);
  Atomics.store(c, Control.stepsDone, 0);
  resetPhase(v.tickets, Phase.gradients, o.workers); // the barriers zero them after each phase; a failed step may leave them set
  resetPhase(v.tickets, Phase.update, o.workers);
  const onAbort = () => Atomics.store(c, Control.stopRequested, 1);
  signal?.addEventListener('abort', onAbort);
  const from = position.step;
  const t0 = performance.now();
  const report = () => {
    const done = Atomics.load(c, Control.stepsDone);
    if (done === 0) return;
    const seconds = (performance.now() - t0) / 1000;
    emit({ type: 'step', epoch: epoch + 1, epochs: o.epochs, step: from + done, stepsPerEpoch,
      loss: v.progress[0] / v.progress[1], samplesPerSecond: (v.progress[1] - position.samples) / seconds,
      lr: learningRate(o, epoch, from + done - 1, stepsPerEpoch) });
  };
  const timer = setInterval(report, 100);
  try {
    const schedule: ScheduleOptions = { lr: o.lr, schedule: o.schedule, epochs: o.epochs, lrStepEpochs: o.lrStepEpochs, lrGamma: o.lrGamma, warmupEpochs: o.warmupEpochs };
    const spinMicros = o.workers <= availableParallelism() ? 200 : 0;
    const tasks = Array.from({ length: o.workers }, (_, rank): Task => ({
      kind: 'run', rank, workers: o.workers, epoch, fromStep: from, toStep: stepsPerEpoch, stepsPerEpoch, trainCount: run.trainCount,
      batchSize: o.batchSize, schedule, optimizer: o.optimizer, clipGradNorm: o.clipGradNorm, labelSmoothing: o.labelSmoothing, emaDecay: o.ema, augment: o.augment,
      image: run.image, seed: o.seed, lossSum: position.lossSum, samples: position.samples, spinMicros,
    }));
    const results = await ctx.workers.run<RunResult>(tasks, () => failAll(c, STEP_BARRIER));
    report();
    timing.trainSeconds += (performance.now() - t0) / 1000;
    const mean = (key: 'gradientSeconds' | 'updateSeconds' | 'barrierSeconds') => results.reduce((sum, r) => sum + r[key], 0) / results.length;
    timing.gradientSeconds += mean('gradientSeconds');
    timing.updateSeconds += mean('updateSeconds');
    timing.barrierSeconds += mean('barrierSeconds');
    timing.exchangeSeconds += results.reduce((sum, r) => sum + r.exchangeSeconds, 0);
    return results[0];
  } finally {
    clearInterval(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Accuracy and mean loss over images [begin, end) of the train region (validation) or the test set, one range per worker. */
export async function evaluate(workers: WorkerGroup, weights: 'params' | 'ema', set: 'train' | 'test', begin: number, end: number) {
  const parts = Array.from({ length: workers.size }, (_, rank) => rangeOf(rank, workers.size, end - begin))
    .filter(([a, b]) => b > a)
    .map(([a, b]): Task => ({ kind: 'eval', set, weights, begin: begin + a, end: begin + b }));
  const results = await workers.run<EvalResult>(parts);
  const n = end - begin;
  return {
    accuracy: results.reduce((s, r) => s + r.correct, 0) / n,
    loss: results.reduce((s, r) => s + r.lossSum, 0) / n,
  };
}
