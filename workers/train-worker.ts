/**
 * Entry file of a training worker: plumbing only. It attaches to the shared memory it is given once,
 * claims its own scratch range, and routes each task to the plain functions in src/engine/step.ts.
 */
import { workerData } from 'node:worker_threads';
import { createKernels } from '../src/kernels/index.js';
import { compileNet } from '../src/model/layout.js';
import { failAll } from '../src/engine/barrier.js';
import { Control, scratchViews, sharedViews, STEP_BARRIER } from '../src/engine/memory.js';
import type { EvalResult, RunResult, Task, WorkerInit } from '../src/engine/protocol.js';
import { runEvalTask, runSteps, type StepContext } from '../src/engine/step.js';
import { RankExchange } from '../src/engine/ranks.js';
import { loadMpi } from '../src/mpi/binding.js';

const init = workerData as WorkerInit;
const buffer = init.memory.buffer;
const shared = sharedViews(buffer, init.plan);
// Each worker thread takes the next free scratch slot; piscina never starts more threads than slots.
const slot = Atomics.add(shared.control, Control.nextScratch, 1);
if (slot >= init.plan.scratch.length) throw new Error(`worker scratch slot ${slot} out of range (${init.plan.scratch.length} planned)`);
const net = compileNet(init.spec, init.conv);
const ctx: StepContext = {
  k: createKernels(init.kernels, init.memory),
  net,
  plan: init.plan,
  shared,
  scratch: scratchViews(buffer, init.plan.scratch[slot], net),
  ranks: init.ranks ? new RankExchange(init.ranks, loadMpi()) : undefined,
};

// A promise rejected and never handled during a task would go unnoticed: piscina's worker waits on
// Atomics between tasks, so Node never gets to report it. Each task lets Node report such rejections
// before it returns (one turn of the event loop), and fails with the first one's reason.
let unhandled: { reason: unknown } | null = null;
process.on('unhandledRejection', (reason) => {
  unhandled ??= { reason };
});

function runTask(task: Task): EvalResult | RunResult {
  if (task.kind === 'eval') return runEvalTask(ctx, task);
  try {
    return runSteps(ctx, task);
  } catch (err) {
    // Release the other workers from the step barrier, or they would wait for this one forever.
    failAll(shared.control, STEP_BARRIER);
    throw err;
  }
}

export default async function run(task: Task): Promise<EvalResult | RunResult> {
  const result = runTask(task);
  await new Promise((resolve) => setImmediate(resolve));
  if (unhandled !== null) {
    const { reason } = unhandled;
    unhandled = null;
    failAll(shared.control, STEP_BARRIER);
    throw reason;
  }
  return result;
}
