import type { Net } from '../model/layout.js';
import { bufferSizes, type NetBuffers } from '../model/network.js';
import { ticketWords } from './queues.js';
import { blockSumWords } from './update.js';

/**
 * The memory map of a training run. Everything the workers touch lives in one shared
 * WebAssembly.Memory (its buffer is a SharedArrayBuffer), so kernels in JavaScript or WebAssembly read
 * weights and write gradients in place and nothing is copied per batch: only control messages move.
 *
 *   ┌──────────┬─────────┬──────────┬────────┬──────┬────────────────┬──────┬──────────────┬───────────┬───────────┬────────────┬──────────────┬─────────────────┐
 *   │ control  │ tickets │ progress │ params │ grad │ optimizerState │ ema  │ slots (S×P)  │ shardLoss │ blockSums │ epochOrder │ train / test │ scratch[0..W-1] │
 *   │ Int32 16 │ 2·W     │ f64 2    │ P f32  │ P    │ P per name     │ P or │ one per      │ S f64     │ f64, per  │ N int32    │ pixels and   │ per-worker      │
 *   │          │ lines   │          │        │      │ (SGD velocity; │ 0    │ micro-shard  │           │ update    │            │ labels, u8   │ NetBuffers      │
 *   │          │         │          │        │      │ Adam m, v)     │      │              │           │ block     │            │              │                 │
 *   └──────────┴─────────┴──────────┴────────┴──────┴────────────────┴──────┴──────────────┴───────────┴───────────┴────────────┴──────────────┴─────────────────┘
 *
 * The plan holds byte offsets only (a plain object the workers receive once); `sharedViews` and
 * `scratchViews` turn it into typed arrays on either side.
 */

/** Named control words (Int32 indices into the control region). */
export const Control = {
  /** Next free scratch slot: each worker claims one with Atomics.add when it starts. */
  nextScratch: 0,
  /** The step barrier (see barrier.ts). */
  arrived: 1,
  generation: 2,
  status: 3,
  /** Set by the coordinator to ask the workers to stop after the current step. */
  stopRequested: 4,
  /** Set by the barrier's last arriver when it saw stopRequested: every worker stops after this step. */
  stopping: 5,
  /** Steps finished in the current run task, for progress reports. */
  stepsDone: 6,
} as const;
const CONTROL_WORDS = 16;

/** The control words of the step barrier, as barrier.ts takes them. */
export const STEP_BARRIER = { arrived: Control.arrived, generation: Control.generation, status: Control.status } as const;

export interface Region {
  offset: number;
  bytes: number;
}

/** A worker's scratch: the network's buffers (see NetBuffers) plus labels, indices and augmentation scratch. */
export interface ScratchPlan {
  x: Region; // (R, inputs) float inputs
  y: Region; // (R) int32 labels
  index: Region; // (R) int32 sample indices, for evaluation ranges
  outs: Region[]; // per layer (R, outSize_l)
  aux: Region[];
  stats: Region[];
  cols: Region;
  tmpW: Region;
  dz: Region; // (R, width)
  spare: Region; // (R, width)
  sparse: Region; // int32 scratch of the sparse kernels (their lists of nonzeros) and batch norm (its float64 sums)
  augment: Region; // augmentation scratch
}

export interface MemoryPlan {
  bytes: number;
  /** Floats in the parameter layout (padding included). */
  P: number;
  /** Rows per micro-shard. */
  micro: number;
  /** Micro-shards in a full batch (gradient slots). */
  shards: number;
  /** Batch size. */
  batch: number;
  /** Rows of per-worker scratch: the most a worker is ever given at once. */
  rows: number;
  /** Pixels per image. */
  D: number;
  trainCount: number;
  testCount: number;
  control: Region;
  /** The step's work queues (see queues.ts): one counter per worker and phase, each on its own cache line. */
  tickets: Region;
  progress: Region;
  params: Region;
  grad: Region;
  /** The optimiser's state tensors by name (its `state`, src/optim/), P floats each. */
  optimizerState: Record<string, Region>;
  /** The weights' moving average (0 bytes without one). */
  ema: Region;
  slots: Region;
  shardLoss: Region;
  /** Partial sums of the update's fixed blocks, for norms (clipping, LAMB; see update.ts). */
  blockSums: Region;
  /** The current epoch's visiting order of the training images. */
  epochOrder: Region;
  trainImages: Region;
  trainLabels: Region;
  testImages: Region;
  testLabels: Region;
  scratch: ScratchPlan[];
}

export interface PlanInput {
  net: Net;
  /** Names of the optimiser's state tensors (src/optim/), each P floats. */
  optimizerState: readonly string[];
  /** Whether to allocate the weights' moving average. */
  ema: boolean;
  /** Floats of augmentation scratch per worker (0 without augmentation). */
  augmentFloats: number;
  batch: number;
  micro: number;
  workers: number;
  D: number;
  /** Images in the train region: the training images, then the validation images. */
  trainCount: number;
  testCount: number;
  /** Training images proper (the epoch order covers these). */
  trainOnly: number;
}

const ALIGN = 64; // a cache line; also keeps every region 16-byte aligned for SIMD

export function planMemory(input: PlanInput): MemoryPlan {
  const { net, batch, micro, workers, D } = input;
  const P = net.layout.size;
  const shards = Math.ceil(batch / micro);
  const rows = Math.ceil(shards / workers) * micro;
  const sizes = bufferSizes(net, rows, micro);
  let end = 0;
  const take = (bytes: number): Region => {
    const r = { offset: end, bytes };
    end = Math.ceil((end + bytes) / ALIGN) * ALIGN;
    return r;
  };
  const plan: Omit<MemoryPlan, 'bytes' | 'scratch'> = {
    P, micro, shards, batch, rows, D,
    trainCount: input.trainCount,
    testCount: input.testCount,
    control: take(CONTROL_WORDS * 4),
    tickets: take(ticketWords(workers) * 4),
    progress: take(2 * 8),
    params: take(P * 4),
    grad: take(P * 4),
    optimizerState: Object.fromEntries(input.optimizerState.map((name) => [name, take(P * 4)])),
    ema: take(input.ema ? P * 4 : 0),
    slots: take(shards * P * 4),
    shardLoss: take(shards * 8),
    blockSums: take(blockSumWords(net.layout) * 8),
    epochOrder: take(input.trainOnly * 4),
    trainImages: take(input.trainCount * D),
    trainLabels: take(input.trainCount),
    testImages: take(input.testCount * D),
    testLabels: take(input.testCount),
  };
  const scratch: ScratchPlan[] = [];
  for (let w = 0; w < workers; w++) {
    scratch.push({
      x: take(sizes.x * 4),
      y: take(rows * 4),
      index: take(rows * 4),
      outs: sizes.outs.map((n) => take(n * 4)),
      aux: sizes.aux.map((n) => take(n * 4)),
      stats: sizes.stats.map((n) => take(n * 4)),
      cols: take(sizes.cols * 4),
      tmpW: take(sizes.tmpW * 4),
      dz: take(sizes.dz * 4),
      spare: take(sizes.dz * 4),
      sparse: take(sizes.sparse * 4),
      augment: take(input.augmentFloats * 4),
    });
  }
  return { ...plan, scratch, bytes: end };
}

/** A shared WebAssembly.Memory big enough for the plan (its buffer is a SharedArrayBuffer). */
export function createSharedMemory(plan: MemoryPlan): WebAssembly.Memory {
  const pages = Math.ceil(plan.bytes / 65536);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

const f32 = (buf: ArrayBufferLike, r: Region) => new Float32Array(buf, r.offset, r.bytes / 4);
const i32 = (buf: ArrayBufferLike, r: Region) => new Int32Array(buf, r.offset, r.bytes / 4);
const u8 = (buf: ArrayBufferLike, r: Region) => new Uint8Array(buf, r.offset, r.bytes);

export interface SharedViews {
  control: Int32Array;
  tickets: Int32Array;
  /** [lossSum, samples] of the current epoch so far, written by worker 0 for progress reports. */
  progress: Float64Array;
  params: Float32Array;
  grad: Float32Array;
  optimizerState: Record<string, Float32Array>;
  ema: Float32Array;
  slots: Float32Array;
  shardLoss: Float64Array;
  blockSums: Float64Array;
  epochOrder: Int32Array;
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
}

export function sharedViews(buf: ArrayBufferLike, plan: MemoryPlan): SharedViews {
  return {
    control: i32(buf, plan.control),
    tickets: i32(buf, plan.tickets),
    progress: new Float64Array(buf, plan.progress.offset, 2),
    params: f32(buf, plan.params),
    grad: f32(buf, plan.grad),
    optimizerState: Object.fromEntries(Object.entries(plan.optimizerState).map(([name, r]) => [name, f32(buf, r)])),
    ema: f32(buf, plan.ema),
    slots: f32(buf, plan.slots),
    shardLoss: new Float64Array(buf, plan.shardLoss.offset, plan.shardLoss.bytes / 8),
    blockSums: new Float64Array(buf, plan.blockSums.offset, plan.blockSums.bytes / 8),
    epochOrder: i32(buf, plan.epochOrder),
    trainImages: u8(buf, plan.trainImages),
    trainLabels: u8(buf, plan.trainLabels),
    testImages: u8(buf, plan.testImages),
    testLabels: u8(buf, plan.testLabels),
  };
}

export interface ScratchViews extends NetBuffers {
  y: Int32Array;
  index: Int32Array;
  augment: Float32Array;
}

export function scratchViews(buf: ArrayBufferLike, s: ScratchPlan): ScratchViews {
  return {
    x: f32(buf, s.x),
    y: i32(buf, s.y),
    index: i32(buf, s.index),
    outs: s.outs.map((r) => f32(buf, r)),
    aux: s.aux.map((r) => f32(buf, r)),
    auxInt: s.aux.map((r) => i32(buf, r)),
    stats: s.stats.map((r) => f32(buf, r)),
    cols: f32(buf, s.cols),
    tmpW: f32(buf, s.tmpW),
    dz: f32(buf, s.dz),
    spare: f32(buf, s.spare),
    sparse: i32(buf, s.sparse),
    augment: f32(buf, s.augment),
  };
}
