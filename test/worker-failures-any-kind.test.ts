import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { prepareRun } from '../src/api.js';
import { runTraining } from '../src/engine/trainer.js';

/**
 * A worker that fails in a way other than throwing an Error still stops the run with its own text
 * (issue 12, item 12): a thrown string, and a rejected promise nobody handles.
 */
const base = { epochs: 2, trainSize: 1000, valSize: 500, batchSize: 50, microBatch: 4, lr: 0.1, seed: 5, workers: 2, out: null, kernels: 'ts' };
const failingWorker = fileURLToPath(new URL('./fixtures/failing-worker.mjs', import.meta.url));

async function failure(how: string, at: number): Promise<unknown> {
  process.env.MNIST_DP_FAIL_AT_GEMM = String(at);
  process.env.MNIST_DP_FAIL_HOW = how;
  try {
    const run = await prepareRun(base);
    return await runTraining(run.options, null, { workerFile: failingWorker }).then(() => 'finished', (e: unknown) => e);
  } finally {
    delete process.env.MNIST_DP_FAIL_AT_GEMM;
    delete process.env.MNIST_DP_FAIL_HOW;
  }
}

describe('a worker that fails without an Error', () => {
  it('stops the run with the text of a thrown string', async () => {
    const error = await failure('string', 30);
    expect(error).toMatchObject({ code: 'WORKER_FAILED' });
    expect((error as Error).message).toBe('a worker failed: it threw "injected string in GEMM call 30". Training stopped.');
  });

  it('stops the run with the text of an unhandled rejection', async () => {
    const error = await failure('rejection', 30);
    expect(error).toMatchObject({ code: 'WORKER_FAILED' });
    expect((error as Error).message).toMatch(/^a worker failed: injected rejection in GEMM call 30\. Training stopped\./);
  });
});
