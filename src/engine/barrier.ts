/**
 * A reusable barrier over named control words in shared memory, for W worker threads that meet twice per
 * training step. Measured on the 2-core development machine: waking a thread with Atomics.notify/wait
 * costs about 80 µs, a piscina task round trip 50–100 µs, a spin a few µs. So a thread spins first
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

/**
 * Waits until all `parties` threads have arrived. The last to arrive runs `last()` (while everyone else
 * waits) before releasing them. Returns false when the run has failed and the caller must stop.
 *
 * `spinMicros`: how long to spin before sleeping. Workers of one step finish within tens of µs of each
 * other, so with a core per worker a spin of ~100 µs almost always ends before a sleep would have begun;
 * with more workers than cores a spinner steals the core a late worker needs, so it should sleep at once.
 */
export function arriveAndWait(control: Int32Array, w: BarrierWords, parties: number, spinMicros: number, last?: () => void): boolean {
  const gen = Atomics.load(control, w.generation);
  if (Atomics.add(control, w.arrived, 1) === parties - 1) {
    last?.();
    Atomics.store(control, w.arrived, 0);
    Atomics.add(control, w.generation, 1);
    Atomics.notify(control, w.generation);
  } else {
    if (spinMicros > 0) {
      const until = performance.now() + spinMicros / 1000;
      while (Atomics.load(control, w.generation) === gen && performance.now() < until);
    }
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
