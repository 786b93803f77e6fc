import { badOption, shown } from './errors.js';
import type { TrainOptions } from './options.js';

/**
 * Checks of what a library caller hands mnist-dp, made before anything runs: TypeScript's types do not
 * exist at run time, and a JavaScript caller (or one that casts) would otherwise get a raw TypeError from
 * deep inside, or worse, a silently wrong run (`keepBest: 'false'` is truthy; `epocs: 3` is ignored).
 */

/** What each option of `train` may be, beside undefined (left out). */
export type OptionType = 'number' | 'string' | 'boolean' | 'layers' | 'out';

/**
 * The run-time type of every TrainOptions field: the mapped type makes a new option fail to compile
 * until it has its line here. (Ranges and spellings are checked by resolveOptions, which names the flag.)
 */
export const OPTION_TYPES: { [K in keyof Required<TrainOptions>]: OptionType } = {
  workers: 'number', epochs: 'number', batchSize: 'number', microBatch: 'number', lr: 'number', momentum: 'number',
  nesterov: 'boolean', weightDecay: 'number', schedule: 'string', lrStepEpochs: 'number', lrGamma: 'number',
  warmupEpochs: 'number', optimizer: 'string', beta1: 'number', beta2: 'number', adamEps: 'number',
  labelSmoothing: 'number', ema: 'number', clipGradNorm: 'number', earlyStop: 'number', minDelta: 'number', augment: 'string', preset: 'string', model: 'string', layers: 'layers',
  activation: 'string', outputActivation: 'string', loss: 'string', seed: 'number', valSize: 'number',
  trainSize: 'number', data: 'string', out: 'out', resume: 'string', force: 'boolean', keepBest: 'boolean', test: 'boolean', kernels: 'string', conv: 'string', mpi: 'string',
};

const WHAT: Record<OptionType, string> = {
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  layers: "a string such as '784-256-10' or an array of sizes",
  out: 'a file name, or null for no checkpoint',
};

function fits(type: OptionType, v: unknown): boolean {
  switch (type) {
    case 'number': return typeof v === 'number';
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'layers': return typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'number'));
    case 'out': return typeof v === 'string' || v === null;
  }
}

/** The edit distance of two short words, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** Throws BAD_OPTION unless `options` is an object of known TrainOptions keys, each of its type. */
export function checkTrainOptions(options: unknown, fn = 'train'): asserts options is TrainOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const hint = typeof options === 'string' ? ` (for a recipe, ${fn}({ preset: ${shown(options)} }))` : '';
    throw badOption(`${fn}: options must be an object such as { epochs: 5 }, got ${shown(options)}${hint}`);
  }
  const known = Object.keys(OPTION_TYPES);
  for (const [key, value] of Object.entries(options)) {
    if (!(key in OPTION_TYPES)) {
      const near = known.map((k) => ({ k, d: distance(key, k) })).sort((a, b) => a.d - b.d)[0];
      const guess = near.d <= 2 ? ` (did you mean ${near.k}?)` : '';
      throw badOption(`${fn}: unknown option ${key}${guess}; the options are those of TrainOptions: ${known.join(', ')}`);
    }
    const type = OPTION_TYPES[key as keyof TrainOptions];
    if (value !== undefined && !fits(type, value)) {
      throw badOption(`${fn}: option ${key} must be ${WHAT[type]}, got ${shown(value)}`);
    }
  }
}

/** Throws BAD_OPTION unless `callbacks` is `{ onEvent?: function, signal?: AbortSignal }`. */
export function checkTrainCallbacks(callbacks: unknown): void {
  if (typeof callbacks !== 'object' || callbacks === null) throw badOption(`train: the callbacks must be an object such as { onEvent, signal }, got ${shown(callbacks)}`);
  const { onEvent, signal } = callbacks as { onEvent?: unknown; signal?: unknown };
  if (onEvent !== undefined && typeof onEvent !== 'function') throw badOption(`train: onEvent must be a function, got ${shown(onEvent)}`);
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw badOption(`train: signal must be an AbortSignal (new AbortController().signal), got ${shown(signal)}`);
  }
}

