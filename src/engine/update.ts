import type { ParamLayout } from '../model/layout.js';
import { BLOCK_SUMS, clipCoefficient, type Optimizer, type StepHyper, type UpdateViews } from '../optim/index.js';
import { Phase, resetPhase, takeItem } from './queues.js';
import type { StepContext } from './step.js';

/**
 * The update phase of a step (step 4 of runSteps): reduce the micro-shards' gradient slots into the
 * batch-mean gradient, take the optimiser's step, move batch norm's running statistics, update the
 * weights' moving average. Two ways, the same for every worker count:
 *
 *   by chunks  elementwise work only (SGD, Adam, AdamW, no clipping): [0, P) cut into chunks by the worker
 *              count, one pass, no barrier of its own. The default runs take this way.
 *   by blocks  when a norm is needed (--clip-grad-norm, a per-tensor optimiser such as LAMB): passes over
 *              blocks fixed by the layout alone (each tensor cut into runs of at most BLOCK_FLOATS), with a
 *              barrier between passes. Each block writes its partial sums of squares to its own place in the
 *              shared blockSums region, and after the barrier every worker adds the partial sums it needs
 *              in block order. Which worker did a block never changes a bit, so neither does the norm.
 *
 *   pass 1   every block: reduce its gradient; trainable blocks: ‖g‖² into blockSums (clipping), or else
 *            the per-tensor optimiser's prepare (its state and partial sums)
 *   barrier
 *   pass 2   clipping: every worker sums ‖g‖² over all trainable blocks in order, the coefficient
 *            (src/optim/clip.ts); with a per-tensor optimiser: scale, prepare, barrier, then pass 3
 *   last     every block: the step (elementwise, or the per-tensor apply with its tensor's totals), or the
 *            running statistics for non-trainable blocks; then the weights' moving average
 *
 *   blockSums[i]                      ‖g‖² of block i (clipping), i < n blocks
 *   blockSums[n + BLOCK_SUMS·i + j]   partial sum j of block i for a per-tensor optimiser
 *
 * Batch norm's running statistics are not optimised and not counted in any norm. Padding between tensors
 * is not touched on this way (it is never read).
 */

/** Batch norm's running statistics move this far towards each batch's (PyTorch's momentum 0.1). */
const BN_MOMENTUM = 0.1;

/** Floats per block: a 16 KiB run, small enough that dozens of blocks share the work of a small network. */
export const BLOCK_FLOATS = 4096;

/** A run [begin, end) of one tensor; its tensor's blocks are [first, last). */
export interface UpdateBlock {
  begin: number;
  end: number;
  trainable: boolean;
  first: number;
  last: number;
}

/** The blocks of a layout: every tensor, in layout order, cut into runs of at most BLOCK_FLOATS from its start. */
export function updateBlocks(layout: ParamLayout): UpdateBlock[] {
  const blocks: UpdateBlock[] = [];
  for (const t of layout.tensors) {
    const first = blocks.length;
    const end = t.offset + t.size;
    for (let b = t.offset; b < end; b += BLOCK_FLOATS) blocks.push({ begin: b, end: Math.min(b + BLOCK_FLOATS, end), trainable: t.trainable, first, last: 0 });
    for (let i = first; i < blocks.length; i++) blocks[i].last = blocks.length;
  }
  return blocks;
}

/** Float64 words of the blockSums region: per block, one for clipping and BLOCK_SUMS for a per-tensor optimiser. */
export function blockSumWords(layout: ParamLayout): number {
  return (1 + BLOCK_SUMS) * updateBlocks(layout).length;
}

/** What one step's update needs besides the shared views. */
export interface UpdateStep {
  optimizer: Optimizer;
  views: UpdateViews;
  hp: StepHyper;
  /** The global gradient norm to clip to (0: none). */
  clip: number;
  /** Gradient slots to reduce, and their scale (1/batch size: the batch mean). */
  shards: number;
  gradScale: number;
  /** This step's decay of the weights' moving average (0: none). */
  emaDecay: number;
}

/** The moving average's decay at step t: min(decay, (1 + t)/(10 + t)), so early averages are not dominated by the initial weights. */
export function emaDecayAt(decay: number, t: number): number {
  return Math.min(decay, (1 + t) / (10 + t));
}

/** Whether a run's update must go by blocks. */
export function needsBlocks(optimizer: Optimizer, clip: number): boolean {
  return clip > 0 || optimizer.step.kind === 'per-tensor';
}

/** The update of parameters [p0, p1), by chunks: elementwise optimisers without clipping. */
export function updateChunk(ctx: StepContext, u: UpdateStep, p0: number, p1: number): void {
  const { k, net, plan, shared } = ctx;
  const step = u.optimizer.step;
  if (step.kind !== 'elementwise') throw new Error(`${u.optimizer.kind} is not elementwise: its update goes by blocks`);
  k.reduceSlots(shared.grad, shared.slots, u.shards, plan.P, p0, p1, u.gradScale);
  for (const seg of net.layout.segments) {
    const b = Math.max(seg.begin, p0);
    const e = Math.min(seg.end, p1);
    if (b >= e) continue;
    if (!seg.trainable) k.emaUpdate(shared.params, shared.grad, b, e, 1 - BN_MOMENTUM);
    else step.run(k, u.views, b, e, u.hp);
  }
  if (u.emaDecay > 0) k.emaUpdate(shared.ema, shared.params, p0, p1, u.emaDecay);
}

/**
 * The update by blocks (see above) for worker `rank` of `workers`; `meet` is the step barrier, given the
 * function its last arriver runs. Returns false when a barrier reports that the run failed.
 */
export function updateByBlocks(ctx: StepContext, u: UpdateStep, blocks: readonly UpdateBlock[], rank: number, workers: number,
  meet: (last: () => void) => boolean): boolean {
  const { k, plan, shared } = ctx;
  const { tickets, blockSums: sums, grad } = shared;
  const n = blocks.length;
  const step = u.optimizer.step;
  const clip = u.clip > 0;
  const each = (work: (b: UpdateBlock, i: number) => void) => {
    for (let i = takeItem(tickets, Phase.update, rank, workers, n); i >= 0; i = takeItem(tickets, Phase.update, rank, workers, n)) work(blocks[i], i);
  };
  const nextPass = () => resetPhase(tickets, Phase.update, workers); // the barrier's last arriver, while the others wait
  const prepare = (b: UpdateBlock, i: number) => {
    if (step.kind === 'per-tensor') step.prepare(k, u.views, b.begin, b.end, u.hp, sums, n + BLOCK_SUMS * i);
  };
  const totals = new Array<number>(BLOCK_SUMS).fill(0);
  const finish = (b: UpdateBlock, factor: number) => {
    if (!b.trainable) k.emaUpdate(shared.params, grad, b.begin, b.end, 1 - BN_MOMENTUM);
    else if (step.kind === 'per-tensor') {
      for (let j = 0; j < step.sums; j++) {
        let s = 0;
        for (let i = b.first; i < b.last; i++) s += sums[n + BLOCK_SUMS * i + j];
        totals[j] = s;
      }
      step.apply(k, u.views, b.begin, b.end, u.hp, totals);
    } else {
      if (factor < 1) k.scale(grad, b.begin, b.end, factor);
      step.run(k, u.views, b.begin, b.end, u.hp);
    }
    if (u.emaDecay > 0) k.emaUpdate(shared.ema, shared.params, b.begin, b.end, u.emaDecay);
  };

  each((b, i) => {
    k.reduceSlots(grad, shared.slots, u.shards, plan.P, b.begin, b.end, u.gradScale);
    if (!b.trainable) return;
    if (clip) sums[i] = k.sumSquares(grad, b.begin, b.end);
    else prepare(b, i);
  });
  if (!meet(nextPass)) return false;
  let factor = 1;
  if (clip) {
    let total = 0;
    for (let i = 0; i < n; i++) if (blocks[i].trainable) total += sums[i];
    factor = Math.fround(clipCoefficient(Math.sqrt(total), u.clip)); // a float32, as the gradients it scales
    if (step.kind === 'per-tensor') {
      each((b, i) => {
        if (!b.trainable) return;
        if (factor < 1) k.scale(grad, b.begin, b.end, factor);
        prepare(b, i);
      });
      if (!meet(nextPass)) return false;
    }
  }
  each((b) => finish(b, step.kind === 'per-tensor' ? 1 : factor));
  return true;
}
