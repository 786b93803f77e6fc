#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { MnistDpError } from '../errors.js';
import { packageVersion } from '../version.js';
import { exportBuilder, exportHandler, type ExportArgs } from './export.js';
import { evalBuilder, evalHandler, infoBuilder, infoHandler, type EvalArgs } from './model-commands.js';
import { predictBuilder, predictHandler, type PredictArgs } from './predict.js';
import { reportBuilder, reportHandler, type ReportArgs } from './report.js';
import { serveBuilder, serveHandler, type ServeArgs } from './serve.js';
import { trainBuilder, trainHandler } from './train.js';

/**
 * The `mnist-dp` command line. Every failure ends in `report`: one line `mnist-dp: error: …` on stderr,
 * no stack trace; exit 2 for usage errors and bad options, the error's own exitCode otherwise.
 */

const COMMANDS = ['train', 'eval', 'info', 'predict', 'report', 'serve', 'export'];

/** A yargs validation failure: unknown flag, missing value, missing command. */
class UsageError extends Error {}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

function report(err: unknown, args: readonly string[]): number {
  if (err instanceof UsageError) {
    const cmd = args.find((a) => COMMANDS.includes(a));
    process.stderr.write(`mnist-dp: error: ${oneLine(err.message)}\nrun "mnist-dp ${cmd ? `${cmd} ` : ''}--help" for usage\n`);
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`mnist-dp: error: ${oneLine(message)}\n`);
  if (process.env.MNIST_DP_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return err instanceof MnistDpError ? err.exitCode : 1;
}

async function main(args: string[]): Promise<void> {
  const cli = yargs(args)
    .scriptName('mnist-dp')
    .usage('$0 <command> [flags]\n\nData-parallel training of MLPs and CNNs for MNIST across worker threads.')
    .command('train', 'train a network on MNIST (Ctrl-C saves a checkpoint to resume from)', trainBuilder, (argv) =>
      trainHandler(argv as Record<string, unknown>, args))
    .command('eval', "a saved model's accuracy on the test set", evalBuilder, (argv) =>
      evalHandler(argv as unknown as EvalArgs))
    .command('info', 'what a saved model is and how it was trained', infoBuilder, (argv) =>
      infoHandler(argv as unknown as { model: string; json?: boolean }))
    .command('predict [images..]', 'the digit in each PNG picture, by the shipped model or --model', predictBuilder, (argv) =>
      predictHandler(argv as unknown as PredictArgs))
    .command('report [runs..]', 'an HTML report of one or more runs: curves, confusion matrix, misclassified digits (--png for PNG charts)', reportBuilder, (argv) =>
      reportHandler(argv as unknown as ReportArgs))
    .command('serve', 'a local page to draw a digit and watch the model read it; --watch shows a run\'s curves live', serveBuilder, (argv) =>
      serveHandler(argv as unknown as ServeArgs))
    .command('export', 'a saved model (or an ensemble) as ONNX for other runtimes, its weights as safetensors for PyTorch', exportBuilder, (argv) => exportHandler(argv as unknown as ExportArgs))
    .demandCommand(1, 'give a command: train, eval, info, predict, report, serve or export')
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
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const args = hideBin(process.argv);
main(args).catch((err: unknown) => {
  process.exitCode = report(err, args);
});
