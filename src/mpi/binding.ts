import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { distPath } from '../dist-path.js';
import { MnistDpError } from '../errors.js';

/**
 * The MPI binding (src/mpi/binding.c, built into dist/mpi/mpi.node by `npm run build:mpi`), typed, and
 * loaded only when a run asks for MPI: a machine without MPI never touches it. Every call's MPI error
 * becomes an MnistDpError (MPI_FAILED) naming the call.
 */

/** A typed array in place: the binding reads and writes its memory (a SharedArrayBuffer's too) without copying. */
export type MpiView = Int32Array | Float32Array | Float64Array | Uint8Array;

export interface MpiBinding {
  /** MPI_Init_thread with MPI_THREAD_SERIALIZED, once per process (later calls return the same). */
  init(): { rank: number; size: number; host: string };
  /** MPI_Allgatherv in place: rank r's part is counts[r] elements of `view`, after ranks 0…r−1's parts. */
  allgatherv(view: MpiView, counts: readonly number[]): void;
  /** MPI_Allreduce in place, elementwise. */
  allreduce(view: Int32Array | Float32Array | Float64Array, op: 'max' | 'sum'): void;
  /** MPI_Bcast in place from `root`. */
  bcast(view: MpiView, root: number): void;
  /** MPI_Abort: ends every rank of the job with `code`. */
  abort(code: number): never;
  finalize(): void;
}

/** The one line for a run that asks for MPI where the binding is missing. */
export const MPI_MISSING = 'MPI is not available to mnist-dp: its MPI binding (dist/mpi/mpi.node) is not built. Install an MPI '
  + '(Debian/Ubuntu: apt-get install libopenmpi-dev openmpi-bin) and run "npm run build:mpi" in mnist-dp\'s folder; or train on one machine without mpirun';

const CALLS: readonly (keyof MpiBinding)[] = ['init', 'allgatherv', 'allreduce', 'bcast', 'abort', 'finalize'];

let loaded: MpiBinding | null = null;

/** The binding, loaded once per thread; throws MPI_FAILED in one line saying what to install when it cannot be. */
export function loadMpi(file = distPath('mpi', 'mpi.node')): MpiBinding {
  if (loaded) return loaded;
  if (!existsSync(file)) throw new MnistDpError('MPI_FAILED', MPI_MISSING);
  let raw: MpiBinding;
  try {
    raw = createRequire(import.meta.url)(file) as MpiBinding;
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    throw new MnistDpError('MPI_FAILED', `the MPI binding ${file} does not load (${why}): install the MPI it was built with (Debian/Ubuntu: apt-get install openmpi-bin), or rebuild it with "npm run build:mpi"`);
  }
  const wrapped = {} as Record<string, unknown>;
  for (const name of CALLS) {
    const call = raw[name] as (...args: unknown[]) => unknown;
    wrapped[name] = (...args: unknown[]) => {
      try {
        return call(...args);
      } catch (err) {
        throw new MnistDpError('MPI_FAILED', `MPI failed: ${(err as Error).message}`);
      }
    };
  }
  loaded = wrapped as unknown as MpiBinding;
  return loaded;
}
