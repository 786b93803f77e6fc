import { badOption } from '../errors.js';
import { onnxProbabilities } from '../model/layers/activation.js';
import { checkEnsemble } from '../model/ensemble.js';
import type { Model } from '../model/model.js';
import { TTA_VIEWS, ttaImageShape } from '../model/tta.js';
import { packageVersion } from '../version.js';
import { describeInput, inputDims, modelMetadata, versionMetadata } from './metadata.js';
import { encodeModel, floatValue, GraphBuilder } from './onnx-graph.js';

/** How exportOnnx builds the graph. */
export interface OnnxExportOptions {
  /**
   * Test-time augmentation inside the graph: each image and its copies shifted by one pixel (TTA_VIEWS)
   * go through every member, and their probabilities are averaged, as `predict(…, { tta: true })`.
   */
  tta?: boolean;
}

/**
 * One ONNX model (opset 13) that computes what `model.predict` does, or for several models what
 * `predictEnsemble` does (the mean of the members' probabilities), optionally with test-time augmentation.
 * Input `x`: float32 [N, 1, H, W] (an MLP whose inputs are not a square image: [N, inputs]), pixels 0-1;
 * output `probabilities`: [N, classes]. Each layer emits its own operators (its record's `onnx`); the
 * weights are the model's (for a checkpoint with a moving average, the average: what loadModel gives).
 * Throws BAD_OPTION when the models do not make an ensemble or TTA does not fit them, BAD_CHECKPOINT
 * when a layer has no ONNX form.
 */
export function exportOnnx(modelOrModels: Model | readonly Model[], options: OnnxExportOptions = {}): Uint8Array {
  const models: readonly Model[] = Array.isArray(modelOrModels) ? modelOrModels : [modelOrModels as Model];
  checkEnsemble(models);
  const dims = inputDims(models[0]);
  const classes = models[0].classes;
  const b = new GraphBuilder();
  const input = b.fresh('x');
  const top = b.member(new Float32Array(0), '', 'the graph');
  let x = input;
  if (options.tta) {
    models.forEach((m) => ttaImageShape(m.spec, 'ONNX export with TTA'));
    x = shiftedViews(top, input, dims);
  }
  const members = models.map((m, i) => {
    const g = b.member(m.params, models.length > 1 ? `m${i + 1}_` : '', models.length > 1 ? `member ${i + 1}` : 'the model');
    const flat = m.spec.kind === 'mlp' ? g.op('Flatten', [x], { axis: 1 }) : x;
    const p = onnxProbabilities(g, m.spec.output, g.chain(m.net.nodes, flat), classes);
    if (!options.tta) return p;
    // (views·N, C) → (views, N, C) → the mean over the views.
    const byView = g.op('Reshape', [p, g.constant([TTA_VIEWS.length, -1, classes], [3], 'int64')]);
    return g.op('ReduceMean', [byView], { axes: [0], keepdims: 0 });
  });
  const output = members.length > 1 ? top.op('Mean', members) : members[0];
  top.rename(output, 'probabilities');

  const what = models.length > 1 ? `the mean of ${models.length} mnist-dp models` : 'an mnist-dp model';
  const docString = `${what}${options.tta ? `, each averaged over ${TTA_VIEWS.length} views (test-time augmentation)` : ''}. ${describeInput(dims, classes)}`;
  const metadata: Record<string, string> = {
    ...versionMetadata(),
    ...(models.length > 1 ? { members: String(models.length) } : {}),
    tta: options.tta ? `${TTA_VIEWS.length} views: the image and its one-pixel shifts` : 'none',
    ...Object.assign({}, ...models.map((m, i) => modelMetadata(m, models.length > 1 ? `member${i + 1}.` : ''))),
  };
  return encodeModel(b, { name: 'mnist_dp', input: floatValue(input, ['N', ...dims]), output: floatValue('probabilities', ['N', classes]), docString },
    packageVersion(), metadata);
}

/**
 * The TTA views of a batch (N, C, H, W), one after the other along the batch axis (views·N, C, H, W):
 * the image padded by one pixel of zeros on each side, then each view cut from it. View (dx, dy) moves
 * the ink by dx to the right and dy down: its pixel (y, x) is the image's (y − dy, x − dx), 0 outside,
 * exactly as warpImage samples a whole-pixel shift.
 */
function shiftedViews(g: ReturnType<GraphBuilder['member']>, x: string, dims: readonly number[]): string {
  if (dims.length !== 3) throw badOption('ONNX export with TTA needs image input');
  const [, H, W] = dims;
  const padded = g.op('Pad', [x, g.constant([0, 0, 1, 1, 0, 0, 1, 1], [8], 'int64')]);
  const views = TTA_VIEWS.map((v) => {
    if (v.degrees !== 0 || !Number.isInteger(v.dx) || !Number.isInteger(v.dy) || Math.abs(v.dx) > 1 || Math.abs(v.dy) > 1) {
      throw new Error(`TTA view ${JSON.stringify(v)} is not a one-pixel shift; the ONNX export makes only those`);
    }
    const top = 1 - v.dy;
    const left = 1 - v.dx;
    return g.op('Slice', [padded, g.constant([top, left], [2], 'int64'), g.constant([top + H, left + W], [2], 'int64'), g.constant([2, 3], [2], 'int64')]);
  });
  return g.op('Concat', views, { axis: 0 });
}
