import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSpec } from '../src/model/spec.js';
import { parseSweepSpec, trialsOf } from '../src/sweep/spec.js';
import { cliTempDir } from './helpers/cli.js';
import { untrainedCheckpoint } from './helpers/tiny-models.js';

/** `npm run ensemble` is a sweep of fixed trials: the spec it runs, for the default ten members and for a list of its own. */

const work = cliTempDir('mnist-dp-ensemble-script-');
/** The script's exit status and its stderr, trimmed. */
const ensemble = (...args: string[]): [number | null, string] => {
  // A refusal comes at once; the timeout turns a missed one (a real training started) into a failure, not a hang.
  const r = spawnSync(process.execPath, ['scripts/ensemble.mjs', ...args], { encoding: 'utf8', timeout: 60_000 });
  return [r.status, r.stderr.trim()];
};

const specOf = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['scripts/ensemble.mjs', '--print-spec', '--workers', '2', ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as unknown;
};

describe('npm run ensemble', () => {
  it('runs the ten members of the best ensemble as a sweep spec of fixed trials, with the ensemble tested', () => {
    const spec = parseSweepSpec(specOf());
    expect(spec.ensemble).toBe(true);
    expect(spec.scheduler).toEqual({ kind: 'none' });
    const trials = trialsOf(spec);
    expect(trials.map((t) => t.name)).toEqual(['wide-seed1', 'wide-seed3', 'wide-seed4', 'wide-seed5', 'wide-seed6', 'wide-seed7', 'strided-seed11', 'elastic-seed21', 'strided-seed12', 'elastic-seed22']);
    // The ensemble of ten predates cnn-wide-res: its --preset best members name their network, cnn-wide.
    expect(trials[0].options).toEqual({ preset: 'best', model: 'cnn-wide', seed: 1, epochs: 40, workers: 2 });
    expect(trials[6].options).toEqual({ preset: 'best', model: 'cnn-strided', epochs: 30, seed: 11, workers: 2 });
    expect(trials[7].options).toEqual({ preset: 'best', model: 'cnn-wide', augment: 'rotate=10,shift=2,scale=0.1,elastic=1.4,sigma=4', seed: 21, epochs: 40, workers: 2 });
  });

  it('any members RECIPE:SEED make their own spec', () => {
    const trials = trialsOf(parseSweepSpec(specOf('--members', '2,elastic:9')));
    expect(trials.map((t) => [t.name, t.options.seed])).toEqual([['best-seed2', 2], ['elastic-seed9', 9]]);
    const [b30, wr] = trialsOf(parseSweepSpec(specOf('--members', 'best30:1,wideres:2')));
    expect(b30.options).toEqual({ preset: 'best', model: 'cnn-wide', epochs: 30, seed: 1, workers: 2 });
    expect(wr.options).toEqual({ preset: 'best', model: 'cnn-wide-res', seed: 2, epochs: 40, workers: 2 });
  });

  it('--select trains the members as candidates on one validation split, and keeps the test set from all of them', () => {
    const spec = parseSweepSpec(specOf('--select', '--members', 'wideres:1,strided:1'));
    expect(spec.ensemble).toBe(false);
    expect(spec.test).toBe(false);
    expect(trialsOf(spec).map((t) => t.options)).toEqual([
      { preset: 'best', model: 'cnn-wide-res', valSize: 5000, seed: 1, epochs: 40, workers: 2 },
      { preset: 'best', model: 'cnn-strided', epochs: 30, valSize: 5000, seed: 1, workers: 2 },
    ]);
    // Without --select the same members are an ensemble tested once, on all the training images.
    const plain = parseSweepSpec(specOf('--members', 'wideres:1,strided:1'));
    expect([plain.ensemble, plain.test, trialsOf(plain).some((t) => 'valSize' in t.options)]).toEqual([true, true, false]);
  });

  it('--max-members must be a whole number ≥ 2, and only with --select', () => {
    expect(ensemble('--print-spec', '--select', '--max-members', '1')).toEqual([2, 'mnist-dp: error: --max-members must be an integer ≥ 2, got 1']);
    expect(ensemble('--print-spec', '--max-members', '3')).toEqual([2, 'mnist-dp: error: --max-members only applies with --select (the most members of the committee chosen)']);
  });

  it('--select-by only with --select', () => {
    expect(ensemble('--print-spec', '--select-by', 'log-loss')).toEqual([2, 'mnist-dp: error: --select-by only applies with --select (what the selection of the committee maximises)']);
  });

  it('keeps candidates and members apart: a pool takes no file without its validation images, an ensemble no pool', async () => {
    const dir = join(work(), 'apart');
    mkdirSync(join(dir, 'trials'), { recursive: true });
    const file = await untrainedCheckpoint(join(dir, 'trials'), 'strided-seed1.ckpt', makeSpec([784, 10], { kind: 'relu' }, 'cross-entropy'), { valSize: 0 });
    expect(ensemble('--select', '--members', 'wideres:1,strided:1', '--dir', dir)).toEqual(
      [2, `mnist-dp: error: ${file} holds out 0 validation images, not 5000: it is no candidate of this pool; give another --dir`]);
    writeFileSync(join(dir, 'selection.json'), '{}');
    expect(ensemble('--members', 'wideres:1,strided:1', '--dir', dir)).toEqual(
      [2, `mnist-dp: error: ${dir} holds a pool of candidates (selection.json), trained without their validation images: give the committee another --dir`]);

    // A pool whose selection has not run yet is known by its spec ("test": false); nothing in it is touched.
    const pool = join(work(), 'pool');
    mkdirSync(pool);
    const poolSpec = `${JSON.stringify(specOf('--select', '--members', 'wideres:1,strided:1'), null, 2)}\n`;
    writeFileSync(join(pool, 'sweep-spec.json'), poolSpec);
    expect(ensemble('--members', 'wideres:1,strided:1', '--dir', pool)).toEqual(
      [2, `mnist-dp: error: ${pool} holds a pool of candidates (${join(pool, 'sweep-spec.json')} with "test": false), trained without their validation images: give the committee another --dir`]);
    expect(readFileSync(join(pool, 'sweep-spec.json'), 'utf8')).toBe(poolSpec);
    expect(existsSync(join(pool, 'trials'))).toBe(false);

    // A file beside trials/ (to be moved in) is checked before it is moved.
    const loose = join(work(), 'loose');
    mkdirSync(loose);
    const beside = await untrainedCheckpoint(loose, 'wideres-seed1.ckpt', makeSpec([784, 10], { kind: 'relu' }, 'cross-entropy'), { valSize: 0 });
    expect(ensemble('--select', '--members', 'wideres:1,strided:1', '--dir', loose)).toEqual(
      [2, `mnist-dp: error: ${beside} holds out 0 validation images, not 5000: it is no candidate of this pool; give another --dir`]);
    expect(existsSync(beside)).toBe(true);
    expect(existsSync(join(loose, 'sweep-spec.json'))).toBe(false);
  });

  it('--conv trains every member that way (the ensembles recorded before Winograd: --conv im2col)', () => {
    const trials = trialsOf(parseSweepSpec(specOf('--members', '1,strided:12', '--conv', 'im2col')));
    expect(trials.map((t) => [t.name, t.options.conv])).toEqual([['best-seed1', 'im2col'], ['strided-seed12', 'im2col']]);
    expect(trialsOf(parseSweepSpec(specOf('--members', '1,3'))).every((t) => !('conv' in t.options))).toBe(true);
  });
});
