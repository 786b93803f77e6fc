import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';

// Winograd rounds differently from im2col + GEMM (F(4×4, 3×3) and F(2×2, 5×5) up to ~3e-6 relative per
// convolution, see test/kernels-winograd.test.ts); training must not notice. One epoch on 3,000 real MNIST
// images, scored on the 10,000 test images, each way.
// Reference, cnn-wide (2026-12-01, wasm-relaxed): im2col 96.20 % (seed 1) and 95.99 % (seed 2), --conv auto
// 96.21 % and 96.11 %. cnn-small-bn (2026-12-03, 2-core Xeon VM, wasm-relaxed): im2col 95.40 % and 94.84 %,
// --conv winograd (both 5×5 layers, the first with C = 1 too) 95.42 % and 94.85 %.
describe('a network learns as well through Winograd as through im2col + GEMM', () => {
  const run = (model: string, conv: string) =>
    train({ model, conv, epochs: 1, trainSize: 3000, valSize: 0, batchSize: 32, workers: 2, seed: 1, out: null, lr: 0.05 });

  it.each([['cnn-wide', '3×3', 'auto'], ['cnn-small-bn', '5×5', 'winograd']])(
    '%s (%s), one epoch on 3,000 images, --conv %s: the same test accuracy within a point, both over 94 %%', async (model, _window, conv) => {
      const im2col = (await run(model, 'im2col')).testAccuracy!;
      const winograd = (await run(model, conv)).testAccuracy!;
      expect(im2col).toBeGreaterThan(0.94);
      expect(winograd).toBeGreaterThan(0.94);
      expect(Math.abs(winograd - im2col)).toBeLessThan(0.01);
    }, 300_000);
});
