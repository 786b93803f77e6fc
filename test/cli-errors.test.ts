import { describe, it, expect } from 'vitest';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliTempDir, runCli } from './helpers/cli.js';
import { idxBytes } from './helpers/idx.js';

/**
 * The CLI's failures, end to end against the built dist/ (`npm test` builds first): each prints one
 * `mnist-dp: error: …` line naming the flag or file, no stack trace, and exits non-zero (2 for bad usage).
 */

const work = cliTempDir('mnist-dp-cli-errors-');
const cli = (...args: string[]) => runCli(work(), args, 60_000);

/** One error line that mentions every `names`, no stack, the exit code expected. */
function expectError(r: ReturnType<typeof cli>, code: number, ...names: string[]) {
  expect(r.signal).toBeNull();
  expect(r.code, r.stderr).toBe(code);
  expect(r.lines, r.stderr).toHaveLength(1);
  expect(r.lines[0]).toMatch(/^mnist-dp: error: /);
  for (const n of names) expect(r.lines[0]).toContain(n);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe('');
}

/** A usage error: one line, ending with the pointer to --help (issue 12: no second line), and nothing else. */
function expectUsageError(r: ReturnType<typeof cli>, command: string, ...names: string[]) {
  expect(r.code, r.stderr).toBe(2);
  expect(r.lines, r.stderr).toHaveLength(1);
  expect(r.lines[0]).toMatch(/^mnist-dp: error: /);
  for (const n of names) expect(r.lines[0]).toContain(n);
  expect(r.lines[0].endsWith(` (run "mnist-dp ${command}--help" for usage)`)).toBe(true);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe('');
}

describe('mnist-dp train: bad options exit 2 with one line naming the flag', () => {
  it('--lr -1', () => expectError(cli('train', '--lr', '-1'), 2, '--lr', '-1'));
  it('--lr abc (NaN from yargs)', () => expectError(cli('train', '--lr', 'abc'), 2, '--lr', 'abc'));
  it('--lr=abc', () => expectError(cli('train', '--lr=abc'), 2, '--lr', 'abc'));
  it('--batch-size 0', () => expectError(cli('train', '--batch-size', '0'), 2, '--batch-size'));
  it('--activation tanh', () => expectError(cli('train', '--activation', 'tanh'), 2, '--activation', 'tanh'));
  it('--loss foo', () => expectError(cli('train', '--loss', 'foo'), 2, '--loss', 'foo'));
  it('--schedule foo', () => expectError(cli('train', '--schedule', 'foo'), 2, '--schedule'));
  it('--kernels foo', () => expectError(cli('train', '--kernels', 'foo'), 2, '--kernels'));
  it('--layers 100-10 (does not start at 784)', () => expectError(cli('train', '--layers', '100-10'), 2, '--layers', '784'));
  it('--layers 784-64-7 (does not end at 10)', () => expectError(cli('train', '--layers', '784-64-7'), 2, '--layers', '10'));
  it('--preset slow', () => expectError(cli('train', '--preset', 'slow'), 2, '--preset', 'fast', 'best'));
  it('--preset fast with an MLP flag', () => expectError(cli('train', '--preset', 'fast', '--layers', '784-10'), 2, '--preset', '--layers'));
  it('--model with an unknown layer', () => expectError(cli('train', '--model', 'c32k5-conv-fc10'), 2, '--model', '"conv"'));
  it('--model that does not end in a dense layer', () => expectError(cli('train', '--model', 'c8k5-relu'), 2, '--model', 'fc10'));
  it('--model whose window does not fit', () => expectError(cli('train', '--model', 'c8k5-mp2-c8k5-mp2-c8k5-fc10'), 2, '--model', 'layer 5', 'window'));
  it('--model ending in the wrong number of classes', () => expectError(cli('train', '--model', 'c4k5-fc7'), 2, '--model', 'fc10'));
  it('--model with --layers', () => expectError(cli('train', '--model', 'cnn', '--layers', '784-10'), 2, '--model', '--layers'));
  it('--optimizer lbfgs', () => expectError(cli('train', '--optimizer', 'lbfgs'), 2, '--optimizer', 'adamw'));
  it('--optimizer lbfgs names every optimiser, lamb included', () => expectError(cli('train', '--optimizer', 'lbfgs'), 2, 'sgd, adam, adamw, lamb'));
  it('--clip-grad-norm -1', () => expectError(cli('train', '--clip-grad-norm', '-1'), 2, '--clip-grad-norm', '-1'));
  it('--clip-grad-norm abc', () => expectError(cli('train', '--clip-grad-norm', 'abc'), 2, '--clip-grad-norm', 'abc'));
  it('--beta2 1 (a range from the optimisers\' table)', () => expectError(cli('train', '--optimizer', 'lamb', '--beta2', '1'), 2, '--beta2', 'in [0, 1)'));
  it('--augment rotate=x', () => expectError(cli('train', '--augment', 'rotate=x'), 2, '--augment'));
  it('--ema 1', () => expectError(cli('train', '--ema', '1'), 2, '--ema'));
  it('--label-smoothing 1', () => expectError(cli('train', '--label-smoothing', '1'), 2, '--label-smoothing'));

  it('wrote no checkpoint on the way', async () => {
    expect((await readdir(work())).filter((f) => f.endsWith('.ckpt'))).toEqual([]);
  });
});

describe('mnist-dp: usage errors exit 2 with the yargs message and a pointer to --help', () => {
  it('an unknown flag', () => expectUsageError(cli('train', '--frobnicate'), 'train ', 'frobnicate'));
  it('a flag without its value', () => expectUsageError(cli('train', '--lr'), 'train ', 'lr'));
  it('eval without --model', () => expectUsageError(cli('eval'), 'eval ', 'model'));
  it('an unknown command', () => expectUsageError(cli('frobnicate'), '', 'frobnicate'));
  it('no command', () => expectUsageError(cli(), '', 'command'));
});

describe('mnist-dp: unreadable files exit 1 with one line naming the file', () => {
  it('eval --model /nonexistent.ckpt', () => expectError(cli('eval', '--model', '/nonexistent.ckpt'), 1, '/nonexistent.ckpt'));

  it('eval --model <garbage>', async () => {
    const file = join(work(), 'garbage.ckpt');
    await writeFile(file, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)));
    expectError(cli('eval', '--model', file), 1, file);
    await rm(file);
  });

  it('info --model <garbage>', async () => {
    const file = join(work(), 'text.ckpt');
    await writeFile(file, 'this is not a checkpoint\n');
    expectError(cli('info', '--model', file), 1, file);
    await rm(file);
  });

  it('train --data <empty dir>', async () => {
    const dir = join(work(), 'empty');
    await mkdir(dir);
    expectError(cli('train', '--data', dir), 1, dir);
  });
});

describe('mnist-dp eval: a model that does not fit the data', () => {
  /** Four IDX files of 4×4 (or rows×cols) images with labels 0-9. */
  async function tinyData(rows = 4, cols = 4): Promise<string> {
    const dir = join(work(), `tiny-${rows}x${cols}`);
    await mkdir(dir, { recursive: true });
    const n = 20;
    const labels = Array.from({ length: n }, (_, i) => i % 10);
    for (const prefix of ['train', 't10k']) {
      await writeFile(join(dir, `${prefix}-images-idx3-ubyte`), idxBytes([n, rows, cols], Array.from({ length: n * rows * cols }, (_, i) => i % 256)));
      await writeFile(join(dir, `${prefix}-labels-idx1-ubyte`), idxBytes([n], labels));
    }
    return dir;
  }
  /** A checkpoint of an untrained network with these layers. */
  async function model(layers: number[]): Promise<string> {
    const { untrainedCheckpoint } = await import('./helpers/tiny-models.js');
    const { makeSpec } = await import('../src/model/spec.js');
    return untrainedCheckpoint(work(), `model-${layers.join('-')}.ckpt`, makeSpec(layers, { kind: 'relu' }, 'cross-entropy'));
  }

  it('inputs ≠ pixels per image', async () => {
    const dir = await tinyData();
    const file = await model([784, 10]);
    expectError(cli('eval', '--model', file, '--data', dir), 2, file, '784', '4×4');
  });

  it('fewer classes than the labels need', async () => {
    const dir = await tinyData();
    const file = await model([16, 3]);
    expectError(cli('eval', '--model', file, '--data', dir), 2, file, '3 classes', '9');
  });

  it('--tta with an MLP whose inputs are not a square image', async () => {
    const dir = await tinyData(2, 9);
    const file = await model([18, 10]);
    expectError(cli('eval', '--model', file, '--data', dir, '--tta'), 2, `--tta with ${file}`, 'square images', '18 inputs');
  });

  it('--tta with an MLP that reads square images, on images of another shape with as many pixels', async () => {
    const dir = await tinyData(2, 8);
    const file = await model([16, 10]);
    expectError(cli('eval', '--model', file, '--data', dir, '--tta'), 2, `--tta with ${file}`, 'reads 4×4 images', '2×8');
  });

  it('predict with such a model', async () => {
    const file = await model([18, 10]);
    expectError(cli('predict', '--model', file, 'digit.png'), 2, `predict with ${file}`, 'square images', '18 inputs');
  });

  it('a model that fits evaluates', async () => {
    const dir = await tinyData();
    const file = await model([16, 10]);
    const r = cli('eval', '--model', file, '--data', dir, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ testSize: 20, model: file });
  });
});
