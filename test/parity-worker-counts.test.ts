import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';

// A short real-data run: 1,500 MNIST images, batch 100 in micro-shards of 10 (15 steps, the last batch
// partial), so every worker count splits batches differently.
const base = { epochs: 1, trainSize: 1450, valSize: 500, batchSize: 100, microBatch: 10, lr: 0.1, seed: 7, out: null };

describe('the same seed and options give the same weights', () => {
  it('for 1, 2, 3, 4, 7 and 16 workers, bit for bit', async () => {
    const one = await train({ ...base, workers: 1 });
    expect(one.params.some((p) => p !== 0)).toBe(true);
    for (const workers of [2, 3, 4, 7, 16]) {
      const other = await train({ ...base, workers });
      expect(Buffer.from(other.params.buffer).equals(Buffer.from(one.params.buffer)), `${workers} workers`).toBe(true);
      expect(other.metrics[0].trainLoss).toBe(one.metrics[0].trainLoss);
      expect(other.testAccuracy).toBe(one.testAccuracy);
    }
  });

  it('for a CNN with batch norm, dropout, augmentation, Adam and a weight average, for 1, 2, 3 and 5 workers', async () => {
    // Batch-norm statistics per micro-shard, dropout masks and augmentation keyed by (seed, epoch, sample):
    // nothing depends on which worker processed a row.
    const cnn = {
      epochs: 1, trainSize: 300, valSize: 100, batchSize: 50, microBatch: 10, seed: 7, out: null,
      model: 'c4k5-bn-relu-mp2-c8k3-relu-mp2-fc16-bn-relu-do0.3-fc10', augment: 'rotate=10,shift=2,scale=0.1,elastic=2,sigma=4',
      optimizer: 'adamw', lr: 0.003, weightDecay: 0.01, labelSmoothing: 0.1, ema: 0.9,
    };
    const one = await train({ ...cnn, workers: 1 });
    expect(one.params.some((p) => p !== 0)).toBe(true);
    for (const workers of [2, 3, 5]) {
      const other = await train({ ...cnn, workers });
      expect(Buffer.from(other.params.buffer).equals(Buffer.from(one.params.buffer)), `${workers} workers`).toBe(true);
      expect(other.metrics[0].trainLoss).toBe(one.metrics[0].trainLoss);
    }
  });

  it('for a residual network (identity and projection shortcuts, batch norm, average and global average pooling), for 1, 2, 3 and 5 workers', async () => {
    // A block's input feeds its branch and its shortcut: both gradients are added per micro-shard, in a
    // fixed order, so the weights cannot depend on which worker took which rows.
    const res = {
      epochs: 1, trainSize: 300, valSize: 100, batchSize: 50, microBatch: 10, seed: 7, out: null, optimizer: 'adam', lr: 0.003, ema: 0.9,
      model: 'c4k3p1-bn-relu-res(c4k3p1-bn-relu-c4k3p1-bn)-relu-ap2-res(c8k3s2p1-bn-relu-do0.2-c8k3p1-bn)-relu-gap-fc10',
    };
    const one = await train({ ...res, workers: 1 });
    expect(one.params.some((p) => p !== 0)).toBe(true);
    for (const workers of [2, 3, 5]) {
      const other = await train({ ...res, workers });
      expect(Buffer.from(other.params.buffer).equals(Buffer.from(one.params.buffer)), `${workers} workers`).toBe(true);
      expect(other.metrics[0].trainLoss).toBe(one.metrics[0].trainLoss);
    }
  });

  it('on repeated runs, and differently for another seed', async () => {
    const a = await train({ ...base, workers: 2 });
    const b = await train({ ...base, workers: 2 });
    const c = await train({ ...base, workers: 2, seed: 8 });
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(c.params.buffer))).toBe(false);
  });
});
