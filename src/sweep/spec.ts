import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { badOption, MnistDpError } from '../errors.js';
import { OPTION_TYPES } from '../input-checks.js';
import { kebab, OPTION_ROLES, resolveOptions, type TrainOptions } from '../options.js';
import { CounterRng, hash4, Stream } from '../rng.js';

/**
 * The sweep spec (`mnist-dp sweep SPEC.json`): fixed flags (`base`), a search space over any `train` flag
 * (`space`), how many trials (`trials`, `grid`, or a fixed list), the budget and the scheduler. It is
 * checked as a whole before anything runs; every problem is reported with its JSON path. The schema is
 * documented in the README ("Sweeps").
 */

/** A flag's value as JSON gives it. */
export type FlagValue = string | number | boolean;

/** Where a flag's values are drawn from. */
export type Domain =
  | { kind: 'choice'; values: FlagValue[] }
  | { kind: 'uniform'; low: number; high: number }
  | { kind: 'loguniform'; low: number; high: number }
  | { kind: 'int'; low: number; high: number };

export type SchedulerSpec =
  | { kind: 'none' }
  /** ASHA: rungs at grace·reduction^k epochs; at each, a trial goes on if it is in the top 1/reduction of those seen there. */
  | { kind: 'asha'; grace: number; reduction: number }
  /** The median stopping rule: from epoch `grace` on, stop a trial whose best is below the median of the others' running means. */
  | { kind: 'median'; grace: number; minTrials: number };

export interface SweepSpec {
  /** A short hash of the spec's content: names the sweep in the queue and the store. */
  id: string;
  base: Record<string, FlagValue>;
  space: Record<string, Domain>;
  /** The trials' flags beyond base, drawn or listed (see expandTrials). */
  trials: { name: string; flags: Record<string, FlagValue> }[];
  seed: number;
  /** The budget: epochs of a trial that runs to its end. */
  epochs: number;
  /** Trials at once (on this machine; across machines, the workers decide). */
  concurrency: number;
  /** Worker threads per trial. */
  workers: number;
  scheduler: SchedulerSpec;
  /** Also evaluate the ensemble of every trial that ran to its end (once, on the test set). */
  ensemble: boolean;
  /** Evaluate the chosen trial (and the ensemble) on the test set at the end; false for a search whose finalists are tested later. */
  test: boolean;
}

/** A trial as it runs: its name and its train options (camelCase, epochs and workers included). */
export interface Trial {
  name: string;
  /** Its own flags beyond the spec's base (drawn, listed, its seed), as the spec spells them: for tables. */
  flags: Record<string, FlagValue>;
  options: TrainOptions;
}

/** Flags that a sweep sets itself: a spec may not give them. */
const MANAGED = new Map<string, string>([
  ['out', 'each trial\'s checkpoint is kept by the sweep (see --dir and --store)'],
  ['force', 'a sweep writes only its own trials\' checkpoints, in --dir or --store'],
  ['resume', 'a sweep resumes its own trials (mnist-dp sweep --resume)'],
  ['epochs', 'the budget is the spec\'s top-level "epochs" (a trial of a fixed list may set its own)'],
  ['workers', 'worker threads per trial are the spec\'s top-level "workers"'],
  ['test', 'trials never see the test set; the spec\'s top-level "test": false keeps the chosen trial from it too'],
]);

const TOP_LEVEL = ['base', 'space', 'trials', 'grid', 'seed', 'epochs', 'concurrency', 'workers', 'scheduler', 'ensemble', 'test'];

/** A spec problem at a JSON path, e.g. `space.lr.loguniform: the bounds must be positive`. */
class SpecError extends Error {}
const fail = (path: string, problem: string): never => {
  throw new SpecError(`${path}: ${problem}`);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const json = (v: unknown) => JSON.stringify(v);

type JsonType = 'string' | 'number' | 'boolean';
/** The JSON type a spec gives an option in: the library's run-time types, a network and a file name as strings. */
const typeOf = (key: keyof TrainOptions): JsonType => {
  const type = OPTION_TYPES[key];
  return type === 'layers' || type === 'out' ? 'string' : type;
};

/** camelCase option key of a flag the spec names (`weight-decay` → `weightDecay`), or null if there is no such flag. */
function optionKey(flag: string): keyof TrainOptions | null {
  for (const key of Object.keys(OPTION_ROLES) as (keyof TrainOptions)[]) if (kebab(key) === flag) return key;
  return null;
}

function checkFlagName(path: string, flag: string, fixedTrial = false): keyof TrainOptions {
  const managed = fixedTrial && flag === 'epochs' ? undefined : MANAGED.get(flag); // a listed trial may have its own budget
  if (managed) fail(path, `--${flag} cannot be set in a sweep spec: ${managed}`);
  const key = optionKey(flag);
  if (!key) {
    const hint = optionKey(kebab(flag)) ? `; flags are spelt as on the command line: "${kebab(flag)}"` : '; see mnist-dp train --help';
    return fail(path, `"${flag}" is not a train flag${hint}`);
  }
  return key;
}

/** Checks a value's JSON type against the flag's, and then its range on its own (over base) with resolveOptions. */
function checkFlagValue(path: string, key: keyof TrainOptions, value: unknown, base: TrainOptions): FlagValue {
  const type = typeOf(key);
  if (typeof value !== type) fail(path, `--${kebab(key)} takes a ${type}, got ${json(value)}`);
  rangeCheck(path, { ...base, [key]: value });
  return value as FlagValue;
}

function rangeCheck(path: string, options: TrainOptions): void {
  try {
    resolveOptions({ ...options, workers: 1 });
  } catch (err) {
    if (err instanceof MnistDpError) fail(path, err.message);
    throw err;
  }
}

function parseDomain(path: string, key: keyof TrainOptions, raw: unknown, base: TrainOptions): Domain {
  const values = (p: string, list: unknown): FlagValue[] => {
    if (!Array.isArray(list) || list.length === 0) fail(p, `give a non-empty list of values, got ${json(list)}`);
    return (list as unknown[]).map((v, i) => checkFlagValue(`${p}[${i}]`, key, v, base));
  };
  if (Array.isArray(raw)) return { kind: 'choice', values: values(path, raw) };
  if (!isObject(raw) || Object.keys(raw).length !== 1) {
    return fail(path, `give a list of values, or one of {"choice": [...]}, {"uniform": [low, high]}, {"loguniform": [low, high]}, {"int": [low, high]}; got ${json(raw)}`);
  }
  const [form, arg] = Object.entries(raw)[0];
  const p = `${path}.${form}`;
  if (form === 'choice') return { kind: 'choice', values: values(p, arg) };
  if (form !== 'uniform' && form !== 'loguniform' && form !== 'int') return fail(path, `"${form}" is not a kind of range: use choice, uniform, loguniform or int`);
  if (typeOf(key) !== 'number') fail(p, `--${kebab(key)} takes a ${typeOf(key)}: give its values as a list`);
  if (!Array.isArray(arg) || arg.length !== 2 || arg.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    fail(p, `give [low, high], two numbers, got ${json(arg)}`);
  }
  const [low, high] = arg as number[];
  if (!(low < high)) fail(p, `low must be below high, got ${json(arg)}`);
  if (form === 'loguniform' && low <= 0) fail(p, `the bounds must be positive, got ${json(arg)}`);
  if (form === 'int' && (!Number.isInteger(low) || !Number.isInteger(high))) fail(p, `the bounds must be integers, got ${json(arg)}`);
  checkFlagValue(`${p}[0]`, key, low, base);
  checkFlagValue(`${p}[1]`, key, high, base);
  return { kind: form, low, high };
}

function positiveInteger(path: string, v: unknown, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(path, `must be an integer ≥ ${min}, got ${json(v)}`);
  return v as number;
}

function parseScheduler(raw: unknown, epochs: number): SchedulerSpec {
  if (raw === undefined || raw === 'none') return { kind: 'none' };
  if (!isObject(raw) || Object.keys(raw).length !== 1) {
    return fail('scheduler', `give "none", {"asha": {"grace": G, "reduction": R}} or {"median": {"grace": G, "min-trials": N}}; got ${json(raw)}`);
  }
  const [kind, args] = Object.entries(raw)[0];
  if (kind !== 'asha' && kind !== 'median') return fail('scheduler', `"${kind}" is not a scheduler: use none, asha or median`);
  const a = args ?? {};
  if (!isObject(a)) return fail(`scheduler.${kind}`, `give an object of settings, got ${json(args)}`);
  const known = kind === 'asha' ? ['grace', 'reduction'] : ['grace', 'min-trials'];
  for (const k of Object.keys(a)) if (!known.includes(k)) fail(`scheduler.${kind}.${k}`, `unknown setting; ${kind} takes ${known.join(' and ')}`);
  const grace = positiveInteger(`scheduler.${kind}.grace`, a.grace, 1);
  if (grace >= epochs) fail(`scheduler.${kind}.grace`, `must be below the budget (epochs ${epochs}), got ${grace}`);
  if (kind === 'asha') return { kind, grace, reduction: positiveInteger('scheduler.asha.reduction', a.reduction, 3, 2) };
  return { kind, grace, minTrials: positiveInteger('scheduler.median.min-trials', a['min-trials'], 3) };
}

/** Every combination of the space's lists, the last flag varying fastest. */
function gridOf(space: Record<string, Domain>): Record<string, FlagValue>[] {
  let rows: Record<string, FlagValue>[] = [{}];
  for (const [flag, d] of Object.entries(space)) {
    if (d.kind !== 'choice') fail(`space.${flag}`, `a grid takes lists of values only, not a ${d.kind} range`);
    rows = rows.flatMap((row) => (d as { values: FlagValue[] }).values.map((v) => ({ ...row, [flag]: v })));
  }
  return rows;
}

/** Four significant digits: a drawn rate reads 0.02371, not 0.023712874; the trial runs the value it prints. */
const readable = (x: number) => Number(x.toPrecision(4));

/** Trial i's values, from a counter-based generator keyed by (sweep seed, trial): the same seed, the same trials. */
function draw(space: Record<string, Domain>, seed: number, i: number): Record<string, FlagValue> {
  const rng = new CounterRng(seed, Stream.sweep, i);
  const out: Record<string, FlagValue> = {};
  for (const [flag, d] of Object.entries(space)) {
    const u = rng.uniform();
    if (d.kind === 'choice') out[flag] = d.values[Math.floor(u * d.values.length)];
    else if (d.kind === 'uniform') out[flag] = readable(d.low + u * (d.high - d.low));
    else if (d.kind === 'loguniform') out[flag] = readable(Math.exp(Math.log(d.low) + u * (Math.log(d.high) - Math.log(d.low))));
    else out[flag] = d.low + Math.floor(u * (d.high - d.low + 1));
  }
  return out;
}

/** Parses and checks a spec (already read as JSON); throws a MnistDpError `FILE: PATH: problem` on the first bad part. */
export function parseSweepSpec(raw: unknown, file = 'the sweep spec'): SweepSpec {
  try {
    return parse(raw);
  } catch (err) {
    if (err instanceof SpecError) throw badOption(`${file}: ${err.message}`);
    throw err;
  }
}

function parse(raw: unknown): SweepSpec {
  if (!isObject(raw)) return fail('(top)', `a sweep spec is a JSON object, got ${json(raw)}`);
  for (const k of Object.keys(raw)) if (!TOP_LEVEL.includes(k)) fail(k, `unknown key; a spec has ${TOP_LEVEL.join(', ')}`);
  const epochs = positiveInteger('epochs', raw.epochs, Number.NaN);
  if (Number.isNaN(epochs)) fail('epochs', 'give the budget: the epochs of a trial that runs to its end');
  const seed = positiveInteger('seed', raw.seed, 1, 0);
  const concurrency = positiveInteger('concurrency', raw.concurrency, 1);
  const workers = positiveInteger('workers', raw.workers, 1);
  if (raw.ensemble !== undefined && typeof raw.ensemble !== 'boolean') fail('ensemble', `must be true or false, got ${json(raw.ensemble)}`);
  if (raw.test !== undefined && typeof raw.test !== 'boolean') fail('test', `must be true or false, got ${json(raw.test)}`);

  const rawBase = raw.base ?? {};
  if (!isObject(rawBase)) fail('base', `give an object of train flags, got ${json(rawBase)}`);
  const base: Record<string, FlagValue> = {};
  const baseOptions: TrainOptions = { epochs };
  for (const [flag, v] of Object.entries(rawBase as Record<string, unknown>)) {
    const key = checkFlagName(`base.${flag}`, flag);
    base[flag] = checkFlagValue(`base.${flag}`, key, v, baseOptions);
    Object.assign(baseOptions, { [key]: v });
  }

  const rawSpace = raw.space ?? {};
  if (!isObject(rawSpace)) fail('space', `give an object of train flags and their values, got ${json(rawSpace)}`);
  const space: Record<string, Domain> = {};
  for (const [flag, d] of Object.entries(rawSpace as Record<string, unknown>)) {
    const key = checkFlagName(`space.${flag}`, flag);
    if (flag in base) fail(`space.${flag}`, 'is in base too; give it in one place');
    space[flag] = parseDomain(`space.${flag}`, key, d, baseOptions);
  }

  let rows: { name?: string; flags: Record<string, FlagValue> }[];
  if (Array.isArray(raw.trials)) {
    if (raw.grid !== undefined) fail('grid', 'a fixed list of trials is not a grid; drop "grid"');
    if (Object.keys(space).length > 0) fail('space', 'a fixed list of trials draws nothing; give each trial\'s flags in "trials" and drop "space"');
    if (raw.trials.length === 0) fail('trials', 'give at least one trial');
    rows = (raw.trials as unknown[]).map((t, i) => {
      if (!isObject(t)) return fail(`trials[${i}]`, `give an object of train flags (and optionally "name"), got ${json(t)}`);
      const flags: Record<string, FlagValue> = {};
      let name: string | undefined;
      for (const [flag, v] of Object.entries(t)) {
        if (flag === 'name') {
          if (typeof v !== 'string' || !/^[\w.-]+$/.test(v)) fail(`trials[${i}].name`, `a name of letters, digits, ".", "_" and "-", got ${json(v)}`);
          name = v as string;
          continue;
        }
        const key = checkFlagName(`trials[${i}].${flag}`, flag, true);
        flags[flag] = checkFlagValue(`trials[${i}].${flag}`, key, v, baseOptions);
      }
      return { name, flags };
    });
  } else if (raw.grid !== undefined) {
    if (raw.grid !== true) fail('grid', `must be true (every combination of the lists once), got ${json(raw.grid)}`);
    if (raw.trials !== undefined) fail('trials', 'a grid runs every combination once: give "trials" or "grid": true, not both');
    if (Object.keys(space).length === 0) fail('space', 'a grid needs a space of lists');
    rows = gridOf(space).map((flags) => ({ flags }));
  } else {
    const count = positiveInteger('trials', raw.trials, Object.keys(space).length === 0 ? 1 : Number.NaN);
    if (Number.isNaN(count)) fail('trials', 'give the number of trials to draw from the space (or "grid": true)');
    rows = Array.from({ length: count }, (_, i) => ({ flags: draw(space, seed, i) }));
  }

  const digits = String(rows.length - 1).length;
  const trials = rows.map((r, i) => {
    const flags = { ...r.flags };
    // A trial's own seed, unless the spec sets one: derived from the sweep seed, so trials differ in initialisation too.
    if (!('seed' in base) && !('seed' in flags)) flags.seed = hash4(seed, Stream.sweep, i, 1) % 1_000_000;
    return { name: r.name ?? `trial-${String(i).padStart(digits, '0')}`, flags };
  });
  const names = new Set<string>();
  trials.forEach((t, i) => {
    if (names.has(t.name)) fail(`trials[${i}].name`, `"${t.name}" is taken by an earlier trial`);
    names.add(t.name);
  });
  const scheduler = parseScheduler(raw.scheduler, epochs);
  if (scheduler.kind !== 'none' && resolveOptions({ ...baseOptions, workers: 1 }).valSize === 0) {
    fail('scheduler', `${scheduler.kind} decides on validation accuracy, but base.val-size is 0; hold out validation images (e.g. "val-size": 5000)`);
  }
  const id = createHash('sha256').update(json(raw)).digest('hex').slice(0, 12);
  return { id, base, space, trials, seed, epochs, concurrency, workers, scheduler, ensemble: raw.ensemble === true, test: raw.test !== false };
}

/** Reads and checks a spec file: a missing file or bad JSON is one line too. */
export async function readSweepSpec(file: string): Promise<SweepSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw badOption(`${file}: cannot read the sweep spec (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw badOption(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseSweepSpec(raw, file);
}

/** The trials of a spec as train options: base, then the trial's flags, then the budget and threads. */
export function trialsOf(spec: SweepSpec): Trial[] {
  return spec.trials.map((t) => {
    const options: TrainOptions = { epochs: spec.epochs, workers: spec.workers };
    // A listed trial may bring its own epochs (an ensemble member of another recipe), which then replace the budget.
    for (const [flag, v] of Object.entries({ ...spec.base, ...t.flags })) Object.assign(options, { [optionKey(flag)!]: v });
    return { name: t.name, flags: t.flags, options };
  });
}
