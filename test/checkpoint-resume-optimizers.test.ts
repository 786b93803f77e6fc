import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { CHECKPOINT_VERSION, loadCheckpoint } from '../src/checkpoint.js';
import type { TrainEvent } from '../src/events.js';
import type { TrainOptions } from '../src/options.js';
import { abortWithinEpochAfter } from './helpers/cut.js';
import { scratchDirs } from './helpers/scratch.js';

const scratch = scratchDirs('mnist-dp-optim-');

/**
 * Checkpoints keep the optimiser's state by the names its module declares (version 4), and the options of
 * clipping and LAMB: a run interrupted and resumed ends with the same bytes as one that was not. Files of
 * version 3 (state as `velocity` and `moment2`) resume bit-identically too.
 */

const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Trains `o` whole, and again stopped after epoch 1 (or, with `midEpoch`, part-way into epoch 2). */
async function wholeAndCut(o: TrainOptions, midEpoch = false) {
  const dir = await scratch();
  const whole = await train({ ...o, out: join(dir, 'whole.ckpt') });
  const out = join(dir, 'cut.ckpt');
  const controller = new AbortController();
  const onEvent = midEpoch ? abortWithinEpochAfter(controller, 1) : (e: TrainEvent) => {
    if (e.type === 'epoch' && e.epoch === 1) controller.abort();
  };
  const cut = await train({ ...o, out }, { onEvent, signal: controller.signal });
  expect(cut.aborted).toBe(true);
  return { dir, whole, out };
}

describe('resuming runs with LAMB and gradient clipping', () => {
  it('LAMB with --clip-grad-norm, interrupted mid-epoch and resumed with another worker count, ends with the same bytes', async () => {
    // 60 steps an epoch, cut after the first few of epoch 2.
    const o: TrainOptions = { epochs: 2, trainSize: 3000, valSize: 500, batchSize: 50, seed: 11, workers: 2, kernels: 'ts', layers: '784-64-10', optimizer: 'lamb', lr: 0.01, weightDecay: 0.01, clipGradNorm: 0.5 };
    const { whole, out } = await wholeAndCut(o, true);
    const saved = await loadCheckpoint(out);
    expect(saved.position.epoch).toBe(1);
    expect(saved.position.step).toBeGreaterThan(0);
    expect(saved.optimizer.kind).toBe('lamb');
    expect(Object.keys(saved.optimizer.state)).toEqual(['m', 'v']);
    expect(saved.options.clipGradNorm).toBe(0.5);
    await expect(train({ resume: out, clipGradNorm: 2 })).rejects.toThrow(/--clip-grad-norm 2 differs from the checkpoint's 0.5/);
    const resumed = await train({ resume: out, workers: 3 }); // the checkpoint's optimiser and clipping, not the defaults
    expect(same(resumed.params, whole.params)).toBe(true);
    expect(resumed.metrics.map((m) => m.trainLoss)).toEqual(whole.metrics.map((m) => m.trainLoss));
  });

  it('a CNN with batch norm, LAMB and a weight average resumes bit-identically', async () => {
    const o: TrainOptions = { epochs: 2, trainSize: 400, valSize: 100, batchSize: 50, seed: 3, workers: 2, model: 'c4k5-bn-relu-mp2-fc10', optimizer: 'lamb', lr: 0.01, ema: 0.9, clipGradNorm: 1 };
    const { whole, out } = await wholeAndCut(o);
    const resumed = await train({ resume: out, workers: 1 });
    expect(same(resumed.params, whole.params)).toBe(true);
    expect(resumed.testAccuracy).toBe(whole.testAccuracy);
  });
});

describe('checkpoint format version 3 resumes bit-identically', () => {
  /** The record rewritten as version 3 wrote it: `velocity` (SGD's velocity, Adam's m) and `moment2` (Adam's v), no clipping option. */
  async function asVersion3(file: string): Promise<string> {
    const r = unpack(await readFile(file)) as Record<string, any>;
    expect(r.version).toBe(CHECKPOINT_VERSION);
    const { kind, state } = r.optimizer;
    const { clipGradNorm: _, ...options } = r.options;
    const v3 = { ...r, version: 3, options, optimizer: kind === 'sgd' ? { kind, velocity: state.velocity, moment2: null } : { kind, velocity: state.m, moment2: state.v } };
    const old = file.replace(/\.ckpt$/, '.v3.ckpt');
    await writeFile(old, pack(v3));
    return old;
  }

  it.each([
    ['SGD with Nesterov momentum', { optimizer: 'sgd' }],
    ['AdamW with a weight average', { optimizer: 'adamw', lr: 0.003, ema: 0.9 }],
  ] as const)('%s: state read by today\'s names, the same weights as an uninterrupted run', async (_, given) => {
    const o: TrainOptions = { epochs: 2, trainSize: 1000, valSize: 200, batchSize: 50, seed: 5, workers: 2, layers: '784-32-10', ...given };
    const { whole, out } = await wholeAndCut(o);
    const v3 = await asVersion3(out);
    const c = await loadCheckpoint(v3);
    expect(Object.keys(c.optimizer.state)).toEqual(given.optimizer === 'sgd' ? ['velocity'] : ['m', 'v']);
    expect(c.options.clipGradNorm).toBe(0);
    const resumed = await train({ resume: v3, out: join(out, '..', 'more.ckpt') });
    expect(same(resumed.params, whole.params)).toBe(true);
    expect(resumed.metrics.map((m) => m.trainLoss)).toEqual(whole.metrics.map((m) => m.trainLoss));
  });

  it('a file whose optimiser state lacks a tensor, or names an unknown optimiser, is refused with a line naming it', async () => {
    const { out } = await wholeAndCut({ epochs: 2, trainSize: 500, valSize: 100, batchSize: 50, workers: 1, layers: '784-16-10', optimizer: 'adam' });
    const r = unpack(await readFile(out)) as Record<string, any>;
    const missing = join(out, '..', 'missing.ckpt');
    await writeFile(missing, pack({ ...r, optimizer: { kind: 'adam', state: { m: r.optimizer.state.m } } }));
    await expect(loadCheckpoint(missing)).rejects.toThrow(/missing\.ckpt: optimiser state "v" hold 0 bytes/);
    const unknown = join(out, '..', 'unknown.ckpt');
    await writeFile(unknown, pack({ ...r, optimizer: { kind: 'lbfgs', state: {} } }));
    await expect(loadCheckpoint(unknown)).rejects.toThrow(/unknown\.ckpt: holds the state of an unknown optimiser "lbfgs"/);
  });
});
