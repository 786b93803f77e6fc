import { badOption } from '../errors.js';
import type { TrainPass } from './layers/layer.js';
import { Model, netEngine, type Pixels } from './model.js';
import { forward } from './network.js';
import { pixelScale } from './pixels.js';

/**
 * Batch norm's running statistics recomputed for the weights a model has, on images it is given
 * (PyTorch's torch.optim.swa_utils.update_bn). In training, each step moves the running mean and variance
 * a tenth of the way towards its batch's statistics, while the weights move too, and with --ema the
 * weights' average carries an average of those statistics as well; on augmented images, where the model
 * will see plain ones. Here the final weights run forward in training mode over the images, in
 * micro-shards of `micro` rows as the trainer's (so each shard normalises by its own statistics, as in
 * training), and every running statistic becomes the mean over the shards of the shard's statistic,
 * weighted by its rows: the mean, and the variance unbiased within the shard, exactly what one training
 * step's reduction takes for its batch. Weights other than the running statistics are unchanged.
 *
 * Which images: a model's own training images, never its validation or test images (eval
 * --recalibrate-bn takes the first trainSize of the training file, as the run did, unaugmented).
 */

/** Rows per forward pass: bounds the buffers; a multiple of the micro-shard, so every shard is whole but the last. */
const ROWS = 256;

export interface RecalibrateOptions {
  /** Rows per micro-shard (default: the microBatch the model's checkpoint records). */
  micro?: number;
}

/** A copy of `model` whose batch norm statistics are those of its weights on `pixels` (see above); `model` is unchanged. */
export function recalibrateBatchNorm(model: Model, pixels: Pixels, options: RecalibrateOptions = {}): Model {
  const { net, layout } = model;
  const stats = layout.tensors.filter((t) => !t.trainable);
  if (stats.length === 0) throw badOption(`recalibrate: ${net.spec.kind === 'mlp' ? 'an MLP' : 'this network'} has no batch norm layer, so no running statistics to recompute`);
  const recorded = model.info.recipe?.microBatch;
  const micro = options.micro ?? (typeof recorded === 'number' ? recorded : undefined);
  if (micro === undefined || !Number.isInteger(micro) || micro < 1) {
    throw badOption(micro === undefined
      ? 'recalibrate: the checkpoint records no micro-batch; give the one the model was trained with (eval --micro-batch N)'
      : `recalibrate: the micro-batch must be a whole number of rows ≥ 1, got ${micro}`);
  }
  const scale = pixelScale(pixels);
  const D = model.inputs;
  const n = pixels.length / D;
  if (!Number.isInteger(n) || n < 1) throw badOption(`recalibrate: got ${pixels.length} pixels, expected a positive multiple of ${D} (one ${D}-pixel image per row)`);

  const rows = micro * Math.max(1, Math.floor(ROWS / micro));
  const engine = netEngine(net, model.params, rows, micro);
  const { k, params, buf } = engine;
  // Batch norm writes each shard's statistics, times its rows, into the shard's slot (a full layout; only
  // the statistics' entries are written or read here).
  const slots = Array.from({ length: rows / micro }, () => new Float32Array(layout.size));
  const samples = new Int32Array(rows);
  const sums = stats.map((t) => new Float64Array(t.size));
  for (let start = 0; start < n; start += rows) {
    const M = Math.min(rows, n - start);
    for (let i = 0; i < M * D; i++) buf.x[i] = pixels[start * D + i] * scale;
    for (let r = 0; r < M; r++) samples[r] = start + r;
    const pass: TrainPass = { micro, firstShard: 0, slot: (s) => slots[s], seed: 0, epoch: 0, samples };
    forward(k, net, params, buf, M, pass);
    for (let s = 0; s * micro < M; s++) {
      stats.forEach((t, j) => {
        for (let i = 0; i < t.size; i++) sums[j][i] += slots[s][t.offset + i];
      });
    }
  }
  const recalibrated = model.params.slice();
  stats.forEach((t, j) => {
    for (let i = 0; i < t.size; i++) recalibrated[t.offset + i] = sums[j][i] / n;
  });
  return new Model(model.spec, recalibrated, model.info);
}
