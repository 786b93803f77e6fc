import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { prepareRun } from '../src/api.js';
import { loadCheckpoint } from '../src/checkpoint.js';
import { runTraining } from '../src/engine/trainer.js';
import { train } from '../src/api.js';
import { scratchDirs } from './helpers/scratch.js';

const scratch = scratchDirs('mnist-dp-');

const base = { epochs: 2, trainSize: 1000, valSize: 500, batchSize: 50, microBatch: 4, lr: 0.1, seed: 5, workers: 2 };
const failingWorker = fileURLToPath(new URL('./fixtures/failing-worker.mjs', import.meta.url));

describe('a run that goes wrong', () => {
  it('stops with the worker\'s message when a worker throws, leaving the last checkpoint intact', async () => {
    const dir = await scratch();
    const out = join(dir, 'run.ckpt');
    // 20 steps an epoch of 13 micro-shards (4 rows each); per step a worker runs 6 or 7 micro-shards ×
    // 3 layers = 18 or 21 weight-gradient GEMMs, so call 600 comes in epoch 2 on either worker.
    process.env.MNIST_DP_FAIL_AT_GEMM = '600';
    try {
      const run = await prepareRun({ ...base, out, kernels: 'ts' });
      const error = await runTraining(run.options, null, { workerFile: failingWorker }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'WORKER_FAILED' });
      expect((error as Error).message).toMatch(/a worker failed: injected fault in weight-gradient GEMM call 600\. Training stopped\. The last checkpoint \(.*run\.ckpt\) is intact/);
    } finally {
      delete process.env.MNIST_DP_FAIL_AT_GEMM;
    }
    const saved = await loadCheckpoint(out);
    expect(saved.position).toMatchObject({ epoch: 1, step: 0 });
    expect(saved.metrics).toHaveLength(1);
  });

  it('stops with a clear message when a worker thread dies mid-step, without hanging the others', async () => {
    process.env.MNIST_DP_FAIL_AT_GEMM = '30';
    process.env.MNIST_DP_FAIL_BY_EXIT = '1';
    try {
      const run = await prepareRun({ ...base, out: null, kernels: 'ts' });
      const error = await runTraining(run.options, null, { workerFile: failingWorker }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'WORKER_FAILED' });
      expect((error as Error).message).toMatch(/a worker failed: .*exit.*3.*Training stopped\./i);
    } finally {
      delete process.env.MNIST_DP_FAIL_AT_GEMM;
      delete process.env.MNIST_DP_FAIL_BY_EXIT;
    }
  });

  it('stops on a NaN or infinite loss with a hint to lower the learning rate, without touching the checkpoint', async () => {
    const dir = await scratch();
    const out = join(dir, 'run.ckpt');
    await train({ ...base, epochs: 1, out });
    const before = await readFile(out);
    const error = await train({ ...base, lr: 1e6, out, force: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'DIVERGED' });
    expect((error as Error).message).toMatch(/the training loss became (NaN|Infinity) at epoch 1, step \d+; .* try --lr 100000/);
    expect((await readFile(out)).equals(before)).toBe(true);
  });
});
