import { MnistDpError } from '../errors.js';
import { loadMpi, type MpiBinding } from './binding.js';

/**
 * The job a process belongs to when an MPI launcher (mpirun, srun, an MPIJob) started it: whether it was,
 * joining it (MPI_Init, once per process), and the few agreements the coordinator needs besides the
 * gradients (src/engine/ranks.ts): a stop that one rank asked for, and that every rank starts from the
 * same data and state.
 */

/** `auto`: MPI when a launcher started more than one rank; `on`: always (also one rank); `off`: never. */
export type MpiMode = 'auto' | 'on' | 'off';
export const MPI_MODES: readonly MpiMode[] = ['auto', 'on', 'off'];

/**
 * The number of ranks an MPI launcher says it started, from the variables it sets: OpenMPI's mpirun
 * (OMPI_COMM_WORLD_SIZE), MPICH/Hydra and Slurm's PMI-2 (PMI_SIZE), PMIx launchers such as
 * `srun --mpi=pmix` (PMIX_RANK, with Slurm's SLURM_STEP_NUM_TASKS); 0 when none did.
 */
export function launchedRanks(env: NodeJS.ProcessEnv = process.env): number {
  const size = env.OMPI_COMM_WORLD_SIZE ?? env.PMI_SIZE ?? (env.PMIX_RANK !== undefined ? env.SLURM_STEP_NUM_TASKS ?? env.SLURM_NTASKS ?? '2' : undefined);
  const n = Number(size);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** Whether a run with this mode trains across MPI ranks. */
export function usesMpi(mode: MpiMode, env: NodeJS.ProcessEnv = process.env): boolean {
  return mode === 'on' || (mode === 'auto' && launchedRanks(env) > 1);
}

/** This process's place in the job. */
export interface World {
  rank: number;
  size: number;
  /** MPI_Get_processor_name: the host, for messages. */
  host: string;
  mpi: MpiBinding;
}

let joined: World | null = null;

/** Joins the job (MPI_Init_thread, MPI_THREAD_SERIALIZED), once per process. */
export function joinWorld(): World {
  if (!joined) {
    const mpi = loadMpi();
    joined = { ...mpi.init(), mpi };
  }
  return joined;
}

/** The job joined by this process, or null. */
export const joinedWorld = (): World | null => joined;

/** Whether this process prints and writes files: rank 0 of a job, or a run without MPI. */
export const isLeadRank = (): boolean => !joined || joined.rank === 0;

/** `rank 1 of 4 (host-b): ` for messages from a job of more than one rank; '' otherwise. */
export const rankLabel = (): string => (joined && joined.size > 1 ? `rank ${joined.rank} of ${joined.size} (${joined.host}): ` : '');

/** Whether any rank says yes (MPI_Allreduce of a flag, max). */
export function anyRank(world: World, yes: boolean): boolean {
  const flag = new Int32Array([yes ? 1 : 0]);
  world.mpi.allreduce(flag, 'max');
  return flag[0] === 1;
}

/** A digest every rank must agree on: what it is of and what to do when the ranks differ. */
export interface Agreement {
  what: string;
  /** sha256, hex. */
  sha256: string;
  fix: string;
}

/**
 * Checks that every rank has the same digests (MPI_Allgatherv of them): when one differs, every rank
 * throws the same one line naming the first rank that differs from rank 0 and what differs.
 */
export function checkSameOnEveryRank(world: World, agreements: readonly Agreement[]): void {
  const bytes = 32 * agreements.length;
  const all = new Uint8Array(bytes * world.size);
  const mine = Buffer.concat(agreements.map((a) => Buffer.from(a.sha256, 'hex')));
  all.set(mine, bytes * world.rank);
  world.mpi.allgatherv(all, Array.from({ length: world.size }, () => bytes));
  const hex = (rank: number, i: number) => Buffer.from(all.subarray(rank * bytes + 32 * i, rank * bytes + 32 * (i + 1))).toString('hex');
  for (let r = 1; r < world.size; r++) {
    agreements.forEach((a, i) => {
      if (hex(r, i) !== hex(0, i)) {
        throw new MnistDpError('MPI_FAILED', `rank ${r} has other ${a.what} than rank 0 (sha256 ${hex(r, i).slice(0, 12)}… against ${hex(0, i).slice(0, 12)}…); ${a.fix}`);
      }
    });
  }
}

/**
 * The end of a process in a job: MPI_Finalize after a run that ended well (finished, or stopped on request
 * with its checkpoint saved, whatever the exit status says of the signal), else MPI_Abort with the failure's
 * exit status, which ends every other rank too (they would otherwise wait for this one in their next
 * collective). Nothing without a job.
 */
export function leaveWorld(failure: number | null): void {
  if (!joined) return;
  if (failure === null) joined.mpi.finalize();
  else joined.mpi.abort(failure);
}
