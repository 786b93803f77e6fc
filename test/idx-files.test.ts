import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readIdxFile } from '../src/data/idx.js';
import { defaultMnistDir, loadIdxDataset, subset } from '../src/data/dataset.js';
import { MnistDpError } from '../src/errors.js';
import { idxBytes } from './helpers/idx.js';

const images = (count: number, rows: number, cols: number) =>
  idxBytes([count, rows, cols], Array.from({ length: count * rows * cols }, (_, i) => i % 256));
const labels = (values: number[]) => idxBytes([values.length], values);

/** Runs `fn` and returns the BAD_DATA error it must throw. */
async function badData(fn: () => Promise<unknown>): Promise<MnistDpError> {
  const err = await fn().then(
    () => expect.fail('expected a BAD_DATA error'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MnistDpError);
  expect((err as MnistDpError).code).toBe('BAD_DATA');
  expect((err as MnistDpError).message).not.toContain('\n');
  return err as MnistDpError;
}

let root: string;
let n = 0;
/** A fresh empty directory per test, under one temp root removed at the end. */
const freshDir = async () => mkdtemp(join(root, `t${n++}-`));

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mnist-dp-idx-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('IDX files on disk', () => {
  it('loads a raw file and its gzipped copy to the same content, whatever the extension', async () => {
    const dir = await freshDir();
    const bytes = images(3, 4, 5);
    await writeFile(join(dir, 'raw'), bytes);
    await writeFile(join(dir, 'zipped.gz'), gzipSync(bytes));
    await writeFile(join(dir, 'zipped-without-extension'), gzipSync(bytes));
    const raw = await readIdxFile(join(dir, 'raw'));
    expect(raw.dims).toEqual([3, 4, 5]);
    expect(await readIdxFile(join(dir, 'zipped.gz'))).toEqual(raw);
    expect(await readIdxFile(join(dir, 'zipped-without-extension'))).toEqual(raw);
  });

  it('reports a corrupt gzip stream with the file name', async () => {
    const dir = await freshDir();
    const file = join(dir, 'broken.gz');
    const zipped = gzipSync(images(3, 4, 5));
    await writeFile(file, zipped.subarray(0, zipped.length - 12));
    const err = await badData(() => readIdxFile(file));
    expect(err.message).toContain(file);
    expect(err.message).toContain('corrupt gzip');
  });

  it('reports a missing file with its path', async () => {
    const file = join(await freshDir(), 'nope-idx1-ubyte');
    const err = await badData(() => readIdxFile(file));
    expect(err.message).toContain(file);
    expect(err.message).toContain('ENOENT');
  });

  it('loads a directory of four tiny files, some raw and some gzipped, into train and test sets', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(images(4, 2, 3)));
    await writeFile(join(dir, 'train-labels-idx1-ubyte'), labels([0, 1, 2, 1]));
    await writeFile(join(dir, 't10k-images-idx3-ubyte'), images(2, 2, 3));
    await writeFile(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(labels([3, 0])));
    // A raw file wins over a .gz one, so this broken copy must be ignored.
    await writeFile(join(dir, 't10k-images-idx3-ubyte.gz'), 'not gzip at all');

    const ds = await loadIdxDataset(dir);
    expect(ds.dir).toBe(dir);
    expect(ds.classes).toBe(4);
    expect(ds.train).toMatchObject({ count: 4, rows: 2, cols: 3 });
    expect(ds.test).toMatchObject({ count: 2, rows: 2, cols: 3 });
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 2, 1]);
    expect(Array.from(ds.train.images.subarray(0, 8))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    const part = subset(ds.train, 1, 3);
    expect(part).toMatchObject({ count: 2, rows: 2, cols: 3 });
    expect(Array.from(part.labels)).toEqual([1, 2]);
    expect(Array.from(part.images)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    expect(part.images.buffer).toBe(ds.train.images.buffer);
  });

  it('lists the names it looked for when a file is missing', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'train-images-idx3-ubyte'), images(2, 2, 2));
    await writeFile(join(dir, 'train-labels-idx1-ubyte'), labels([0, 1]));
    await writeFile(join(dir, 't10k-images-idx3-ubyte'), images(1, 2, 2));
    const err = await badData(() => loadIdxDataset(dir));
    expect(err.message).toContain(dir);
    expect(err.message).toContain('t10k-labels-idx1-ubyte and t10k-labels-idx1-ubyte.gz');
  });

  it('names both files and both counts when images and labels disagree', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'train-images-idx3-ubyte'), images(3, 2, 2));
    await writeFile(join(dir, 'train-labels-idx1-ubyte'), labels([0, 1]));
    await writeFile(join(dir, 't10k-images-idx3-ubyte'), images(1, 2, 2));
    await writeFile(join(dir, 't10k-labels-idx1-ubyte'), labels([1]));
    const err = await badData(() => loadIdxDataset(dir));
    expect(err.message).toContain(join(dir, 'train-images-idx3-ubyte'));
    expect(err.message).toContain(join(dir, 'train-labels-idx1-ubyte'));
    expect(err.message).toContain('3 images');
    expect(err.message).toContain('2 labels');
  });

  it('loads the real MNIST: 60000 train and 10000 test images of 28x28 in 10 classes', async () => {
    const ds = await loadIdxDataset(defaultMnistDir());
    expect(ds.classes).toBe(10);
    expect(ds.train).toMatchObject({ count: 60000, rows: 28, cols: 28 });
    expect(ds.test).toMatchObject({ count: 10000, rows: 28, cols: 28 });
    expect(ds.train.images.length).toBe(60000 * 28 * 28);
    expect(ds.test.images.length).toBe(10000 * 28 * 28);
    // Well-known facts about the published files, checked against their bytes.
    expect(Array.from(ds.train.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(Array.from(ds.test.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    expect(ds.train.labels.filter((l) => l === 0).length).toBe(5923);
    expect(ds.test.labels.filter((l) => l === 1).length).toBe(1135);
  });
});
