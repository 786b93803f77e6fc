import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { bestCheckpointFile, loadCheckpoint } from '../src/checkpoint.js';
import { loadIdxDataset, defaultMnistDir } from '../src/data/dataset.js';
import type { EpochEvent, TrainEvent } from '../src/events.js';
import { loadModel } from '../src/checkpoint.js';

/** `--early-stop N --min-delta D` on real MNIST: where the run stops, and that the kept (and tested) model is the best epoch's. */

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('train with earlyStop', () => {
  it('stops after N epochs without a gain of more than D, and tests the best epoch\'s model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mnist-dp-early-'));
    dirs.push(dir);
    const out = join(dir, 'run.ckpt');
    const events: TrainEvent[] = [];
    // A small MLP on 1,000 images at a constant rate: its validation accuracy climbs by a point or two per
    // epoch after the first few, so a 2-point threshold stops it long before 30 epochs.
    const result = await train({ epochs: 30, trainSize: 1000, valSize: 500, batchSize: 50, layers: '784-32-10', schedule: 'constant', lr: 0.05,
      workers: 1, seed: 5, out, earlyStop: 2, minDelta: 0.02 }, { onEvent: (e) => events.push(e) });

    const epochs = events.filter((e): e is EpochEvent => e.type === 'epoch');
    const accuracies = epochs.map((e) => e.valAccuracy!);
    expect(epochs.length).toBeLessThan(30);
    expect(epochs.length).toBeGreaterThanOrEqual(3);
    // The rule, from the accuracies alone: the run ends at the first epoch that is the 2nd in a row not
    // above (best so far + 0.02), and not before.
    let best = -1;
    let since = 0;
    let stopAt = -1;
    for (const [i, a] of accuracies.entries()) {
      if (a > best + 0.02) [best, since] = [a, 0];
      else since++;
      if (since === 2) { stopAt = i + 1; break; }
    }
    expect(stopAt).toBe(epochs.length);
    expect(epochs.map((e) => e.stopsEarly)).toEqual(epochs.map((_, i) => i === epochs.length - 1));
    const done = events.at(-1)!;
    expect(done).toMatchObject({ type: 'done', aborted: false, stoppedEarly: true });

    // The kept model is the first epoch of the highest validation accuracy, as with keepBest; it is the one
    // returned and tested.
    const top = Math.max(...accuracies);
    expect(result.best).toEqual({ epoch: accuracies.indexOf(top) + 1, valAccuracy: top, checkpoint: bestCheckpointFile(out) });
    const kept = await loadCheckpoint(bestCheckpointFile(out));
    expect(same(result.params, kept.params)).toBe(true);
    expect(kept.testAccuracy).toBe(result.testAccuracy);
    const test = (await loadIdxDataset(defaultMnistDir())).test;
    const predicted = (await loadModel(bestCheckpointFile(out))).classify(test.images);
    const right = predicted.reduce((n, p, i) => n + (p === test.labels[i] ? 1 : 0), 0);
    expect(result.testAccuracy).toBeCloseTo(right / test.count, 12);
    // The run's own checkpoint stays its last epoch's, to resume from.
    expect((await loadCheckpoint(out)).position.epoch).toBe(epochs.length);
  });

  it('is refused without a validation split, naming the flag', async () => {
    await expect(train({ earlyStop: 3, valSize: 0, out: null })).rejects.toThrow('--early-stop watches validation accuracy, but this run holds out no validation images; give --val-size (e.g. 5000)');
    await expect(train({ earlyStop: 3, minDelta: 2, out: 'never-written.ckpt' })).rejects.toThrow('--min-delta must be a gain in accuracy in [0, 1), such as 0.001, got 2');
    await expect(train({ earlyStop: 3, out: null })).rejects.toThrow("--early-stop writes the best epoch's model beside the checkpoint");
  });
});
