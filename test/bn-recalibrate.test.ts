import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadCheckpoint, loadModel, saveCheckpoint } from '../src/checkpoint.js';
import { train } from '../src/api.js';
import { defaultMnistDir, loadIdxDataset } from '../src/data/dataset.js';
import { evaluateModels } from '../src/evaluate.js';
import { BN_EPS } from '../src/model/network.js';
import { Model } from '../src/model/model.js';
import { recalibrateBatchNorm } from '../src/model/recalibrate.js';
import { parseCnnSpec } from '../src/model/spec.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { convGeometry, maxRelativeError, randomFloats, refBatchNorm, refConv, refGemmABt, refMaxPool } from './helpers/reference.js';
import { randomModel } from './helpers/tiny-models.js';

/**
 * recalibrateBatchNorm (PyTorch's update_bn): batch norm's running statistics recomputed for a model's
 * final weights, against a float64 forward pass in training mode written out layer by layer; then
 * `mnist-dp eval --split val` (the run's own validation images, the trainer's own figure) and
 * `--recalibrate-bn` (on the run's training images, and only those).
 */

const cnn = (layers: string) => parseCnnSpec(layers);
const tensor = (m: Model, name: string) => {
  const t = m.layout.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`no tensor ${name}`);
  return m.params.subarray(t.offset, t.offset + t.size);
};

/** Random 0-255 images (n of 28×28). */
function randomImages(n: number, seed: number): Uint8Array {
  return Uint8Array.from(randomFloats(n * 784, seed, 0, 255), (v) => Math.floor(v));
}

/** A model of `layers` with random weights, and batch norm's γ and β random too (they start at 1 and 0). */
function randomBnModel(layers: string): Model {
  const m = randomModel(cnn(layers), 3);
  m.layout.tensors.filter((t) => /\.(gamma|beta)$/.test(t.name)).forEach((t, i) => {
    m.params.set(randomFloats(t.size, 10 + i, t.name.endsWith('gamma') ? 0.5 : -0.5, t.name.endsWith('gamma') ? 1.5 : 0.5), t.offset);
  });
  return m;
}

/**
 * The running statistics that training-mode forward passes over micro-shards of `micro` rows define for
 * c3k3-bn-relu-mp2-fc6-bn-relu-fc10, in float64: per shard, each batch norm's mean and unbiased variance
 * over its rows (and pixels), averaged over the shards weighted by their rows.
 */
function referenceStats(m: Model, images: Uint8Array, micro: number) {
  const n = images.length / 784;
  const acc = { m0: new Float64Array(3), v0: new Float64Array(3), m1: new Float64Array(6), v1: new Float64Array(6) };
  const g = convGeometry(28, 28, 1, 3, 1, 0);
  for (let r0 = 0; r0 < n; r0 += micro) {
    const rows = Math.min(micro, n - r0);
    const x = Float64Array.from(images.subarray(r0 * 784, (r0 + rows) * 784), (v) => v / 255);
    const conv = refConv(x, tensor(m, 'conv1.w'), tensor(m, 'conv1.b'), rows, 3, g);
    const R0 = rows * 26 * 26;
    const bn0 = refBatchNorm(conv, tensor(m, 'bn1.gamma'), tensor(m, 'bn1.beta'), R0, 3, BN_EPS);
    const pooled = refMaxPool(bn0.y.map((v) => Math.max(0, v)), rows, 26, 26, 3, 2).y; // (rows, 13, 13, 3)
    const fc = refGemmABt(pooled, tensor(m, 'dense1.w'), tensor(m, 'dense1.b'), rows, 6, 13 * 13 * 3);
    const bn1 = refBatchNorm(fc, tensor(m, 'bn2.gamma'), tensor(m, 'bn2.beta'), rows, 6, BN_EPS);
    for (let c = 0; c < 3; c++) {
      acc.m0[c] += rows * bn0.mean[c];
      acc.v0[c] += rows * bn0.variance[c] * (R0 / (R0 - 1));
    }
    for (let c = 0; c < 6; c++) {
      acc.m1[c] += rows * bn1.mean[c];
      acc.v1[c] += rows * bn1.variance[c] * (rows > 1 ? rows / (rows - 1) : 1);
    }
  }
  for (const a of Object.values(acc)) for (let i = 0; i < a.length; i++) a[i] /= n;
  return acc;
}

describe('recalibrateBatchNorm', () => {
  const layers = 'c3k3-bn-relu-mp2-fc6-bn-relu-fc10';

  it('gives the running statistics of a float64 training-mode forward pass, shard by shard (300 images: two passes, a short last shard)', () => {
    const m = randomBnModel(layers);
    const images = randomImages(300, 5);
    const r = recalibrateBatchNorm(m, images, { micro: 8 });
    const ref = referenceStats(m, images, 8);
    expect(maxRelativeError(tensor(r, 'bn1.mean'), ref.m0)).toBeLessThan(1e-4);
    expect(maxRelativeError(tensor(r, 'bn1.var'), ref.v0)).toBeLessThan(1e-4);
    expect(maxRelativeError(tensor(r, 'bn2.mean'), ref.m1)).toBeLessThan(1e-4);
    expect(maxRelativeError(tensor(r, 'bn2.var'), ref.v1)).toBeLessThan(1e-4);
    // Another micro-shard is another statistic (the variance within 8 rows is not that within 32).
    const other = referenceStats(m, images, 32);
    expect(maxRelativeError(tensor(r, 'bn2.var'), other.v1)).toBeGreaterThan(1e-3);
  });

  it('changes only the running statistics, leaves the model it was given alone, and does not depend on its old statistics', () => {
    const m = randomBnModel('c4k3-bn-relu-mp2-res(c4k3p1-bn-relu-c4k3p1-bn)-relu-fc8-bn-relu-do0.3-fc10');
    const before = m.params.slice();
    const images = randomImages(100, 6);
    const r = recalibrateBatchNorm(m, images, { micro: 16 });
    expect(m.params).toEqual(before);
    const stats = m.layout.tensors.filter((t) => !t.trainable);
    expect(stats.map((t) => t.name)).toEqual(['bn1.mean', 'bn1.var', 'bn2.mean', 'bn2.var', 'bn3.mean', 'bn3.var', 'bn4.mean', 'bn4.var']);
    for (const t of m.layout.tensors) {
      const a = before.subarray(t.offset, t.offset + t.size);
      const b = r.params.subarray(t.offset, t.offset + t.size);
      // Every statistic, inside the residual block too, is recomputed (none is left at its 0 or 1); nothing else moves.
      if (t.trainable) expect(b, t.name).toEqual(a);
      else for (let i = 0; i < t.size; i++) expect(b[i], `${t.name}[${i}]`).not.toBe(a[i]);
    }
    const scrambled = new Model(m.spec, before.slice(), m.info);
    for (const t of stats) scrambled.params.set(randomFloats(t.size, 99, 0.1, 9), t.offset);
    expect(recalibrateBatchNorm(scrambled, images, { micro: 16 }).params).toEqual(r.params);
  });

  it('refuses a network without batch norm, and a model whose micro-batch is not known', () => {
    expect(() => recalibrateBatchNorm(randomModel(cnn('c4k3-relu-mp2-fc10')), randomImages(4, 1), { micro: 4 })).toThrow(/no batch norm layer/);
    expect(() => recalibrateBatchNorm(randomBnModel(layers), randomImages(4, 1))).toThrow(/records no micro-batch; give the one the model was trained with \(eval --micro-batch N\)/);
    expect(() => recalibrateBatchNorm(randomBnModel(layers), randomImages(4, 1), { micro: 0 })).toThrow(/micro-batch must be a whole number of rows ≥ 1, got 0/);
    expect(() => recalibrateBatchNorm(randomBnModel(layers), new Uint8Array(100), { micro: 4 })).toThrow(/positive multiple of 784/);
  });
});

describe('mnist-dp eval --split val and --recalibrate-bn', () => {
  const work = cliTempDir('mnist-dp-recalibrate-');
  const cli = (...args: string[]) => runCli(work(), args, 60_000);
  const dataset = loadIdxDataset(defaultMnistDir());

  /** A small batch-norm CNN trained for one epoch on 3,000 images (augmented, with a weight average), validated on the last 1,000. */
  async function trained(name: string, valSize: number): Promise<string> {
    const out = `${work()}/${name}.ckpt`;
    await train({ model: 'c8k5-bn-relu-mp2-fc32-bn-relu-fc10', epochs: 1, trainSize: 3000, valSize, ema: 0.99, augment: 'default', workers: 1, test: false, out });
    return out;
  }

  it("reads the run's validation images: the accuracy the trainer measured after its last epoch", async () => {
    const file = await trained('v', 1000);
    const r = cli('eval', '--model', file, '--split', 'val', '--json');
    expect(r.code, r.stderr).toBe(0);
    const line = JSON.parse(r.stdout) as { valAccuracy: number; valSize: number; testAccuracy?: number };
    expect(line.valSize).toBe(1000);
    expect(line.testAccuracy).toBeUndefined();
    expect(line.valAccuracy).toBe((await loadModel(file)).info.metrics[0].valAccuracy);
    const text = cli('eval', '--model', file, '--split', 'val');
    expect(text.stdout.split('\n')[0]).toMatch(/^validation accuracy \d+\.\d\d% \([\d,]+\/1,000\) · cnn /);
  });

  it('--recalibrate-bn recomputes the statistics on the first trainSize training images, and only on them', async () => {
    const file = await trained('r', 1000);
    const { train: images } = await dataset;
    const e = await evaluateModels([file], { tta: false, split: 'val', recalibrate: true });
    const saved = await loadModel(file);
    expect(e.models[0].params).toEqual(recalibrateBatchNorm(saved, images.images.subarray(0, 3000 * 784)).params);
    expect(e.models[0].params).not.toEqual(recalibrateBatchNorm(saved, images.images.subarray(0, 3001 * 784)).params);
    const r = cli('eval', '--model', file, '--split', 'val', '--recalibrate-bn', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ valAccuracy: e.accuracy, valSize: 1000, recalibratedBn: true });
  });

  it('--micro-batch recalibrates in shards of another size than the checkpoint records, and only with --recalibrate-bn', async () => {
    const file = await trained('m', 1000);
    const saved = await loadModel(file);
    expect(saved.info.recipe?.microBatch).toBe(32);
    const { train: images } = await dataset;
    const e = await evaluateModels([file], { tta: false, split: 'val', recalibrate: true, microBatch: 16 });
    const expected = recalibrateBatchNorm(saved, images.images.subarray(0, 3000 * 784), { micro: 16 });
    expect(e.models[0].params).toEqual(expected.params);
    expect(e.models[0].params).not.toEqual(recalibrateBatchNorm(saved, images.images.subarray(0, 3000 * 784)).params);
    const r = cli('eval', '--model', file, '--split', 'val', '--recalibrate-bn', '--micro-batch', '16', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ valAccuracy: e.accuracy, recalibratedBn: true });
    for (const [args, pattern] of [
      [['--micro-batch', '16'], /--micro-batch only applies with --recalibrate-bn/],
      [['--recalibrate-bn', '--micro-batch', '0'], /--micro-batch must be an integer ≥ 1, got 0/],
      [['--recalibrate-bn', '--micro-batch', '2.5'], /--micro-batch must be an integer ≥ 1, got 2\.5/],
    ] as const) {
      const bad = cli('eval', '--model', file, '--split', 'val', ...args);
      expect(bad.code, bad.stderr).toBe(2);
      expect(bad.stdout).toBe('');
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      expect(bad.stderr).toMatch(pattern);
    }
  });

  it('refuses a run without validation images, members that held out different ones, and an unknown split, in one line', async () => {
    const none = await trained('n', 0);
    const other = await trained('o', 500);
    const v = await trained('w', 1000);
    for (const [args, pattern] of [
      [['--model', none, '--split', 'val'], /--split val: .*n\.ckpt was trained with --val-size 0, so it held out no validation images/],
      [['--model', v, '--model', other, '--split', 'val'], /--split val: .*w\.ckpt held out its last 1000 training images and .*o\.ckpt its last 500/],
      [['--model', v, '--split', 'train'], /--split must be test or val, got "train"/],
    ] as const) {
      const r = cli('eval', ...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
  });
});

describe('mnist-dp recalibrate', () => {
  const work = cliTempDir('mnist-dp-recalibrate-file-');
  const cli = (...args: string[]) => runCli(work(), args, 60_000);

  it('writes a copy whose statistics are eval --recalibrate-bn\'s, evaluates as it does, says so in info, and cannot be resumed', async () => {
    const file = `${work()}/f.ckpt`;
    await train({ model: 'c8k5-bn-relu-mp2-fc32-bn-relu-fc10', epochs: 1, trainSize: 3000, valSize: 1000, ema: 0.99, augment: 'default', workers: 1, test: false, out: file });
    const out = `${work()}/f-recal.ckpt`;
    const r = cli('recalibrate', '--model', file, '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ model: file, out, images: 3000, microBatch: 32, layers: 2 });
    // The copy's model is the one eval --recalibrate-bn evaluates; the original file is unchanged.
    const [original, copy] = [await loadCheckpoint(file), await loadCheckpoint(out)];
    const expected = (await evaluateModels([file], { tta: false, split: 'val', recalibrate: true })).models[0];
    expect((await loadModel(out)).params).toEqual(expected.params);
    expect((await loadModel(out)).params).not.toEqual((await loadModel(file)).params);
    expect(copy.params).toEqual(original.params); // with --ema only the average's statistics change
    expect(copy.optimizer.state).toEqual(original.optimizer.state);
    expect(copy.recalibratedBn).toEqual({ images: 3000, micro: 32 });
    expect(original.recalibratedBn).toBeNull();
    const plain = JSON.parse(cli('eval', '--model', out, '--split', 'val', '--json').stdout) as { valAccuracy: number };
    const again = JSON.parse(cli('eval', '--model', file, '--split', 'val', '--recalibrate-bn', '--json').stdout) as { valAccuracy: number };
    expect(plain.valAccuracy).toBe(again.valAccuracy);
    // Recalibrating the copy again changes nothing: the statistics depend on the weights, not on the old statistics.
    const twice = `${work()}/f-twice.ckpt`;
    expect(cli('recalibrate', '--model', out, '--out', twice).code).toBe(0);
    expect((await loadModel(twice)).params).toEqual(expected.params);
    const info = cli('info', '--model', out);
    expect(info.stdout).toMatch(/^batch norm {5}recalibrated on 3,000 training images, micro-batch 32 \(mnist-dp recalibrate\)$/m);
    expect(JSON.parse(cli('info', '--model', out, '--json').stdout)).toMatchObject({ recalibratedBn: { images: 3000, micro: 32 } });
    expect(info.stdout).toMatch(/^test accuracy {2}not measured since batch norm was recalibrated \(measure it with mnist-dp eval --model .*f-recal\.ckpt\)$/m);
    expect(cli('info', '--model', file).stdout).not.toMatch(/recalibrated/);
    const resume = cli('train', '--resume', out, '--epochs', '2');
    expect(resume.code).toBe(2);
    expect(resume.stderr).toMatch(/--resume .*f-recal\.ckpt: its batch norm statistics were recalibrated \(mnist-dp recalibrate\), so it is a model to evaluate, not a resume point; resume the checkpoint it was made from/);
  });

  it('refuses its own input as --out (by any name), a folder, a missing folder, an --out a run holds, an existing --out without --force, a network without batch norm and a bad --micro-batch, in one line, writing nothing', async () => {
    const bn = `${work()}/g.ckpt`;
    await train({ model: 'c4k5-bn-relu-mp2-fc10', epochs: 1, trainSize: 500, valSize: 0, workers: 1, test: false, out: bn });
    const flat = `${work()}/h.ckpt`;
    await train({ model: 'c4k5-relu-mp2-fc10', epochs: 1, trainSize: 500, valSize: 0, workers: 1, test: false, out: flat });
    const link = `${work()}/latest.ckpt`;
    symlinkSync(bn, link);
    const taken = `${work()}/taken.ckpt`;
    writeFileSync(taken, 'keep me');
    const held = `${work()}/held.ckpt`;
    writeFileSync(`${held}.lock`, `${process.pid}\n`); // as a train running in this (live) process holds its --out
    mkdirSync(`${work()}/folder.ckpt`);
    const bad = [
      [['--model', bn, '--out', `${work()}/./g.ckpt`], /--out .*g\.ckpt is the model itself; write the recalibrated copy to another file/],
      [['--model', link, '--out', bn, '--force'], /--out .*g\.ckpt is the model itself/],
      [['--model', bn, '--out', `${work()}/folder.ckpt`, '--force'], /--out .*folder\.ckpt is a folder; give a file name/],
      [['--model', bn, '--out', `${work()}/none/x.ckpt`], /--out .*none\/x\.ckpt: the folder .*none does not exist; create it or pick another --out/],
      [['--model', bn, '--out', held], /--out .*held\.ckpt is in use by process \d+ \(lock file .*held\.ckpt\.lock\)/],
      [['--model', bn, '--out', taken], /--out .*taken\.ckpt exists; pick another file, or give --force to overwrite it/],
      [['--model', flat, '--out', `${work()}/x2.ckpt`], /recalibrate: this network has no batch norm layer/],
      [['--model', bn, '--out', `${work()}/x3.ckpt`, '--micro-batch', '0'], /--micro-batch must be an integer ≥ 1, got 0/],
    ] as const;
    for (const [args, pattern] of bad) {
      const r = cli('recalibrate', ...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
    expect(readFileSync(taken, 'utf8')).toBe('keep me');
    expect(existsSync(held)).toBe(false);
    expect(readdirSync(work()).filter((f) => f.startsWith('x') || f.startsWith('.') || (f.endsWith('.lock') && f !== 'held.ckpt.lock'))).toEqual([]);
    const forced = cli('recalibrate', '--model', bn, '--out', taken, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect((await loadCheckpoint(taken)).recalibratedBn).toEqual({ images: 500, micro: 32 });
  });

  it('takes a checkpoint of an unfinished run too (a --keep-best file is one), leaving the run to resume from the original', async () => {
    const file = `${work()}/k.ckpt`;
    await train({ model: 'c4k5-bn-relu-mp2-fc10', epochs: 1, trainSize: 500, valSize: 0, workers: 1, test: false, out: file });
    const unfinished = `${work()}/u.ckpt`;
    const c = await loadCheckpoint(file);
    await saveCheckpoint(unfinished, { ...c, options: { ...c.options, epochs: 3 } });
    const r = cli('recalibrate', '--model', unfinished, '--out', `${work()}/u-recal.ckpt`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^.*u-recal\.ckpt: .*u\.ckpt with its batch norm statistics \(1 layers\) recomputed on its 500 training images, micro-batch 32; measure it with mnist-dp eval/);
    expect((await loadCheckpoint(unfinished)).recalibratedBn).toBeNull();
  });
});
