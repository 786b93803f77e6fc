import { adam } from './adam.js';
import { adamw } from './adamw.js';
import { lamb } from './lamb.js';
import type { HyperKey, Optimizer } from './optimizer.js';
import { sgd } from './sgd.js';

/**
 * The optimisers by `--optimizer` name. A new optimiser is one file here (its state names, the options it
 * reads, its step) and one line in this table; kernels of its own go into src/kernels/.
 */
export const OPTIMIZERS = { sgd, adam, adamw, lamb } as const satisfies Record<string, Optimizer>;

export type OptimizerKind = keyof typeof OPTIMIZERS;
export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS) as OptimizerKind[];

/** The optimiser of that name (undefined for an unknown one: options.ts and the checkpoint reader check first). */
export function optimizerOf(kind: string): Optimizer | undefined {
  return Object.hasOwn(OPTIMIZERS, kind) ? OPTIMIZERS[kind as OptimizerKind] : undefined;
}

/** The optimisers that read option `key` (for its --help line): `['sgd']`, `['adam', 'adamw', 'lamb']`. */
export function readersOf(key: HyperKey): OptimizerKind[] {
  return OPTIMIZER_NAMES.filter((name) => (OPTIMIZERS[name].reads as readonly string[]).includes(key));
}

export { BLOCK_SUMS, HYPER_DEFAULTS, HYPER_KEYS, HYPER_PARAMS, type HyperKey, type HyperParam, type Optimizer, type OptimizerOptions, type StepHyper, type UpdateViews } from './optimizer.js';
export { clipCoefficient, CLIP_EPS } from './clip.js';
