import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Phase, rangeOf, resetPhase, takeItem, ticketWords } from '../src/engine/queues.js';

/** The step's work queues: each worker takes its own items first, then what the others left; every item exactly once. */

const ticketsFor = (workers: number) => new Int32Array(new SharedArrayBuffer(ticketWords(workers) * 4));

/** Every item rank takes, alone, until none is left. */
function drain(tickets: Int32Array, phase: number, rank: number, workers: number, n: number): number[] {
  const taken: number[] = [];
  for (let i = takeItem(tickets, phase, rank, workers, n); i >= 0; i = takeItem(tickets, phase, rank, workers, n)) taken.push(i);
  return taken;
}

describe('takeItem', () => {
  it('a worker alone takes its own range, then the next workers\' in turn', () => {
    expect(rangeOf(2, 3, 10)).toEqual([6, 10]);
    expect(drain(ticketsFor(3), Phase.gradients, 0, 3, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(drain(ticketsFor(3), Phase.gradients, 2, 3, 10)).toEqual([6, 7, 8, 9, 0, 1, 2, 3, 4, 5]);
  });

  it('when the workers keep pace, each does exactly its own range in order (a static split)', () => {
    const tickets = ticketsFor(3);
    const taken: number[][] = [[], [], []];
    for (let round = 0; round < 3; round++) {
      for (let r = 0; r < 3; r++) {
        const i = takeItem(tickets, Phase.update, r, 3, 6);
        if (i >= 0) taken[r].push(i);
      }
    }
    expect(taken).toEqual([[0, 1], [2, 3], [4, 5]]);
  });

  it('a worker that stops early leaves its remaining items to the others', () => {
    const tickets = ticketsFor(2);
    expect(takeItem(tickets, Phase.gradients, 1, 2, 8)).toBe(4); // rank 1 takes one item and is paused
    expect(drain(tickets, Phase.gradients, 0, 2, 8)).toEqual([0, 1, 2, 3, 5, 6, 7]);
    expect(takeItem(tickets, Phase.gradients, 1, 2, 8)).toBe(-1);
  });

  it('phases are separate, and resetPhase starts one over', () => {
    const tickets = ticketsFor(2);
    expect(drain(tickets, Phase.gradients, 0, 2, 4)).toEqual([0, 1, 2, 3]);
    expect(takeItem(tickets, Phase.update, 1, 2, 4)).toBe(2);
    resetPhase(tickets, Phase.gradients, 2);
    expect(drain(tickets, Phase.gradients, 1, 2, 4)).toEqual([2, 3, 0, 1]);
    expect(takeItem(tickets, Phase.update, 1, 2, 4)).toBe(3); // untouched by the reset of the other phase
  });

  it('threads racing for the items take each exactly once', async () => {
    const W = 4, n = 20_000;
    const tickets = ticketsFor(W);
    const owner = new Int32Array(new SharedArrayBuffer(n * 4)).fill(-1);
    const count = new Int32Array(new SharedArrayBuffer(n * 4));
    const start = new Int32Array(new SharedArrayBuffer(4));
    // The worker runs the real module: the same source, loaded from the build that npm test makes first.
    const queues = fileURLToPath(new URL('../dist/src/engine/queues.js', import.meta.url));
    const code = `
      const { workerData: d } = require('node:worker_threads');
      import(${JSON.stringify(queues)}).then(({ takeItem }) => {
        Atomics.wait(d.start, 0, 0); // all threads start at once
        for (let i = takeItem(d.tickets, 0, d.rank, d.W, d.n); i >= 0; i = takeItem(d.tickets, 0, d.rank, d.W, d.n)) {
          Atomics.add(d.count, i, 1);
          d.owner[i] = d.rank;
        }
      });`;
    const threads = Array.from({ length: W }, (_, rank) =>
      new Worker(code, { eval: true, workerData: { tickets, owner, count, start, rank, W, n } }));
    await new Promise((r) => setTimeout(r, 200));
    Atomics.store(start, 0, 1);
    Atomics.notify(start, 0);
    await Promise.all(threads.map((t) => new Promise((resolve, reject) => t.on('exit', resolve).on('error', reject))));
    expect(Array.from(count).every((c) => c === 1)).toBe(true);
    expect(Array.from(owner).every((o) => o >= 0 && o < W)).toBe(true);
  });
});
