import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { defaultMnistDir, loadIdxDataset, type IdxDataset } from '../src/data/dataset.js';
import { loadModel } from '../src/checkpoint.js';
import { type Model } from '../src/model/model.js';
import { scratchDirs } from './helpers/scratch.js';

const scratch = scratchDirs('mnist-dp-');

let model: Model;
let data: IdxDataset;
let trainedAccuracy: number;

beforeAll(async () => {
  const out = join(await scratch(), 'model.ckpt');
  const r = await train({ epochs: 1, trainSize: 3000, valSize: 500, batchSize: 50, lr: 0.1, workers: 2, out });
  trainedAccuracy = r.testAccuracy!;
  model = await loadModel(out);
  data = await loadIdxDataset(defaultMnistDir());
});

describe('loadModel(...).predict', () => {
  it('returns 10 probabilities per image that sum to 1, for one image or many', () => {
    const one = model.predict(data.test.images.subarray(0, 784));
    expect(one).toBeInstanceOf(Float32Array);
    expect(one).toHaveLength(10);
    const many = model.predict(data.test.images.subarray(0, 300 * 784)); // more than one internal chunk
    expect(many).toHaveLength(3000);
    for (let r = 0; r < 300; r++) expect(many.subarray(r * 10, r * 10 + 10).reduce((a, b) => a + b)).toBeCloseTo(1, 5);
    expect(Array.from(many.subarray(0, 10))).toEqual(Array.from(one));
  });

  it('reads uint8 as 0-255 and floats as 0-1, with the same result', () => {
    const bytes = data.test.images.subarray(0, 5 * 784);
    const floats = Float32Array.from(bytes, (b) => b / 255);
    const a = model.predict(bytes);
    const b = model.predict(floats);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 5);
  });

  it('classifies the test set as accurately as training measured', () => {
    const labels = model.classify(data.test.images);
    const correct = labels.reduce((n, l, i) => n + (l === data.test.labels[i] ? 1 : 0), 0);
    expect(correct / data.test.count).toBe(trainedAccuracy);
    expect(model.info.epochsTrained).toBe(1);
  });

  it('rejects input that is not a whole number of images', () => {
    expect(() => model.predict(new Uint8Array(100))).toThrow(/got 100 pixels, expected a positive multiple of 784/);
  });
});
