import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';

// Winograd rounds differently from im2col + GEMM (F(4×4, 3×3) ~1e-5 relative per convolution, see
// test/kernels-winograd.test.ts); training must not notice. cnn-wide, one epoch on 3,000 real MNIST
// images, scored on the 10,000 test images, each way.
// Reference (2026-12-01, this machine, wasm-relaxed): im2col 96.20 % (seed 1) and 95.99 % (seed 2),
// --conv auto 96.21 % and 96.11 %.
describe('cnn-wide learns as well through Winograd as through im2col + GEMM', () => {
  it('one epoch on 3,000 images: the same test accuracy within a point, both over 94 %', async () => {
    const run = (conv: string) => train({ model: 'cnn-wide', conv, epochs: 1, trainSize: 3000, valSize: 0, batchSize: 32, workers: 2, seed: 1, out: null, lr: 0.05 });
    const im2col = (await run('im2col')).testAccuracy!;
    const winograd = (await run('auto')).testAccuracy!;
    expect(im2col).toBeGreaterThan(0.94);
    expect(winograd).toBeGreaterThan(0.94);
    expect(Math.abs(winograd - im2col)).toBeLessThan(0.01);
  }, 300_000);
});
