import type { Kernels } from '../kernels/kernels.js';
import type { ParamLayout } from '../model/layout.js';
import { backward, forward } from '../model/network.js';
import type { MlpSpec } from '../model/spec.js';
import { learningRate } from '../options.js';
import { arriveAndWait } from './barrier.js';
import { Control, STEP_BARRIER, type MemoryPlan, type ScratchViews, type SharedViews } from './memory.js';
import type { EvalResult, EvalTask, RunResult, RunTask } from './protocol.js';

/**
 * The work of training, as plain functions over the shared views: the worker entry file only routes
 * tasks here, and tests call the step functions directly without threads.
 */
export interface StepContext {
  k: Kernels;
  spec: MlpSpec;
  layout: ParamLayout;
  plan: MemoryPlan;
  shared: SharedViews;
  scratch: ScratchViews;
}

/** The part [begin, end) of [0, n) that rank `rank` of `parts` owns, boundaries on multiples of `align`. */
export function rangeOf(rank: number, parts: number, n: number, align = 1): [number, number] {
  const units = Math.ceil(n / align);
  const at = (r: number) => Math.min(n, Math.floor((r * units) / parts) * align);
  return [at(rank), at(rank + 1)];
}

/**
 * Forward, loss and backward over micro-shards [s0, s1) of a batch of `batchSize` rows whose sample
 * indices are `index`: fills those micro-shards' gradient slots and shardLoss entries.
 */
export function computeGradients(ctx: StepContext, s0: number, s1: number, batchSize: number, index: Int32Array): void {
  const { k, spec, layout, plan, shared, scratch } = ctx;
  const m = plan.micro;
  const r0 = s0 * m;
  const M = Math.min(s1 * m, batchSize) - r0;
  if (M <= 0) return;
  const C = spec.layers[spec.layers.length - 1];
  k.gather(scratch.x, scratch.y, shared.trainImages, shared.trainLabels, index.subarray(r0), M, plan.D);
  const out = forward(k, spec, layout, shared.params, scratch.x, scratch.acts, M, scratch.sparse);
  for (let s = s0, r = 0; r < M; s++, r += m) {
    const rows = Math.min(m, M - r);
    shared.shardLoss[s] = k.lossForwardBackward(
      out.subarray(r * C), scratch.dz.subarray(r * C), scratch.y.subarray(r), rows, C, spec.output, spec.loss);
  }
  backward(k, spec, layout, shared.params, scratch.x, scratch.acts, scratch.dz, scratch.spare, M, {
    micro: m,
    firstShard: s0,
    slot: (s) => shared.slots.subarray(s * plan.P, (s + 1) * plan.P),
  }, scratch.sparse);
}

/**
 * One worker's share of steps [fromStep, toStep) of an epoch. Per step:
 *   1. gradients of this rank's micro-shards              (all ranks in parallel)
 *   2. barrier: every slot and shard loss is written
 *   3. the batch loss, summed over shards in index order  (every rank gets the same number)
 *   4. reduce the slots and take the SGD step on this rank's parameter range
 *   5. barrier: every parameter is updated; the last to arrive turns a stop request into a decision
 * Nothing else synchronises, and no message is exchanged until the task returns.
 */
export function runSteps(ctx: StepContext, t: RunTask): RunResult {
  const { k, plan, shared } = ctx;
  const { control } = shared;
  const [p0, p1] = rangeOf(t.rank, t.workers, plan.P, 16); // 16 floats: whole cache lines per rank
  let { lossSum, samples } = t;
  let waited = 0; // ms at the barriers: synchronisation cost plus load imbalance
  const meet = (last?: () => void) => {
    const t0 = performance.now();
    const ok = arriveAndWait(control, STEP_BARRIER, t.workers, t.spinMicros, last);
    waited += performance.now() - t0;
    return ok;
  };
  const result = (outcome: RunResult['outcome'], nextStep: number, badLoss?: number): RunResult =>
    ({ outcome, nextStep, lossSum, samples, barrierSeconds: waited / 1000, badLoss });
  const stopIfRequested = () => {
    if (Atomics.load(control, Control.stopRequested)) Atomics.store(control, Control.stopping, 1);
  };
  for (let step = t.fromStep; step < t.toStep; step++) {
    const batchSize = Math.min(t.batchSize, t.trainCount - step * t.batchSize);
    const shards = Math.ceil(batchSize / plan.micro);
    const [s0, s1] = rangeOf(t.rank, t.workers, plan.shards);
    computeGradients(ctx, s0, Math.min(s1, shards), batchSize, shared.epochOrder.subarray(step * t.batchSize));
    if (!meet()) return result('failed', step);

    let loss = 0;
    for (let s = 0; s < shards; s++) loss += shared.shardLoss[s];
    if (!Number.isFinite(loss)) return result('diverged', step, loss);
    const hp = { lr: learningRate(t.schedule, t.epoch, step, t.stepsPerEpoch), momentum: t.momentum, nesterov: t.nesterov, weightDecay: t.weightDecay };
    k.reduceSlots(shared.grad, shared.slots, shards, plan.P, p0, p1, 1 / batchSize);
    k.sgdStep(shared.params, shared.grad, shared.velocity, p0, p1, hp);
    lossSum += loss;
    samples += batchSize;
    if (t.rank === 0) {
      shared.progress[0] = lossSum;
      shared.progress[1] = samples;
      Atomics.store(control, Control.stepsDone, step + 1 - t.fromStep);
    }
    if (!meet(stopIfRequested)) return result('failed', step + 1);
    if (Atomics.load(control, Control.stopping)) return result('stopped', step + 1);
  }
  return result('done', t.toStep);
}

/** Summed loss and number of correct predictions over images [begin, end) of one set. */
export function runEvalTask(ctx: StepContext, t: EvalTask): EvalResult {
  const { k, spec, layout, plan, shared, scratch } = ctx;
  const images = t.set === 'train' ? shared.trainImages : shared.testImages;
  const labels = t.set === 'train' ? shared.trainLabels : shared.testLabels;
  const C = spec.layers[spec.layers.length - 1];
  let correct = 0;
  let lossSum = 0;
  for (let start = t.begin; start < t.end; start += plan.rows) {
    const M = Math.min(plan.rows, t.end - start);
    for (let r = 0; r < M; r++) scratch.index[r] = start + r;
    k.gather(scratch.x, scratch.y, images, labels, scratch.index, M, plan.D);
    const out = forward(k, spec, layout, shared.params, scratch.x, scratch.acts, M, scratch.sparse);
    lossSum += k.lossForwardBackward(out, scratch.dz, scratch.y, M, C, spec.output, spec.loss);
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
