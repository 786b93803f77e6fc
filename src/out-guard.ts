import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { badOption } from './errors.js';

/**
 * What protects a run's `--out` file before the first step: nothing a user has not asked to lose is
 * overwritten, two runs never write one file, the folder is known to be writable before any work is
 * done, and the temporary files a killed save left behind are removed. The checkpoint's own atomic save
 * (checkpoint.ts) names its temporary files with `tempFileFor`, so that they can be found here.
 *
 * Files beside `run.ckpt`: `run.ckpt.lock` (the pid of the run writing it, removed at the end) and,
 * only while a save is in progress, `.run.ckpt.tmp-<pid>-<hex>`.
 */

/** A fresh temporary name beside `file` for an atomic write: `.run.ckpt.tmp-<pid>-<8 hex>`. */
export function tempFileFor(file: string): string {
  return join(dirname(file), `.${basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Throws BAD_OPTION unless `file` (given as `flag`) can be written as a new output: not a folder, and not
 * an existing file unless `force`. For the commands that write one finished file (export, recalibrate);
 * a training run's `--out` is claimOut's.
 */
export function checkOutputFree(flag: string, file: string, force: boolean): void {
  if (!existsSync(file)) return;
  if (statSync(file).isDirectory()) throw badOption(`${flag} ${file} is a folder; give a file name`);
  if (!force) throw badOption(`${flag} ${file} exists; pick another file, or give --force to overwrite it`);
}

/** The lock file of an output file: `run.ckpt` → `run.ckpt.lock`. */
export const lockFileFor = (file: string): string => `${file}.lock`;

/** Whether a process with this pid exists (EPERM: it does, but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Removes the temporary files that saves of `file` by processes no longer alive left behind (a
 * `kill -9` during a save). Returns how many were removed.
 */
export function removeStaleTempFiles(file: string): number {
  const pattern = new RegExp(`^\\.${escapeRegExp(basename(file))}\\.tmp-(\\d+)-[0-9a-f]+$`);
  let names: string[];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const match = pattern.exec(name);
    if (!match || processAlive(Number(match[1]))) continue;
    rmSync(join(dirname(file), name), { force: true });
    removed++;
  }
  return removed;
}

/** Why a folder cannot take the checkpoint, in words, from the error of a test write. */
function unwritableReason(out: string, err: NodeJS.ErrnoException): string {
  const dir = dirname(out);
  if (err.code === 'ENOENT') return `--out ${out}: the folder ${dir} does not exist; create it or pick another --out`;
  if (err.code === 'ENOTDIR') return `--out ${out}: ${dir} is not a folder; pick another --out`;
  if (err.code === 'ENOSPC') return `--out ${out}: the disk of ${dir} is full; free some space or pick another --out`;
  return `--out ${out}: cannot write in ${dir} (${err.code ?? err.message}); pick a writable folder for --out`;
}

/** The pid in a lock file, or null when it cannot be read. */
function lockOwner(lock: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes the lock of `out`: writes this pid to a temporary file and hard-links it to `out.lock`, which
 * fails if the lock exists (atomically: two runs cannot both take it). This write is also the probe that
 * the folder takes files. A lock whose process is gone is taken over. Returns the pid of the live process
 * that holds the lock instead, or null when the lock is now ours.
 */
function tryLock(out: string): number | null {
  const lock = lockFileFor(out);
  const tmp = tempFileFor(out);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    removeQuietly(tmp);
    throw badOption(unwritableReason(out, err as NodeJS.ErrnoException));
  }
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(tmp, lock);
        return null;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw badOption(unwritableReason(out, err as NodeJS.ErrnoException));
      }
      const owner = lockOwner(lock);
      if (owner !== null && (owner === process.pid || processAlive(owner))) return owner;
      // A lock whose run died (kill -9, a crash, a power cut) is stale: take it over once.
      rmSync(lock, { force: true });
    }
    return lockOwner(lock) ?? -1;
  } finally {
    removeQuietly(tmp);
  }
}

/** Removes a file if it is there; a path that cannot hold one (under a plain file) has nothing to remove. */
function removeQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // ENOTDIR and the like: no such file
  }
}

/** What a file that a new run would overwrite holds, in words, from `describe` (null: not a checkpoint). */
export type DescribeFile = (file: string) => Promise<string | null>;

/** A claim on an output file: `release` removes the lock (idempotent; also done at process exit). */
export interface OutClaim {
  /** The file the run writes (a numbered name when the default was taken), or null for none. */
  out: string | null;
  /** How many temporary files of dead saves were removed. */
  staleTempFiles: number;
  release(): void;
}

export interface ClaimRequest {
  /** The checkpoint file the run writes; null: none. */
  out: string | null;
  /** Other files the run writes beside it (the `--keep-best` file), given `out`. */
  companions: (out: string) => string[];
  /** `out` is the default rather than the user's: if it is taken, the run writes `name-2.ckpt`, `name-3.ckpt`, … instead. */
  defaulted: boolean;
  /** The file the run resumes from: it, and its companions, are this run's to overwrite. */
  resumedFrom: string | null;
  /** Overwrite what is there. */
  force: boolean;
  describe: DescribeFile;
}

/** `mnist-dp.ckpt` → `mnist-dp-2.ckpt` for n = 2. */
function numbered(file: string, n: number): string {
  const dot = file.endsWith('.ckpt') ? file.length - '.ckpt'.length : file.length;
  return `${file.slice(0, dot)}-${n}${file.slice(dot)}`;
}

/**
 * Claims the output of a run before it starts: see the top of this file. Throws BAD_OPTION (exit 2),
 * naming the file and what to do, when the folder cannot take it, when it is another run's, or when it
 * holds something this run would destroy.
 */
export async function claimOut(req: ClaimRequest): Promise<OutClaim> {
  if (!req.out) return { out: null, staleTempFiles: 0, release: () => {} };
  const ours = (file: string) =>
    req.resumedFrom !== null && (file === req.resumedFrom || req.companions(req.resumedFrom).includes(file));
  const taken = (file: string) => [file, ...req.companions(file)].filter((f) => existsSync(f) && !ours(f));

  let out = req.out;
  for (let n = 2; ; n++) {
    if (existsSync(out) && statSync(out).isDirectory()) throw badOption(`--out ${out} is a folder; give a file name such as ${join(out, 'run.ckpt')}`);
    const inTheWay = taken(out);
    if (inTheWay.length > 0 && req.defaulted) {
      out = numbered(req.out, n);
      continue;
    }
    if (inTheWay.length > 0 && !req.force) {
      const file = inTheWay[0];
      const holds = (await req.describe(file)) ?? 'a file that is not a mnist-dp checkpoint';
      throw badOption(`--out ${file} already holds ${holds}; a new run would overwrite it: pick another --out, continue that run with --resume ${file}, or give --force to overwrite it`);
    }
    const owner = tryLock(out);
    if (owner === null) break;
    if (req.defaulted) {
      out = numbered(req.out, n);
      continue;
    }
    const who = owner === process.pid ? 'another run in this process' : owner > 0 ? `process ${owner}` : 'another process';
    throw badOption(`--out ${out} is in use by ${who} (lock file ${lockFileFor(out)}); wait for that run to end, or pick another --out`);
  }

  const lock = lockFileFor(out);
  let staleTempFiles = 0;
  for (const file of [out, ...req.companions(out)]) staleTempFiles += removeStaleTempFiles(file);
  const release = () => {
    process.off('exit', release);
    if (lockOwner(lock) === process.pid) {
      try {
        unlinkSync(lock);
      } catch {
        // already gone: nothing to release
      }
    }
  };
  process.on('exit', release);
  return { out, staleTempFiles, release };
}
