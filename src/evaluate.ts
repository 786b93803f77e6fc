import { loadModel } from './checkpoint.js';
import { defaultMnistDir, loadIdxDataset, type Dataset } from './data/dataset.js';
import { dataSetRecord, describeDataSet, describeTrainedOn, trainedOnSame, type DataSetRecord } from './data/provenance.js';
import { badCheckpoint, badOption } from './errors.js';
import { checkEnsemble, meanProbabilities } from './model/ensemble.js';
import { mostProbable, type Model } from './model/model.js';
import { ttaImageShape } from './model/tta.js';

/**
 * A saved model (or an ensemble of them) on a data set's test images: accuracy, confusion matrix and the
 * digits it gets wrong. What `eval` prints, `report` draws and a sweep measures once for its chosen trial.
 */

const CHUNK = 1000; // images per predict call

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
