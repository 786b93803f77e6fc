import { beforeAll, describe, expect, it } from 'vitest';
import { augmentBatch, augmentScratchFloats, DEFAULT_AUGMENT, sampleAffine, type AugmentOptions } from '../src/data/augment.js';
import { defaultMnistDir, loadIdxDataset } from '../src/data/dataset.js';

// Real MNIST digits (the first 300 of the test set) stay whole and inside the frame when augmented.
const N = 300, H = 28, W = 28, HW = H * W;
let digits: Float32Array;

beforeAll(async () => {
  const { test } = await loadIdxDataset(defaultMnistDir());
  digits = Float32Array.from(test.images.subarray(0, N * HW), (v) => v / 255);
});

/** The digits augmented as one batch (sample r = digit r), in epoch 0 under seed 1. */
function augmented(o: AugmentOptions): Float32Array {
  const X = digits.slice();
  augmentBatch(X, new Float32Array(augmentScratchFloats(H, W, o)), Int32Array.from({ length: N }, (_, i) => i), N, H, W, 1, 0, o);
  return X;
}

/** Ink (sum of intensities) of row r, in all and on the outermost ring of pixels. */
function ink(X: Float32Array, r: number): { total: number; ring: number } {
  let total = 0, ring = 0;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const v = X[r * HW + y * W + x];
      total += v;
      if (x === 0 || y === 0 || x === W - 1 || y === H - 1) ring += v;
    }
  return { total, ring };
}

/** Ink after / ink expected: a zoom by s multiplies the ink by s² = 1/det of the sampling map. */
function inkRatios(X: Float32Array, o: AugmentOptions): number[] {
  return Array.from({ length: N }, (_, r) => {
    const t = sampleAffine(1, 0, r, H, W, o);
    const det = t.xx * t.yy - t.xy * t.yx;
    return ink(X, r).total / (ink(digits, r).total / det);
  });
}

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

// Elastic distortion scales each digit's ink by a random factor (the strokes' area changes with the field's
// divergence, RMS ≈ elastic/sigma: 0.5–2× at elastic=2,sigma=4), so its average over 300 digits is looser.
describe.each([
  ['default (±10°, ±2 px, ±10 %)', DEFAULT_AUGMENT, 0.02],
  ['default + elastic=2,sigma=4', { ...DEFAULT_AUGMENT, elastic: 2, elasticSigma: 4 }, 0.06],
])('augmenting real MNIST digits, %s', (_, o, inkTolerance) => {
  it('keeps every value in [0, 1] and changes every image', () => {
    const X = augmented(o);
    let lo = Infinity, hi = -Infinity;
    for (const v of X) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    for (let r = 0; r < N; r++) expect(X.subarray(r * HW, (r + 1) * HW)).not.toEqual(digits.subarray(r * HW, (r + 1) * HW));
  });

  it('keeps the ink inside the frame: almost none on the outermost pixels, none lost on average', () => {
    const X = augmented(o);
    const ringShare = Array.from({ length: N }, (_, r) => ink(X, r).ring / ink(X, r).total);
    // Reference (measured on the first 1,000 test digits): at most 6 % (affine) and 10 % (elastic=2) of a
    // digit's ink on its outer ring, 0.2 % / 0.6 % on average; a digit cut off would leave far more there.
    expect(Math.max(...ringShare)).toBeLessThan(0.15);
    expect(mean(ringShare)).toBeLessThan(0.01);
    // Ink scales with the zoom's area and nothing else when nothing leaves the frame. Reference: mean
    // ratios 0.999 (affine) and 0.968 (elastic) here, 0.999 and 0.975 on 1,000 digits.
    expect(Math.abs(mean(inkRatios(X, o)) - 1)).toBeLessThan(inkTolerance);
  });
});

describe('the affine augmentation of real MNIST digits', () => {
  it('keeps at least 90 % of every digit: ink after ≈ ink before × zoom²', () => {
    // Reference: on the first 1,000 test digits the ratio was 0.92–1.016 (median 1.000); the low end are
    // digits that already touch the frame, shifted against it. Elastic distortion changes the area of the
    // strokes locally (by the field's divergence, RMS ≈ elastic/sigma), so only the average is checked there.
    const ratios = inkRatios(augmented(DEFAULT_AUGMENT), DEFAULT_AUGMENT);
    expect(Math.min(...ratios)).toBeGreaterThan(0.9);
    expect(Math.max(...ratios)).toBeLessThan(1.05);
  });
});
