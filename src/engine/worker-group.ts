import { serialize } from 'node:v8';
import { Piscina } from 'piscina';
import { MnistDpError } from '../errors.js';
import { workerExecArgv } from './pool.js';
import type { Task, WorkerInit } from './protocol.js';

/** The text of whatever a worker threw: an Error's message, or the thrown value itself (a string, undefined). */
function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') return (err as { message: string }).message;
  return `it threw ${typeof err === 'string' ? JSON.stringify(err) : String(err)}`;
}

/**
 * The coordinator's W worker threads (a piscina pool of exactly W, kept alive for the whole run), each
 * attached to the shared memory once through `init`. `run` hands out one batch of tasks, counts the
 * messages (the evidence that no weights or pixels travel) and turns any failure into one error.
 */
export class WorkerGroup {
  /** Messages sent to workers and their structured-clone size. */
  readonly messages = { count: 0, bytes: 0, maxBytes: 0 };
  private readonly pool: Piscina;

  /** A worker that failed between tasks: piscina reports it as the pool's 'error' event; the next run fails with it. */
  private failure: unknown = null;

  constructor(file: string, readonly size: number, init: WorkerInit, onPoolError?: () => void) {
    this.pool = new Piscina({ filename: file, minThreads: size, maxThreads: size, idleTimeout: Number.POSITIVE_INFINITY, workerData: init,
      execArgv: workerExecArgv() });
    this.pool.on('error', (err: unknown) => {
      this.failure ??= err;
      onPoolError?.();
    });
  }

  /**
   * Runs the tasks at once, one per free worker, and resolves with their results in order. When one
   * fails, `onFailure` runs at once (to release the others from a barrier: they must not wait for a dead
   * worker), and the call rejects with WORKER_FAILED carrying the worker's message.
   */
  async run<R>(tasks: Task[], onFailure?: () => void): Promise<R[]> {
    for (const t of tasks) {
      const bytes = serialize(t).byteLength;
      this.messages.count++;
      this.messages.bytes += bytes;
      this.messages.maxBytes = Math.max(this.messages.maxBytes, bytes);
    }
    try {
      if (this.failure !== null) throw this.failure;
      const results = (await Promise.all(tasks.map((t) => this.pool.run(t).catch((err: unknown) => {
        onFailure?.();
        throw err;
      })))) as R[];
      if (this.failure !== null) throw this.failure;
      return results;
    } catch (err) {
      throw new MnistDpError('WORKER_FAILED', `a worker failed: ${errorText(err)}. Training stopped.`);
    }
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}
