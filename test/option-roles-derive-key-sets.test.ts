import { describe, expect, it } from 'vitest';
import { savedOptions } from '../src/checkpoint.js';
import { MODEL_OPTION_KEYS, RESUMABLE_FLAGS, RESUMABLE_KEYS, resolveOptions, RUN_ONLY_KEYS } from '../src/options.js';

/**
 * One table of option roles (OPTION_ROLES in src/options.ts) gives the options a checkpoint does not keep,
 * the ones a resumed run may change and the ones that define the network. Before the table these were
 * three hand-written lists (checkpoint.ts's RunOnlyKey and savedOptions, api.ts's RESUMABLE_OVERRIDES,
 * options.ts's MODEL_OPTION_KEYS); the sets must be the same.
 */
describe('the option roles table', () => {
  it('derives the same key sets as the hand-written lists before it', () => {
    // Reference: the lists at commit 798bcb5, `force` (issue 12: a run-only option), `mpi` (issue 18: a run option) and `test` (issue 17: a run option).
    expect(new Set(RUN_ONLY_KEYS)).toEqual(new Set(['workers', 'out', 'resume', 'data', 'force', 'mpi', 'test']));
    expect(new Set(RESUMABLE_KEYS)).toEqual(new Set(['epochs', 'workers', 'out', 'data', 'kernels', 'resume', 'keepBest', 'force', 'mpi', 'test']));
    expect([...MODEL_OPTION_KEYS]).toEqual(['model', 'layers', 'activation', 'outputActivation', 'loss']);
    expect(RESUMABLE_FLAGS).toBe('--epochs, --workers, --out, --data, --kernels, --force, --keep-best, --mpi, --test');
  });

  it('a checkpoint keeps every resolved option but the run-only ones', () => {
    const resolved = resolveOptions({ workers: 3, out: 'x.ckpt', data: '/somewhere', epochs: 2 });
    const saved = savedOptions(resolved);
    expect(Object.keys(saved).sort()).toEqual(Object.keys(resolved).filter((k) => !['workers', 'out', 'resume', 'data', 'force', 'mpi', 'test'].includes(k)).sort());
    expect(saved).toMatchObject({ epochs: 2, keepBest: false, kernels: resolved.kernels });
  });
});
