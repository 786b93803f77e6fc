import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cliTempDir, runCli } from './helpers/cli.js';

/** The residual network cnn-res trains through the CLI and learns: real accuracy on the real MNIST test set. */

const dir = cliTempDir('mnist-dp-cnn-res-');

describe('mnist-dp train --model cnn-res', () => {
  it('learns from 3,000 images in one epoch: over 75 % on the 10,000 test images', () => {
    const out = join(dir(), 'res.ckpt');
    const r = runCli(dir(), ['train', '--model', 'cnn-res', '--epochs', '1', '--train-size', '3000', '--val-size', '0', '--workers', '2',
      '--batch-size', '32', '--optimizer', 'adam', '--lr', '0.003', '--json', '--out', out], 240_000);
    expect(r.code, r.stderr).toBe(0);
    const done = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { type: string; testAccuracy?: number }).find((l) => l.type === 'done');
    // Reference: 83.84 % on this machine's kernels (2026-12-01). The same run with the residual blocks'
    // backward switched off (only the classifier on gap learns, on random features) reached 20.07 %.
    expect(done?.testAccuracy).toBeGreaterThan(0.75);
    const info = runCli(dir(), ['info', '--model', out]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toContain('res(c16k3p1-bn-relu-c16k3p1-bn)');
  }, 300_000);
});
