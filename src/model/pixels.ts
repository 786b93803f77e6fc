import { badOption, shown } from '../errors.js';

/**
 * What Model.predict accepts as pixels, checked before it reads them: a library caller's array may be of
 * a type that would be silently misread (an Int32Array of 0-255 values is not 0-1 floats).
 */

/**
 * How predict reads pixels: the factor that maps them to [0, 1] (1/255 for bytes, 1 for floats). Refuses
 * what it would read wrongly: other typed arrays (an Int32Array of 0-255 values is not 0-1 floats),
 * arrays of numbers above 1 (0-255 values in a plain array), and NaN or infinite pixels.
 */
export function pixelScale(pixels: unknown): number {
  if (pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray) return 1 / 255;
  const bytesHint = 'pass a Uint8Array of 0-255 values, or a Float32Array or array of 0-1 values';
  if (ArrayBuffer.isView(pixels) && !(pixels instanceof Float32Array || pixels instanceof Float64Array)) {
    throw badOption(`predict: cannot read pixels from a ${pixels.constructor.name}; ${bytesHint}`);
  }
  if (!(pixels instanceof Float32Array || pixels instanceof Float64Array || Array.isArray(pixels))) {
    throw badOption(`predict: pixels must be a Uint8Array, Float32Array, Float64Array or array of numbers, got ${shown(pixels)}`);
  }
  const values = pixels as ArrayLike<number>;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw badOption(`predict: pixel ${i} is ${shown(v)}; every pixel must be a finite number`);
    if (v < 0 || v > 1) {
      const hint = v > 1 && v <= 255 ? ': 0-255 values must come as a Uint8Array (Uint8Array.from(pixels)), or be divided by 255' : '';
      throw badOption(`predict: pixel ${i} is ${v}, outside 0-1${hint}`);
    }
  }
  return 1;
}
