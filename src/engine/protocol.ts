import type { Kernels, SgdHyper } from '../kernels/kernels.js';
import type { ParamLayout } from '../model/layout.js';
import type { MlpSpec } from '../model/spec.js';
import type { MemoryPlan } from './memory.js';

/**
 * What crosses between the coordinator and its workers. A worker receives the shared memory and the
 * plan once (WorkerInit, as piscina's workerData); per batch only these small tasks move: ranges of
 * micro-shards or parameters and a few hyper-parameters, never weights or pixels.
 */
export interface WorkerInit {
  memory: WebAssembly.Memory;
  plan: MemoryPlan;
  spec: MlpSpec;
  layout: ParamLayout;
  kernels: string;
}

/** Forward + backward over micro-shards [s0, s1) of the batch in batchIndex (batchSize rows in all). */
export interface GradTask {
  kind: 'grad';
  s0: number;
  s1: number;
  batchSize: number;
}

/** Reduce the first `shards` gradient slots over parameters [begin, end), then take an SGD step there. */
export interface UpdateTask {
  kind: 'update';
  begin: number;
  end: number;
  shards: number;
  batchSize: number;
  hp: SgdHyper;
}

/** Loss and correct predictions over images [begin, end) of the train or test set. */
export interface EvalTask {
  kind: 'eval';
  set: 'train' | 'test';
  begin: number;
  end: number;
}

export type Task = GradTask | UpdateTask | EvalTask;

export interface EvalResult {
  correct: number;
  lossSum: number;
}

/** Everything a worker needs to run tasks: built once per worker from WorkerInit. */
export interface WorkerContext {
  k: Kernels;
  spec: MlpSpec;
  layout: ParamLayout;
  plan: MemoryPlan;
}
