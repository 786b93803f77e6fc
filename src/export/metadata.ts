import { describeTrainedOn } from '../data/provenance.js';
import type { Model } from '../model/model.js';
import { describeSpec, specInputs } from '../model/spec.js';
import { ttaImageShape } from '../model/tta.js';
import { packageVersion } from '../version.js';

/**
 * What exported files say about their model (ONNX metadata properties, safetensors' __metadata__), the
 * same keys in both: mnist-dp's version, the spec in words and as JSON, the recipe, the data set, the
 * test accuracy, and the input the model expects.
 */
export function modelMetadata(model: Model, prefix = ''): Record<string, string> {
  const info = model.info;
  return {
    [`${prefix}spec`]: describeSpec(model.spec),
    [`${prefix}spec_json`]: JSON.stringify(model.spec),
    [`${prefix}recipe`]: info.recipe ? JSON.stringify(info.recipe) : 'not recorded',
    [`${prefix}data_set`]: describeTrainedOn(info.data),
    [`${prefix}data_set_json`]: JSON.stringify(info.data ?? null),
    [`${prefix}test_accuracy`]: info.testAccuracy === null ? 'not measured' : String(info.testAccuracy),
    [`${prefix}epochs_trained`]: String(info.epochsTrained),
  };
}

/** The version every exported file records. */
export const versionMetadata = (): Record<string, string> => ({ mnist_dp_version: packageVersion() });

/**
 * The input of an exported model, per image: (channels, height, width) for a CNN, (1, side, side) for an
 * MLP whose inputs are a square image, or (inputs) for another MLP.
 */
export function inputDims(model: Model): number[] {
  if (model.spec.kind === 'cnn') return [model.spec.input.channels, model.spec.input.height, model.spec.input.width];
  try {
    const { height, width } = ttaImageShape(model.spec);
    return [1, height, width];
  } catch {
    return [specInputs(model.spec)];
  }
}

/** The input in words, for doc strings and the README: its shape and scaling. */
export function describeInput(dims: readonly number[], classes: number): string {
  const shape = `float32 [N, ${dims.join(', ')}]`;
  return `input "x": ${shape}, pixel intensities scaled to 0-1 (MNIST's 0-255 bytes divided by 255; 0 is the background, 1 the ink), N images of any number; ` +
    `output "probabilities": float32 [N, ${classes}], each row the class probabilities (summing to 1)`;
}
