import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { prepareRun } from '../src/api.js';
import { runTraining } from '../src/engine/trainer.js';
import { scratchDirs } from './helpers/scratch.js';

const scratch = scratchDirs('mnist-dp-');

const failingWorker = fileURLToPath(new URL('./fixtures/failing-worker.mjs', import.meta.url));

describe('a worker that fails before the first checkpoint', () => {
  it('stops the run saying that no checkpoint was written, not that one is intact', async () => {
    const dir = await scratch();
    const out = join(dir, 'run.ckpt');
    process.env.MNIST_DP_FAIL_AT_GEMM = '30'; // in the first epoch (see failures-stop-cleanly.test.ts)
    try {
      const run = await prepareRun({ epochs: 2, trainSize: 1000, valSize: 500, batchSize: 50, microBatch: 4, seed: 5, workers: 2, out, kernels: 'ts' });
      const error = await runTraining(run.options, null, { workerFile: failingWorker }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'WORKER_FAILED' });
      expect((error as Error).message).toMatch(/a worker failed: injected fault in weight-gradient GEMM call 30\. Training stopped\. No checkpoint was written\.$/);
    } finally {
      delete process.env.MNIST_DP_FAIL_AT_GEMM;
    }
    expect(existsSync(out)).toBe(false);
  });
});
