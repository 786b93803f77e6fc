import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { bestCheckpointFile } from '../checkpoint.js';
import { writeFileAtomic } from '../atomic-write.js';
import type { EpochReport } from './schedulers.js';

/**
 * Where a sweep keeps what must survive a machine: the results log that the schedulers decide from, and
 * each trial's checkpoint after every epoch. Both come in two kinds with one interface: a folder (a local
 * sweep's --dir, or a folder every worker mounts, `--store DIR`) and Redis (the default with --queue:
 * every worker reaches it already, so nothing else has to be shared, and an MNIST network's checkpoint is
 * 0.1-4 MB, one key per trial overwritten each epoch).
 */

/** The sweep's epoch results in arrival order; reporting the same (trial, epoch) twice keeps the first. */
export interface ResultLog {
  /** Appends the report (unless it is there) and returns the log up to and including it, and its position. */
  report(r: EpochReport): Promise<{ log: EpochReport[]; at: number }>;
  /** The whole log so far. */
  read(): Promise<EpochReport[]>;
}

/** A trial's checkpoint files: trained in a local folder, kept in the store after every epoch. */
export interface CheckpointStore {
  /** The local folder that trials train in (for a folder store, the store itself). */
  readonly workDir: string;
  /** Puts the stored files of `trial` into workDir (nothing to do for a folder). */
  fetch(trial: string): Promise<void>;
  /** Keeps the current bytes of the trial's checkpoint (or, with best, of its best epoch's model). */
  keep(trial: string, bytes: Uint8Array, best: boolean): Promise<void>;
  /** Where a trial's checkpoint is in workDir. */
  file(trial: string): string;
}

const key = (r: EpochReport) => `${r.trial}@${r.epoch}`;

/** The log as a JSON file in a folder (a local sweep: DIR/log.json), rewritten atomically on each new report. */
export class FileLog implements ResultLog {
  private entries: EpochReport[] = [];
  private readonly index = new Map<string, number>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly file: string) {}

  static async open(file: string): Promise<FileLog> {
    const log = new FileLog(file);
    if (existsSync(file)) for (const r of JSON.parse(await readFile(file, 'utf8')) as EpochReport[]) log.add(r);
    return log;
  }

  private add(r: EpochReport): number {
    const found = this.index.get(key(r));
    if (found !== undefined) return found;
    this.entries.push(r);
    this.index.set(key(r), this.entries.length - 1);
    return this.entries.length - 1;
  }

  async report(r: EpochReport): Promise<{ log: EpochReport[]; at: number }> {
    const before = this.entries.length;
    const at = this.add(r); // synchronous: concurrent trials of this process are ordered here
    const log = this.entries.slice(0, at + 1);
    if (this.entries.length > before) {
      const snapshot = JSON.stringify(this.entries);
      this.writing = this.writing.then(() => writeFileAtomic(this.file, snapshot));
    }
    await this.writing;
    return { log, at };
  }

  async read(): Promise<EpochReport[]> {
    return [...this.entries];
  }
}

/**
 * The log in Redis: a list of JSON reports and a hash from (trial, epoch) to its position. One Lua script
 * appends and reads back atomically, so every worker sees one order, and a trial resumed elsewhere after a
 * crash gets back the position (and so the decision) of its first report.
 */
export class RedisLog implements ResultLog {
  private static readonly SCRIPT = `
local at = redis.call('HGET', KEYS[2], ARGV[1])
if not at then
  at = redis.call('RPUSH', KEYS[1], ARGV[2]) - 1
  redis.call('HSET', KEYS[2], ARGV[1], at)
end
return { tonumber(at), redis.call('LRANGE', KEYS[1], 0, tonumber(at)) }`;

  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async report(r: EpochReport): Promise<{ log: EpochReport[]; at: number }> {
    const [at, items] = (await this.redis.eval(RedisLog.SCRIPT, 2, `${this.prefix}log`, `${this.prefix}log-index`, key(r), JSON.stringify(r))) as [number, string[]];
    return { at, log: items.map((s) => JSON.parse(s) as EpochReport) };
  }

  async read(): Promise<EpochReport[]> {
    return (await this.redis.lrange(`${this.prefix}log`, 0, -1)).map((s) => JSON.parse(s) as EpochReport);
  }
}

/** Checkpoints in a folder: trials train right there, so keeping is already done when the trainer saves. */
export class FolderStore implements CheckpointStore {
  constructor(readonly workDir: string) {}

  async fetch(): Promise<void> {
    await mkdir(this.workDir, { recursive: true });
  }

  async keep(): Promise<void> {}

  file(trial: string): string {
    return join(this.workDir, `${trial}.ckpt`);
  }
}

/** Checkpoints in Redis, one key per trial (and one for its best epoch); trained in a local scratch folder. */
export class RedisStore implements CheckpointStore {
  constructor(private readonly redis: Redis, private readonly prefix: string, readonly workDir: string) {}

  file(trial: string): string {
    return join(this.workDir, `${trial}.ckpt`);
  }

  async fetch(trial: string): Promise<void> {
    await mkdir(this.workDir, { recursive: true });
    for (const [best, file] of [[false, this.file(trial)], [true, bestCheckpointFile(this.file(trial))]] as const) {
      const bytes = await this.redis.getBuffer(this.redisKey(trial, best));
      if (bytes) await writeFileAtomic(file, bytes);
      else await rm(file, { force: true });
    }
  }

  async keep(trial: string, bytes: Uint8Array, best: boolean): Promise<void> {
    await this.redis.set(this.redisKey(trial, best), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  private redisKey(trial: string, best: boolean): string {
    return `${this.prefix}${best ? 'best' : 'ckpt'}:${trial}`;
  }
}
