import { describe, expect, it } from 'vitest';
import { augmentBatch, augmentScratchFloats, NO_AUGMENT, isNoAugment } from '../src/data/augment.js';

describe('augmentation with every strength 0', () => {
  it('leaves every image bit for bit unchanged', () => {
    const H = 28, W = 28, M = 5;
    const X = Float32Array.from({ length: M * H * W }, (_, i) => ((i * 2654435761) % 1000) / 999);
    const before = X.slice();
    for (const o of [NO_AUGMENT, { ...NO_AUGMENT, elasticSigma: 2 }]) {
      expect(isNoAugment(o)).toBe(true);
      augmentBatch(X, new Float32Array(augmentScratchFloats(H, W, o)), Int32Array.from([0, 1, 2, 3, 4]), M, H, W, 1, 3, o);
      expect(X).toEqual(before);
    }
  });
});
