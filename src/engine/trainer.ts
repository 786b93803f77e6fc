import { loadCheckpoint, saveCheckpoint, type Checkpoint, type Position } from '../checkpoint.js';
import { dataSetRecord } from '../data/provenance.js';
import { badCheckpoint, MnistDpError } from '../errors.js';
import type { BestEpoch, DoneEvent, EpochMetrics, TrainEvent } from '../events.js';
import { parameterCount } from '../model/layout.js';
import { describeSpec, type ModelSpec } from '../model/spec.js';
import { describeRecipe, learningRate, type ResolvedTrainOptions } from '../options.js';
import { epochPermutation } from '../rng.js';
import { failAll } from './barrier.js';
import { Checkpointer } from './checkpointer.js';
import { EarlyStop } from './early-stop.js';
import { evaluate, runEpochSteps, type Timing } from './epoch.js';

export type { Timing };
import { workerFile } from './pool.js';
import { STEP_BARRIER } from './memory.js';
import { checkSameStart, joinRanks, stopAgreed } from './ranks.js';
import { loadRunMemory } from './run-memory.js';
import { WorkerGroup } from './worker-group.js';

/**
 * The coordinator, as a script of four parts: the data placed in shared memory once (run-memory.ts), a
 * group of worker threads attached to it (worker-group.ts), a checkpointer (checkpointer.ts), and the
 * epoch loop below. Per epoch the coordinator writes the seeded shuffle of the training images into the
 * shared memory and hands each worker one task that runs all the epoch's steps (epoch.ts, step.ts); then
 * it validates, saves and reports. Only small task messages cross threads.
 */

export interface RunHooks {
  onEvent?: (e: TrainEvent) => void;
  signal?: AbortSignal;
  /** Worker entry file (tests substitute a faulty one). */
  workerFile?: string;
}

export interface TrainResult {
  spec: ModelSpec;
  /** The model's weights: the moving average when the run keeps one, else the trained weights. */
  params: Float32Array;
  metrics: EpochMetrics[];
  testAccuracy: number | null;
  testLoss: number | null;
  aborted: boolean;
  checkpoint: string | null;
  seconds: number;
  /** Messages sent to workers and their structured-clone size: evidence that no weights or pixels move. */
  messages: { count: number; bytes: number; maxBytes: number };
  /**
   * Training time (evaluation excluded), and the mean time a worker spent within it computing gradients,
   * reducing them and updating the parameters, and at the step barriers.
   */
  timing: Timing;
  /** With `keepBest`: the epoch of the best validation accuracy so far and where its model is. */
  best: BestEpoch | null;
}

/** Trains with resolved options, continuing from `resumed` when given (see api.ts for how both are made). */
export async function runTraining(o: ResolvedTrainOptions, resumed: Checkpoint | null, hooks: RunHooks = {}): Promise<TrainResult> {
  const started = performance.now();
  const world = joinRanks(o);
  const lead = !world || world.rank === 0;
  const emit = (lead && hooks.onEvent) || (() => {});
  const run = await loadRunMemory(o, resumed);
  const { spec, trainCount, views: v } = run;
  const data = dataSetRecord(run.data, o.data);
  const position: Position = resumed ? { ...resumed.position } : { epoch: 0, step: 0, lossSum: 0, samples: 0 };
  if (world) checkSameStart(world, o, v, data, position);
  const workers = new WorkerGroup(hooks.workerFile ?? workerFile('train-worker'), o.workers,
    { memory: run.memory, plan: run.plan, spec, conv: o.conv, kernels: o.kernels, ranks: world && { rank: world.rank, size: world.size } },
    () => failAll(v.control, STEP_BARRIER)); // a worker lost between tasks: none may wait at a barrier for it
  // Only rank 0 writes files; the others keep the same state (and take the same early-stop decisions) in memory.
  const checkpoints = new Checkpointer(lead ? o : { ...o, out: null, keepBest: false }, spec, v, resumed, { data });
  const weights = o.ema > 0 ? 'ema' : 'params';
  const stepsPerEpoch = Math.ceil(trainCount / o.batchSize);
  const metrics: EpochMetrics[] = resumed ? [...resumed.metrics] : [];
  const timing: Timing = { trainSeconds: 0, gradientSeconds: 0, updateSeconds: 0, barrierSeconds: 0, exchangeSeconds: 0 };
  const earlyStop = new EarlyStop(o.earlyStop, o.minDelta, metrics);
  let stoppedEarly = false;
  /** `test` null: interrupted (aborted), or trained with `test: false` (not aborted). */
  const finish = async (test: { accuracy: number; loss: number } | null, aborted = test === null): Promise<TrainResult> => {
    // An early-stopped run's checkpoint stays its last epoch's (saved after it, resumable); its test accuracy goes with its kept model.
    if (!stoppedEarly) await checkpoints.save(position, metrics, test?.accuracy ?? null);
    const seconds = (performance.now() - started) / 1000;
    const end: Omit<DoneEvent, 'type'> = { testAccuracy: test?.accuracy ?? null, testLoss: test?.loss ?? null, aborted,
      epochs: o.epochs, seconds, checkpoint: o.out, best: checkpoints.best, stoppedEarly };
    emit({ type: 'done', ...end });
    return { spec, params: (o.ema > 0 ? v.ema : v.params).slice(), metrics, testAccuracy: end.testAccuracy, testLoss: end.testLoss,
      aborted: end.aborted, checkpoint: o.out, seconds, messages: workers.messages, timing, best: end.best };
  };

  try {
    if (resumed && position.step >= stepsPerEpoch) {
      throw badCheckpoint(o.resume ?? 'the checkpoint', `says step ${position.step + 1} of an epoch of ${stepsPerEpoch} steps; the file is damaged, or --data is not the run's data set`);
    }
    emit({
      type: 'start', spec: describeSpec(spec), recipe: describeRecipe(o), kernels: o.kernels, workers: o.workers, parameters: parameterCount(run.net.layout),
      trainSize: trainCount, valSize: o.valSize, testSize: run.data.test.count, epochs: o.epochs, batchSize: o.batchSize,
      microBatch: o.microBatch, stepsPerEpoch, startEpoch: position.epoch, startStep: position.step, checkpoint: o.out,
    });
    while (position.epoch < o.epochs) {
      if (stopAgreed(world, hooks.signal?.aborted === true)) return await finish(null);
      const epoch = position.epoch;
      v.epochOrder.set(epochPermutation(o.seed, epoch, trainCount));
      const epochStart = performance.now();
      const before = { ...position, timing: { ...timing } };
      const r = await runEpochSteps({ o, run, workers, stepsPerEpoch, emit, signal: hooks.signal }, epoch, position, timing);
      const trainSeconds = (performance.now() - epochStart) / 1000;
      Object.assign(position, { step: r.nextStep, lossSum: r.lossSum, samples: r.samples });
      if (r.outcome === 'diverged') {
        throw new MnistDpError('DIVERGED', `the training loss became ${r.badLoss} at epoch ${epoch + 1}, step ${r.nextStep + 1}; the learning rate ${o.lr} is too large for this model: try --lr ${o.lr / 10}.${checkpoints.whatIsSaved}`);
      }
      if (position.step < stepsPerEpoch) return await finish(null); // stopped on request mid-epoch

      const val = o.valSize > 0 ? await evaluate(workers, weights, 'train', trainCount, trainCount + o.valSize) : null;
      const perStep = (key: keyof Timing) => (1e6 * (timing[key] - before.timing[key])) / (stepsPerEpoch - before.step);
      const stepMicros = { gradients: perStep('gradientSeconds'), update: perStep('updateSeconds'), barriers: perStep('barrierSeconds'),
        ...(world ? { exchange: perStep('exchangeSeconds') } : {}) };
      const m: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: position.lossSum / position.samples,
        valLoss: val?.loss ?? null,
        valAccuracy: val?.accuracy ?? null,
        samplesPerSecond: (position.samples - before.samples) / Math.max(trainSeconds, 1e-9), // a resumed epoch counts only the steps run here
        seconds: (performance.now() - epochStart) / 1000,
        stepMicros,
      };
      metrics.push(m);
      Object.assign(position, { epoch: epoch + 1, step: 0, lossSum: 0, samples: 0 });
      await checkpoints.save(position, metrics, null);
      const best = await checkpoints.keepIfBest(m, position, metrics);
      const stopsEarly = stopAgreed(world, earlyStop.observe(m) && position.epoch < o.epochs); // every rank decides alike; agreed so none could wait alone
      emit({ type: 'epoch', ...m, epochs: o.epochs, lr: learningRate(o, epoch, stepsPerEpoch - 1, stepsPerEpoch),
        elapsedSeconds: (performance.now() - started) / 1000, checkpoint: o.out, stepMicros, best, stopsEarly });
      if (stopsEarly) {
        stoppedEarly = true;
        break;
      }
    }
    // An abort that came after the last step (e.g. a sweep stopping its trial at the end) skips the test set.
    if (stopAgreed(world, hooks.signal?.aborted === true)) return await finish(null);
    // An early-stopped run's kept model is its best epoch's: that one is tested, and its file records the result.
    const kept = stoppedEarly && checkpoints.best ? await loadCheckpoint(checkpoints.best.checkpoint) : null;
    if (kept) (o.ema > 0 ? v.ema : v.params).set(kept.ema ?? kept.params);
    if (!o.test) return await finish(null, false); // a search: chosen on validation, tested once afterwards
    const test = await evaluate(workers, weights, 'test', 0, run.data.test.count);
    if (kept) await saveCheckpoint(checkpoints.best!.checkpoint, { ...kept, testAccuracy: test.accuracy });
    return await finish(test);
  } catch (err) {
    if (err instanceof MnistDpError && err.code === 'WORKER_FAILED') throw new MnistDpError('WORKER_FAILED', `${err.message}${checkpoints.whatIsSaved}`);
    throw err;
  } finally {
    await workers.destroy();
  }
}
