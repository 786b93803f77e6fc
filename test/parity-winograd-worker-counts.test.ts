import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import type { TrainOptions } from '../src/options.js';

// Winograd's weight gradient sums over the tiles and samples of one micro-shard, chunk by chunk in a
// fixed order (src/model/layers/conv-winograd.ts), and micro-shards are summed in a fixed order: the
// weights cannot depend on how many workers shared the batches. 150 MNIST images, batch 50 in
// micro-shards of 10 (3 steps), so 1, 2 and 3 workers split every batch differently.
const base: TrainOptions = { epochs: 1, trainSize: 150, valSize: 50, batchSize: 50, microBatch: 10, seed: 7, out: null, lr: 0.05, kernels: 'wasm' };
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('with Winograd convolutions, the same seed and options give the same weights for 1, 2 and 3 workers', () => {
  const cases: [string, TrainOptions, boolean][] = [
    ['cnn-res (--conv winograd: every 3×3 stride-1 layer, inside the residual blocks too)', { model: 'cnn-res', conv: 'winograd' }, true],
    ['cnn-wide (--conv auto: Winograd on its three layers with 32 or 64 input channels)', { model: 'cnn-wide', conv: 'auto' }, false],
    ['cnn-small-bn (--conv auto: F(2×2, 5×5) forward and backward for its 16-channel layer)', { model: 'cnn-small-bn', conv: 'auto' }, true],
    ['cnn (--conv auto: F(2×2, 5×5) forward for its 32-channel layer, the sparse im2col backward)', { model: 'cnn', conv: 'auto' }, true],
  ];
  it.each(cases)('%s', async (_name, options, againstIm2col) => {
    const one = await train({ ...base, ...options, workers: 1 });
    expect(one.params.some((p) => p !== 0)).toBe(true);
    for (const workers of [2, 3]) {
      const other = await train({ ...base, ...options, workers });
      expect(same(other.params, one.params), `${workers} workers`).toBe(true);
      expect(other.metrics[0].trainLoss).toBe(one.metrics[0].trainLoss);
    }
    if (!againstIm2col) return;
    // Winograd rounds differently from im2col + GEMM: the test compared Winograd's weights, not im2col's.
    const im2col = await train({ ...base, ...options, conv: 'im2col', workers: 1 });
    expect(same(im2col.params, one.params)).toBe(false);
  }, 300_000);
});
