import type { Kernels } from '../kernels/kernels.js';
import type { OptimizerKind } from './index.js';

/**
 * What an optimiser is, for the engine: the names of its state tensors (each as long as the parameter
 * array, in shared memory and in the checkpoint), the options it reads, and its step over a parameter
 * range. The engine never asks which optimiser it runs: it allocates, saves and loads the state by name
 * and calls the step. One file per optimiser (sgd.ts, adam.ts, adamw.ts, lamb.ts), registered by name in
 * index.ts.
 *
 * Two kinds of step:
 *   elementwise  θ and state of each parameter from its own gradient alone (SGD, Adam, AdamW): the engine
 *                may cut [0, P) anywhere, so it cuts it by worker count, for speed.
 *   per-tensor   the update of a tensor needs norms over the whole tensor (LAMB's trust ratio): the engine
 *                runs it in two passes over blocks fixed by the layout (see engine/update.ts), `prepare`
 *                (state, and each block's partial sums), a barrier, then `apply` with the tensor's totals,
 *                summed over its blocks in layout order, so that the result does not depend on the workers.
 */

/**
 * The optimiser options as a run resolves them and a checkpoint keeps them: every hyper-parameter of every
 * optimiser (the ones the kind does not read are kept, unused; see HYPER_PARAMS).
 */
export interface OptimizerOptions {
  kind: OptimizerKind;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** A step's hyper-parameters: the options, the step's learning rate and the step number t (from 1 over the whole run). */
export interface StepHyper extends OptimizerOptions {
  lr: number;
  step: number;
}

/** The arrays a step works on, views of the shared memory: θ, the reduced gradient, and the state by name. */
export interface UpdateViews {
  params: Float32Array;
  grad: Float32Array;
  state: Record<string, Float32Array>;
}

export interface ElementwiseStep {
  kind: 'elementwise';
  /** The step of trainable parameters [begin, end). */
  run(k: Kernels, v: UpdateViews, begin: number, end: number, hp: StepHyper): void;
}

export interface PerTensorStep {
  kind: 'per-tensor';
  /** Partial sums per block that prepare writes (at most BLOCK_SUMS). */
  sums: number;
  /** First pass over block [begin, end) of a tensor: updates the state; writes the block's partial sums to sums[at…]. */
  prepare(k: Kernels, v: UpdateViews, begin: number, end: number, hp: StepHyper, sums: Float64Array, at: number): void;
  /** Second pass, once every block is prepared: updates θ on [begin, end) with its tensor's totals (`totals[j]`: sum j over the tensor's blocks). */
  apply(k: Kernels, v: UpdateViews, begin: number, end: number, hp: StepHyper, totals: readonly number[]): void;
}

/** Partial sums a per-tensor step may keep per block (the shared blockSums region has room for this many). */
export const BLOCK_SUMS = 2;

export interface Optimizer {
  /** Its `--optimizer` name. */
  readonly kind: string;
  /** A few words for --help and the README: what it is. */
  readonly summary: string;
  /** Names of its state tensors, each P floats (TEAM.md contract 1). */
  readonly state: readonly string[];
  /** The options (keys of HYPER_PARAMS) it reads. */
  readonly reads: readonly HyperKey[];
  /** How the run's recipe line shows it: `sgd (Nesterov μ 0.9)`, `adam (β 0.9, 0.999)`. */
  describe(o: OptimizerOptions): string;
  readonly step: ElementwiseStep | PerTensorStep;
}

/** One optimiser hyper-parameter: its option (TrainOptions key; the flag is its kebab-case), its field in OptimizerOptions, default, range and help. */
export interface HyperParam {
  field: Exclude<keyof OptimizerOptions, 'kind'>;
  type: 'number' | 'boolean';
  default: number | boolean;
  /** For numbers: the check, and how the error message says the range. */
  ok?: (v: number) => boolean;
  range?: string;
  /** The --help line (the optimisers that read it are added from their `reads`). */
  help: string;
}

const unit = (v: number) => v >= 0 && v < 1;

/**
 * Every optimiser hyper-parameter, once: options.ts resolves and checks them from this table, and the CLI
 * makes their flags from it. A new optimiser that needs a new hyper-parameter adds one row here (and its
 * field to OptimizerOptions and TrainOptions).
 */
export const HYPER_PARAMS = {
  momentum: { field: 'momentum', type: 'number', default: 0.9, ok: unit, range: 'in [0, 1)', help: 'momentum μ in [0, 1); 0 gives plain SGD' },
  nesterov: { field: 'nesterov', type: 'boolean', default: true, help: 'Nesterov momentum (--no-nesterov for classical momentum)' },
  weightDecay: {
    field: 'weightDecay', type: 'number', default: 1e-4, ok: (v) => v >= 0, range: 'a number ≥ 0',
    help: 'weight decay λ (≥ 0): L2 added to the gradient (sgd, adam), decoupled (adamw), or in the update direction (lamb)',
  },
  beta1: { field: 'beta1', type: 'number', default: 0.9, ok: unit, range: 'in [0, 1)', help: 'β₁, decay of the first moment' },
  beta2: { field: 'beta2', type: 'number', default: 0.999, ok: unit, range: 'in [0, 1)', help: 'β₂, decay of the second moment' },
  adamEps: { field: 'eps', type: 'number', default: 1e-8, ok: (v) => v > 0, range: 'a positive number', help: 'ε added to √v̂' },
} as const satisfies Record<string, HyperParam>;

/** The option keys of the hyper-parameters: momentum, nesterov, weightDecay, beta1, beta2, adamEps. */
export type HyperKey = keyof typeof HYPER_PARAMS;
export const HYPER_KEYS = Object.keys(HYPER_PARAMS) as HyperKey[];

/** The hyper-parameters' defaults by option key (DEFAULT_OPTIONS spreads them). */
export const HYPER_DEFAULTS = Object.fromEntries(HYPER_KEYS.map((key) => [key, HYPER_PARAMS[key].default])) as
  { [K in HyperKey]: (typeof HYPER_PARAMS)[K]['default'] };

