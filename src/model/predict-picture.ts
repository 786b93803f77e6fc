import { toDigitImage, type DigitShape, type InkImage } from '../data/digit-image.js';
import type { Model } from './model.js';
import { ttaImageShape } from './tta.js';

/**
 * The `predict` path for a picture, shared by `mnist-dp predict` and the `serve` page's `POST /predict`:
 * the ink made an MNIST-style image of the model's input shape (toDigitImage), then the model's
 * probabilities.
 */

/** What a prediction of one picture gives: the digit, its probabilities and the image the model read. */
export interface PicturePrediction {
  digit: number;
  probability: number;
  /** One per class. */
  probabilities: number[];
  /** The image the model read, `shape.height × shape.width` floats in [0, 1], row-major. */
  image: Float32Array;
  shape: DigitShape;
}

/** The shape a model reads pictures in: its square input, with the digit scaled into 20/28 of it (as MNIST). */
export function digitShapeOf(model: Model, what: string): DigitShape {
  const shape = ttaImageShape(model.spec, what);
  return { ...shape, box: Math.round((20 / 28) * Math.min(shape.height, shape.width)) };
}

/** The model's reading of a picture. Throws BAD_DATA, naming `name`, for a picture with no ink. */
export function predictPicture(model: Model, ink: InkImage, shape: DigitShape, name: string, options: { tta?: boolean } = {}): PicturePrediction {
  const image = toDigitImage(ink, shape, name);
  const probabilities = Array.from(model.predict(image, { tta: options.tta === true }));
  let digit = 0;
  for (let c = 1; c < probabilities.length; c++) if (probabilities[c] > probabilities[digit]) digit = c;
  return { digit, probability: probabilities[digit], probabilities, image, shape };
}
