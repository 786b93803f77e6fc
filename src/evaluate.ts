import { resolve } from 'node:path';
import { loadModel } from './checkpoint.js';
import { defaultMnistDir, loadIdxDataset, subset, trainingCount, type Dataset } from './data/dataset.js';
import { dataSetRecord, describeDataSet, describeTrainedOn, trainedOnSame, type DataSetRecord } from './data/provenance.js';
import { badCheckpoint, badOption } from './errors.js';
import { checkEnsemble, greedySelection, logLossSum, meanProbabilities, type SelectBy, type SelectionStep } from './model/ensemble.js';
import { mostProbable, type Model } from './model/model.js';
import { recalibrateBatchNorm } from './model/recalibrate.js';
import { ttaImageShape } from './model/tta.js';

/**
 * A saved model (or an ensemble of them) on a data set's test images, or on the validation images its run
 * held out: accuracy, confusion matrix and the digits it gets wrong. What `eval` prints, `report` draws
 * and a sweep measures once for its chosen trial.
 */

/** Which images an evaluation reads: the test set, or the validation images the models' run held out (--val-size). */
export type Split = 'test' | 'val';
export const SPLITS: readonly Split[] = ['test', 'val'];

const CHUNK = 1000; // images per predict call

/**
 * Throws BAD_OPTION, naming `file`, when `model` cannot classify the images of `test`: another number of
 * pixels, fewer classes than the labels use, or with TTA images of another shape than the data's.
 */
export function checkFitsData(model: Model, file: string, test: Dataset, dir: string, tta: boolean): void {
  const D = test.rows * test.cols;
  if (model.inputs !== D) {
    throw badOption(`${file} takes ${model.inputs} inputs, but the images in ${dir} have ${test.rows}×${test.cols} = ${D} pixels`);
  }
  let maxLabel = 0;
  for (const l of test.labels) maxLabel = Math.max(maxLabel, l);
  if (maxLabel >= model.classes) {
    throw badOption(`${file} has ${model.classes} classes, but the labels in ${dir} go up to ${maxLabel}`);
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
export function checkTrainedOnData(models: Model[], files: string[], given: DataSetRecord, anyData: boolean): void {
  models.forEach((model, i) => {
    if (trainedOnSame(model.info.data, given)) return;
    const problem = `was trained on ${describeTrainedOn(model.info.data)}, not on ${describeDataSet(given)}`;
    if (!anyData) throw badCheckpoint(files[i], `${problem}, which is given here; evaluate it on its own data set (--data), or give --any-data to evaluate it anyway`);
    process.stderr.write(`mnist-dp: note: ${files[i]} ${problem}; evaluating it anyway (--any-data)\n`);
  });
}

/** An image the model (or ensemble) gets wrong: its index among the images evaluated, true and predicted class, and the predicted class's probability. */
export interface Mistake {
  index: number;
  label: number;
  predicted: number;
  probability: number;
}

/**
 * The rows of the training file (of `total` images) that a model's run trained on and validated on: the
 * first trainSize (all but the validation images when 0), and the last valSize, as the trainer took them.
 */
function runRows(model: Model, file: string, total: number): { train: number; valFrom: number } {
  const { trainSize, valSize } = model.info.recipe ?? {};
  if (typeof trainSize !== 'number' || typeof valSize !== 'number') {
    throw badCheckpoint(file, 'records no training split (--train-size, --val-size), so which images it trained and validated on is not known');
  }
  return { train: trainingCount(total, trainSize, valSize), valFrom: total - valSize };
}

/**
 * `model` with its batch norm statistics recomputed (recalibrateBatchNorm) on the images its run trained on,
 * the first trainSize of the training file `train`, unaugmented: never its validation or test images.
 */
export function recalibrateOnOwnImages(model: Model, file: string, train: Dataset, micro?: number): { model: Model; images: number } {
  const images = runRows(model, file, train.count).train;
  return { model: recalibrateBatchNorm(model, train.images.subarray(0, images * train.rows * train.cols), { micro }), images };
}

/** The validation images the models' run held out: the same for every member, or an error naming the difference. */
function validationSplit(models: Model[], files: readonly string[], train: Dataset): Dataset {
  const from = models.map((m, i) => runRows(m, files[i], train.count).valFrom);
  if (from[0] >= train.count) {
    throw badOption(`--split val: ${files[0]} was trained with --val-size 0, so it held out no validation images; evaluate it on the test set (leave out --split)`);
  }
  const other = from.findIndex((f) => f !== from[0]);
  if (other > 0) {
    throw badOption(`--split val: ${files[0]} held out its last ${train.count - from[0]} training images and ${files[other]} its last ${train.count - from[other]}; an ensemble is validated on images all its members held out`);
  }
  return subset(train, from[0], train.count);
}

/** What `eval` measures of one model or an ensemble on the test set or the validation split (see evaluateModels). */
export interface Evaluation {
  models: Model[];
  split: Split;
  /** The images evaluated. */
  images: Dataset;
  /** `confusion[t][p]`: images of class t predicted as p. */
  confusion: number[][];
  misclassified: Mistake[];
  /** Right answers of each member alone (only counted for an ensemble; zeros for one model). */
  memberCorrect: number[];
  /** The indices of the images each member alone gets wrong, ascending (only for an ensemble; empty for one model). */
  memberMistakes: number[][];
  /** With `select`: the greedy ensemble selection's steps over the models as candidates (see greedySelection); else null. */
  selection: SelectionStep[] | null;
  accuracy: number;
  /** The mean of −ln(probability of the true class) over the images, in nats (cross-entropy without label smoothing; see logLossSum). */
  logLoss: number;
  /** Each member's log loss alone (only for an ensemble; empty for one model). */
  memberLogLoss: number[];
}

export interface EvaluateOptions {
  tta: boolean;
  data?: string;
  anyData?: boolean;
  /** The test set (default), or the validation images the run held out. */
  split?: Split;
  /** Recompute each model's batch norm statistics on its own training images first (recalibrateBatchNorm). */
  recalibrate?: boolean;
  /** Rows per micro-shard when recalibrating (default: the microBatch each checkpoint records). */
  microBatch?: number;
  /** Also choose an ensemble of at most this many of the models, greedily (greedySelection): only on the validation split. */
  select?: number;
  /** What the selection maximises (greedySelection; default accuracy). */
  selectBy?: SelectBy;
}

/**
 * Loads the checkpoints and evaluates them on the test set of `data` (default MNIST), or on the validation
 * images their run held out, as one model or, for several, their ensemble (the mean of their
 * probabilities). Shared by `eval` and `report`. A model trained on another data set is refused unless
 * `anyData` (see checkTrainedOnData).
 */
export async function evaluateModels(files: readonly string[], options: EvaluateOptions): Promise<Evaluation> {
  const { tta, split = 'test' } = options;
  if (options.select !== undefined && split !== 'val') {
    throw badOption('--select chooses an ensemble on the validation images: add --split val (chosen on the test set, its test figure would say nothing)');
  }
  if (options.select !== undefined && files.length < 2) throw badOption('--select chooses among two or more --model candidates; got one');
  const paths = files.map((f) => resolve(f)); // a.ckpt and ./a.ckpt are one candidate
  const twice = files.find((_, i) => paths.indexOf(paths[i]) !== i);
  if (options.select !== undefined && twice !== undefined) throw badOption(`--select: ${twice} is given twice; each candidate once (a selection adds each at most once)`);
  let models = [];
  for (const file of files) models.push(await loadModel(file)); // a missing or corrupt file fails naming itself
  const dir = options.data ?? defaultMnistDir();
  const dataset = await loadIdxDataset(dir);
  const images = split === 'test' ? dataset.test : validationSplit(models, files, dataset.train);
  const D = images.rows * images.cols;
  models.forEach((model, i) => checkFitsData(model, files[i], images, dir, tta));
  checkEnsemble(models, files);
  checkTrainedOnData(models, [...files], dataSetRecord(dataset, options.data ?? null), options.anyData === true);
  if (options.recalibrate) {
    // Each on the images its run trained on (unaugmented): never its validation images, never the test set.
    models = models.map((m, i) => recalibrateOnOwnImages(m, files[i], dataset.train, options.microBatch).model);
  }

  const C = models[0].classes;
  const memberMistakes = models.map((): number[] => []);
  // What the model (or the ensemble) predicts for each class: rows the true class, columns the predicted
  // one. Its accuracy, per class and overall, is read from it.
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  const misclassified: Mistake[] = [];
  // With select: every member's probabilities for all the images, for the selection at the end.
  const kept = options.select === undefined ? null : models.map(() => new Float32Array(images.count * C));
  let lossSum = 0;
  const memberLossSum = models.map(() => 0);
  for (let start = 0; start < images.count; start += CHUNK) {
    const end = Math.min(images.count, start + CHUNK);
    const pixels = images.images.subarray(start * D, end * D);
    const probabilities = models.map((m) => m.predict(pixels, { tta }));
    kept?.forEach((all, m) => all.set(probabilities[m], start * C));
    if (models.length > 1) {
      probabilities.forEach((p, m) => {
        mostProbable(p, C).forEach((predicted, i) => {
          if (predicted !== images.labels[start + i]) memberMistakes[m].push(start + i);
        });
        memberLossSum[m] += logLossSum(p, images.labels, start, C);
      });
    }
    const p = models.length > 1 ? meanProbabilities(probabilities) : probabilities[0];
    lossSum += logLossSum(p, images.labels, start, C);
    mostProbable(p, C).forEach((predicted, i) => {
      const label = images.labels[start + i];
      confusion[label][predicted]++;
      if (predicted !== label) misclassified.push({ index: start + i, label, predicted, probability: p[i * C + predicted] });
    });
  }
  const memberCorrect = memberMistakes.map((list) => (models.length > 1 ? images.count - list.length : 0));
  const selection = kept === null ? null : greedySelection(kept, images.labels, C, options.select, options.selectBy);
  return {
    models, split, images, confusion, misclassified, memberCorrect, memberMistakes, selection,
    accuracy: (images.count - misclassified.length) / images.count, logLoss: lossSum / images.count,
    memberLogLoss: models.length > 1 ? memberLossSum.map((l) => l / images.count) : [],
  };
}
