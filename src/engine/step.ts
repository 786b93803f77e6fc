import type { Kernels } from '../kernels/kernels.js';
import type { ParamLayout } from '../model/layout.js';
import { backward, forward } from '../model/network.js';
import type { MlpSpec } from '../model/spec.js';
import type { MemoryPlan, ScratchViews, SharedViews } from './memory.js';
import type { EvalResult, EvalTask, GradTask, UpdateTask } from './protocol.js';

/**
 * The work of one training step, as plain functions over the shared views: the worker entry file only
 * routes tasks here, and tests call these directly without threads.
 */
export interface StepContext {
  k: Kernels;
  spec: MlpSpec;
  layout: ParamLayout;
  plan: MemoryPlan;
  shared: SharedViews;
  scratch: ScratchViews;
}

/** Forward, loss and backward over micro-shards [s0, s1): fills their gradient slots and shardLoss. */
export function runGradTask(ctx: StepContext, t: GradTask): void {
  const { k, spec, layout, plan, shared, scratch } = ctx;
  const m = plan.micro;
  const r0 = t.s0 * m;
  const M = Math.min(t.s1 * m, t.batchSize) - r0;
  const C = spec.layers[spec.layers.length - 1];
  k.gather(scratch.x, scratch.y, shared.trainImages, shared.trainLabels, shared.batchIndex.subarray(r0), M, plan.D);
  const out = forward(k, spec, layout, shared.params, scratch.x, scratch.acts, M);
  for (let s = t.s0, r = 0; r < M; s++, r += m) {
    const rows = Math.min(m, M - r);
    shared.shardLoss[s] = k.lossForwardBackward(
      out.subarray(r * C), scratch.dz.subarray(r * C), scratch.y.subarray(r), rows, C, spec.output, spec.loss);
  }
  backward(k, spec, layout, shared.params, scratch.x, scratch.acts, scratch.dz, scratch.spare, M, {
    micro: m,
    firstShard: t.s0,
    slot: (s) => shared.slots.subarray(s * plan.P, (s + 1) * plan.P),
  });
}

/** Averages the gradient slots over parameters [begin, end) and applies the optimiser there. */
export function runUpdateTask(ctx: StepContext, t: UpdateTask): void {
  const { k, plan, shared } = ctx;
  k.reduceSlots(shared.grad, shared.slots, t.shards, plan.P, t.begin, t.end, 1 / t.batchSize);
  k.sgdStep(shared.params, shared.grad, shared.velocity, t.begin, t.end, t.hp);
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
    const out = forward(k, spec, layout, shared.params, scratch.x, scratch.acts, M);
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
