import { describe, expect, it } from 'vitest';
import { killLoop } from '../scripts/fuzz/kill-loop.js';

/**
 * `kill -9` at random moments, saves included (issue 12, item 6): every checkpoint left behind loads,
 * and the next start removes what the killed saves and the killed run's lock left.
 */
describe('a run killed with SIGKILL again and again', () => {
  it('leaves a loadable checkpoint after each of 3 kills, and nothing else once a run ends normally', async () => {
    const r = await killLoop(3, 7);
    expect(r.kills).toBe(3);
    expect(r.loadable).toBe(3);
    expect(r.leftBehind).toEqual([]);
  });
});
