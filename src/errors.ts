/**
 * Every error that mnist-dp raises on purpose is a `MnistDpError`: one line that says what is wrong and,
 * where there is one, what to do about it. The CLI prints `message` alone (no stack trace) and exits with
 * `exitCode`; library callers can switch on `code`.
 */
export type ErrorCode =
  | 'BAD_OPTION' // a flag or option value is out of range or malformed
  | 'BAD_DATA' // an IDX file is missing, truncated or inconsistent
  | 'BAD_CHECKPOINT' // a checkpoint is unreadable or of another architecture
  | 'DIVERGED' // the loss became NaN or infinite
  | 'WORKER_FAILED' // a worker thread threw or died
  | 'MPI_FAILED' // MPI is missing, an MPI call failed, or the ranks of a job disagree
  | 'UNREACHABLE'; // a sweep's Redis (--queue) cannot be reached

export class MnistDpError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'MnistDpError';
    this.code = code;
    this.exitCode = code === 'BAD_OPTION' ? 2 : 1;
  }
}

export function badOption(message: string): MnistDpError {
  return new MnistDpError('BAD_OPTION', message);
}

export function badData(file: string, problem: string): MnistDpError {
  return new MnistDpError('BAD_DATA', `${file}: ${problem}`);
}

export function badCheckpoint(file: string, problem: string): MnistDpError {
  return new MnistDpError('BAD_CHECKPOINT', `${file}: ${problem}`);
}

/** A value as a caller would write it: `'false'`, `7`, `null`, `an object`. */
export function shown(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `[${v.map(shown).join(', ')}]`;
  if (typeof v === 'object' && v !== null) return `an object (${v.constructor?.name ?? 'Object'})`;
  return String(v);
}
