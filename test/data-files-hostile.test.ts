import { spawnSync } from 'node:child_process';
import { mkdir, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadIdxDataset } from '../src/data/dataset.js';
import { readIdxFile } from '../src/data/idx.js';
import { MnistDpError } from '../src/errors.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { idxBytes } from './helpers/idx.js';

/**
 * Data files made to hurt: a gzip bomb, a header declaring a gigabyte, a symbolic link to /dev/zero, a
 * named pipe, a sparse file, a stray label byte. Each is refused with one line naming the file, before
 * it costs more memory or time than its header justifies (issue 12, items 2 and 10).
 */

const work = cliTempDir('mnist-dp-hostile-data-');
const header = (dims: number[]) => idxBytes(dims, []);

async function refusal(fn: () => Promise<unknown>): Promise<string> {
  const err = await fn().then(() => expect.fail('expected a BAD_DATA error'), (e: unknown) => e);
  expect(err).toBeInstanceOf(MnistDpError);
  expect((err as MnistDpError).code).toBe('BAD_DATA');
  expect((err as MnistDpError).message).not.toContain('\n');
  return (err as MnistDpError).message;
}

/** Four consistent files of `n` 2×2 images in `dir`, with the given training labels. */
async function tinyData(dir: string, trainLabels: number[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const n = trainLabels.length;
  await writeFile(join(dir, 'train-images-idx3-ubyte'), idxBytes([n, 2, 2], new Uint8Array(4 * n)));
  await writeFile(join(dir, 'train-labels-idx1-ubyte'), idxBytes([n], trainLabels));
  await writeFile(join(dir, 't10k-images-idx3-ubyte'), idxBytes([2, 2, 2], new Uint8Array(8)));
  await writeFile(join(dir, 't10k-labels-idx1-ubyte'), idxBytes([2], [0, 1]));
}

describe('hostile IDX files', () => {
  it('stops inflating a gzip file once it passes the size its header declares', async () => {
    const file = join(work(), 'bomb-idx3-ubyte.gz');
    // 3×4×5 = 60 bytes declared, 20 MB of zeros inflated (20 KB compressed).
    await writeFile(file, gzipSync(Buffer.concat([header([3, 4, 5]), Buffer.alloc(20e6)])));
    const message = await refusal(() => readIdxFile(file));
    expect(message).toContain(file);
    expect(message).toMatch(/inflates to more than the 60 bytes its header declares.*stopped after \d+/);
    expect(Number(/stopped after (\d+)/.exec(message)![1])).toBeLessThan(200_000);
  });

  it('reports a few bytes of gzip output past the declared size as trailing bytes', async () => {
    const file = join(work(), 'trailing.gz');
    await writeFile(file, gzipSync(Buffer.concat([header([2, 2]), Buffer.alloc(7)])));
    expect(await refusal(() => readIdxFile(file))).toContain('has 3 trailing bytes after the data');
  });

  it('refuses a gzip file whose header declares far more than such a file can honestly hold, before allocating it', async () => {
    const file = join(work(), 'ratio.gz');
    await writeFile(file, gzipSync(Buffer.concat([header([100_000, 28, 28]), Buffer.alloc(1000)])));
    expect(await refusal(() => readIdxFile(file))).toMatch(/declares 78400000 bytes .* times the \d+ bytes of the gzip file/);
  });

  it('refuses a header that declares more than the largest data set it reads', async () => {
    const file = join(work(), 'huge-idx3-ubyte');
    await writeFile(file, header([100_000, 1000, 1000]));
    expect(await refusal(() => readIdxFile(file))).toMatch(/declares dims 100000x1000x1000 \(100000000000 bytes\), more than the \d+ bytes/);
  });

  it('checks a sparse raw file against its header without reading it', async () => {
    const file = join(work(), 'sparse-idx3-ubyte');
    await writeFile(file, header([10, 28, 28]));
    await truncate(file, 1.8e9);
    expect(await refusal(() => readIdxFile(file))).toContain('has 1799992144 trailing bytes after the data (dims 10x28x28 need 7840 bytes)');
  });

  it('refuses a symbolic link to /dev/zero, a named pipe and a folder as not regular files', async () => {
    const link = join(work(), 'zero-link');
    await symlink('/dev/zero', link);
    expect(await refusal(() => readIdxFile(link))).toBe(`${link}: is a character device, not a regular file; give the path of the file itself`);
    const fifo = join(work(), 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(await refusal(() => readIdxFile(fifo))).toContain('is a named pipe (FIFO), not a regular file');
    expect(await refusal(() => readIdxFile(work()))).toContain('is a folder, not a regular file');
  });

  it('keeps the peak memory of reading a 300 MB gzip bomb far below the bomb', async () => {
    const file = join(work(), 'big-bomb.gz');
    await writeFile(file, gzipSync(Buffer.concat([header([60000, 28, 28]), Buffer.alloc(300e6)]), { level: 1 }));
    const idx = fileURLToPath(new URL('../dist/src/data/idx.js', import.meta.url));
    const script = `import(${JSON.stringify(idx)}).then((m) => m.readIdxFile(${JSON.stringify(file)})).catch((e) => console.log(e.message)).then(() => console.log(process.resourceUsage().maxRSS))`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    const [message, maxRssKb] = r.stdout.trim().split('\n');
    expect(message).toContain('inflates to more than the 47040000 bytes its header declares');
    expect(Number(maxRssKb) / 1024).toBeLessThan(300);
  });
});

describe('data folders and labels', () => {
  it('says that --data names a file, or a folder that does not exist', async () => {
    const file = join(work(), 'a-file');
    await writeFile(file, 'x');
    expect(await refusal(() => loadIdxDataset(file))).toContain(`${file}: is a file, not a folder`);
    const missing = join(work(), 'no-such-folder');
    expect(await refusal(() => loadIdxDataset(missing))).toContain(`${missing}: no such folder`);
  });

  it('reports a label past a gap in the classes as a damaged labels file, naming the file and the item', async () => {
    const dir = join(work(), 'stray-label');
    await tinyData(dir, [0, 1, 255, 1]);
    const labels = join(dir, 'train-labels-idx1-ubyte');
    expect(await refusal(() => loadIdxDataset(dir))).toBe(`${labels}: label 255 of item 2 is out of range: the labels of both splits run 0-1 and no label is 2; every label must be below the number of classes, so the file is damaged`);
  });

  it('makes a stray label a data error of the CLI (exit 1), not a flag error', async () => {
    const dir = join(work(), 'stray-label-cli');
    await tinyData(dir, [0, 1, 255, 1]);
    const r = runCli(work(), ['train', '--data', dir, '--layers', '4-2', '--val-size', '0', '--epochs', '1', '--out', '']);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([expect.stringMatching(/^mnist-dp: error: .*train-labels-idx1-ubyte: label 255 of item 2 is out of range/)]);
  });

  it('tells the CLI user that --data is a file', async () => {
    const file = join(work(), 'data-file');
    await writeFile(file, 'x');
    const r = runCli(work(), ['train', '--data', file, '--epochs', '1', '--out', '']);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`mnist-dp: error: ${file}: is a file, not a folder; give --data the folder that holds the four MNIST IDX files (train-images-idx3-ubyte and the others)`]);
  });
});
