import { defaultMnistDir, loadIdxDataset } from '../../src/data/dataset.js';
import { Model } from '../../src/model/model.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { randomModel } from './tiny-models.js';

/**
 * Models for the export tests: seeded random weights (as training starts), and every tensor that
 * starts constant (biases, batch norm's γ, β and running statistics) drawn at random too, so that a
 * mistake in how any of them is carried over (a missing bias, ε, mean and variance swapped) changes the
 * probabilities.
 */
export function modelWithEveryTensorSet(spec: ModelSpec, seed: number): Model {
  const model = randomModel(spec, seed);
  let state = seed * 2654435761 >>> 0;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296);
  for (const t of model.layout.tensors) {
    const name = t.name.split('.')[1];
    const draw: Record<string, () => number> = {
      b: () => 0.2 * (uniform() - 0.5),
      gamma: () => 0.5 + uniform(),
      beta: () => 0.4 * (uniform() - 0.5),
      mean: () => 0.6 * (uniform() - 0.5),
      var: () => 0.3 + 2 * uniform(),
    };
    if (draw[name]) for (let i = 0; i < t.size; i++) model.params[t.offset + i] = draw[name]();
  }
  return new Model(spec, model.params);
}

/** The first `n` MNIST test images as floats 0-1, and all the test labels. */
export async function testImages(n: number): Promise<{ images: Float32Array; labels: Uint8Array }> {
  const data = await loadIdxDataset(defaultMnistDir());
  return { images: Float32Array.from(data.test.images.subarray(0, n * 784), (b) => b / 255), labels: data.test.labels };
}
