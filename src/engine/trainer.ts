import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { serialize } from 'node:v8';
import { Piscina } from 'piscina';
import { bestCheckpointFile, saveCheckpoint, savedOptions, type Checkpoint, type EpochMetrics } from '../checkpoint.js';
import { defaultMnistDir, loadIdxDataset, type IdxDataset } from '../data/dataset.js';
import { badCheckpoint, badOption, MnistDpError } from '../errors.js';
import type { BestEpoch, DoneEvent, TrainEvent } from '../events.js';
import { augmentScratchFloats } from '../data/augment.js';
import { initParams } from '../model/init.js';
import { compileNet, parameterCount } from '../model/layout.js';
import { describeSpec, specClasses, specInputs, type ModelSpec } from '../model/spec.js';
import { describeRecipe, learningRate, type ResolvedTrainOptions, type ScheduleOptions } from '../options.js';
import { OPTIMIZERS } from '../optim/index.js';
import { epochPermutation } from '../rng.js';
import { failAll } from './barrier.js';
import { Control, createSharedMemory, planMemory, sharedViews, STEP_BARRIER } from './memory.js';
import { workerFile } from './pool.js';
import { rangeOf, resetPhase, Phase } from './queues.js';
import type { EvalResult, RunResult, Task, WorkerInit } from './protocol.js';

/**
 * The coordinator: loads the data into shared memory once, then runs the epoch loop. Each step it writes
 * the batch's sample indices, has the workers compute gradients of contiguous runs of micro-shards, sums
 * the micro-shard losses in a fixed order, and has the workers reduce the gradients and take the SGD step,
 * each on its own range of parameters. Only small task messages cross threads.
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
  timing: { trainSeconds: number; gradientSeconds: number; updateSeconds: number; barrierSeconds: number };
  /** With `keepBest`: the epoch of the best validation accuracy so far and where its model is. */
  best: BestEpoch | null;
}

/**
 * A new CNN reads images of the data's shape: a layer string says nothing about the input, so the same
 * `--model` trains on 28×28 MNIST or on any other single-channel IDX data set. A resumed run keeps its
 * checkpoint's shape (checked by checkSpecFitsData).
 */
function fitInputToData(spec: ModelSpec, data: IdxDataset): ModelSpec {
  if (spec.kind !== 'cnn') return spec;
  return { ...spec, input: { height: data.train.rows, width: data.train.cols, channels: 1 } };
}

/** Checks that the network fits the data: inputs = pixels per image, outputs = number of classes. */
function checkSpecFitsData(spec: ModelSpec, data: IdxDataset): void {
  const inputs = data.train.rows * data.train.cols;
  if (spec.kind === 'cnn') {
    const { height, width, channels } = spec.input;
    if (height !== data.train.rows || width !== data.train.cols || channels !== 1 || specClasses(spec) !== data.classes) {
      throw badOption(`--model ${describeSpec(spec)} does not fit the data: it takes ${height}×${width}×${channels} images and ${specClasses(spec)} classes, the data has ${data.train.rows}×${data.train.cols}×1 and ${data.classes}; end the model with fc${data.classes}`);
    }
    return;
  }
  if (specInputs(spec) !== inputs || specClasses(spec) !== data.classes) {
    throw badOption(`--layers ${spec.layers.join('-')} does not fit the data: it must start at ${inputs} (${data.train.rows}×${data.train.cols} pixels) and end at ${data.classes} (classes), e.g. ${inputs}-256-128-${data.classes}`);
  }
}

/** The text of whatever a worker threw: an Error's message, or the thrown value itself (a string, undefined). */
function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') return (err as { message: string }).message;
  return `it threw ${typeof err === 'string' ? JSON.stringify(err) : String(err)}`;
}

/** Trains with resolved options, continuing from `resumed` when given (see api.ts for how both are made). */
export async function runTraining(o: ResolvedTrainOptions, resumed: Checkpoint | null, hooks: RunHooks = {}): Promise<TrainResult> {
  const started = performance.now();
  const emit = hooks.onEvent ?? (() => {});
  const data = await loadIdxDataset(o.data ?? defaultMnistDir());
  const spec = resumed ? o.spec : fitInputToData(o.spec, data);
  checkSpecFitsData(spec, data);

  // The validation images are the last valSize of the training file; training uses the first trainCount
  // of the rest. In shared memory both sit in one region: training rows first, then validation rows.
  const total = data.train.count;
  if (o.valSize >= total) throw badOption(`--val-size ${o.valSize} leaves no training images (the training set has ${total})`);
  const trainCount = o.trainSize > 0 ? Math.min(o.trainSize, total - o.valSize) : total - o.valSize;
  const D = data.train.rows * data.train.cols;
  const net = compileNet(spec);
  const image = { height: data.train.rows, width: data.train.cols };
  const plan = planMemory({
    net, optimizerState: OPTIMIZERS[o.optimizer.kind].state, ema: o.ema > 0,
    augmentFloats: o.augment ? augmentScratchFloats(image.height, image.width, o.augment) : 0,
    batch: o.batchSize, micro: o.microBatch, workers: o.workers, D,
    trainCount: trainCount + o.valSize, trainOnly: trainCount, testCount: data.test.count,
  });
  const memory = createSharedMemory(plan);
  const v = sharedViews(memory.buffer, plan);
  v.trainImages.set(data.train.images.subarray(0, trainCount * D));
  v.trainImages.set(data.train.images.subarray((total - o.valSize) * D), trainCount * D);
  v.trainLabels.set(data.train.labels.subarray(0, trainCount));
  v.trainLabels.set(data.train.labels.subarray(total - o.valSize), trainCount);
  v.testImages.set(data.test.images);
  v.testLabels.set(data.test.labels);

  if (resumed) {
    v.params.set(resumed.params);
    for (const [name, state] of Object.entries(v.optimizerState)) state.set(resumed.optimizer.state[name]);
  } else {
    initParams(v.params, net, o.seed);
  }
  if (o.ema > 0) v.ema.set(resumed?.ema ?? v.params);
  const weights = o.ema > 0 ? 'ema' : 'params';
  const modelParams = () => (o.ema > 0 ? v.ema : v.params);

  const init: WorkerInit = { memory, plan, spec, kernels: o.kernels };
  const pool = new Piscina({
    filename: hooks.workerFile ?? workerFile('train-worker'),
    minThreads: o.workers,
    maxThreads: o.workers,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: init,
  });
  // A worker that fails between tasks (an unhandled rejection surfaces after its task returned) reaches
  // the pool as an 'error' event: kept here, it fails the next dispatch, and releases any waiting worker.
  let poolFailure: unknown = null;
  pool.on('error', (err: unknown) => {
    poolFailure ??= err;
    failAll(v.control, STEP_BARRIER);
  });
  const messages = { count: 0, bytes: 0, maxBytes: 0 };
  const timing = { trainSeconds: 0, gradientSeconds: 0, updateSeconds: 0, barrierSeconds: 0 };
  const dispatch = async <R>(tasks: Task[], onFailure?: () => void): Promise<R[]> => {
    for (const t of tasks) {
      const bytes = serialize(t).byteLength;
      messages.count++;
      messages.bytes += bytes;
      messages.maxBytes = Math.max(messages.maxBytes, bytes);
    }
    try {
      if (poolFailure !== null) throw poolFailure;
      const results = (await Promise.all(tasks.map((t) => pool.run(t).catch((err: unknown) => {
        onFailure?.(); // wake the other workers at once: they must not wait at a barrier for a dead one
        throw err;
      })))) as R[];
      if (poolFailure !== null) throw poolFailure;
      return results;
    } catch (err) {
      throw new MnistDpError('WORKER_FAILED', `a worker failed: ${errorText(err)}. Training stopped.${keptCheckpoint()}`);
    }
  };

  const evaluate = async (set: 'train' | 'test', begin: number, end: number) => {
    const parts = Array.from({ length: o.workers }, (_, rank) => rangeOf(rank, o.workers, end - begin))
      .filter(([a, b]) => b > a)
      .map(([a, b]): Task => ({ kind: 'eval', set, weights, begin: begin + a, end: begin + b }));
    const results = await dispatch<EvalResult>(parts);
    const n = end - begin;
    return {
      accuracy: results.reduce((s, r) => s + r.correct, 0) / n,
      loss: results.reduce((s, r) => s + r.lossSum, 0) / n,
    };
  };

  const stepsPerEpoch = Math.ceil(trainCount / o.batchSize);
  if (resumed && resumed.position.step >= stepsPerEpoch) {
    throw badCheckpoint(o.resume ?? 'the checkpoint', `says step ${resumed.position.step + 1} of an epoch of ${stepsPerEpoch} steps; the file is damaged, or --data is not the run's data set`);
  }
  const schedule: ScheduleOptions = { lr: o.lr, schedule: o.schedule, epochs: o.epochs, lrStepEpochs: o.lrStepEpochs, lrGamma: o.lrGamma, warmupEpochs: o.warmupEpochs };
  const spinMicros = o.workers <= availableParallelism() ? 200 : 0;
  const metrics: EpochMetrics[] = resumed ? [...resumed.metrics] : [];
  const position = resumed ? { ...resumed.position } : { epoch: 0, step: 0, lossSum: 0, samples: 0 };
  // The checkpoint on disk that a failure leaves, if any: the resume point, then this run's last save.
  let lastSaved = resumed && o.out === o.resume ? o.out : null;
  const keptCheckpoint = () => (lastSaved ? ` The last checkpoint (${lastSaved}) is intact.` : ' No checkpoint was saved yet.');
  const save = async (testAccuracy: number | null, file = o.out) => {
    if (!file) return;
    await saveCheckpoint(file, {
      spec, params: v.params.slice(), ema: o.ema > 0 ? v.ema.slice() : null,
      optimizer: { kind: o.optimizer.kind, state: Object.fromEntries(Object.entries(v.optimizerState).map(([name, state]) => [name, state.slice()])) },
      options: { ...savedOptions(o), spec }, position, rng: { kind: 'counter', seed: o.seed }, metrics, testAccuracy,
    });
    if (file === o.out) lastSaved = file;
  };
  // --keep-best: the best epoch so far. A resumed run continues the comparison if its best file is there.
  const bestFile = o.keepBest && o.out ? bestCheckpointFile(o.out) : null;
  let best: BestEpoch | null = null;
  const beatsBest = (m: EpochMetrics): m is EpochMetrics & { valAccuracy: number } =>
    bestFile !== null && m.valAccuracy !== null && (!best || m.valAccuracy > best.valAccuracy);
  if (bestFile && resumed && existsSync(bestFile)) {
    for (const m of resumed.metrics) if (beatsBest(m)) best = { epoch: m.epoch, valAccuracy: m.valAccuracy, checkpoint: bestFile };
  }
  const finish = (e: Omit<DoneEvent, 'type' | 'seconds' | 'checkpoint' | 'epochs' | 'best'>): TrainResult => {
    const seconds = (performance.now() - started) / 1000;
    emit({ type: 'done', ...e, epochs: o.epochs, seconds, checkpoint: o.out, best });
    return { spec, params: modelParams().slice(), metrics, testAccuracy: e.testAccuracy, testLoss: e.testLoss,
      aborted: e.aborted, checkpoint: o.out, seconds, messages, timing, best };
  };

  // Steps of an epoch run as one task per worker (see runSteps); the coordinator meanwhile only watches the
  // progress words, and turns an abort into a stop request that the workers act on after a step.
  const runEpochSteps = async (epoch: number): Promise<RunResult> => {
    const c = v.control;
    Atomics.store(c, Control.stopRequested, hooks.signal?.aborted ? 1 : 0);
    Atomics.store(c, Control.stopping, 0);
    Atomics.store(c, Control.stepsDone, 0);
    resetPhase(v.tickets, Phase.gradients, o.workers); // the barriers zero them after each phase; a failed step may leave them set
    resetPhase(v.tickets, Phase.update, o.workers);
    const onAbort = () => Atomics.store(c, Control.stopRequested, 1);
    hooks.signal?.addEventListener('abort', onAbort);
    const from = position.step;
    const lr = (step: number) => learningRate(o, epoch, step, stepsPerEpoch);
    const report = () => {
      const done = Atomics.load(c, Control.stepsDone);
      if (done === 0) return;
      const seconds = (performance.now() - t0) / 1000;
      emit({ type: 'step', epoch: epoch + 1, epochs: o.epochs, step: from + done, stepsPerEpoch,
        loss: v.progress[0] / v.progress[1], samplesPerSecond: (v.progress[1] - position.samples) / seconds, lr: lr(from + done - 1) });
    };
    const t0 = performance.now();
    const timer = setInterval(report, 100);
    try {
      const tasks = Array.from({ length: o.workers }, (_, rank): Task => ({
        kind: 'run', rank, workers: o.workers, epoch, fromStep: from, toStep: stepsPerEpoch, stepsPerEpoch, trainCount,
        batchSize: o.batchSize, schedule, optimizer: o.optimizer, clipGradNorm: o.clipGradNorm, labelSmoothing: o.labelSmoothing, emaDecay: o.ema, augment: o.augment,
        image, seed: o.seed, lossSum: position.lossSum, samples: position.samples, spinMicros,
      }));
      const results = await dispatch<RunResult>(tasks, () => failAll(c, STEP_BARRIER));
      report();
      timing.trainSeconds += (performance.now() - t0) / 1000;
      const mean = (key: 'gradientSeconds' | 'updateSeconds' | 'barrierSeconds') => results.reduce((sum, r) => sum + r[key], 0) / results.length;
      timing.gradientSeconds += mean('gradientSeconds');
      timing.updateSeconds += mean('updateSeconds');
      timing.barrierSeconds += mean('barrierSeconds');
      return results[0];
    } finally {
      clearInterval(timer);
      hooks.signal?.removeEventListener('abort', onAbort);
    }
  };

  try {
    emit({
      type: 'start', spec: describeSpec(spec), recipe: describeRecipe(o), kernels: o.kernels, workers: o.workers, parameters: parameterCount(net.layout),
      trainSize: trainCount, valSize: o.valSize, testSize: data.test.count, epochs: o.epochs, batchSize: o.batchSize,
      microBatch: o.microBatch, stepsPerEpoch, startEpoch: position.epoch, startStep: position.step, checkpoint: o.out,
    });
    const interrupted = async () => {
      await save(null);
      return finish({ testAccuracy: null, testLoss: null, aborted: true });
    };
    while (position.epoch < o.epochs) {
      if (hooks.signal?.aborted) return await interrupted();
      const epoch = position.epoch;
      v.epochOrder.set(epochPermutation(o.seed, epoch, trainCount));
      const epochStart = performance.now();
      const samplesBefore = position.samples;
      const stepBefore = position.step;
      const timingBefore = { ...timing };
      const r = await runEpochSteps(epoch);
      const trainSeconds = (performance.now() - epochStart) / 1000;
      Object.assign(position, { step: r.nextStep, lossSum: r.lossSum, samples: r.samples });
      if (r.outcome === 'diverged') {
        throw new MnistDpError('DIVERGED', `the training loss became ${r.badLoss} at epoch ${epoch + 1}, step ${r.nextStep + 1}; the learning rate ${o.lr} is too large for this model: try --lr ${o.lr / 10}.${keptCheckpoint()}`);
      }
      if (position.step < stepsPerEpoch) return await interrupted(); // stopped on request mid-epoch
      const lr = learningRate(o, epoch, stepsPerEpoch - 1, stepsPerEpoch);
      const ranSamples = position.samples - samplesBefore; // a resumed epoch's speed counts only the steps run here
      const val = o.valSize > 0 ? await evaluate('train', trainCount, trainCount + o.valSize) : null;
      const m: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: position.lossSum / position.samples,
        valLoss: val?.loss ?? null,
        valAccuracy: val?.accuracy ?? null,
        samplesPerSecond: ranSamples / Math.max(trainSeconds, 1e-9),
        seconds: (performance.now() - epochStart) / 1000,
      };
      metrics.push(m);
      Object.assign(position, { epoch: epoch + 1, step: 0, lossSum: 0, samples: 0 });
      await save(null);
      const isBest = beatsBest(m);
      if (isBest) {
        await save(null, bestFile!);
        best = { epoch: m.epoch, valAccuracy: m.valAccuracy, checkpoint: bestFile! };
      }
      const perStep = (key: keyof typeof timing) => (1e6 * (timing[key] - timingBefore[key])) / (stepsPerEpoch - stepBefore);
      const stepMicros = { gradients: perStep('gradientSeconds'), update: perStep('updateSeconds'), barriers: perStep('barrierSeconds') };
      emit({ type: 'epoch', ...m, epochs: o.epochs, lr, elapsedSeconds: (performance.now() - started) / 1000, checkpoint: o.out, stepMicros, best: isBest });
    }
    const test = await evaluate('test', 0, data.test.count);
    await save(test.accuracy);
    return finish({ testAccuracy: test.accuracy, testLoss: test.loss, aborted: false });
  } finally {
    await pool.destroy();
  }
}
