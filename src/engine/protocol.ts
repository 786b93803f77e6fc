import type { AugmentOptions } from '../data/augment.js';
import type { KernelName } from '../kernels/index.js';
import type { OptimizerOptions, ScheduleOptions } from '../options.js';
import type { ModelSpec } from '../model/spec.js';
import type { ConvAlgorithm } from '../model/layers/layer.js';
import type { MemoryPlan } from './memory.js';
import type { RankPlace } from './ranks.js';

/**
 * What crosses between the coordinator and its workers. A worker receives the shared memory and the
 * plan once (WorkerInit, as piscina's workerData), then one small task per epoch (RunTask: which steps,
 * with which hyper-parameters) and per evaluation. Weights and pixels never move; within an epoch the
 * workers synchronise through control words in the shared memory alone.
 */
export interface WorkerInit {
  memory: WebAssembly.Memory;
  plan: MemoryPlan;
  spec: ModelSpec;
  /** How the network's convolutions run (--conv): part of the recipe, so every worker compiles the same. */
  conv: ConvAlgorithm;
  kernels: KernelName;
  /** In an MPI job: this process's rank, whose micro-shards its workers compute (ranks.ts); null: one process. */
  ranks?: RankPlace | null;
}

/**
 * Run steps [fromStep, toStep) of an epoch whose visiting order is in epochOrder. Every worker gets one
 * such task; they meet at the step barrier twice per step and return together.
 */
export interface RunTask {
  kind: 'run';
  /** This worker's place among `workers`: it decides the micro-shards and the parameter range it owns. */
  rank: number;
  workers: number;
  epoch: number;
  fromStep: number;
  toStep: number;
  stepsPerEpoch: number;
  trainCount: number;
  batchSize: number;
  schedule: ScheduleOptions;
  optimizer: OptimizerOptions;
  /** The global gradient norm to clip to (0: none). */
  clipGradNorm: number;
  /** Label smoothing ε (0: plain cross-entropy). */
  labelSmoothing: number;
  /** Decay of the weights' moving average (0: none). */
  emaDecay: number;
  /** Augmentation of training images, keyed by (seed, epoch, sample); null: none. */
  augment: AugmentOptions | null;
  image: { height: number; width: number };
  seed: number;
  /** How long a worker spins at a barrier before it sleeps (0 when workers outnumber cores). */
  spinMicros: number;
  /** The epoch's running loss and sample count before fromStep (non-zero when resuming mid-epoch). */
  lossSum: number;
  samples: number;
}

export interface RunResult {
  /** done: reached toStep; stopped: the coordinator asked to stop; diverged: the loss is not finite; failed: another worker failed. */
  outcome: 'done' | 'stopped' | 'diverged' | 'failed';
  /** The next step to run (the step at which the loss diverged, for 'diverged'). */
  nextStep: number;
  lossSum: number;
  samples: number;
  /** Time this worker spent at the step barriers: synchronisation plus waiting for slower workers. */
  barrierSeconds: number;
  /** Time this worker spent computing gradients, and reducing them and updating the parameters. */
  gradientSeconds: number;
  updateSeconds: number;
  /** In an MPI job: time this worker spent in the ranks' exchange (part of barrierSeconds). */
  exchangeSeconds: number;
  /** The non-finite batch loss, for 'diverged'. */
  badLoss?: number;
}

/** Loss and correct predictions over images [begin, end) of the train or test set. */
export interface EvalTask {
  kind: 'eval';
  set: 'train' | 'test';
  /** Evaluate the trained weights, or their moving average. */
  weights: 'params' | 'ema';
  begin: number;
  end: number;
}

export type Task = RunTask | EvalTask;

export interface EvalResult {
  correct: number;
  lossSum: number;
}
