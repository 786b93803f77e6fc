import { toDigitImage, toResizedImage, type InkImage } from '../data/digit-image.js';
import { trainedOnDigits } from '../data/provenance.js';
import type { Model } from './model.js';
import { ttaImageShape } from './tta.js';

/**
 * The `predict` path for a picture, shared by `mnist-dp predict` and the `serve` page's `POST /predict`:
 * the ink made into the model's input (the MNIST-digit way, or the whole picture resized), then the
 * model's probabilities.
 */

/** How a picture becomes a model's input: `digit` (toDigitImage: ink box to 20×20, centred by mass) or `resize` (toResizedImage). */
export type Prep = 'digit' | 'resize';
export const PREP_NAMES: readonly Prep[] = ['digit', 'resize'];

/** The preparation a model's pictures get unless told otherwise: `digit` for a model trained on handwritten digits, else `resize`. */
export const defaultPrep = (model: Model): Prep => (trainedOnDigits(model.info.data) ? 'digit' : 'resize');

/** What a prediction of one picture gives: the digit, its probabilities and the image the model read. */
export interface PicturePrediction {
  digit: number;
  probability: number;
  /** One per class. */
  probabilities: number[];
  /** The image the model read, `height × width` floats in [0, 1], row-major. */
  image: Float32Array;
  height: number;
  width: number;
}

/**
 * The model's reading of a picture. Throws BAD_OPTION (naming `what`) for a model that reads no square
 * single-channel image, BAD_DATA (naming `name`) for a picture with no ink.
 */
export function predictPicture(model: Model, ink: InkImage, name: string, options: { prep: Prep; tta?: boolean; what?: string }): PicturePrediction {
  const shape = ttaImageShape(model.spec, options.what ?? 'a picture');
  const box = Math.round((20 / 28) * Math.min(shape.height, shape.width)); // MNIST: the digit in 20 of 28 pixels
  const image = options.prep === 'digit' ? toDigitImage(ink, { ...shape, box }, name) : toResizedImage(ink, shape, name);
  const probabilities = Array.from(model.predict(image, { tta: options.tta === true }));
  let digit = 0;
  for (let c = 1; c < probabilities.length; c++) if (probabilities[c] > probabilities[digit]) digit = c;
  return { digit, probability: probabilities[digit], probabilities, image, ...shape };
}
