import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { defaultMnistDir, loadIdxDataset } from '../src/data/dataset.js';
import { loadModel } from '../src/checkpoint.js';
import type { TrainOptions } from '../src/options.js';

// Digests recorded on 2026-12-01 from the code before the redesign of issue 11 ("One home per layer,
// optimiser and kernel"), by the same calls as below: the redesign must keep every bit. A change of any of
// these numbers is a change of behaviour and needs its own reason (and new digests, in its own commit).
// Reference: /tmp/golden/gen.mjs of that session, run at commit 043bc77.

const sha = (a: Float32Array) => createHash('sha256').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

describe('the model shipped up to issue 16 gives the same probabilities as before the redesign', () => {
  it('on the whole MNIST test set, and with TTA on its first 1,000 images', async () => {
    const model = await loadModel('test/fixtures/mnist-best-issue16.ckpt'); // models/mnist-best.ckpt until issue 17
    const test = (await loadIdxDataset(defaultMnistDir())).test;
    expect(sha(model.predict(test.images))).toBe('12ce03dd70eb9f115788e343039945dfa99ce340e1704602c3476abc6e848906');
    expect(sha(model.predict(test.images.subarray(0, 1000 * 784), { tta: true }))).toBe('c43624809b33afba86f35579c983dd5e00ea4587eee6bda7aa679aea461503d8');
  });
});

// Recorded on 2026-12-02 from the model shipped since issue 17 (npm run best, seed 1, cnn-wide-res), when it
// was committed: what it answers must not change unless the model does.
describe('the model shipped since issue 17 gives the probabilities it gave when it was committed', () => {
  it('on the whole MNIST test set, and with TTA on its first 1,000 images', async () => {
    const model = await loadModel('models/mnist-best.ckpt');
    const test = (await loadIdxDataset(defaultMnistDir())).test;
    expect(sha(model.predict(test.images))).toBe('74714f63d8acd37563020248f404cbced81134d70418ca016cd3e5450cffc678');
    expect(sha(model.predict(test.images.subarray(0, 1000 * 784), { tta: true }))).toBe('570ef1bd9b545b7637a7ddc30b5481bef19d25d36f84ff1b65c35e85dcb0e612');
  });
});

const runs: Record<string, { options: TrainOptions; params: string; loss: number }> = {
  'the default MLP (wasm)': {
    options: { epochs: 1, trainSize: 2000, valSize: 500, workers: 2, seed: 3, kernels: 'wasm' },
    params: '1e7f26f684ec24eb59213a73ec6b948d93e33812ffb8e6d8f6eff5e888af53be', loss: 1.3588772734293015,
  },
  'the default MLP (wasm-relaxed)': {
    options: { epochs: 1, trainSize: 2000, valSize: 500, workers: 2, seed: 3, kernels: 'wasm-relaxed' },
    params: '3b14808a2809bed851fbde8b2a6f09cc824895773f9423cf55a8c790ce1e652c', loss: 1.3588772726479168,
  },
  'the default MLP (ts)': {
    options: { epochs: 1, trainSize: 1000, valSize: 200, workers: 2, seed: 3, kernels: 'ts' },
    params: 'eced1bdc0362f482a0607e5fc92dfcd78c38952121fec3e3f68f33091d499cca', loss: 1.9226613774825183,
  },
  "the notes' recipe (sigmoid, squared error, plain SGD)": {
    options: { epochs: 1, trainSize: 1000, valSize: 200, workers: 2, seed: 3, layers: '784-100-10', activation: 'sigmoid', loss: 'squared-error',
      batchSize: 10, lr: 1, momentum: 0, nesterov: false, weightDecay: 0, schedule: 'constant', kernels: 'wasm' },
    params: '505c7c5bb46fbb2798474becd749dbc97746c630c888265839374e269784ca67', loss: 0.8714639704795019,
  },
  'an MLP with sigmoid:2 and Adam': {
    options: { epochs: 1, trainSize: 1000, valSize: 200, workers: 2, seed: 3, layers: '784-64-32-10', activation: 'sigmoid:2', optimizer: 'adam',
      lr: 0.003, weightDecay: 0.0001, kernels: 'wasm' },
    params: '210d457ae3fc1b24ed8c0e8e33bd9f509c4d595800bad9a6f42839f8f3f4fea0', loss: 2.229260779217942,
  },
  'a CNN with batch norm, dropout, augmentation, AdamW, label smoothing and EMA': {
    options: { epochs: 1, trainSize: 300, valSize: 100, batchSize: 50, microBatch: 10, workers: 2, seed: 7,
      model: 'c4k5-bn-relu-mp2-c8k3-relu-mp2-fc16-bn-relu-do0.3-fc10', augment: 'rotate=10,shift=2,scale=0.1,elastic=2,sigma=4',
      optimizer: 'adamw', lr: 0.003, weightDecay: 0.01, labelSmoothing: 0.1, ema: 0.9, kernels: 'wasm' },
    params: '1d635b27c7d6904e10c50067a9dd5cd1c2824ea18257572a9d3e79fe466c88e7', loss: 2.4513911475668686,
  },
  'a CNN with strided, padded convolutions and one-cycle SGD': {
    options: { epochs: 1, trainSize: 300, valSize: 100, batchSize: 64, workers: 2, seed: 5,
      model: 'c4k3-bn-relu-c8k5s2p2-bn-relu-do0.4-c8k3p1-relu-mp2-fc16-bn-relu-fc10', schedule: 'onecycle', lr: 0.1, weightDecay: 0.0005,
      labelSmoothing: 0.1, ema: 0.99, augment: 'default', kernels: 'wasm' },
    params: '9cfe9ca5c40b25ff28d3e5dbcaac15f11363744c3a16fe2fbf3864a402797edf', loss: 2.4146142909914277,
  },
  'a CNN on relaxed SIMD': {
    options: { epochs: 1, trainSize: 300, valSize: 100, batchSize: 64, workers: 2, seed: 5, model: 'c8k3-relu-c8k3-bn-relu-mp2-fc32-relu-fc10', kernels: 'wasm-relaxed' },
    params: 'c410652b426a8601d5da33584b0f7776220f394d684baafbf5583963b3592a67', loss: 2.947219802029243,
  },
};

describe('training gives the same weights as before the redesign', () => {
  for (const [name, r] of Object.entries(runs)) {
    it(name, async () => {
      const result = await train({ ...r.options, out: null });
      expect(sha(result.params)).toBe(r.params);
      expect(result.metrics[0].trainLoss).toBe(r.loss);
    });
  }
});
