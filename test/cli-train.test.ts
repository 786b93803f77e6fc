import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, cliTempDir, runCli } from './helpers/cli.js';

/** Real (short) training runs through the built CLI: --json lines, eval and info of the checkpoint, Ctrl-C and --resume. */

const dir = cliTempDir('mnist-dp-cli-train-');
const cli = (...args: string[]) => runCli(dir(), args);

type Line = Record<string, unknown> & { type?: string };
const jsonLines = (s: string): Line[] => s.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);

describe('mnist-dp train --json, then eval and info', () => {
  let ckpt: string;
  let done: Line;

  it('trains one short epoch and prints start, epoch and done lines', () => {
    ckpt = join(dir(), 'm.ckpt');
    // --schedule constant: with the default cosine schedule one epoch of 2,000 images ends at 79.9%.
    const r = cli('train', '--epochs', '1', '--train-size', '2000', '--val-size', '1000', '--workers', '2', '--json',
      '--out', ckpt, '--lr', '0.1', '--schedule', 'constant');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.type)).toEqual(['start', 'epoch', 'done']); // no 'step' lines in JSON mode
    const [start, epoch] = lines;
    done = lines[2];
    expect(start).toMatchObject({ spec: 'mlp 784-256-128-10 relu → softmax, cross-entropy', workers: 2, trainSize: 2000, valSize: 1000, epochs: 1 });
    for (const key of ['epoch', 'trainLoss', 'valAccuracy', 'samplesPerSecond', 'seconds']) expect(typeof epoch[key], key).toBe('number');
    expect(epoch.epoch).toBe(1);
    // Where a step's time went: every phase took some, and together no more than the epoch's training time.
    const phases = epoch.stepMicros as { gradients: number; update: number; barriers: number };
    expect(phases.gradients).toBeGreaterThan(0);
    expect(phases.update).toBeGreaterThan(0);
    expect(phases.barriers).toBeGreaterThan(0);
    const steps = 2000 / 128;
    expect((Math.ceil(steps) * (phases.gradients + phases.update + phases.barriers)) / 1e6).toBeLessThan(epoch.seconds as number);
    expect(epoch.checkpoint).toBe(ckpt);
    expect(done.aborted).toBe(false);
    expect(done.checkpoint).toBe(ckpt);
    expect(done.testAccuracy as number).toBeGreaterThan(0.8);
    expect(existsSync(ckpt)).toBe(true);
  });

  it('eval --json of the checkpoint gives the same test accuracy', () => {
    const r = cli('eval', '--model', ckpt, '--json');
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ testSize: 10000, model: ckpt });
    expect(Math.abs((lines[0].testAccuracy as number) - (done.testAccuracy as number))).toBeLessThan(1e-9);
  });

  it('eval for people prints the accuracy and each class', () => {
    const r = cli('eval', '--model', ckpt);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`test accuracy ${((done.testAccuracy as number) * 100).toFixed(2)}%`);
    expect(r.stdout.split('\n').filter((l) => /^\s+\d\s+\d+\.\d\d%/.test(l))).toHaveLength(10);
  });

  it('eval --json: the confusion matrix and the list of misclassified images agree with the accuracy', () => {
    const r = cli('eval', '--model', ckpt, '--json');
    expect(r.code, r.stderr).toBe(0);
    const { confusion, misclassified, testAccuracy } = jsonLines(r.stdout)[0] as { confusion: number[][]; misclassified: number[]; testAccuracy: number };
    expect(confusion).toHaveLength(10);
    const right = confusion.reduce((s, row, c) => s + row[c], 0);
    expect(right).toBe(Math.round(testAccuracy * 10000));
    expect(confusion.flat().reduce((a, b) => a + b, 0)).toBe(10000);
    // MNIST's test set has 980 zeros and 1,135 ones.
    expect(confusion[0].reduce((a, b) => a + b, 0)).toBe(980);
    expect(confusion[1].reduce((a, b) => a + b, 0)).toBe(1135);
    expect(misclassified).toHaveLength(10000 - right);
    expect([...misclassified].sort((a, b) => a - b)).toEqual(misclassified); // in test-set order
  });

  it('eval --errors 2 names the most frequent mistakes and draws the first two misclassified images', () => {
    const json = jsonLines(cli('eval', '--model', ckpt, '--json').stdout)[0] as { misclassified: number[] };
    const r = cli('eval', '--model', ckpt, '--errors', '2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/most frequent mistakes \(true → predicted\): \d → \d \(\d+\)/);
    const captions = r.stdout.split('\n').filter((l) => l.startsWith('test image '));
    expect(captions.map((l) => Number(/^test image (\d+):/.exec(l)![1]))).toEqual(json.misclassified.slice(0, 2));
    expect(r.stdout.split('\n').filter((l) => /^ {2}\|.{56}\|$/.test(l))).toHaveLength(2 * 28);
    expect(cli('eval', '--model', ckpt, '--errors', '-1').stderr).toMatch(/--errors must be an integer ≥ 0, got -1/);
  });

  it('info describes the model', () => {
    const r = cli('info', '--model', ckpt);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('784-256-128-10');
    expect(r.stdout).toContain('235,146');
    const j = cli('info', '--model', ckpt, '--json');
    expect(j.code, j.stderr).toBe(0);
    expect(jsonLines(j.stdout)[0]).toMatchObject({ layers: [784, 256, 128, 10], parameters: 235146, epochsTrained: 1, testAccuracy: done.testAccuracy });
  });
});

describe('mnist-dp train --keep-best', () => {
  it('marks each new best validation epoch and ends by saying where that model is and how to test it', () => {
    const out = join(dir(), 'kb.ckpt');
    const r = cli('train', '--epochs', '3', '--train-size', '1000', '--val-size', '500', '--workers', '1', '--layers', '784-32-10',
      '--schedule', 'constant', '--out', out, '--keep-best');
    expect(r.code, r.stderr).toBe(0);
    const epochs = r.stdout.split('\n').filter((l) => l.startsWith('epoch '));
    expect(epochs).toHaveLength(3);
    expect(epochs[0]).toContain('(best)'); // the first epoch is always the best so far
    const best = join(dir(), 'kb.best.ckpt');
    const bestEpoch = epochs.map((l) => l.includes('(best)')).lastIndexOf(true) + 1;
    expect(r.stdout).toMatch(new RegExp(`best validation accuracy [\\d.]+% at epoch ${bestEpoch}: its model is in ${best} \\(its test accuracy: mnist-dp eval --model ${best}\\)`));
    const info = cli('info', '--model', best);
    expect(info.code, info.stderr).toBe(0);
  });
});

describe('mnist-dp train: Ctrl-C saves a checkpoint, --resume finishes the run', () => {
  it('exits 130 after SIGINT with the resume hint, and the resumed run ends like an uninterrupted one', async () => {
    const ckpt = join(dir(), 'interrupted.ckpt');
    const flags = ['--epochs', '2', '--train-size', '3000', '--val-size', '500', '--workers', '2', '--lr', '0.1', '--json'];
    const child = spawn(process.execPath, [CLI, 'train', ...flags, '--out', ckpt], { cwd: dir() });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      const first = stdout === '';
      stdout += d.toString();
      if (first) child.kill('SIGINT'); // at the start line: the trainer stops at its next step
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code, stderr).toBe(130);
    expect(stderr).toContain(`interrupted: checkpoint saved to ${ckpt}; continue with: mnist-dp train --resume ${ckpt}`);
    expect(stderr).not.toMatch(/\n\s+at /);
    const lines = jsonLines(stdout);
    expect(lines[0].type).toBe('start');
    expect(lines.at(-1)).toMatchObject({ type: 'done', aborted: true, testAccuracy: null, checkpoint: ckpt });

    const resumed = cli('train', '--resume', ckpt, '--workers', '2', '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    const rl = jsonLines(resumed.stdout);
    expect(rl.at(-1)).toMatchObject({ type: 'done', aborted: false, checkpoint: ckpt });

    const straight = cli('train', ...flags, '--out', '');
    expect(straight.code, straight.stderr).toBe(0);
    const sl = jsonLines(straight.stdout);
    expect(sl.at(-1)).toMatchObject({ type: 'done', checkpoint: null });
    expect(rl.at(-1)!.testAccuracy).toBe(sl.at(-1)!.testAccuracy);
  });

  it('refuses a resume that changes a training setting', () => {
    const ckpt = join(dir(), 'interrupted.ckpt');
    const r = cli('train', '--resume', ckpt, '--lr', '0.5');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^mnist-dp: error: --lr 0.5 differs/);
  });
});
