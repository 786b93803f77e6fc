import type { Net } from '../model/layout.js';
import { allocateNetBuffers, BumpAllocator, netBufferBytes, type NetBuffers } from '../model/network.js';
import { ticketWords } from './queues.js';
import { blockSumWords } from './update.js';

/**
 * The memory map of a training run. Everything the workers touch lives in one shared
 * WebAssembly.Memory (its buffer is a SharedArrayBuffer), so kernels in JavaScript or WebAssembly read
 * weights and write gradients in place and nothing is copied per batch: only control messages move.
 *
 *   ┌──────────┬─────────┬──────────┬────────┬──────┬──────────────────┬──────┬─────────────┬───────────┬───────────┬────────────┬──────────────┬─────────────────┐
 *   │ control  │ tickets │ progress │ params │ grad │ optimizerState   │ ema  │ slots (S×P) │ shardLoss │ blockSums │ epochOrder │ train / test │ scratch[0..W-1] │
 *   │ Int32 16 │ 2·W     │ f64 2    │ P f32  │ P    │ P per state name │ P or │ one per     │ S f64     │ f64, per  │ N int32    │ pixels and   │ per-worker      │
 *   │          │ lines   │          │        │      │ (SGD: velocity;  │ 0    │ micro-shard │           │ update    │            │ labels, u8   │ NetBuffers      │
 *   │          │         │          │        │      │ Adam: m, v)      │      │             │           │ block     │            │              │                 │
 *   └──────────┴─────────┴──────────┴────────┴──────┴──────────────────┴──────┴─────────────┴───────────┴───────────┴────────────┴──────────────┴─────────────────┘
 *
 * The shared regions are defined once, in SHARED_REGIONS (element type and length); the plan (byte offsets
 * only, a plain object the workers receive once) and the typed views on either side (`sharedViews`) are
 * derived from it. Each worker's scratch follows (ScratchPlan, `scratchViews`).
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

/**
 * A worker's scratch: the network's buffers (NetBuffers, for `rows` rows in micro-shards of `micro`), in
 * one region sized by replaying allocateNetBuffers over offsets, plus labels, indices and augmentation
 * scratch.
 */
export interface ScratchPlan {
  net: Region; // allocateNetBuffers(net, rows, micro, …), replayed in this region by scratchViews
  rows: number;
  micro: number;
  y: Region; // (R) int32 labels
  index: Region; // (R) int32 sample indices, for evaluation ranges
  augment: Region; // augmentation scratch
}

/** What the plan depends on. */
export interface PlanInput {
  net: Net;
  /** The optimiser's state tensors, P floats each (SGD: ['velocity']; Adam, AdamW: ['m', 'v']). */
  optimizerState: readonly string[];
  /** Whether to keep a moving average of the weights. */
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

/** The sizes the regions' lengths are computed from. */
interface Sizes extends PlanInput {
  /** Floats in the parameter layout. */
  P: number;
  /** Micro-shards in a full batch. */
  shards: number;
}

type ElementType = 'i32' | 'f32' | 'f64' | 'u8';
const BYTES: Record<ElementType, number> = { i32: 4, f32: 4, f64: 8, u8: 1 };
type ViewOf<T extends ElementType> = { i32: Int32Array; f32: Float32Array; f64: Float64Array; u8: Uint8Array }[T];
const VIEW: { [T in ElementType]: new (buf: ArrayBufferLike, offset: number, length: number) => ViewOf<T> } =
  { i32: Int32Array, f32: Float32Array, f64: Float64Array, u8: Uint8Array };

/**
 * The shared regions in memory order: element type and length in elements. `perName` regions exist once
 * for each name the plan input lists (the optimiser's state tensors).
 */
const SHARED_REGIONS = {
  control: { type: 'i32', length: () => CONTROL_WORDS },
  /** The step's work queues (see queues.ts): one counter per worker and phase, each on its own cache line. */
  tickets: { type: 'i32', length: (s: Sizes) => ticketWords(s.workers) },
  /** [lossSum, samples] of the current epoch so far, written by worker 0 for progress reports. */
  progress: { type: 'f64', length: () => 2 },
  params: { type: 'f32', length: (s: Sizes) => s.P },
  grad: { type: 'f32', length: (s: Sizes) => s.P },
  optimizerState: { type: 'f32', length: (s: Sizes) => s.P, perName: (s: Sizes) => s.optimizerState },
  /** The weights' moving average (empty without one). */
  ema: { type: 'f32', length: (s: Sizes) => (s.ema ? s.P : 0) },
  /** One gradient per micro-shard of a full batch. */
  slots: { type: 'f32', length: (s: Sizes) => s.shards * s.P },
  shardLoss: { type: 'f64', length: (s: Sizes) => s.shards },
  /** Partial sums of the update's fixed blocks, for norms (clipping, LAMB; see update.ts). */
  blockSums: { type: 'f64', length: (s: Sizes) => blockSumWords(s.net.layout) },
  /** The current epoch's visiting order of the training images. */
  epochOrder: { type: 'i32', length: (s: Sizes) => s.trainOnly },
  trainImages: { type: 'u8', length: (s: Sizes) => s.trainCount * s.D },
  trainLabels: { type: 'u8', length: (s: Sizes) => s.trainCount },
  testImages: { type: 'u8', length: (s: Sizes) => s.testCount * s.D },
  testLabels: { type: 'u8', length: (s: Sizes) => s.testCount },
} as const satisfies Record<string, { type: ElementType; length: (s: Sizes) => number; perName?: (s: Sizes) => readonly string[] }>;

type RegionName = keyof typeof SHARED_REGIONS;
type Entry<K extends RegionName> = (typeof SHARED_REGIONS)[K];

/** The byte ranges of the shared regions: a Region each, or a record of them for per-name regions. */
type SharedRegions = { [K in RegionName]: Entry<K> extends { perName: unknown } ? Record<string, Region> : Region };

/** Typed arrays over the shared regions, of each region's element type. */
export type SharedViews = { [K in RegionName]: Entry<K> extends { perName: unknown } ? Record<string, ViewOf<Entry<K>['type']>> : ViewOf<Entry<K>['type']> };

export interface MemoryPlan extends SharedRegions {
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
  scratch: ScratchPlan[];
}

const ALIGN = 64; // a cache line; also keeps every region 16-byte aligned for SIMD

/** Lays out the shared regions (in SHARED_REGIONS order) and then each worker's scratch, every region on its own cache line. */
export function planMemory(input: PlanInput): MemoryPlan {
  const { net, batch, micro, workers, D } = input;
  const P = net.layout.size;
  const shards = Math.ceil(batch / micro);
  const rows = Math.ceil(shards / workers) * micro;
  const netBytes = netBufferBytes(net, rows, micro);
  let end = 0;
  const take = (bytes: number): Region => {
    const r = { offset: end, bytes };
    end = Math.ceil((end + bytes) / ALIGN) * ALIGN;
    return r;
  };
  const s: Sizes = { ...input, P, shards };
  const regions: Record<string, Region | Record<string, Region>> = {};
  for (const [name, r] of Object.entries(SHARED_REGIONS) as [RegionName, Entry<RegionName>][]) {
    const bytes = r.length(s) * BYTES[r.type];
    regions[name] = 'perName' in r ? Object.fromEntries(r.perName(s).map((n) => [n, take(bytes)])) : take(bytes);
  }
  const scratch: ScratchPlan[] = [];
  for (let w = 0; w < workers; w++) {
    scratch.push({
      net: take(netBytes),
      rows,
      micro,
      y: take(rows * 4),
      index: take(rows * 4),
      augment: take(input.augmentFloats * 4),
    });
  }
  return {
    ...(regions as SharedRegions), P, micro, shards, batch, rows, D,
    trainCount: input.trainCount, testCount: input.testCount, scratch, bytes: end,
  };
}

/** A shared WebAssembly.Memory big enough for the plan (its buffer is a SharedArrayBuffer). */
export function createSharedMemory(plan: MemoryPlan): WebAssembly.Memory {
  const pages = Math.ceil(plan.bytes / 65536);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** Typed arrays over the shared regions of `plan`, in `buf` (the coordinator's or a worker's). */
export function sharedViews(buf: ArrayBufferLike, plan: MemoryPlan): SharedViews {
  const view = (type: ElementType, r: Region) => new VIEW[type](buf, r.offset, r.bytes / BYTES[type]);
  const views: Record<string, unknown> = {};
  for (const [name, r] of Object.entries(SHARED_REGIONS) as [RegionName, Entry<RegionName>][]) {
    const planned = plan[name];
    views[name] = 'perName' in r
      ? Object.fromEntries(Object.entries(planned as Record<string, Region>).map(([n, region]) => [n, view(r.type, region)]))
      : view(r.type, planned as Region);
  }
  return views as SharedViews;
}

const f32 = (buf: ArrayBufferLike, r: Region) => new Float32Array(buf, r.offset, r.bytes / 4);
const i32 = (buf: ArrayBufferLike, r: Region) => new Int32Array(buf, r.offset, r.bytes / 4);

export interface ScratchViews extends NetBuffers {
  y: Int32Array;
  index: Int32Array;
  augment: Float32Array;
}

/** A worker's scratch views: the network's buffers replayed in its region (the same calls planMemory measured). */
export function scratchViews(buf: ArrayBufferLike, s: ScratchPlan, net: Net): ScratchViews {
  const alloc = new BumpAllocator(buf, s.net.offset, ALIGN);
  const views = allocateNetBuffers(net, s.rows, s.micro, alloc);
  if (alloc.used > s.net.bytes) throw new Error(`scratch: the network's buffers take ${alloc.used} bytes, ${s.net.bytes} were planned`);
  return { ...views, y: i32(buf, s.y), index: i32(buf, s.index), augment: f32(buf, s.augment) };
}
