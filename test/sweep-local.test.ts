import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { loadCheckpoint } from '../src/checkpoint.js';
import { defaultMnistDir, loadIdxDataset } from '../src/data/dataset.js';
import { meanProbabilities } from '../src/model/ensemble.js';
import { loadModel } from '../src/checkpoint.js';
import { mostProbable } from '../src/model/model.js';
import { runLocalSweep } from '../src/sweep/local.js';
import type { SweepResults } from '../src/sweep/report.js';
import { decide, type EpochReport } from '../src/sweep/schedulers.js';
import { parseSweepSpec, trialsOf } from '../src/sweep/spec.js';
import { cliTempDir, runCli } from './helpers/cli.js';

/**
 * Local sweeps on real MNIST (784-32-10 MLPs on 2,000 images, a fraction of a second an epoch): ASHA's
 * decisions against the log, the chosen trial tested once, trials resumed at rungs exactly, Ctrl-C and
 * --resume, a failing trial, and an ensemble of fixed trials.
 */

const dir = cliTempDir('mnist-dp-sweep-local-');
const SMALL = { layers: '784-32-10', 'train-size': 2000, 'val-size': 500, 'batch-size': 50, schedule: 'constant' };
const ASHA_SPEC = {
  base: SMALL,
  space: { lr: { loguniform: [0.005, 0.3] }, 'weight-decay': [0, 0.0005], augment: ['none', 'rotate=5,shift=1'] },
  trials: 6, seed: 3, epochs: 4, concurrency: 1, workers: 1,
  scheduler: { asha: { grace: 1, reduction: 2 } },
};
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const readJson = async <T>(file: string) => JSON.parse(await readFile(file, 'utf8')) as T;
/** The table without the times, which vary. */
const table = (r: SweepResults) => r.trials.map(({ seconds: _s, ...t }) => t);

describe('mnist-dp sweep with ASHA on this machine', () => {
  let results: SweepResults;

  it('runs the trials, stops the weaker ones at the rungs, and tests only the trial chosen on validation', async () => {
    await writeFile(join(dir(), 'asha.json'), JSON.stringify(ASHA_SPEC));
    const r = runCli(dir(), ['sweep', 'asha.json', '--dir', 'asha']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('written to asha/results.md and asha/results.json');
    results = await readJson<SweepResults>(join(dir(), 'asha', 'results.json'));
    expect(results.trials).toHaveLength(6);
    const stopped = results.trials.filter((t) => t.status === 'stopped');
    const completed = results.trials.filter((t) => t.status === 'completed');
    expect(stopped.length).toBeGreaterThan(0);
    expect(completed.length).toBeGreaterThan(0);
    for (const t of stopped) expect([1, 2]).toContain(t.epochs); // the rungs: 1, 2 (grace 1, reduction 2, budget 4)
    for (const t of completed) expect(t.epochs).toBe(4);
    expect(results.trialEpochs).toBe(results.trials.reduce((s, t) => s + t.epochs, 0));
    expect(results.trialEpochs).toBeLessThan(6 * 4);

    // Every decision is the scheduler's on the log as it stood: a trial stopped at its last epoch's report, and went on at every other.
    const log = await readJson<EpochReport[]>(join(dir(), 'asha', 'log.json'));
    const spec = parseSweepSpec(ASHA_SPEC);
    for (const t of results.trials) {
      const mine = log.map((rep, i) => ({ rep, i })).filter(({ rep }) => rep.trial === t.name);
      expect(mine.map(({ rep }) => rep.valAccuracy)).toEqual(t.valAccuracies);
      mine.forEach(({ i }, k) => expect(decide(spec.scheduler, 4, log, i).stop, `${t.name} epoch ${k + 1}`).toBe(t.status === 'stopped' && k === mine.length - 1));
    }

    // The chosen trial is the best on validation; its test accuracy is its best epoch's model's, measured here again.
    const top = Math.max(...results.trials.map((t) => t.bestValAccuracy!));
    const chosen = results.trials.find((t) => t.bestValAccuracy === top)!;
    expect(results.chosen).toMatchObject({ name: chosen.name, valAccuracy: top, epoch: chosen.bestEpoch, model: join('asha', 'trials', `${chosen.name}.best.ckpt`) });
    const test = (await loadIdxDataset(defaultMnistDir())).test;
    const predicted = (await loadModel(join(dir(), results.chosen!.model))).classify(test.images);
    expect(results.chosen!.testAccuracy).toBe(predicted.filter((p, i) => p === test.labels[i]).length / test.count);
    const md = await readFile(join(dir(), 'asha', 'results.md'), 'utf8');
    expect(md).toContain(`Chosen on validation accuracy: **${chosen.name}**`);
    // With the split's noise beside it: √(p(1−p)/n) in points, n the 500 validation images of SMALL.
    expect(results.chosen!.valImages).toBe(500);
    expect(md).toContain(`On 500 validation images one standard error of that figure is ±${(100 * Math.sqrt((top * (1 - top)) / 500)).toFixed(2)} points`);
    // The report: every trial's curves (one run table each), and the chosen trial's test-set pages with the accuracy above.
    expect(results.report).toBe(join('asha', 'report.html'));
    const html = await readFile(join(dir(), 'asha', 'report.html'), 'utf8');
    expect(html.match(/<table class="run">/g)).toHaveLength(6);
    expect(html).toContain(`Test accuracy <strong>${(results.chosen!.testAccuracy! * 100).toFixed(2)} %</strong>`);
    // No trial looked at the test set: none of their checkpoints has a test accuracy.
    for (const t of results.trials) expect((await loadCheckpoint(join(dir(), 'asha', 'trials', `${t.name}.ckpt`))).testAccuracy).toBeNull();
  });

  it('a trial that ran to its end, resumed at every rung, has the weights of one uninterrupted training', async () => {
    const name = results.trials.find((t) => t.status === 'completed')!.name;
    const trial = trialsOf(parseSweepSpec(ASHA_SPEC)).find((t) => t.name === name)!;
    const whole = await train({ ...trial.options, out: null });
    expect(same((await loadCheckpoint(join(dir(), 'asha', 'trials', `${name}.ckpt`))).params, whole.params)).toBe(true);
  });

  it('stopped part-way (Ctrl-C) and resumed, it makes the same decisions and the same table', async () => {
    const spec = parseSweepSpec(ASHA_SPEC, 'asha.json');
    const controller = new AbortController();
    let epochs = 0;
    const cut = await runLocalSweep(spec, 'asha.json', join(dir(), 'cut'), false, { signal: controller.signal, onLine: (l) => { if (/epoch \d/.test(l) && ++epochs === 5) controller.abort(); } });
    expect(cut).toBeNull();
    await expect(runLocalSweep(spec, 'asha.json', join(dir(), 'cut'), false)).rejects.toThrow('holds this sweep already (id');
    const resumed = (await runLocalSweep(spec, 'asha.json', join(dir(), 'cut'), true))!;
    expect(table(resumed)).toEqual(table(results));
    expect(resumed.chosen!.testAccuracy).toBe(results.chosen!.testAccuracy);
  });
});

describe('mnist-dp sweep with the median stopping rule', () => {
  it('judges every epoch after the grace period against the log, and stops the trials below the median', async () => {
    const raw = { base: SMALL, space: { lr: { loguniform: [0.002, 0.2] } }, trials: 5, seed: 2, epochs: 4, scheduler: { median: { grace: 1, 'min-trials': 1 } } };
    const spec = parseSweepSpec(raw, 'median.json');
    const r = (await runLocalSweep(spec, 'median.json', join(dir(), 'median'), false))!;
    const log = await readJson<EpochReport[]>(join(dir(), 'median', 'log.json'));
    expect(r.trials.some((t) => t.status === 'stopped' && t.reason.startsWith('median: '))).toBe(true);
    for (const t of r.trials) {
      const mine = log.map((rep, i) => ({ rep, i })).filter(({ rep }) => rep.trial === t.name);
      mine.forEach(({ i }, k) => expect(decide(spec.scheduler, 4, log, i).stop).toBe(t.status === 'stopped' && k === mine.length - 1));
    }
  });
});

describe('a sweep of fixed trials (an ensemble)', () => {
  it('marks a trial whose options fail as failed with its message, goes on, and tests the ensemble of the others once', async () => {
    const spec = parseSweepSpec({
      base: SMALL, epochs: 1, ensemble: true,
      trials: [{ name: 'seed-1', seed: 1 }, { name: 'misfit', seed: 2, layers: '784-32-7' }, { name: 'seed-3', seed: 3 }],
    }, 'ensemble.json');
    const lines: string[] = [];
    const r = (await runLocalSweep(spec, 'ensemble.json', join(dir(), 'ensemble'), false, { onLine: (l) => lines.push(l) }))!;
    expect(r.trials.map((t) => [t.name, t.status])).toEqual([['seed-1', 'completed'], ['misfit', 'failed'], ['seed-3', 'completed']]);
    expect(r.trials[1].reason).toContain('--layers 784-32-7 does not fit the data');
    expect(lines).toContain(`misfit  failed: ${r.trials[1].reason}`);
    const members = ['seed-1', 'seed-3'].map((n) => join(dir(), 'ensemble', 'trials', `${n}.best.ckpt`));
    expect(r.ensemble!.members).toEqual(members);
    const test = (await loadIdxDataset(defaultMnistDir())).test;
    const models = await Promise.all(members.map((m) => loadModel(m)));
    const predicted = mostProbable(meanProbabilities(models.map((m) => m.predict(test.images))), 10);
    expect(r.ensemble!.testAccuracy).toBe(predicted.filter((p, i) => p === test.labels[i]).length / test.count);
  });
});
