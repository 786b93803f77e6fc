/**
 * A reusable barrier over named control words in shared memory, for W worker threads that meet twice per
 * training step. Measured on the 2-core development machine: waking a thread with Atomics.notify/wait
 * costs about 80 µs, a piscina task round trip 50–100 µs, a spin a few µs. So a thread spins briefly
 * (the others are usually about to arrive) and only then sleeps in Atomics.wait.
 *
 *   control[arrived]     threads that have arrived in the current generation
 *   control[generation]  bumped by the last thread to arrive; that releases the others
 *   control[status]      Status.running, or why everyone must stop (read after every wake-up)
 *
 * Lost wake-up: a thread reads `generation` *before* it counts itself in. The last arriver bumps the
 * generation only after everyone has counted in, so a waiter can never miss the bump: Atomics.wait(…, gen)
 * returns at once ("not-equal") if the bump happened between the load and the wait.
 */
export const Status = {
  running: 0,
  /** A worker threw or died: everyone returns, the coordinator reports the error. */
  failed: 1,
} as const;

export interface BarrierWords {
  arrived: number;
  generation: number;
  status: number;
}

/** Spins before sleeping; a few µs on current CPUs, short enough not to starve an oversubscribed machine. */
const SPIN = 2000;

/**
 * Waits until all `parties` threads have arrived. The last to arrive runs `last()` (while everyone else
 * waits) before releasing them. Returns false when the run has failed and the caller must stop.
 */
export function arriveAndWait(control: Int32Array, w: BarrierWords, parties: number, last?: () => void): boolean {
  const gen = Atomics.load(control, w.generation);
  if (Atomics.add(control, w.arrived, 1) === parties - 1) {
    last?.();
    Atomics.store(control, w.arrived, 0);
    Atomics.add(control, w.generation, 1);
    Atomics.notify(control, w.generation);
  } else {
    for (let i = 0; i < SPIN && Atomics.load(control, w.generation) === gen; i++);
    while (Atomics.load(control, w.generation) === gen) Atomics.wait(control, w.generation, gen);
  }
  return Atomics.load(control, w.status) === Status.running;
}

/** Marks the run failed and wakes every waiting thread so that none waits forever for a dead one. */
export function failAll(control: Int32Array, w: BarrierWords): void {
  Atomics.store(control, w.status, Status.failed);
  Atomics.add(control, w.generation, 1);
  Atomics.notify(control, w.generation);
}
