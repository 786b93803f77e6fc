import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import type { TrainOptions } from '../src/options.js';

// A small CNN with batch norm (running statistics: outside the optimiser and the norms), dropout and a
// weight average, on 300 MNIST images in batches of 50 (micro-shards of 10): every worker count splits
// the steps' blocks differently, and the norms must still be summed in the same order.
const cnn: TrainOptions = {
  epochs: 1, trainSize: 300, valSize: 100, batchSize: 50, microBatch: 10, seed: 7, out: null,
  model: 'c4k5-bn-relu-mp2-c8k3-relu-mp2-fc16-bn-relu-do0.3-fc10', ema: 0.9,
};
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('gradient clipping and LAMB give the same weights for any worker count', () => {
  it.each([
    ['--clip-grad-norm 0.5 with SGD', { clipGradNorm: 0.5, lr: 0.1 }, { clipGradNorm: 0 }],
    ['--optimizer lamb', { optimizer: 'lamb', lr: 0.01, weightDecay: 0.01 }, { optimizer: 'adamw' }],
    ['--optimizer lamb --clip-grad-norm 0.5', { optimizer: 'lamb', lr: 0.01, clipGradNorm: 0.5 }, { clipGradNorm: 0 }],
  ] as const)('%s: 1, 2, 3 and 5 workers, bit for bit', async (_, options, unlike) => {
    const one = await train({ ...cnn, ...options, workers: 1 });
    expect(one.params.some((p) => p !== 0)).toBe(true);
    for (const workers of [2, 3, 5]) {
      const other = await train({ ...cnn, ...options, workers });
      expect(same(other.params, one.params), `${workers} workers`).toBe(true);
      expect(other.metrics[0].trainLoss).toBe(one.metrics[0].trainLoss);
    }
    // Not a run the option left alone: without clipping (or with AdamW instead of LAMB) the weights differ.
    const without = await train({ ...cnn, ...options, ...unlike, workers: 2 });
    expect(same(without.params, one.params)).toBe(false);
  });
});
