import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { affineTransform, warpImage } from '../src/data/augment.js';
import { defaultMnistDir, loadIdxDataset, type IdxDataset } from '../src/data/dataset.js';
import { loadModel } from '../src/checkpoint.js';
import { Model } from '../src/model/model.js';
import { makeSpec, parseCnnSpec } from '../src/model/spec.js';
import { TTA_VIEWS } from '../src/model/tta.js';
import { randomModel, trainTinyMlp } from './helpers/tiny-models.js';

/**
 * predict(pixels, { tta: true }) is the mean of the model's probabilities over each image and its fixed
 * set of shifted views, each made by warpImage; without the option predict is unchanged.
 */

// Reference: the views src/model/tta.ts documents: identity and the one-pixel shifts along x and y.
const VIEWS = [
  { degrees: 0, dx: 0, dy: 0 },
  { degrees: 0, dx: 1, dy: 0 },
  { degrees: 0, dx: -1, dy: 0 },
  { degrees: 0, dx: 0, dy: 1 },
  { degrees: 0, dx: 0, dy: -1 },
];

let dir: string;
let mlp: Model;
let cnn: Model;
let data: IdxDataset;
/** The first images of the test set as floats 0-1. */
let images: Float32Array;
const N = 20;


/** The mean of model.predict over the views of each image, every view built here with warpImage. */
function meanOverViews(model: Model, x: Float32Array, H: number, W: number): Float64Array {
  const D = H * W;
  const n = x.length / D;
  const mean = new Float64Array(n * model.classes);
  for (const v of VIEWS) {
    const t = affineTransform(H, W, v.degrees, 1, v.dx, v.dy);
    const warped = new Float32Array(x.length);
    for (let r = 0; r < n; r++) warpImage(warped.subarray(r * D, (r + 1) * D), x.subarray(r * D, (r + 1) * D), H, W, t);
    model.predict(warped).forEach((p, i) => (mean[i] += p / VIEWS.length));
  }
  return mean;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mnist-dp-tta-'));
  mlp = await loadModel(await trainTinyMlp(dir, 1));
  cnn = randomModel(parseCnnSpec('c4k5-relu-mp2-fc10'), 7);
  data = await loadIdxDataset(defaultMnistDir());
  images = Float32Array.from(data.test.images.subarray(0, N * 784), (b) => b / 255);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Model.predict with { tta: true }', () => {
  it('uses the documented views', () => {
    expect(TTA_VIEWS).toEqual(VIEWS);
  });

  it('gives probabilities: every row sums to 1', () => {
    for (const model of [mlp, cnn]) {
      const p = model.predict(images, { tta: true });
      expect(p).toHaveLength(N * 10);
      for (let r = 0; r < N; r++) {
        expect(p.subarray(r * 10, r * 10 + 10).reduce((a, b) => a + b)).toBeCloseTo(1, 5);
        for (const v of p.subarray(r * 10, r * 10 + 10)) expect(v).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it("is the mean of the model's probabilities of the images warped explicitly, for an MLP and a CNN", () => {
    for (const model of [mlp, cnn]) {
      const expected = meanOverViews(model, images, 28, 28);
      const got = model.predict(images, { tta: true });
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(expected[i], 6);
      // The views change the answer: TTA is not plain predict.
      const plain = model.predict(images);
      expect(got.some((p, i) => Math.abs(p - plain[i]) > 1e-4)).toBe(true);
    }
  });

  it('reads uint8 as 0-255 as without TTA, and gives each image the same answer in a batch of any size', () => {
    const bytes = data.test.images.subarray(0, 300 * 784); // more than one internal chunk
    const many = mlp.predict(bytes, { tta: true });
    expect(many).toHaveLength(3000);
    const one = mlp.predict(images.subarray(0, 784), { tta: true });
    for (let j = 0; j < 10; j++) expect(many[j]).toBeCloseTo(one[j], 6);
    const last = mlp.predict(bytes.subarray(299 * 784), { tta: true });
    for (let j = 0; j < 10; j++) expect(many[2990 + j]).toBeCloseTo(last[j], 6);
  });

  it('classify takes the most probable class of the TTA mean', () => {
    const p = mlp.predict(images, { tta: true });
    const labels = mlp.classify(images, { tta: true });
    labels.forEach((l, r) => expect(p[r * 10 + l]).toBe(Math.max(...p.subarray(r * 10, r * 10 + 10))));
  });

  it('leaves predict as it was without the option', () => {
    expect(Array.from(mlp.predict(images, { tta: false }))).toEqual(Array.from(mlp.predict(images)));
    expect(Array.from(mlp.predict(images, {}))).toEqual(Array.from(mlp.predict(images)));
  });

  it('refuses an MLP whose inputs are not a square image, saying why', () => {
    const model = randomModel(makeSpec([50, 10], { kind: 'relu' }, 'cross-entropy'), 1);
    expect(() => model.predict(new Float32Array(50))).not.toThrow();
    expect(() => model.predict(new Float32Array(50), { tta: true })).toThrow(/test-time augmentation needs square images; the model takes 50 inputs/);
    expect(() => model.classify(new Float32Array(50), { tta: true })).toThrow(/square/);
  });

  it('refuses a CNN of several channels', () => {
    const model = randomModel(parseCnnSpec('c2k3-relu-fc10', { height: 8, width: 8, channels: 3 }), 1);
    expect(() => model.predict(new Float32Array(192), { tta: true })).toThrow(/single-channel images; the model reads 8×8×3/);
  });
});
