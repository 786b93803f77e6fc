import { Piscina } from 'piscina';
import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { createSharedMemory, planMemory, sharedViews } from '../src/engine/memory.js';
import { workerExecArgv, workerFile } from '../src/engine/pool.js';
import type { EvalResult, WorkerInit } from '../src/engine/protocol.js';
import { compileNet } from '../src/model/layout.js';
import { makeSpec } from '../src/model/spec.js';

describe('workers share memory with the coordinator', () => {
  it('see weights written by the coordinator after they started, with no copy sent', async () => {
    const spec = makeSpec([4, 3], { kind: 'relu' }, 'cross-entropy');
    const net = compileNet(spec);
    const plan = planMemory({ net, optimizerState: ['velocity'], ema: false, augmentFloats: 0, batch: 4, micro: 1, workers: 1, D: 4, trainCount: 0, trainOnly: 0, testCount: 3 });
    const memory = createSharedMemory(plan);
    const v = sharedViews(memory.buffer, plan);
    v.testImages.set([255, 0, 0, 0, 0, 255, 0, 0, 0, 0, 255, 0]); // image i lights pixel i
    v.testLabels.set([0, 1, 2]);
    const init: WorkerInit = { memory, plan, spec, conv: 'im2col', kernels: 'ts' };
    const pool = new Piscina({ filename: workerFile('train-worker'), minThreads: 1, maxThreads: 1, workerData: init, execArgv: workerExecArgv() });
    try {
      const task = { kind: 'eval', set: 'test', weights: 'params', begin: 0, end: 3 } as const;
      // All-zero weights: every class ties, argmax picks 0, so only image 0 is right.
      expect(((await pool.run(task)) as EvalResult).correct).toBe(1);
      // Now the identity on the first three pixels: all three right, though the task message is the same.
      const WT = v.params.subarray(net.layout.tensors[0].offset); // the first layer is input-major: Wᵀ (4, 3)
      for (let i = 0; i < 3; i++) WT[i * 3 + i] = 5;
      expect(((await pool.run(task)) as EvalResult).correct).toBe(3);
    } finally {
      await pool.destroy();
    }
  });

  it('receive one small task per epoch and evaluation during training, never weights or pixels', async () => {
    const r = await train({ epochs: 2, trainSize: 1000, valSize: 200, batchSize: 100, workers: 2, out: null });
    // per epoch: one run task per worker (10 steps each) and one validation task per worker; then the test set
    expect(r.messages.count).toBe(2 * (2 + 2) + 2);
    expect(r.messages.maxBytes).toBeLessThan(1024); // the weights alone are 940 KB, a batch of pixels 78 KB
  });
});
