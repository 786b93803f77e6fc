import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSweepSpec, trialsOf } from '../src/sweep/spec.js';
import { cliTempDir, runCli } from './helpers/cli.js';

/** Sweep specs: the example as written, the draws, grids and fixed lists, and every error with its JSON path before anything runs. */

const EXAMPLE = {
  base: { layers: '784-128-10', 'val-size': 5000 },
  space: { lr: { loguniform: [0.01, 0.3] }, 'weight-decay': [0, 0.0001, 0.0005], augment: { choice: ['none', 'default'] } },
  trials: 16, seed: 1, epochs: 20, concurrency: 2, workers: 1,
  scheduler: { asha: { grace: 2, reduction: 3 } },
};

describe('a sweep spec', () => {
  it("the issue's example gives 16 trials drawn from the space, each with the base, the budget and its own seed", () => {
    const spec = parseSweepSpec(EXAMPLE);
    expect(spec.scheduler).toEqual({ kind: 'asha', grace: 2, reduction: 3 });
    const trials = trialsOf(spec);
    expect(trials).toHaveLength(16);
    expect(trials.map((t) => t.name)).toEqual(Array.from({ length: 16 }, (_, i) => `trial-${String(i).padStart(2, '0')}`));
    for (const t of trials) {
      expect(t.options).toMatchObject({ layers: '784-128-10', valSize: 5000, epochs: 20, workers: 1 });
      expect(t.options.lr!).toBeGreaterThanOrEqual(0.01);
      expect(t.options.lr!).toBeLessThanOrEqual(0.3);
      expect([0, 0.0001, 0.0005]).toContain(t.options.weightDecay);
      expect(['none', 'default']).toContain(t.options.augment);
      expect(Number.isInteger(t.options.seed)).toBe(true);
    }
    // The draws cover the space: both augmentations, all three decays, rates over more than a factor of 5.
    expect(new Set(trials.map((t) => t.options.augment)).size).toBe(2);
    expect(new Set(trials.map((t) => t.options.weightDecay)).size).toBe(3);
    const rates = trials.map((t) => t.options.lr!);
    expect(Math.max(...rates) / Math.min(...rates)).toBeGreaterThan(5);
    expect(new Set(trials.map((t) => t.options.seed)).size).toBe(16);
  });

  it('the same seed draws the same trials; another seed, others', () => {
    const again = trialsOf(parseSweepSpec(structuredClone(EXAMPLE)));
    expect(again).toEqual(trialsOf(parseSweepSpec(EXAMPLE)));
    const other = trialsOf(parseSweepSpec({ ...EXAMPLE, seed: 2 }));
    expect(other.map((t) => t.options.lr)).not.toEqual(again.map((t) => t.options.lr));
  });

  it('a grid runs every combination of the lists once; an int range draws integers within its bounds', () => {
    const grid = trialsOf(parseSweepSpec({ space: { 'weight-decay': [0, 0.001], 'batch-size': [32, 64, 128] }, grid: true, epochs: 3 }));
    expect(grid.map((t) => [t.options.weightDecay, t.options.batchSize])).toEqual([[0, 32], [0, 64], [0, 128], [0.001, 32], [0.001, 64], [0.001, 128]]);
    const ints = trialsOf(parseSweepSpec({ space: { 'batch-size': { int: [16, 20] } }, trials: 40, epochs: 3 }));
    expect(new Set(ints.map((t) => t.options.batchSize))).toEqual(new Set([16, 17, 18, 19, 20]));
  });

  it('a fixed list of trials keeps its names, flags and seeds (an ensemble), and a listed trial may have its own epochs', () => {
    const spec = parseSweepSpec({ trials: [{ name: 'best-seed1', preset: 'best', seed: 1 }, { name: 'strided-11', preset: 'best', model: 'cnn-strided', epochs: 30, seed: 11 }], epochs: 40, ensemble: true });
    expect(spec.ensemble).toBe(true);
    expect(trialsOf(spec).map((t) => [t.name, t.options])).toEqual([
      ['best-seed1', { epochs: 40, workers: 1, preset: 'best', seed: 1 }],
      ['strided-11', { epochs: 30, workers: 1, preset: 'best', model: 'cnn-strided', seed: 11 }],
    ]);
  });
});

describe('a bad spec is refused with its JSON path', () => {
  const error = (raw: unknown) => {
    try {
      parseSweepSpec(raw, 'sweep.json');
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };
  const cases: [string, unknown, string][] = [
    ['loguniform bounds that are not positive', { ...EXAMPLE, space: { lr: { loguniform: [0, 0.3] } } }, 'sweep.json: space.lr.loguniform: the bounds must be positive, got [0,0.3]'],
    ['an unknown flag', { ...EXAMPLE, space: { 'learning-rate': [0.1] } }, 'sweep.json: space.learning-rate: "learning-rate" is not a train flag; see mnist-dp train --help'],
    ['a flag in camelCase', { ...EXAMPLE, base: { valSize: 5000 } }, 'sweep.json: base.valSize: "valSize" is not a train flag; flags are spelt as on the command line: "val-size"'],
    ['a value out of its flag\'s range', { ...EXAMPLE, space: { 'weight-decay': [0, -0.1] } }, 'sweep.json: space.weight-decay[1]: --weight-decay must be a number ≥ 0, got -0.1'],
    ['a value of the wrong type', { ...EXAMPLE, base: { layers: 784 } }, 'sweep.json: base.layers: --layers takes a string, got 784'],
    ['a range the wrong way round', { ...EXAMPLE, space: { lr: { uniform: [0.3, 0.01] } } }, 'sweep.json: space.lr.uniform: low must be below high, got [0.3,0.01]'],
    ['a range of a string flag', { ...EXAMPLE, space: { augment: { uniform: [0, 1] } } }, 'sweep.json: space.augment.uniform: --augment takes a string: give its values as a list'],
    ['an unknown kind of range', { ...EXAMPLE, space: { lr: { normal: [0, 1] } } }, 'sweep.json: space.lr: "normal" is not a kind of range: use choice, uniform, loguniform or int'],
    ['a flag the sweep sets itself', { ...EXAMPLE, base: { out: 'x.ckpt' } }, "sweep.json: base.out: --out cannot be set in a sweep spec: each trial's checkpoint is kept by the sweep (see --dir and --store)"],
    ['an unknown top-level key', { ...EXAMPLE, trails: 3 }, 'sweep.json: trails: unknown key; a spec has base, space, trials, grid, seed, epochs, concurrency, workers, scheduler, ensemble, test'],
    ['no budget', { ...EXAMPLE, epochs: undefined }, 'sweep.json: epochs: give the budget: the epochs of a trial that runs to its end'],
    ['a grace period past the budget', { ...EXAMPLE, scheduler: { asha: { grace: 20, reduction: 3 } } }, 'sweep.json: scheduler.asha.grace: must be below the budget (epochs 20), got 20'],
    ['a reduction factor of 1', { ...EXAMPLE, scheduler: { asha: { grace: 2, reduction: 1 } } }, 'sweep.json: scheduler.asha.reduction: must be an integer ≥ 2, got 1'],
    ['an unknown scheduler', { ...EXAMPLE, scheduler: { hyperband: {} } }, 'sweep.json: scheduler: "hyperband" is not a scheduler: use none, asha or median'],
    ['trials and a grid', { ...EXAMPLE, space: { 'weight-decay': [0, 1e-4] }, grid: true }, 'sweep.json: trials: a grid runs every combination once: give "trials" or "grid": true, not both'],
    ['a grid over a range', { space: { lr: { uniform: [0.01, 0.1] } }, grid: true, epochs: 3 }, 'sweep.json: space.lr: a grid takes lists of values only, not a uniform range'],
    ['a bad flag in a listed trial', { trials: [{ seed: 1 }, { seed: 2, momentum: 1.5 }], epochs: 3 }, 'sweep.json: trials[1].momentum: --momentum must be in [0, 1), got 1.5'],
    ['two trials of one name', { trials: [{ name: 'a', seed: 1 }, { name: 'a', seed: 2 }], epochs: 3 }, 'sweep.json: trials[1].name: "a" is taken by an earlier trial'],
    ['a scheduler without validation', { ...EXAMPLE, base: { layers: '784-128-10', 'val-size': 0 } }, 'sweep.json: scheduler: asha decides on validation accuracy, but base.val-size is 0; hold out validation images (e.g. "val-size": 5000)'],
  ];
  for (const [what, raw, message] of cases) it(what, () => expect(error(raw)).toBe(message));
});

describe('mnist-dp sweep with a bad spec', () => {
  const dir = cliTempDir('mnist-dp-sweep-spec-');
  it('exits 2 with one line naming the path, and creates nothing', async () => {
    const file = join(dir(), 'bad.json');
    await writeFile(file, JSON.stringify({ ...EXAMPLE, space: { lr: { loguniform: [-1, 0.3] } } }));
    const r = runCli(dir(), ['sweep', 'bad.json', '--dir', 'out']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.lines).toEqual(['mnist-dp: error: bad.json: space.lr.loguniform: the bounds must be positive, got [-1,0.3]']);
    expect(existsSync(join(dir(), 'out'))).toBe(false);
  });

  it('flags that do not fit together are one line each too', async () => {
    await writeFile(join(dir(), 'ok.json'), JSON.stringify(EXAMPLE));
    const local = runCli(dir(), ['sweep', 'ok.json', '--store', 'shared']);
    expect(local.code, local.stderr).toBe(2);
    expect(local.lines).toEqual(['mnist-dp: error: --store keeps checkpoints where the workers of a --queue reach them; a local sweep keeps them in --dir']);
    const status = runCli(dir(), ['sweep', 'ok.json', '--status']);
    expect(status.lines).toEqual(["mnist-dp: error: --status reads a queue: give --queue redis://HOST:6379 (a local sweep's table is DIR/results.md)"]);
    const threads = runCli(dir(), ['worker', '--queue', 'redis://127.0.0.1:1', '--workers', '0']);
    expect(threads.code).toBe(2);
    expect(threads.lines).toEqual(['mnist-dp: error: --workers must be an integer ≥ 1, got 0']);
    const url = runCli(dir(), ['worker', '--queue', 'localhost:6379']);
    expect(url.lines).toEqual(['mnist-dp: error: --queue "localhost:6379" is not an address such as redis://HOST:6379']);
  });

  it('a file that is not JSON is one line too', async () => {
    await writeFile(join(dir(), 'broken.json'), '{ "trials": 3,');
    const r = runCli(dir(), ['sweep', 'broken.json']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^mnist-dp: error: broken\.json: not valid JSON/);
  });
});
