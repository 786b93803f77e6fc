import { augmentBatch } from '../data/augment.js';
import { OPTIMIZERS, type UpdateViews } from '../optim/index.js';
import type { Kernels } from '../kernels/kernels.js';
import type { Net } from '../model/layout.js';
import { backward, forward, smoothLabels, type TrainPass } from '../model/network.js';
import { learningRate } from '../options.js';
import { arriveAndWait } from './barrier.js';
import { Control, STEP_BARRIER, type MemoryPlan, type ScratchViews, type SharedViews } from './memory.js';
import type { EvalResult, EvalTask, RunResult, RunTask } from './protocol.js';
import { Phase, rangeOf, resetPhase, takeItem } from './queues.js';
import type { RankExchange } from './ranks.js';
import { emaDecayAt, needsBlocks, updateBlocks, updateByBlocks, updateChunk, type UpdateStep } from './update.js';

/**
 * The work of training, as plain functions over the shared views: the worker entry file only routes
 * tasks here, and tests call the step functions directly without threads.
 */
export interface StepContext {
  k: Kernels;
  net: Net;
  plan: MemoryPlan;
  shared: SharedViews;
  scratch: ScratchViews;
  /** In an MPI job: this process's share of the micro-shards and the exchange of slots between ranks. */
  ranks?: RankExchange;
}

/** What a step does with a batch, besides forward and backward: the parts of RunTask computeGradients reads. */
export type BatchRecipe = Pick<RunTask, 'seed' | 'epoch' | 'labelSmoothing' | 'augment' | 'image'>;

/**
 * Forward, loss and backward over micro-shards [s0, s1) of a batch of `batchSize` rows whose sample
 * indices are `index`: fills those micro-shards' gradient slots and shardLoss entries.
 */
export function computeGradients(ctx: StepContext, s0: number, s1: number, batchSize: number, index: Int32Array, recipe: BatchRecipe): void {
  const { k, net, plan, shared, scratch } = ctx;
  const m = plan.micro;
  const r0 = s0 * m;
  const M = Math.min(s1 * m, batchSize) - r0;
  if (M <= 0) return;
  const C = net.classes;
  const samples = index.subarray(r0, r0 + M);
  k.gather(scratch.x, scratch.y, shared.trainImages, shared.trainLabels, samples, M, plan.D);
  if (recipe.augment) augmentBatch(scratch.x, scratch.augment, samples, M, recipe.image.height, recipe.image.width, recipe.seed, recipe.epoch, recipe.augment);
  const pass: TrainPass = {
    micro: m,
    firstShard: s0,
    slot: (s) => shared.slots.subarray(s * plan.P, (s + 1) * plan.P),
    seed: recipe.seed,
    epoch: recipe.epoch,
    samples,
  };
  const out = forward(k, net, shared.params, scratch, M, pass);
  for (let s = s0, r = 0; r < M; s++, r += m) {
    const rows = Math.min(m, M - r);
    const z = out.subarray(r * C);
    const dz = scratch.dz.subarray(r * C);
    const y = scratch.y.subarray(r);
    const loss = k.lossForwardBackward(z, dz, y, rows, C, net.spec.output, net.spec.loss);
    shared.shardLoss[s] = recipe.labelSmoothing > 0 ? smoothLabels(z, dz, y, rows, C, recipe.labelSmoothing, loss) : loss;
  }
  backward(k, net, shared.params, scratch, M, pass);
}

/** Chunks of the update per worker: small enough to share out the work of a paused worker, large enough for the kernels' speed. */
const UPDATE_CHUNKS_PER_WORKER = 8;

/**
 * One worker's share of steps [fromStep, toStep) of an epoch. Per step:
 *   1. gradients of micro-shards, this rank's first       (all ranks in parallel; see queues.ts); in an MPI
 *      job only this process's run of micro-shards (ranks.ts)
 *   2. barrier: every slot and shard loss is written; in an MPI job its last arriver exchanges the slots,
 *      shard losses and stop requests with the other processes
 *   3. the batch loss, summed over shards in index order  (every rank gets the same number)
 *   4. reduce the slots and take the optimiser step, chunk by chunk of the parameters, this rank's first;
 *      or, when a norm is needed (clipping, LAMB), in passes over fixed blocks with barriers between (update.ts)
 *   5. barrier: every parameter is updated; the last to arrive turns a stop request into a decision
 * Nothing else synchronises, and no message is exchanged until the task returns.
 */
export function runSteps(ctx: StepContext, t: RunTask): RunResult {
  const { plan, shared, ranks } = ctx;
  const { control, tickets } = shared;
  const exchangedBefore = ranks?.seconds ?? 0;
  const W = t.workers;
  const chunks = Math.min(UPDATE_CHUNKS_PER_WORKER * W, Math.ceil(plan.P / 16));
  const optimizer = OPTIMIZERS[t.optimizer.kind];
  const views: UpdateViews = { params: shared.params, grad: shared.grad, state: shared.optimizerState };
  const blocks = needsBlocks(optimizer, t.clipGradNorm) ? updateBlocks(ctx.net.layout) : null;
  let { lossSum, samples } = t;
  // ms in each phase: gradients, update, and the barriers (synchronisation cost plus load imbalance)
  let gradientMs = 0, updateMs = 0, waited = 0;
  let clock = performance.now();
  const lap = () => {
    const now = performance.now();
    const ms = now - clock;
    clock = now;
    return ms;
  };
  const meet = (last: () => void) => {
    const ok = arriveAndWait(control, STEP_BARRIER, W, t.spinMicros, last);
    waited += lap();
    return ok;
  };
  const meetWithinUpdate = (last: () => void) => {
    updateMs += lap();
    return meet(last);
  };
  const result = (outcome: RunResult['outcome'], nextStep: number, badLoss?: number): RunResult =>
    ({ outcome, nextStep, lossSum, samples, barrierSeconds: waited / 1000, gradientSeconds: gradientMs / 1000, updateSeconds: updateMs / 1000,
      exchangeSeconds: (ranks?.seconds ?? 0) - exchangedBefore, badLoss });
  let shards = 0;
  const gradientsDone = () => {
    // Across processes the stop is decided here, for every rank at once (a request that arrives later waits for the next step).
    if (ranks?.exchange(shared, plan.P, shards, Atomics.load(control, Control.stopRequested) === 1)) Atomics.store(control, Control.stopping, 1);
    resetPhase(tickets, Phase.gradients, W);
  };
  const stepDone = () => {
    resetPhase(tickets, Phase.update, W);
    if (!ranks && Atomics.load(control, Control.stopRequested)) Atomics.store(control, Control.stopping, 1);
  };
  for (let step = t.fromStep; step < t.toStep; step++) {
    const batchSize = Math.min(t.batchSize, t.trainCount - step * t.batchSize);
    shards = Math.ceil(batchSize / plan.micro);
    const batch = shared.epochOrder.subarray(step * t.batchSize);
    const [first, end] = ranks ? ranks.own(shards) : [0, shards];
    for (let i = takeItem(tickets, Phase.gradients, t.rank, W, end - first); i >= 0; i = takeItem(tickets, Phase.gradients, t.rank, W, end - first)) {
      computeGradients(ctx, first + i, first + i + 1, batchSize, batch, t);
    }
    gradientMs += lap();
    if (!meet(gradientsDone)) return result('failed', step);

    let loss = 0;
    for (let s = 0; s < shards; s++) loss += shared.shardLoss[s];
    if (!Number.isFinite(loss)) return result('diverged', step, loss);
    const lr = learningRate(t.schedule, t.epoch, step, t.stepsPerEpoch);
    const globalStep = t.epoch * t.stepsPerEpoch + step + 1;
    const u: UpdateStep = {
      optimizer, views, hp: { ...t.optimizer, lr, step: globalStep }, clip: t.clipGradNorm, shards, gradScale: 1 / batchSize,
      emaDecay: t.emaDecay > 0 ? emaDecayAt(t.emaDecay, globalStep) : 0,
    };
    if (blocks) {
      if (!updateByBlocks(ctx, u, blocks, t.rank, W, meetWithinUpdate)) return result('failed', step);
    } else {
      for (let c = takeItem(tickets, Phase.update, t.rank, W, chunks); c >= 0; c = takeItem(tickets, Phase.update, t.rank, W, chunks)) {
        const [p0, p1] = rangeOf(c, chunks, plan.P, 16); // 16 floats: whole cache lines per chunk
        updateChunk(ctx, u, p0, p1);
      }
    }
    lossSum += loss;
    samples += batchSize;
    if (t.rank === 0) {
      shared.progress[0] = lossSum;
      shared.progress[1] = samples;
      Atomics.store(control, Control.stepsDone, step + 1 - t.fromStep);
    }
    updateMs += lap();
    if (!meet(stepDone)) return result('failed', step + 1);
    if (Atomics.load(control, Control.stopping)) return result('stopped', step + 1);
  }
  return result('done', t.toStep);
}

/** Summed loss and number of correct predictions over images [begin, end) of one set. */
export function runEvalTask(ctx: StepContext, t: EvalTask): EvalResult {
  const { k, net, plan, shared, scratch } = ctx;
  const images = t.set === 'train' ? shared.trainImages : shared.testImages;
  const labels = t.set === 'train' ? shared.trainLabels : shared.testLabels;
  const params = t.weights === 'ema' ? shared.ema : shared.params;
  const C = net.classes;
  let correct = 0;
  let lossSum = 0;
  for (let start = t.begin; start < t.end; start += plan.rows) {
    const M = Math.min(plan.rows, t.end - start);
    for (let r = 0; r < M; r++) scratch.index[r] = start + r;
    k.gather(scratch.x, scratch.y, images, labels, scratch.index, M, plan.D);
    const out = forward(k, net, params, scratch, M, null);
    lossSum += k.lossForwardBackward(out, scratch.dz, scratch.y, M, C, net.spec.output, net.spec.loss);
    for (let r = 0; r < M; r++) if (argmax(out, r * C, C) === scratch.y[r]) correct++;
  }
  return { correct, lossSum };
}

/** Index of the largest of n values starting at `offset` (the first, on ties). */
export function argmax(v: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (v[offset + j] > v[offset + best]) best = j;
  return best;
}
