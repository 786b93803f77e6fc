import { describe, expect, it } from 'vitest';
import { ashaRungs, decide, decisionEpochs, type EpochReport } from '../src/sweep/schedulers.js';

/**
 * ASHA and the median stopping rule as pure functions of the results log: each decision depends only on
 * the reports up to and including the one it is about (validation accuracy, never the test set).
 */

const asha = { kind: 'asha' as const, grace: 2, reduction: 3 };
const r = (trial: string, epoch: number, valAccuracy: number | null): EpochReport => ({ trial, epoch, valAccuracy });
/** The decision about each report of the log, in order. */
const decisions = (s: Parameters<typeof decide>[0], budget: number, log: EpochReport[]) => log.map((_, i) => decide(s, budget, log, i).stop);

describe('ASHA', () => {
  it('has rungs at grace·reduction^k epochs below the budget', () => {
    expect(ashaRungs(2, 3, 20)).toEqual([2, 6, 18]);
    expect(ashaRungs(1, 2, 16)).toEqual([1, 2, 4, 8]);
    expect(ashaRungs(2, 3, 18)).toEqual([2, 6]);
    expect(decisionEpochs(asha, 20)).toEqual([2, 6, 18]);
  });

  it('lets a trial on at a rung only if it is in the top ⌊n/3⌋ (at least one) of the n seen there so far', () => {
    // Reference: the rule worked by hand. 1st: alone, on. 2nd (0.80 < 0.90): top 1 of 2 is the 1st, stop.
    // 3rd (0.95): best of 3, on. 4th (0.91): 2nd of 4, keep 1, stop. 5th (0.85): stop. 6th (0.93): 2nd of 6, keep 2, on.
    const log = [r('a', 2, 0.9), r('b', 2, 0.8), r('c', 2, 0.95), r('d', 2, 0.91), r('e', 2, 0.85), r('f', 2, 0.93)];
    expect(decisions(asha, 20, log)).toEqual([false, true, false, true, true, false]);
    expect(decide(asha, 20, log, 1)).toEqual({ stop: true, reason: 'asha: rank 2 of 2 at rung 2, which keeps the top 1' });
  });

  it('judges only at rungs, each rung on its own, and a tie goes to the trial that got there first', () => {
    const log = [r('a', 1, 0.5), r('a', 2, 0.9), r('b', 1, 0.99), r('b', 2, 0.9), r('a', 3, 0.2), r('a', 6, 0.91), r('b', 6, 0.95)];
    expect(decisions(asha, 20, log)).toEqual([false, false, false, true, false, false, false]);
  });

  it('depends on the order of the results, and on nothing else: the same order gives the same decisions', () => {
    const log = [r('a', 2, 0.9), r('b', 2, 0.95)];
    expect(decisions(asha, 20, log)).toEqual([false, false]);
    expect(decisions(asha, 20, [log[1], log[0]])).toEqual([false, true]);
    expect(decisions(asha, 20, structuredClone(log))).toEqual(decisions(asha, 20, log));
  });
});

describe('the median stopping rule', () => {
  const median = { kind: 'median' as const, grace: 2, minTrials: 2 };

  it('from the grace period on, stops a trial whose best is below the median of the others\' running means', () => {
    // Reference by hand, at epoch 2: a's mean (0.8+0.9)/2 = 0.85, b's (0.7+0.8)/2 = 0.75: median 0.80.
    // c's best 0.79 < 0.80: stop. d's best 0.82 (of 0.82, 0.81) ≥ the median of a, b, c means (0.75, 0.77, 0.85) = 0.77: on.
    const log = [r('a', 1, 0.8), r('b', 1, 0.7), r('a', 2, 0.9), r('b', 2, 0.8), r('c', 1, 0.75), r('c', 2, 0.79), r('d', 1, 0.82), r('d', 2, 0.81)];
    expect(decisions(median, 10, log)).toEqual([false, false, false, false, false, true, false, false]);
    expect(decide(median, 10, log, 5)).toEqual({ stop: true, reason: "median: best 79.00% below the median 80.00% of 2 trials' means at epoch 2" });
  });

  it('lets a trial on while fewer than min-trials others have reached its epoch, and never judges the last epoch', () => {
    const log = [r('a', 2, 0.9), r('b', 2, 0.1), r('c', 2, 0.95), r('d', 10, 0.1)];
    expect(decisions({ ...median, minTrials: 3 }, 10, log)).toEqual([false, false, false, false]);
    expect(decisionEpochs(median, 5)).toEqual([2, 3, 4]);
  });
});

describe('no scheduler', () => {
  it('never stops a trial, and a report without validation accuracy is never judged', () => {
    const log = [r('a', 2, 0.9), r('b', 2, 0.1)];
    expect(decisions({ kind: 'none' }, 20, log)).toEqual([false, false]);
    expect(decisions(asha, 20, [r('a', 2, 0.9), r('b', 2, null)])).toEqual([false, false]);
  });
});
