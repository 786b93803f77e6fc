import { availableParallelism, cpus } from 'node:os';

/** The machine a figure was measured on, for benchmark tables and results files: `2 cores (CPU model), Node v20.…`. */
export function describeMachine(): string {
  return `${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`;
}
