#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { MnistDpError } from '../errors.js';
import { leaveWorld, rankLabel } from '../mpi/world.js';
import { packageVersion } from '../version.js';
import { exportBuilder, exportHandler, type ExportArgs } from './export.js';
import { evalBuilder, evalHandler, infoBuilder, infoHandler, recalibrateBuilder, recalibrateHandler, type EvalArgs, type RecalibrateArgs } from './model-commands.js';
import { predictBuilder, predictHandler, type PredictArgs } from './predict.js';
import { reportBuilder, reportHandler, type ReportArgs } from './report.js';
import { serveBuilder, serveHandler, type ServeArgs } from './serve.js';
import { sweepBuilder, sweepHandler, workerBuilder, workerHandler, type SweepArgs, type WorkerArgs } from './sweep.js';
import { TRAIN_BOOLEAN_FLAGS, trainBuilder, trainHandler } from './train.js';

/**
 * The `mnist-dp` command line. Every failure ends in `report`: one line `mnist-dp: error: …` on stderr,
 * no stack trace; exit 2 for usage errors and bad options, the error's own exitCode otherwise.
 */

const COMMANDS = ['train', 'eval', 'info', 'predict', 'report', 'serve', 'export', 'sweep', 'worker'];

/** A yargs validation failure: unknown flag, missing value, missing command. */
class UsageError extends Error {}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

/** Flags that take no value: yargs would read `--json=maybe` as true and `--help=3` as no help at all. */
const NO_VALUE_FLAGS = new Set(['help', 'version']);
const BOOLEAN_FLAGS = new Set([...TRAIN_BOOLEAN_FLAGS, 'json', 'tta', 'show', 'any-data']);

/** Refuses `--flag=value` on a flag that takes none, and a boolean flag's value other than true or false. */
function checkFlagValues(args: readonly string[]): void {
  for (const arg of args) {
    if (arg === '--') return;
    const match = /^--(?:no-)?([^=]+)=(.*)$/s.exec(arg);
    if (!match) continue;
    const [, name, value] = match;
    if (NO_VALUE_FLAGS.has(name)) throw new UsageError(`--${name} takes no value, got "${arg}"`);
    if (BOOLEAN_FLAGS.has(name) && value !== 'true' && value !== 'false') {
      throw new UsageError(`--${name} is a switch: give --${name} or --no-${name} (or =true, =false), got "${arg}"`);
    }
  }
}

function report(err: unknown, args: readonly string[]): number {
  if (err instanceof UsageError) {
    const cmd = args.find((a) => COMMANDS.includes(a));
    process.stderr.write(`mnist-dp: error: ${oneLine(err.message)} (run "mnist-dp ${cmd ? `${cmd} ` : ''}--help" for usage)\n`);
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`mnist-dp: error: ${rankLabel()}${oneLine(message)}\n`);
  if (process.env.MNIST_DP_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return err instanceof MnistDpError ? err.exitCode : 1;
}

async function main(args: string[]): Promise<void> {
  checkFlagValues(args);
  const cli = yargs(args)
    .scriptName('mnist-dp')
    .usage('$0 <command> [flags]\n\nData-parallel training of MLPs and CNNs for MNIST across worker threads.')
    .command('train', 'train a network on MNIST (Ctrl-C saves a checkpoint to resume from)', trainBuilder, (argv) =>
      trainHandler(argv as Record<string, unknown>, args))
    .command('eval', "a saved model's accuracy on the test set (or its validation split)", evalBuilder, (argv) =>
      evalHandler(argv as unknown as EvalArgs))
    .command('info', 'what a saved model is and how it was trained', infoBuilder, (argv) =>
      infoHandler(argv as unknown as { model: string; json?: boolean }))
    .command('predict [images..]', 'the digit in each PNG picture, by the shipped model or --model', predictBuilder, (argv) =>
      predictHandler(argv as unknown as PredictArgs))
    .command('recalibrate', "a copy of a saved model with batch norm's statistics recomputed on its own training images", recalibrateBuilder, (argv) =>
      recalibrateHandler(argv as unknown as RecalibrateArgs))
    .command('report [runs..]', 'an HTML report of one or more runs: curves, confusion matrix, misclassified digits (--png for PNG charts)', reportBuilder, (argv) =>
      reportHandler(argv as unknown as ReportArgs))
    .command('serve', 'a local page to draw a digit and watch the model read it; --watch shows a run\'s curves live', serveBuilder, (argv) =>
      serveHandler(argv as unknown as ServeArgs))
    .command('export', 'a saved model (or an ensemble) as ONNX for other runtimes, its weights as safetensors for PyTorch', exportBuilder, (argv) => exportHandler(argv as unknown as ExportArgs))
    .command('sweep <spec>', 'a search over train flags (or a fixed list of trials), here or on workers through a queue', sweepBuilder, (argv) =>
      sweepHandler(argv as unknown as SweepArgs))
    .command('worker', "take a queue's sweep trials and train them on this machine", workerBuilder, (argv) =>
      workerHandler(argv as unknown as WorkerArgs))
    .demandCommand(1, 'give a command: train, eval, info, predict, recalibrate, report, serve, export, sweep or worker')
    .strict()
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .version(packageVersion())
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 80))
    .fail((msg, err) => {
      // Validation failures come with a message; errors thrown by a handler come as `err`.
      if (err && !(err.name === 'YError' && msg)) throw err;
      throw new UsageError(msg || err?.message || 'invalid command line');
    });
  await cli.parseAsync();
}

// `mnist-dp train --json | head -1`: a closed pipe ends the program quietly, as it would a Unix tool.
// A terminal closed under a running train (SIGHUP) fails writes with EIO: the run still saves its checkpoint.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  if (err.code === 'EIO') return;
  throw err;
});
process.stderr.on('error', () => {}); // nowhere left to report it

const args = hideBin(process.argv);
main(args).then(() => leaveWorld(null), (err: unknown) => {
  process.exitCode = report(err, args);
  leaveWorld(process.exitCode); // in an MPI job: MPI_Abort ends the other ranks too
});
