/**
 * The work of a step phase, shared out with stealing. A phase has n items (the batch's micro-shards, or
 * the parameter chunks of the update); worker r owns the items of rangeOf(r, W, n) and takes them one at a
 * time from its own counter, then takes what is left in the other workers' ranges. When no worker is held
 * up, each does exactly its own range, in order, as with a static split. When the OS pauses one (on a
 * 2-core machine it does, for 1-5 ms, a few times a second), the others finish its items instead of
 * waiting for it at the barrier.
 *
 * Which worker does an item never changes what the item computes (each micro-shard writes its own
 * gradient slot; each chunk of the update is elementwise), so results stay bit-identical.
 *
 *   tickets[(phase·W + r)·16]   items of worker r's range taken so far (one cache line per counter)
 *
 * The counters are zeroed by the last worker to arrive at the barrier that ends the phase, while every
 * other worker waits there, so no one takes from a counter being reset.
 */

/** Phases of a step: computing gradients, then reducing them and updating the parameters. */
export const Phase = { gradients: 0, update: 1 } as const;
const PHASES = 2;
const LINE = 16; // int32 words in a 64-byte cache line

/** Words of the tickets region for W workers. */
export function ticketWords(workers: number): number {
  return PHASES * workers * LINE;
}

/** The part [begin, end) of [0, n) that rank `rank` of `parts` owns, boundaries on multiples of `align`. */
export function rangeOf(rank: number, parts: number, n: number, align = 1): [number, number] {
  const units = Math.ceil(n / align);
  const at = (r: number) => Math.min(n, Math.floor((r * units) / parts) * align);
  return [at(rank), at(rank + 1)];
}

/**
 * Takes the next item of a phase with n items for worker `rank` of `workers`: first from its own range,
 * then from the others' (the next worker's first). Returns -1 when every item is taken.
 */
export function takeItem(tickets: Int32Array, phase: number, rank: number, workers: number, n: number): number {
  for (let i = 0; i < workers; i++) {
    const owner = (rank + i) % workers;
    const [begin, end] = rangeOf(owner, workers, n);
    const counter = (phase * workers + owner) * LINE;
    if (Atomics.load(tickets, counter) >= end - begin) continue; // taken already: skip without writing the line
    const item = begin + Atomics.add(tickets, counter, 1);
    if (item < end) return item;
  }
  return -1;
}

/** Zeroes a phase's counters (the barrier's last arriver does, see above). */
export function resetPhase(tickets: Int32Array, phase: number, workers: number): void {
  for (let r = 0; r < workers; r++) Atomics.store(tickets, (phase * workers + r) * LINE, 0);
}
