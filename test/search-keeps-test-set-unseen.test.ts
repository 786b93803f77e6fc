import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { loadCheckpoint } from '../src/checkpoint.js';
import type { TrainEvent } from '../src/events.js';
import type { SweepResults } from '../src/sweep/report.js';
import { parseSweepSpec } from '../src/sweep/spec.js';
import { cliTempDir, runCli } from './helpers/cli.js';

/**
 * A search keeps the test set unseen (issue 17): `train --no-test` (`test: false`) trains exactly as
 * before but evaluates nothing on the test set, and a sweep spec's `"test": false` keeps even its chosen
 * trial from it; the finalists are tested once, later, with `mnist-dp eval`.
 */

const dir = cliTempDir('mnist-dp-no-test-');
const RUN = { layers: '784-32-10', trainSize: 2000, valSize: 500, batchSize: 50, epochs: 2, workers: 1, seed: 4, schedule: 'constant' } as const;
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('train with test: false', () => {
  it('trains the same weights, reports no test accuracy, and is not an aborted run', async () => {
    const events: TrainEvent[] = [];
    const untested = await train({ ...RUN, test: false, out: join(dir(), 'untested.ckpt') }, { onEvent: (e) => events.push(e) });
    const tested = await train({ ...RUN, out: join(dir(), 'tested.ckpt') });
    expect(bytes(untested.params).equals(bytes(tested.params))).toBe(true);
    expect(tested.testAccuracy).toBeGreaterThan(0.8);
    expect(untested).toMatchObject({ testAccuracy: null, testLoss: null, aborted: false });
    expect(events.at(-1)).toMatchObject({ type: 'done', testAccuracy: null, aborted: false });
    const saved = await loadCheckpoint(join(dir(), 'untested.ckpt'));
    expect(saved.testAccuracy).toBeNull();
    expect(saved.position.epoch).toBe(2);
    // Where a run executes, not how it trains: the checkpoint does not keep it.
    expect('test' in saved.options).toBe(false);
  });

  it('--no-test on the command line: no test figure printed, and info says how to measure it', () => {
    const args = ['train', '--layers', '784-32-10', '--train-size', '2000', '--val-size', '500', '--epochs', '1', '--workers', '1', '--out', 'cli.ckpt'];
    const r = runCli(dir(), [...args, '--no-test']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('test set not evaluated (--no-test)');
    expect(r.stdout).not.toMatch(/test accuracy \d/);
    const info = runCli(dir(), ['info', '--model', 'cli.ckpt']);
    expect(info.stdout).toContain('not measured (trained with --no-test; measure it with mnist-dp eval --model cli.ckpt)');
    const json = runCli(dir(), [...args, '--no-test', '--json', '--force']);
    const done = json.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.type === 'done');
    expect(done).toMatchObject({ testAccuracy: null, aborted: false });
  });
});

describe('a sweep spec with "test": false', () => {
  it('is checked: a boolean at the top level, and not a flag of base', () => {
    expect(parseSweepSpec({ epochs: 1, test: false }).test).toBe(false);
    expect(parseSweepSpec({ epochs: 1 }).test).toBe(true);
    expect(() => parseSweepSpec({ epochs: 1, test: 'no' })).toThrow('test: must be true or false, got "no"');
    expect(() => parseSweepSpec({ epochs: 1, base: { test: false } })).toThrow(/base\.test: .*"test": false/);
  });

  it('chooses on validation and tests nothing: no test accuracy in results, the report has the curves alone', async () => {
    const spec = {
      base: { layers: '784-32-10', 'train-size': 2000, 'val-size': 500, 'batch-size': 50, schedule: 'constant' },
      trials: [{ lr: 0.05 }, { lr: 0.2 }], epochs: 2, workers: 1, ensemble: true, test: false,
    };
    await writeFile(join(dir(), 'search.json'), JSON.stringify(spec));
    const r = runCli(dir(), ['sweep', 'search.json', '--dir', 'search']);
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(await readFile(join(dir(), 'search', 'results.json'), 'utf8')) as SweepResults;
    const top = Math.max(...results.trials.map((t) => t.bestValAccuracy!));
    expect(results.chosen).toMatchObject({ valAccuracy: top, testAccuracy: null });
    expect(results.ensemble).toMatchObject({ testAccuracy: null });
    expect(results.ensemble!.members).toHaveLength(2);
    const md = await readFile(join(dir(), 'search', 'results.md'), 'utf8');
    expect(md).toContain('the test set was not evaluated (the spec says "test": false)');
    expect(md).not.toMatch(/test accuracy/i);
    const html = await readFile(join(dir(), 'search', 'report.html'), 'utf8');
    expect(html.match(/<table class="run">/g)).toHaveLength(2);
    expect(html).not.toContain('Test accuracy');
    expect(html).toContain('The test set was not evaluated');
  });
});
