import { basename, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { badOption } from '../errors.js';
import { runLocalSweep } from '../sweep/local.js';
import { resultsMarkdown } from '../sweep/report.js';
import { readSweepSpec } from '../sweep/spec.js';
import { shellQuote } from './progress.js';

/**
 * `mnist-dp sweep SPEC.json` (a search or a fixed list of trials, here or through a queue) and
 * `mnist-dp worker --queue URL` (takes a queue's trials on this machine). BullMQ is loaded only when a
 * queue is used, so that every other command starts as fast as before.
 */

const queueModule = () => import('../sweep/queue.js');

export interface SweepArgs {
  spec: string;
  dir?: string;
  resume?: boolean;
  queue?: string;
  store?: string;
  status?: boolean;
}

export function sweepBuilder(y: Argv): Argv {
  return y
    .positional('spec', { type: 'string', describe: 'the sweep spec (JSON; README, "Sweeps")' })
    .option('dir', { type: 'string', requiresArg: true, describe: 'folder for the trials\' checkpoints (local sweeps), results.json and results.md', defaultDescription: 'sweep-<spec name>' })
    .option('resume', { type: 'boolean', describe: 'continue the sweep in --dir: finished trials stay finished, the others go on from their last checkpoint' })
    .option('queue', { type: 'string', requiresArg: true, describe: 'enqueue the trials on Redis at this address (redis://HOST:6379) for mnist-dp worker processes, and follow them' })
    .option('store', { type: 'string', requiresArg: true, describe: 'with --queue: keep the trials\' checkpoints in this folder, which every worker mounts at the same path', defaultDescription: 'in Redis' })
    .option('status', { type: 'boolean', describe: 'with --queue: print the table of the sweep\'s trials so far, and exit' })
    .example('$0 sweep sweep.json', 'run the sweep on this machine')
    .example('$0 sweep sweep.json --queue redis://10.0.0.5:6379', 'enqueue it for workers on other machines and follow it')
    .example('$0 sweep sweep.json --queue redis://10.0.0.5:6379 --status', 'the table so far');
}

/** Ctrl-C once: stop after the current step (the caller resolves); twice: quit at once. */
function onInterrupt(what: string): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  let count = 0;
  const handler = () => {
    if (++count > 1) {
      process.stderr.write('mnist-dp: interrupted again: quitting without waiting\n');
      process.exit(130);
    }
    process.stderr.write(`mnist-dp: ${what} (Ctrl-C again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return { signal: controller.signal, done: () => { process.off('SIGINT', handler); process.off('SIGTERM', handler); } };
}

const line = (s: string) => process.stdout.write(`${s}\n`);

export async function sweepHandler(argv: SweepArgs): Promise<void> {
  const spec = await readSweepSpec(argv.spec);
  if (argv.store !== undefined && !argv.queue) throw badOption('--store keeps checkpoints where the workers of a --queue reach them; a local sweep keeps them in --dir');
  if (argv.status) {
    if (!argv.queue) throw badOption('--status reads a queue: give --queue redis://HOST:6379 (a local sweep\'s table is DIR/results.md)');
    process.stdout.write(await (await queueModule()).queueStatus(spec, argv.queue));
    return;
  }
  const dir = argv.dir ?? `sweep-${basename(argv.spec).replace(/\.json$/, '')}`;
  const interrupt = onInterrupt(argv.queue ? 'no longer following the sweep; its trials go on in the workers' : 'stopping every trial after its current step');
  let results;
  try {
    const store = argv.store ? { kind: 'folder' as const, dir: resolve(argv.store) } : { kind: 'redis' as const };
    results = argv.queue
      ? await (await queueModule()).runQueueSweep(spec, argv.spec, argv.queue, { dir, resume: argv.resume === true, store, onLine: line, signal: interrupt.signal })
      : await runLocalSweep(spec, argv.spec, dir, argv.resume === true, { onLine: line, signal: interrupt.signal });
  } finally {
    interrupt.done();
  }
  if (!results) {
    const queue = argv.queue ? ` --queue ${shellQuote(argv.queue)}${argv.store ? ` --store ${shellQuote(argv.store)}` : ''}` : '';
    process.stderr.write(`interrupted: continue with: mnist-dp sweep ${shellQuote(argv.spec)} --dir ${shellQuote(dir)}${queue} --resume\n`);
    process.exitCode = 130;
    return;
  }
  process.stdout.write(`\n${resultsMarkdown(results)}written to ${dir}/results.md and ${dir}/results.json${results.report ? `; the report: ${results.report}` : ''}\n`);
}

export interface WorkerArgs {
  queue: string;
  workers?: number;
  lockSeconds: number;
  drain?: boolean;
}

export function workerBuilder(y: Argv): Argv {
  return y
    .option('queue', { type: 'string', requiresArg: true, demandOption: true, describe: 'the Redis of the sweeps (redis://HOST:6379)' })
    .option('workers', { type: 'number', requiresArg: true, describe: 'worker threads per trial', defaultDescription: 'one per CPU core' })
    .option('lock-seconds', { type: 'number', requiresArg: true, default: 30, describe: 'BullMQ lock and stall interval: a trial of a worker that died goes to another worker after this long' })
    .option('drain', { type: 'boolean', describe: 'exit once no trial is waiting in the queue (for batch jobs; start them after the sweep has enqueued its trials)' })
    .example('$0 worker --queue redis://10.0.0.5:6379', 'take trials until Ctrl-C (which hands the current one back)');
}

export async function workerHandler(argv: WorkerArgs): Promise<void> {
  if (argv.workers !== undefined && (!Number.isInteger(argv.workers) || argv.workers < 1)) throw badOption(`--workers must be an integer ≥ 1, got ${String(argv.workers)}`);
  if (!(argv.lockSeconds >= 1)) throw badOption(`--lock-seconds must be at least 1, got ${String(argv.lockSeconds)}`);
  const interrupt = onInterrupt('finishing this step, keeping the checkpoint and handing the trial back');
  try {
    await (await queueModule()).runQueueWorker(argv.queue, { workers: argv.workers, lockSeconds: argv.lockSeconds, drain: argv.drain === true, signal: interrupt.signal, onLine: line });
  } finally {
    interrupt.done();
  }
  if (interrupt.signal.aborted) process.exitCode = 130;
}
