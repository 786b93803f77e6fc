import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint.js';
import { resolveOptions } from '../src/options.js';
import { parseCnnSpec } from '../src/model/spec.js';

// The options the model shipped up to issue 16 was trained with, as its checkpoint saved them (`kernels`
// left out: it names the machine's kernels, not the recipe).
const { kernels: _, ...saved } = (await loadCheckpoint('test/fixtures/mnist-best-issue16.ckpt')).options;
const ISSUE_16 = saved as unknown as Record<string, unknown>;

describe('--preset best', () => {
  it('trains cnn-wide-res, exactly as issue 17\'s finals were trained (--preset best --model cnn-wide-res)', () => {
    const preset = resolveOptions({ preset: 'best', seed: 1 });
    expect(preset.spec).toEqual(parseCnnSpec('cnn-wide-res'));
    expect(preset).toEqual(resolveOptions({ preset: 'best', seed: 1, model: 'cnn-wide-res' }));
  });

  it('with --model cnn-wide is the recipe of issue 16 option for option (its ensembles train again as they did)', () => {
    const old = resolveOptions({ preset: 'best', seed: 1, model: 'cnn-wide', conv: 'im2col' }) as unknown as Record<string, unknown>;
    for (const [key, saved] of Object.entries(ISSUE_16)) expect(old[key], key).toEqual(saved);
  });

  it('differs from the recipe of issue 16 in the network alone', () => {
    const now = resolveOptions({ preset: 'best', seed: 1, conv: 'im2col' }) as unknown as Record<string, unknown>;
    const differing = Object.keys(ISSUE_16).filter((k) => JSON.stringify(now[k]) !== JSON.stringify(ISSUE_16[k]));
    expect(differing).toEqual(['spec']);
  });
});
