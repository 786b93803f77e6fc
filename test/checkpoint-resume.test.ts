import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint.js';
import type { TrainEvent } from '../src/events.js';
import { MnistDpError } from '../src/errors.js';
import { pack, unpack } from 'msgpackr';
import { abortWithinEpochAfter } from './helpers/cut.js';
import { scratchDirs } from './helpers/scratch.js';

const scratch = scratchDirs('mnist-dp-');

const base = { epochs: 2, trainSize: 1000, valSize: 500, batchSize: 50, lr: 0.1, seed: 11, workers: 2 };
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('checkpoints', () => {
  it('round-trip parameters, optimiser state, position and metrics', async () => {
    const dir = await scratch();
    const out = join(dir, 'run.ckpt');
    const result = await train({ ...base, epochs: 1, out });
    const c = await loadCheckpoint(out);
    expect(same(c.params, result.params)).toBe(true);
    expect(c.optimizer.state.velocity.some((v) => v !== 0)).toBe(true);
    expect(c.position).toEqual({ epoch: 1, step: 0, lossSum: 0, samples: 0 });
    expect(c.metrics).toEqual(result.metrics);
    expect(c.testAccuracy).toBe(result.testAccuracy);
    expect(c.options.lr).toBe(0.1);
    expect(c.rng).toEqual({ kind: 'counter', seed: 11 });
    expect((await readdir(dir)).sort()).toEqual(['run.ckpt']); // no temporary file left behind
  });

  it('a run resumed after an interruption mid-epoch ends with the same weights as an uninterrupted one', async () => {
    const dir = await scratch();
    // TypeScript kernels and 60 steps an epoch, cut after the first few of epoch 2.
    const cutRun = { ...base, trainSize: 3000, kernels: 'ts' };
    const whole = await train({ ...cutRun, out: join(dir, 'whole.ckpt') });

    const out = join(dir, 'cut.ckpt');
    const controller = new AbortController();
    const cut = await train({ ...cutRun, out }, { onEvent: abortWithinEpochAfter(controller, 1), signal: controller.signal });
    expect(cut.aborted).toBe(true);
    expect(cut.testAccuracy).toBeNull();
    const saved = await loadCheckpoint(out);
    expect(saved.position.epoch).toBe(1);
    expect(saved.position.step).toBeGreaterThan(0);

    const resumed = await train({ resume: out, workers: 3 });
    expect(same(resumed.params, whole.params)).toBe(true);
    expect(resumed.metrics.map((m) => m.trainLoss)).toEqual(whole.metrics.map((m) => m.trainLoss));
    expect(resumed.testAccuracy).toBe(whole.testAccuracy);
  });

  it('a CNN trained with AdamW and a weight average resumes bit-identically, second moments and average included', async () => {
    const dir = await scratch();
    const cnn = {
      trainSize: 400, valSize: 100, batchSize: 50, seed: 3, workers: 2, model: 'c4k5-bn-relu-mp2-fc10',
      optimizer: 'adamw', lr: 0.003, ema: 0.9, augment: 'default', schedule: 'onecycle' as const,
    };
    const whole = await train({ ...cnn, epochs: 2, out: join(dir, 'whole.ckpt') });
    const out = join(dir, 'half.ckpt');
    const controller = new AbortController();
    await train({ ...cnn, epochs: 2, out }, { onEvent: (e) => e.type === 'epoch' && e.epoch === 1 && controller.abort(), signal: controller.signal });
    const half = await loadCheckpoint(out);
    expect(half.position.epoch).toBe(1);
    expect(half.optimizer.kind).toBe('adamw');
    expect(half.optimizer.state.v.some((v) => v !== 0)).toBe(true);
    expect(half.ema?.some((v) => v !== 0)).toBe(true);
    const resumed = await train({ resume: out, workers: 1 });
    expect(same(resumed.params, whole.params)).toBe(true); // the weight average: what the model is
    expect(resumed.testAccuracy).toBe(whole.testAccuracy);
    await expect(train({ resume: out, layers: '784-64-10' })).rejects.toThrow(/different architecture \(cnn 28×28×1 c4k5-bn-relu-mp2-fc10/);
  });

  it('--keep-best keeps the model of the best validation epoch beside the checkpoint, also across a resume', async () => {
    const dir = await scratch();
    // A constant rate, so that a run of k epochs ends with the weights that a longer run has after epoch k;
    // little data, so that validation accuracy can go down as well as up.
    const run = { ...base, trainSize: 600, valSize: 1000, lr: 0.1, schedule: 'constant' as const, seed: 5 };
    const out = join(dir, 'run.ckpt');
    const events: TrainEvent[] = [];
    await train({ ...run, epochs: 3, out, keepBest: true });
    const result = await train({ resume: out, epochs: 6 }, { onEvent: (e) => events.push(e) }); // the checkpoint keeps --keep-best

    // The best is the first epoch with the highest validation accuracy, over the first run's epochs too.
    const vals = result.metrics.map((m) => m.valAccuracy!);
    const bestEpoch = vals.indexOf(Math.max(...vals)) + 1;
    expect(result.best).toEqual({ epoch: bestEpoch, valAccuracy: vals[bestEpoch - 1], checkpoint: join(dir, 'run.best.ckpt') });
    expect(events.at(-1)).toMatchObject({ type: 'done', best: result.best });
    // Epochs 4-6 ran here: each is marked best exactly when it beats every epoch before it.
    const marked = events.flatMap((e) => (e.type === 'epoch' ? [e.best] : []));
    expect(marked).toEqual([4, 5, 6].map((k) => vals[k - 1] > Math.max(...vals.slice(0, k - 1))));

    // The kept file is the model after that epoch: the same weights as a run that stops there.
    const kept = await loadCheckpoint(result.best!.checkpoint);
    expect(kept.metrics).toEqual(result.metrics.slice(0, bestEpoch));
    const short = await train({ ...run, epochs: bestEpoch, out: null });
    expect(same(kept.params, short.params)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['run.best.ckpt', 'run.ckpt']);
  });

  it('--keep-best without a validation split or without a checkpoint file is refused, saying what to give', async () => {
    await expect(train({ ...base, valSize: 0, keepBest: true, out: null })).rejects.toThrow(/--keep-best.*--val-size/);
    await expect(train({ ...base, keepBest: true, out: null })).rejects.toThrow(/--keep-best.*--out/);
    // The recipe of --preset best trains on all 60,000 images, so it needs the split given.
    await expect(train({ preset: 'best', keepBest: true })).rejects.toThrow(/--val-size/);
  });

  it('refuses to resume with another architecture or changed settings, naming what differs', async () => {
    const dir = await scratch();
    const out = join(dir, 'run.ckpt');
    await train({ ...base, epochs: 1, out });
    await expect(train({ resume: out, layers: '784-64-10' })).rejects.toThrow(/different architecture \(mlp 784-256-128-10/);
    await expect(train({ resume: out, lr: 0.5 })).rejects.toThrow(/--lr 0.5 differs from the checkpoint's 0.1/);
  });

  it('reject damaged files with a message that names the file', async () => {
    const dir = await scratch();
    const out = join(dir, 'run.ckpt');
    await train({ ...base, epochs: 1, out });
    const bytes = await readFile(out);
    const truncated = join(dir, 'truncated.ckpt');
    await writeFile(truncated, bytes.subarray(0, bytes.length >> 1));
    await expect(loadCheckpoint(truncated)).rejects.toThrow(new RegExp(`${truncated}: `));
    const garbage = join(dir, 'garbage.ckpt');
    await writeFile(garbage, 'not a checkpoint at all');
    await expect(loadCheckpoint(garbage)).rejects.toThrow(MnistDpError);
    await expect(loadCheckpoint(join(dir, 'missing.ckpt'))).rejects.toThrow(/missing\.ckpt: cannot be read \(ENOENT\)/);
  });

  it('a failed write leaves the previous checkpoint intact and no temporary file', async () => {
    const dir = await scratch();
    const out = join(dir, 'run.ckpt');
    await train({ ...base, epochs: 1, out });
    const before = await readFile(out);
    const c = await loadCheckpoint(out);
    // A value msgpack cannot encode makes the write fail after the temporary file has been opened.
    const broken = { ...c, metrics: [{ ...c.metrics[0], seconds: (10n ** 30n) as unknown as number }] };
    await expect(saveCheckpoint(out, broken)).rejects.toThrow(MnistDpError);
    expect((await readFile(out)).equals(before)).toBe(true);
    expect(await readdir(dir)).toEqual(['run.ckpt']);
  });
});

describe('checkpoint format version 2', () => {
  it('still loads: an MLP trained with SGD, its flat options read as the optimiser object', async () => {
    const dir = await scratch();
    const out = join(dir, 'run.ckpt');
    await train({ ...base, epochs: 1, out });
    // Rewrite the file as version 2 wrote it: no weight average, SGD state only, momentum etc. at the top of the options.
    const v4 = unpack(await readFile(out)) as Record<string, any>;
    const { optimizer, labelSmoothing: _l, ema: _e, augment: _a, clipGradNorm: _c, ...flat } = v4.options;
    const v2 = {
      ...v4, version: 2, ema: undefined, optimizer: { kind: 'sgd', velocity: v4.optimizer.state.velocity },
      options: { ...flat, momentum: optimizer.momentum, nesterov: optimizer.nesterov, weightDecay: optimizer.weightDecay },
    };
    const old = join(dir, 'v2.ckpt');
    await writeFile(old, pack(v2));
    const c = await loadCheckpoint(old);
    expect(c.optimizer.kind).toBe('sgd');
    expect(c.ema).toBeNull();
    expect(c.options.optimizer).toMatchObject({ kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 1e-4 });
    const resumed = await train({ resume: old, epochs: 2, out: join(dir, 'more.ckpt') });
    expect(resumed.metrics).toHaveLength(2);
  });
});
