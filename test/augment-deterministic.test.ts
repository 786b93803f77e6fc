import { describe, expect, it } from 'vitest';
import { augmentBatch, augmentScratchFloats, DEFAULT_AUGMENT, type AugmentOptions } from '../src/data/augment.js';

const H = 28, W = 28, HW = H * W;
const ELASTIC: AugmentOptions = { ...DEFAULT_AUGMENT, elastic: 2, elasticSigma: 4 };

/** A blob image that differs per `which`, so rows are told apart. */
function image(which: number): Float32Array {
  const img = new Float32Array(HW);
  const cx = 10 + (which % 7), cy = 12 + (which % 5);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) img[y * W + x] = Math.max(0, 1 - Math.hypot(x - cx, (y - cy) / 2) / 6);
  return img;
}

/** Augments the images of `samples` (image(sample) each) as one batch; returns the rows. */
function augmentAs(samples: number[], o: AugmentOptions, epoch = 0, seed = 1): Float32Array[] {
  const M = samples.length;
  const X = new Float32Array(M * HW);
  samples.forEach((s, r) => X.set(image(s), r * HW));
  augmentBatch(X, new Float32Array(augmentScratchFloats(H, W, o)), Int32Array.from(samples), M, H, W, seed, epoch, o);
  return samples.map((_, r) => X.slice(r * HW, (r + 1) * HW));
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe.each([
  ['affine', DEFAULT_AUGMENT],
  ['affine + elastic', ELASTIC],
])('augmentation (%s) is a function of (seed, epoch, sample) alone', (_, o) => {
  it('gives a sample the same bits whatever its batch, batch position and neighbours', () => {
    const alone = augmentAs([42], o)[0];
    const inBatch = augmentAs([7, 3, 42, 1000], o)[2];
    const first = augmentAs([42, 9], o)[0];
    expect(bits(inBatch)).toEqual(bits(alone));
    expect(bits(first)).toEqual(bits(alone));
    expect(bits(alone)).not.toEqual(bits(image(42))); // it did change the image
  });

  it('gives the same image a different augmentation in another epoch, under another seed, or as another sample', () => {
    const base = augmentAs([42], o, 0, 1)[0];
    expect(bits(augmentAs([42], o, 1, 1)[0])).not.toEqual(bits(base));
    expect(bits(augmentAs([42], o, 0, 2)[0])).not.toEqual(bits(base));
    // Sample 42 + 35 has the same blob as 42 (the blob repeats every 35), but its own random draws.
    expect(bits(image(77))).toEqual(bits(image(42)));
    expect(bits(augmentAs([77], o)[0])).not.toEqual(bits(base));
  });
});
