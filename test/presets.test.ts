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

describe('--preset fast', () => {
  // The preset up to issue 16, as src/options.ts had it; issue 17's F14 was searched as it with the flags below.
  const ISSUE_16_FAST = { model: 'cnn-small', epochs: 3, batchSize: 128, optimizer: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4, schedule: 'onecycle' } as const;
  const F14 = { model: 'c16k5-bn-relu-mp2-c32k5-bn-relu-mp2-fc128-bn-relu-fc10', epochs: 6, lr: 0.5, labelSmoothing: 0.1, weightDecay: 5e-4 };

  it('is issue 17\'s F14 exactly as searched (the preset of issue 16 with its flags), validation split included', () => {
    expect(resolveOptions({ preset: 'fast' })).toEqual(resolveOptions({ ...ISSUE_16_FAST, ...F14 }));
    expect(resolveOptions({ preset: 'fast' }).valSize).toBe(5000);
    expect(parseCnnSpec('cnn-small-bn')).toEqual(parseCnnSpec(F14.model));
  });
});
