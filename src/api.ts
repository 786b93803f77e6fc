import { Worker } from 'node:worker_threads';
import { wrap, type Remote } from 'comlink';
import { nodeEndpoint } from './engine/comlink-endpoint.js';
import { assertSameArchitecture, bestCheckpointFile, loadCheckpoint, type Checkpoint } from './checkpoint.js';
import { badOption } from './errors.js';
import type { TrainEvent } from './events.js';
import { workerFile } from './engine/pool.js';
import { joinRanks } from './engine/ranks.js';
import { runTraining, type TrainResult } from './engine/trainer.js';
import { describeSpec } from './model/spec.js';
import { checkTrainCallbacks, checkTrainOptions } from './input-checks.js';
import { claimOut } from './out-guard.js';
import { kebab, MODEL_OPTION_KEYS, RESUMABLE_FLAGS, RESUMABLE_KEYS, resolveOptions, unresolveOptions, type ResolvedTrainOptions, type TrainOptions } from './options.js';

/**
 * The library's front door: `train(options)` runs a training to its end; `Trainer` is the same as an
 * object (run, abort), which `spawnTrainer` hosts in a worker thread of its own behind comlink.
 */

/**
 * Resolves options and, with `resume`, loads the checkpoint: the run continues with the checkpoint's own
 * settings, and any other option that is given must agree with them (a different network is refused as
 * another architecture). By default a resumed run keeps writing to the file it resumed from.
 */
export async function prepareRun(options: TrainOptions): Promise<{ options: ResolvedTrainOptions; resumed: Checkpoint | null }> {
  checkTrainOptions(options);
  if (!options.resume) return { options: resolveOptions(options), resumed: null };
  const file = options.resume;
  const c = await loadCheckpoint(file);
  if (c.recalibratedBn) {
    throw badOption(`--resume ${file}: its batch norm statistics were recalibrated (mnist-dp recalibrate), so it is a model to evaluate, not a resume point; resume the checkpoint it was made from`);
  }
  const saved = unresolveOptions(c.options);
  const given = definedOnly(options);
  // A given network flag replaces the saved network of the other kind (CNN --model vs MLP --layers …), so
  // that the comparison below reports a different architecture rather than a conflict of flags.
  if ('model' in given) for (const key of MODEL_OPTION_KEYS) if (key !== 'model') delete saved[key];
  if (MODEL_OPTION_KEYS.some((key) => key !== 'model' && key in given)) delete saved.model;
  const merged = resolveOptions({ ...saved, ...given, out: options.out === undefined ? file : options.out });
  // A CNN's input shape comes from the data it was trained on (see runTraining), not from its layer string.
  if (merged.spec.kind === 'cnn' && c.spec.kind === 'cnn') merged.spec = { ...merged.spec, input: { ...c.spec.input } };
  const mergedGiven = unresolveOptions(merged);
  assertSameArchitecture(file, c.spec, merged.spec, describeSpec);
  for (const key of Object.keys(given) as (keyof TrainOptions)[]) {
    if (RESUMABLE_KEYS.includes(key) || (MODEL_OPTION_KEYS as readonly string[]).includes(key)) continue; // the network: compared as a whole above
    const was = (saved as Record<string, unknown>)[key];
    const now = (mergedGiven as Record<string, unknown>)[key];
    if (JSON.stringify(was) !== JSON.stringify(now)) {
      throw badOption(`--${kebab(key)} ${String(now)} differs from the checkpoint's ${String(was)}; a resumed run keeps its settings (only ${RESUMABLE_FLAGS} may change)`);
    }
  }
  return { options: merged, resumed: c };
}

const definedOnly = (o: TrainOptions): TrainOptions =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as TrainOptions;

export interface TrainCallbacks {
  /** Progress: start, steps (at most every 100 ms), epochs, done. */
  onEvent?: (e: TrainEvent) => void;
  /** Aborting stops after the current step, saves a checkpoint, and resolves with `aborted: true`. */
  signal?: AbortSignal;
}

/** Trains a model as the options say and resolves with its parameters and metrics. */
export async function train(options: TrainOptions = {}, callbacks: TrainCallbacks = {}): Promise<TrainResult> {
  checkTrainCallbacks(callbacks);
  const run = await prepareRun(options);
  // In an MPI job only rank 0 writes files (runTraining), so it alone claims --out; the others join first, so
  // that a rank 0 refused here aborts them (src/cli/main.ts) rather than leaving them waiting for it.
  if ((joinRanks(run.options)?.rank ?? 0) !== 0) return await runTraining(run.options, run.resumed, callbacks);
  // Before any data is loaded: the output is free, ours, and its folder writable (see out-guard.ts).
  const claim = await claimOut({
    out: run.options.out,
    companions: (out) => (run.options.keepBest ? [bestCheckpointFile(out)] : []),
    defaulted: options.out === undefined && !options.resume,
    resumedFrom: run.resumed ? options.resume! : null,
    force: run.options.force,
    describe: describeCheckpointFile,
  });
  run.options.out = claim.out;
  try {
    return await runTraining(run.options, run.resumed, callbacks);
  } finally {
    claim.release();
  }
}

/** What a checkpoint a new run would overwrite holds, for the refusal; null when it is not one. */
async function describeCheckpointFile(file: string): Promise<string | null> {
  try {
    const c = await loadCheckpoint(file);
    const model = describeSpec(c.spec);
    if (c.testAccuracy !== null) return `a finished model (${model}, test accuracy ${(100 * c.testAccuracy).toFixed(2)} %)`;
    return `the resume point of an unfinished run (${model}, ${c.position.epoch} of ${c.options.epochs} epochs done)`;
  } catch {
    return null;
  }
}

/** A training run as an object: `run` it once, `abort` it from anywhere. */
export class Trainer {
  private readonly controller = new AbortController();

  constructor(private readonly options: TrainOptions = {}) {}

  /**
   * Trains; `onEvent` receives progress (through comlink, pass it wrapped in `proxy(...)`). Resolves only
   * after the last event has been taken: through comlink, events travel on the proxy's own port, and the
   * result would otherwise overtake the `done` event.
   */
  async run(onEvent?: (e: TrainEvent) => unknown): Promise<TrainResult> {
    let delivered: unknown;
    const result = await train(this.options, { onEvent: onEvent && ((e) => void (delivered = onEvent(e))), signal: this.controller.signal });
    await delivered; // a comlink proxy's call returns a promise of the callee's return; events on one port arrive in order
    return result;
  }

  /** Stops after the current step; `run` then saves a checkpoint and resolves with `aborted: true`. */
  abort(): void {
    this.controller.abort();
  }
}

/**
 * Runs a Trainer in a worker thread of its own, so that the caller's event loop stays free (an Electron
 * app, a web server), and returns a comlink proxy to it: `await t.run(proxy(onEvent))`, `await t.abort()`.
 * The thread does not keep the process alive; `terminateTrainer(t)` ends it at once.
 */
export async function spawnTrainer(options: TrainOptions = {}): Promise<Remote<Trainer>> {
  const worker = new Worker(workerFile('trainer-host'));
  worker.unref();
  const RemoteTrainer = wrap<typeof Trainer>(nodeEndpoint(worker));
  const trainer = await new RemoteTrainer(options);
  hosts.set(trainer, worker);
  return trainer;
}

const hosts = new WeakMap<object, Worker>();

/** Ends the worker thread behind a trainer from spawnTrainer. */
export async function terminateTrainer(trainer: Remote<Trainer>): Promise<void> {
  await hosts.get(trainer)?.terminate();
}
