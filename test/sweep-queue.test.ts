import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { loadCheckpoint } from '../src/checkpoint.js';
import { runLocalSweep } from '../src/sweep/local.js';
import type { SweepResults } from '../src/sweep/report.js';
import { decide, type EpochReport } from '../src/sweep/schedulers.js';
import { parseSweepSpec, trialsOf } from '../src/sweep/spec.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { startCli, type Running } from './helpers/processes.js';
import { freePort, startRedis, type TestRedis } from './helpers/redis.js';

/**
 * Sweeps through BullMQ on a Redis of the test's own, with the sweep and every worker a separate process:
 * two and three workers, a worker interrupted (Ctrl-C) and one killed (kill -9) mid-trial with the trial
 * finished elsewhere bit-identically, a Redis restart mid-sweep, and an unreachable Redis.
 */

const dir = cliTempDir('mnist-dp-sweep-queue-');
let redis: TestRedis;
const running: Running[] = [];
beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  await redis?.stop();
});

const SMALL = { layers: '784-32-10', 'train-size': 2000, 'val-size': 500, 'batch-size': 50, schedule: 'constant' };
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const readJson = async <T>(file: string) => JSON.parse(await readFile(file, 'utf8')) as T;
const table = (r: SweepResults) => r.trials.map(({ seconds: _s, ...t }) => t);

function start(...args: string[]): Running {
  const r = startCli(dir(), args);
  running.push(r);
  return r;
}
const worker = (...extra: string[]) => start('worker', '--queue', redis.url, '--workers', '1', ...extra);

async function writeSpec(name: string, spec: unknown): Promise<string> {
  await writeFile(join(dir(), name), JSON.stringify(spec));
  return name;
}

/** The sweep's finished checkpoints must be those of the same sweep run here, byte for byte. */
async function expectSameCheckpoints(queueDir: string, localDir: string, names: string[]) {
  for (const n of names) {
    const [q, l] = await Promise.all([loadCheckpoint(join(dir(), queueDir, 'trials', `${n}.ckpt`)), loadCheckpoint(join(dir(), localDir, 'trials', `${n}.ckpt`))]);
    expect(same(q.params, l.params), n).toBe(true);
  }
}

describe('a sweep through the queue', () => {
  it('with three worker processes ends with the trials of the same sweep run on one machine, bit for bit', async () => {
    const raw = { base: SMALL, space: { lr: [0.02, 0.05, 0.1], 'weight-decay': [0, 0.0005] }, grid: true, epochs: 2 };
    const file = await writeSpec('grid.json', raw);
    const workers = [worker(), worker(), worker()];
    // The checkpoints in a folder that every worker sees (here: this machine's), not in Redis.
    const sweep = start('sweep', file, '--queue', redis.url, '--dir', 'grid-queue', '--store', 'shared');
    expect(await sweep.exited, sweep.stderr()).toBe(0);
    const id = parseSweepSpec(raw).id;
    expect((await readdir(join(dir(), 'shared', id))).filter((f) => f.endsWith('.ckpt')).sort()).toEqual(
      ['trial-0', 'trial-1', 'trial-2', 'trial-3', 'trial-4', 'trial-5'].flatMap((n) => [`${n}.best.ckpt`, `${n}.ckpt`]));
    const client = new Redis(redis.url);
    expect(await client.keys(`mnist-dp:sweep:${id}:ckpt:*`)).toEqual([]);
    client.disconnect();
    const results = await readJson<SweepResults>(join(dir(), 'grid-queue', 'results.json'));
    const local = (await runLocalSweep(parseSweepSpec(raw, file), file, join(dir(), 'grid-local'), false))!;
    expect(table(results)).toEqual(table(local));
    expect(results.chosen).toMatchObject({ name: local.chosen!.name, testAccuracy: local.chosen!.testAccuracy });
    for (const t of local.trials) {
      const [q, l] = await Promise.all([loadCheckpoint(join(dir(), 'shared', id, `${t.name}.ckpt`)), loadCheckpoint(join(dir(), 'grid-local', 'trials', `${t.name}.ckpt`))]);
      expect(same(q.params, l.params), t.name).toBe(true);
    }
    expect(results.chosen!.model).toBe(join(dir(), 'shared', id, `${local.chosen!.name}.best.ckpt`));
    // Every worker took trials, and the sweep followed their epochs live.
    for (const w of workers) expect(w.lines.some((l) => / taken/.test(l)), w.lines.join('\n')).toBe(true);
    expect(sweep.lines.filter((l) => /^trial-\d  epoch 2\/2/.test(l))).toHaveLength(6);
    for (const w of workers) w.child.kill('SIGINT');
    for (const w of workers) expect(await w.exited).toBe(130);
  });

  it('with ASHA and two workers decides as the scheduler does on the shared log, and --status prints the table', async () => {
    const raw = { base: SMALL, space: { lr: { loguniform: [0.005, 0.3] }, augment: ['none', 'rotate=5,shift=1'] }, trials: 8, seed: 4, epochs: 4, scheduler: { asha: { grace: 1, reduction: 2 } } };
    const file = await writeSpec('asha.json', raw);
    const sweep = start('sweep', file, '--queue', redis.url, '--dir', 'asha-queue');
    await sweep.waitFor(/trials in the queue/);
    const workers = [worker('--drain'), worker('--drain')]; // they exit by themselves once nothing is waiting
    expect(await sweep.exited, sweep.stderr()).toBe(0);
    for (const w of workers) expect(await w.exited, w.stderr()).toBe(0);
    const spec = parseSweepSpec(raw, file);
    const results = await readJson<SweepResults>(join(dir(), 'asha-queue', 'results.json'));
    const client = new Redis(redis.url);
    const log = (await client.lrange(`mnist-dp:sweep:${spec.id}:log`, 0, -1)).map((s) => JSON.parse(s) as EpochReport);
    client.disconnect();
    expect(results.trials.some((t) => t.status === 'stopped')).toBe(true);
    for (const t of results.trials) {
      const mine = log.map((rep, i) => ({ rep, i })).filter(({ rep }) => rep.trial === t.name);
      expect(mine.map(({ rep }) => rep.epoch)).toEqual(Array.from({ length: t.epochs }, (_, k) => k + 1)); // each epoch once
      mine.forEach(({ i }, k) => expect(decide(spec.scheduler, 4, log, i).stop).toBe(t.status === 'stopped' && k === mine.length - 1));
    }
    const status = runCli(dir(), ['sweep', file, '--queue', redis.url, '--status']);
    expect(status.code, status.stderr).toBe(0);
    for (const t of results.trials) expect(status.stdout).toMatch(new RegExp(`\\| ${t.name} \\| .* \\| ${t.epochs} \\| .* \\| ${t.status}`));
  });
});

describe('the sweep command', () => {
  it('stopped with Ctrl-C leaves the trials to the workers, and --resume finds them finished', async () => {
    const raw = { base: SMALL, trials: [{ name: 'f1', seed: 1 }, { name: 'f2', seed: 2 }], epochs: 3 };
    const file = await writeSpec('follow.json', raw);
    const w = worker();
    const sweep = start('sweep', file, '--queue', redis.url, '--dir', 'follow');
    await sweep.waitFor(/^f1  epoch 1\/3/);
    sweep.child.kill('SIGINT');
    expect(await sweep.exited).toBe(130);
    expect(sweep.stderr()).toContain(`interrupted: continue with: mnist-dp sweep ${file} --dir follow --queue ${redis.url} --resume`);
    await w.waitFor(/^f2  completed 3 epochs/);
    const resumed = runCli(dir(), ['sweep', file, '--queue', redis.url, '--dir', 'follow', '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const results = await readJson<SweepResults>(join(dir(), 'follow', 'results.json'));
    expect(results.trials.map((t) => [t.name, t.status, t.epochs])).toEqual([['f1', 'completed', 3], ['f2', 'completed', 3]]);
    w.child.kill('SIGINT');
    await w.exited;
  });
});

describe('nothing is lost when a worker stops', () => {
  it('Ctrl-C hands the trial back at once; kill -9 lets another worker take it after the stall interval; the weights are those of one uninterrupted training', async () => {
    const raw = { base: { ...SMALL, 'train-size': 3000 }, trials: [{ name: 'long', seed: 9, lr: 0.05 }], epochs: 12 };
    const file = await writeSpec('long.json', raw);
    const sweep = start('sweep', file, '--queue', redis.url, '--dir', 'long-queue');
    const a = worker('--lock-seconds', '2');
    await a.waitFor(/^long  epoch 2\/12/);
    const b = worker('--lock-seconds', '2'); // waits: the queue has nothing else
    a.child.kill('SIGINT');
    expect(await a.exited).toBe(130);
    expect(a.stderr()).toContain('handing the trial back');
    // At epoch 2 or, when the signal came late (epochs of 3,000 images are short), a little after.
    const interrupted = a.lines.find((l) => /^long  interrupted after \d+ epochs$/.test(l));
    expect(interrupted, a.lines.join('\n')).toBeDefined();
    const handedBackAfter = Number(/after (\d+)/.exec(interrupted!)![1]);
    expect(handedBackAfter).toBeGreaterThanOrEqual(2);
    // b takes the handed-back trial without waiting for a stall, and goes on from the checkpoint.
    await b.waitFor(/^long \(sweep \w+\): taken, resuming/, 30_000);
    const resumedAt = Number(/epoch (\d+)/.exec(await b.waitFor(/^long  epoch \d+\/12/))![1]);
    expect(resumedAt).toBeGreaterThanOrEqual(handedBackAfter + 1);
    const killedAt = Number(/epoch (\d+)/.exec(await b.waitFor(new RegExp(`^long  epoch ${resumedAt + 1}/12`)))![1]);
    const c = worker('--lock-seconds', '2');
    b.child.kill('SIGKILL');
    expect(await b.exited).toBe('SIGKILL');
    await c.waitFor(/^long \(sweep \w+\): taken, resuming/, 30_000);
    expect(await sweep.exited, sweep.stderr()).toBe(0);
    expect(c.lines.some((l) => l.startsWith('long  completed 12 epochs'))).toBe(true);
    const firstEpochOfC = Number(/epoch (\d+)/.exec(c.lines.find((l) => /^long  epoch/.test(l))!)![1]);
    expect(firstEpochOfC).toBeGreaterThan(2);
    expect(firstEpochOfC).toBeLessThanOrEqual(killedAt + 2);
    const trial = trialsOf(parseSweepSpec(raw))[0];
    const whole = await train({ ...trial.options, out: null });
    expect(same((await loadCheckpoint(join(dir(), 'long-queue', 'trials', 'long.ckpt'))).params, whole.params)).toBe(true);
    c.child.kill('SIGINT');
    await c.exited;
  });
});

describe('a Redis restart during a sweep', () => {
  it('is waited out by the workers and the sweep, which carry on to the same results', async () => {
    const raw = { base: SMALL, trials: [{ name: 'r1', seed: 1 }, { name: 'r2', seed: 2 }, { name: 'r3', seed: 3 }], epochs: 6 };
    const file = await writeSpec('restart.json', raw);
    const w = worker('--lock-seconds', '10');
    const sweep = start('sweep', file, '--queue', redis.url, '--dir', 'restart-queue');
    await w.waitFor(/^r1  epoch 2\/6/);
    await redis.restart(1500);
    expect(await sweep.exited, sweep.stderr()).toBe(0);
    expect(w.lines.some((l) => l.startsWith('lost Redis at'))).toBe(true);
    expect(w.lines.some((l) => l.startsWith('reconnected to Redis at'))).toBe(true);
    const results = await readJson<SweepResults>(join(dir(), 'restart-queue', 'results.json'));
    expect(results.trials.map((t) => [t.name, t.status, t.epochs])).toEqual([['r1', 'completed', 6], ['r2', 'completed', 6], ['r3', 'completed', 6]]);
    const local = (await runLocalSweep(parseSweepSpec(raw, file), file, join(dir(), 'restart-local'), false))!;
    expect(table(results)).toEqual(table(local));
    await expectSameCheckpoints('restart-queue', 'restart-local', ['r1', 'r2', 'r3']);
    w.child.kill('SIGINT');
    await w.exited;
  });
});

describe('an unreachable Redis', () => {
  it('gives one clear line within a few seconds, to a worker and to a sweep', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const file = await writeSpec('tiny.json', { base: SMALL, epochs: 1 });
    for (const args of [['worker', '--queue', url], ['sweep', file, '--queue', url, '--dir', 'never']]) {
      const t0 = Date.now();
      const r = runCli(dir(), args, 20_000);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(r.code, r.stderr).toBe(1);
      expect(r.lines).toEqual([`mnist-dp: error: cannot reach Redis at ${url} (ECONNREFUSED); start redis-server there (Debian: apt-get install redis-server) or give --queue the right address`]);
    }
  });
});
