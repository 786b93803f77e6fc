import { availableParallelism, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue, QueueEvents, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectRedis } from './redis.js';
import { prepareSweepDir, outcomeLine, progressLine, type SweepHooks } from './local.js';
import { finishSweep, trialTable, type SweepResults } from './report.js';
import { trialsOf, type SchedulerSpec, type SweepSpec, type Trial } from './spec.js';
import { FolderStore, RedisLog, RedisStore, type CheckpointStore } from './store.js';
import { runTrial, type TrialOutcome, type TrialProgress } from './trial.js';

/**
 * Sweeps across machines on BullMQ: each trial is a job in one queue, `mnist-dp worker` processes take
 * them one at a time, report every epoch as job progress, and return the trial's outcome. BullMQ does the
 * rest: a worker that dies loses its job lock and, after the stall interval, the job goes back to the
 * queue for another worker (which resumes the trial from its last checkpoint in the store); failed jobs are
 * retried; the sweep follows everything through QueueEvents. Redis keys of a sweep start with
 * `mnist-dp:sweep:<id>:` (its results log and, with the default store, its checkpoints).
 */

/** The queue every sweep and worker uses (jobs are named by sweep id and trial). */
export const QUEUE_NAME = 'mnist-dp-trials';

/** Where trial checkpoints live: Redis (the default) or a folder every worker mounts. */
export type StoreSpec = { kind: 'redis' } | { kind: 'folder'; dir: string };

/** What a job carries: everything a worker needs to run the trial, nothing about the machine that enqueued it. */
export interface TrialJob {
  sweep: string;
  trial: Trial;
  scheduler: SchedulerSpec;
  store: StoreSpec;
}

const prefixOf = (sweep: string) => `mnist-dp:sweep:${sweep}:`;
const jobIdOf = (sweep: string, trial: string) => `${sweep}-${trial}`;

function storeFor(redis: Redis, sweep: string, store: StoreSpec, scratch: string): CheckpointStore {
  return store.kind === 'folder' ? new FolderStore(join(store.dir, sweep)) : new RedisStore(redis, prefixOf(sweep), scratch);
}

export interface QueueSweepOptions extends SweepHooks {
  /** Where results.json/md and the chosen trials' checkpoints go. */
  dir: string;
  store: StoreSpec;
  resume: boolean;
}

/**
 * Enqueues the spec's trials (once: a trial's job id is fixed, so --resume adds nothing that is there),
 * follows their progress until every trial has ended, then finishes the sweep here. Null when interrupted:
 * the trials carry on in the workers, and `--resume` follows them again.
 */
export async function runQueueSweep(spec: SweepSpec, specFile: string, url: string, o: QueueSweepOptions): Promise<SweepResults | null> {
  const say = o.onLine ?? (() => {});
  const redis = await connectRedis(url, say);
  const queue = new Queue<TrialJob, TrialOutcome>(QUEUE_NAME, { connection: redis });
  const events = new QueueEvents(QUEUE_NAME, { connection: redis.duplicate() });
  queue.on('error', () => {}); // connection trouble is reported once, by connectRedis' listener
  events.on('error', () => {});
  try {
    await prepareSweepDir(spec, specFile, o.dir, o.resume);
    const trials = trialsOf(spec);
    const ours = new Map(trials.map((t, i) => [jobIdOf(spec.id, t.name), i]));
    const outcomes: (TrialOutcome | undefined)[] = new Array(trials.length);
    let left = trials.length;
    let allDone!: () => void;
    const finished = new Promise<void>((r) => { allDone = r; });
    const settle = (i: number, outcome: TrialOutcome) => {
      if (outcomes[i]) return;
      outcomes[i] = outcome;
      say(outcomeLine(outcome));
      if (--left === 0) allDone();
    };
    const failedOutcome = (i: number, reason: string): TrialOutcome => ({
      name: trials[i].name, status: 'failed', reason, epochs: 0, bestValAccuracy: null, bestEpoch: null, seconds: 0, valAccuracies: [],
    });
    // Subscribe first, then read the jobs' states: an event in between is seen twice at worst, and settle keeps the first.
    events.on('progress', ({ jobId, data }) => { if (ours.has(jobId)) say(progressLine(data as TrialProgress)); });
    events.on('completed', ({ jobId, returnvalue }) => {
      const i = ours.get(jobId);
      if (i !== undefined) settle(i, returnvalue as unknown as TrialOutcome);
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const i = ours.get(jobId);
      // 'failed' also marks an attempt that BullMQ will retry; only the job's final state counts.
      if (i !== undefined) void queue.getJob(jobId).then(async (job) => { if (job && (await job.getState()) === 'failed') settle(i, failedOutcome(i, failedReason)); });
    });
    await events.waitUntilReady();
    const known = (await Promise.all([...ours.keys()].map((id) => queue.getJob(id)))).filter(Boolean).length;
    if (known > 0 && !o.resume) say(`sweep ${spec.id}: ${known} of its trials are in the queue already (this spec ran before); following them`);
    await queue.addBulk(trials.map((trial) => ({
      name: trial.name,
      data: { sweep: spec.id, trial, scheduler: spec.scheduler, store: o.store },
      opts: { jobId: jobIdOf(spec.id, trial.name), attempts: 3, backoff: { type: 'fixed', delay: 2000 } },
    })));
    say(`sweep ${spec.id}: ${trials.length} trials in the queue at ${url}; start workers with: mnist-dp worker --queue ${url}${o.store.kind === 'folder' ? ` --store ${o.store.dir}` : ''}`);
    for (const [jobId, i] of ours) {
      const job = await queue.getJob(jobId);
      const state = job ? await job.getState() : 'unknown';
      if (state === 'completed') settle(i, job!.returnvalue);
      else if (state === 'failed') settle(i, failedOutcome(i, job!.failedReason));
    }
    const stopped = new Promise<'stopped'>((r) => {
      if (o.signal?.aborted) r('stopped');
      o.signal?.addEventListener('abort', () => r('stopped'));
    });
    if ((await Promise.race([finished.then(() => 'done' as const), stopped])) === 'stopped') return null;
    // The trials' checkpoints, here: fetched into DIR/trials from Redis (a folder store has them in place already).
    const here = storeFor(redis, spec.id, o.store, join(o.dir, 'trials'));
    for (const t of trials) await here.fetch(t.name);
    return await finishSweep(spec, specFile, trials, outcomes as TrialOutcome[], (name) => here.file(name), o.dir);
  } finally {
    await events.close();
    await queue.close();
    redis.disconnect();
  }
}

/** `--status`: the table of the sweep's trials so far, from the queue (state, epochs, best validation accuracy). */
export async function queueStatus(spec: SweepSpec, url: string): Promise<string> {
  const redis = await connectRedis(url);
  const queue = new Queue<TrialJob, TrialOutcome>(QUEUE_NAME, { connection: redis });
  try {
    const rows = [];
    for (const trial of trialsOf(spec)) {
      const job = await queue.getJob(jobIdOf(spec.id, trial.name));
      const state = job ? await job.getState() : 'not queued';
      const done = state === 'completed' ? job!.returnvalue : null;
      const progress = (job?.progress && typeof job.progress === 'object' ? job.progress : null) as TrialProgress | null;
      rows.push(done ? { ...done, flags: trial.flags } : {
        name: trial.name, flags: trial.flags, status: state, epochs: progress?.epoch ?? 0, bestValAccuracy: null, bestEpoch: null, seconds: 0,
        reason: state === 'failed' ? job!.failedReason : '',
      });
    }
    return `sweep ${spec.id} at ${url}\n\n${trialTable(rows)}\n`;
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

export interface WorkerOptions {
  /** Threads per trial (default: one per core of this machine). */
  workers?: number;
  /** BullMQ's lock duration and stall interval, in seconds: how soon another worker takes over a dead one's trial. */
  lockSeconds: number;
  /** Aborting (Ctrl-C) finishes the current step, keeps the checkpoint, hands the trial back and resolves. */
  signal?: AbortSignal;
  /** Resolve once the queue has no trial waiting (a batch job's worker: Kubernetes Job, Slurm step). */
  drain?: boolean;
  onLine?: (line: string) => void;
}

/** `mnist-dp worker`: takes trials from the queue one at a time until stopped. */
export async function runQueueWorker(url: string, o: WorkerOptions): Promise<void> {
  const say = o.onLine ?? (() => {});
  const redis = await connectRedis(url, say);
  const scratch = await mkdtemp(join(tmpdir(), 'mnist-dp-worker-'));
  const threads = o.workers ?? availableParallelism();
  const processor = async (job: Job<TrialJob, TrialOutcome>, token?: string): Promise<TrialOutcome> => {
    const { sweep, trial, scheduler, store } = job.data;
    say(`${trial.name} (sweep ${sweep}): taken${job.attemptsStarted > 1 || job.stalledCounter > 0 ? ', resuming from its last checkpoint' : ''}`);
    const result = await runTrial({ ...trial, options: { ...trial.options, workers: threads } }, {
      store: storeFor(redis, sweep, store, scratch), log: new RedisLog(redis, prefixOf(sweep)), scheduler, signal: o.signal,
      onProgress: (p) => {
        say(progressLine(p));
        job.updateProgress(p).catch(() => {}); // progress is a courtesy; the outcome and the checkpoints are what count
      },
    });
    say(outcomeLine(result));
    if (result.status === 'interrupted') {
      await job.moveToWait(token); // handed back: the next worker resumes it from the checkpoint just kept
      throw new WaitingError();
    }
    return result;
  };
  const worker = new Worker<TrialJob, TrialOutcome>(QUEUE_NAME, processor, {
    connection: redis, concurrency: 1, autorun: false,
    lockDuration: o.lockSeconds * 1000, stalledInterval: o.lockSeconds * 1000, maxStalledCount: 10,
  });
  worker.on('error', () => {}); // reported once by connectRedis' listener; BullMQ retries on its own
  say(`worker ${process.pid}: taking trials from ${url} (${threads} thread${threads === 1 ? '' : 's'} a trial)`);
  const stop = () => void worker.close();
  if (o.drain) worker.on('drained', stop); // BullMQ: no job waiting any more
  if (o.signal?.aborted) stop();
  o.signal?.addEventListener('abort', stop);
  try {
    await worker.run();
  } finally {
    o.signal?.removeEventListener('abort', stop);
    await worker.close();
    redis.disconnect();
    await rm(scratch, { recursive: true, force: true });
  }
}
