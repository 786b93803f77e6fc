import { describe, expect, it } from 'vitest';
import { learningRate, resolveOptions } from '../src/options.js';
import { CounterRng, epochPermutation, hash4 } from '../src/rng.js';

describe('counter-based random numbers', () => {
  it('are a pure function of (seed, stream, key, counter)', () => {
    expect(hash4(1, 2, 3, 4)).toBe(hash4(1, 2, 3, 4));
    expect(hash4(1, 2, 3, 4)).not.toBe(hash4(1, 2, 3, 5));
    expect(hash4(1, 2, 3, 4)).not.toBe(hash4(2, 2, 3, 4));
  });

  it('give standard normals with mean 0 and variance 1', () => {
    const rng = new CounterRng(9, 1, 0);
    const n = 100_000;
    let sum = 0, sq = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.normal();
      sum += x;
      sq += x * x;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.02);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.02);
  });

  it('shuffle each epoch into a different permutation, the same for the same seed', () => {
    const a = epochPermutation(1, 0, 1000);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Array.from(epochPermutation(1, 0, 1000))).toEqual(Array.from(a));
    expect(Array.from(epochPermutation(1, 1, 1000))).not.toEqual(Array.from(a));
    expect(Array.from(epochPermutation(2, 0, 1000))).not.toEqual(Array.from(a));
  });
});

describe('learning-rate schedules', () => {
  const steps = 100;
  it('cosine falls from lr to 0 over the run', () => {
    const o = resolveOptions({ lr: 0.1, epochs: 10, schedule: 'cosine' });
    expect(learningRate(o, 0, 0, steps)).toBeCloseTo(0.1, 10);
    expect(learningRate(o, 5, 0, steps)).toBeCloseTo(0.05, 10);
    expect(learningRate(o, 9, 99, steps)).toBeLessThan(1e-5);
  });

  it('step multiplies by gamma every lrStepEpochs epochs', () => {
    const o = resolveOptions({ lr: 0.1, schedule: 'step', lrStepEpochs: 3, lrGamma: 0.5 });
    expect(learningRate(o, 2, 99, steps)).toBeCloseTo(0.1, 10);
    expect(learningRate(o, 3, 0, steps)).toBeCloseTo(0.05, 10);
    expect(learningRate(o, 6, 0, steps)).toBeCloseTo(0.025, 10);
  });

  it('warm-up rises linearly and constant stays put', () => {
    const o = resolveOptions({ lr: 0.1, schedule: 'constant', warmupEpochs: 1 });
    expect(learningRate(o, 0, 49, steps)).toBeCloseTo(0.05, 10);
    expect(learningRate(o, 3, 7, steps)).toBeCloseTo(0.1, 10);
  });
});

describe('option checks', () => {
  it.each([
    [{ lr: -1 }, /--lr must be a positive number, got -1/],
    [{ batchSize: 0 }, /--batch-size must be an integer from 1 to 65536, got 0/],
    [{ momentum: 1 }, /--momentum must be in \[0, 1\), got 1/],
    [{ activation: 'tanh' }, /--activation "tanh" is unknown/],
    [{ activation: 'sigmoid:-2' }, /sigmoid slope a must be a positive number/],
    [{ layers: '784' }, /--layers "784" is not a list/],
    [{ loss: 'cross-entropy', outputActivation: 'sigmoid' }, /cross-entropy needs softmax outputs/],
    [{ microBatch: 200, batchSize: 100 }, /--micro-batch must be an integer from 1 to 100/],
  ])('reject %o', (options, message) => {
    expect(() => resolveOptions(options)).toThrow(message);
  });

  it('fill defaults once, with the micro-batch derived from the batch size', () => {
    const o = resolveOptions({ batchSize: 512 });
    expect(o.microBatch).toBe(32);
    expect(resolveOptions({ batchSize: 128 }).microBatch).toBe(32);
    expect(resolveOptions({ batchSize: 1024 }).microBatch).toBe(64);
    expect(resolveOptions({ batchSize: 10 }).microBatch).toBe(10);
    expect(o.spec.layers).toEqual([784, 256, 128, 10]);
    expect(o.spec.output).toEqual({ kind: 'softmax' });
  });
});
