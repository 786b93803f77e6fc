import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/checkpoint.js';
import { exportOnnx } from '../src/export/onnx.js';
import { predictEnsemble } from '../src/model/ensemble.js';
import { mostProbable, type Model } from '../src/model/model.js';
import { makeSpec, MODEL_PRESETS, parseCnnSpec } from '../src/model/spec.js';
import { modelWithEveryTensorSet, testImages } from './helpers/export-models.js';
import { maxAbsDiff, runOnnx } from './helpers/onnxruntime.js';

/**
 * An exported ONNX model, run by onnxruntime-web (another runtime: Microsoft's, on its WebAssembly
 * backend), gives the probabilities model.predict gives, within 1e-5, on 1,000 MNIST test images: for
 * every layer kind, both output kinds, every named network, ensembles and TTA; and the shipped model's
 * file makes the same decisions on all 10,000.
 */

const N = 1000;
const IMAGE = [1, 28, 28];
let images: Float32Array;

beforeAll(async () => {
  images = (await testImages(N)).images;
});

async function expectSame(bytes: Uint8Array, want: Float32Array): Promise<void> {
  const got = await runOnnx(bytes, images, IMAGE);
  expect(got.length).toBe(want.length);
  expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
}

const cases: [string, () => Model][] = [
  ['the default MLP 784-256-128-10 (ReLU, softmax; its first layer stored input-major)',
    () => modelWithEveryTensorSet(makeSpec([784, 256, 128, 10], { kind: 'relu' }, 'cross-entropy'), 1)],
  ["the notes' recipe 784-100-10 (sigmoid, squared error: sigmoid outputs normalised)",
    () => modelWithEveryTensorSet(makeSpec([784, 100, 10], { kind: 'sigmoid', slope: 1 }, 'squared-error'), 2)],
  ["the notes' S_a with a = 2 (the slope as a Mul)",
    () => modelWithEveryTensorSet(makeSpec([784, 60, 10], { kind: 'sigmoid', slope: 2 }, 'squared-error'), 3)],
  ['ReLU with squared error (identity outputs clipped at 0 and normalised)',
    () => modelWithEveryTensorSet(makeSpec([784, 40, 10], { kind: 'relu' }, 'squared-error'), 4)],
  ...Object.keys(MODEL_PRESETS).map((name, i): [string, () => Model] => [`the named network ${name}`, () => modelWithEveryTensorSet(parseCnnSpec(name), 10 + i)]),
  ['a layer string with average pooling and strided, padded convolutions',
    () => modelWithEveryTensorSet(parseCnnSpec('c8k3s2p1-bn-relu-ap2-c16k5p2-relu-c16k3s2p1-relu-fc32-bn-relu-fc10'), 20)],
];

describe('onnxruntime-web runs an exported model as model.predict does', () => {
  for (const [what, make] of cases) {
    it(`${what}: probabilities within 1e-5 on 1,000 test images`, async () => {
      const model = make();
      await expectSame(exportOnnx(model), model.predict(images));
    }, 60_000);
  }

  it('a two-member ensemble with TTA: one graph of the shifted views, both members and their mean, as predictEnsemble with tta', async () => {
    const members = [modelWithEveryTensorSet(parseCnnSpec('c8k5-relu-mp2-c16k5-relu-mp2-fc10'), 30), modelWithEveryTensorSet(makeSpec([784, 32, 10], { kind: 'relu' }, 'cross-entropy'), 31)];
    const want = predictEnsemble(members, images, { tta: true });
    // Not vacuous: TTA and the second member each change the probabilities.
    expect(maxAbsDiff(want, predictEnsemble(members, images))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(want, members[0].predict(images, { tta: true }))).toBeGreaterThan(1e-3);
    await expectSame(exportOnnx(members, { tta: true }), want);
  }, 60_000);

  it('the batch dimension is dynamic: 1 image and 7 images give their rows of the 1,000', async () => {
    const model = modelWithEveryTensorSet(parseCnnSpec('c4k3-relu-mp2-fc10'), 40);
    const bytes = exportOnnx(model);
    const all = await runOnnx(bytes, images, IMAGE);
    expect(maxAbsDiff(await runOnnx(bytes, images.subarray(0, 784), IMAGE), all.subarray(0, 10))).toBe(0);
    expect(maxAbsDiff(await runOnnx(bytes, images.subarray(784 * 3, 784 * 10), IMAGE), all.subarray(30, 100))).toBe(0);
  }, 60_000);
});

describe('the shipped models/mnist-best.onnx', () => {
  it('is the shipped checkpoint: the same class as model.predict for all 10,000 test images, and its test accuracy', async () => {
    const model = await loadModel(fileURLToPath(new URL('../models/mnist-best.ckpt', import.meta.url)));
    const bytes = new Uint8Array(await readFile(fileURLToPath(new URL('../models/mnist-best.onnx', import.meta.url))));
    const { images: all, labels } = await testImages(10_000);
    const want = model.predict(all);
    const got = await runOnnx(bytes, all, IMAGE);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
    const ours = mostProbable(want, 10);
    const theirs = mostProbable(got, 10);
    expect(theirs).toEqual(ours);
    const correct = theirs.filter((c, i) => c === labels[i]).length;
    expect(correct / 10_000).toBe(model.info.testAccuracy);
    const record = JSON.parse(await readFile(fileURLToPath(new URL('../models/mnist-best.ckpt.json', import.meta.url)), 'utf8')) as { onnx: { testAccuracy: number } };
    expect(correct / 10_000).toBe(record.onnx.testAccuracy); // the figure the record (and the README) state
  }, 120_000);
});
