import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { defaultMnistDir, loadIdxDataset } from '../src/data/dataset.js';
import { MnistDpError, predictEnsemble, type PredictOptions } from '../src/index.js';
import { loadModel } from '../src/checkpoint.js';
import { greedySelection, meanProbabilities, mistakeOverlap, type SelectionStep } from '../src/model/ensemble.js';
import { Model, mostProbable } from '../src/model/model.js';
import { makeSpec, parseCnnSpec } from '../src/model/spec.js';
import { randomModel, trainTinyMlp } from './helpers/tiny-models.js';

/**
 * predictEnsemble(models, pixels) is the mean of the members' probabilities, with or without TTA, and
 * refuses members that do not read the same images or predict the same classes, naming the member.
 */

let dir: string;
let a: Model;
let b: Model;
let images: Uint8Array;
const N = 50;


const mlpSpec = (layers: number[]) => makeSpec(layers, { kind: 'relu' }, 'cross-entropy');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mnist-dp-ensemble-'));
  a = await loadModel(await trainTinyMlp(dir, 1));
  b = await loadModel(await trainTinyMlp(dir, 2));
  images = (await loadIdxDataset(defaultMnistDir())).test.images.subarray(0, N * 784);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('predictEnsemble', () => {
  it('is exported with the documented types', () => {
    expectTypeOf(predictEnsemble).parameter(0).toEqualTypeOf<readonly Model[]>();
    expectTypeOf(predictEnsemble).parameter(2).toEqualTypeOf<PredictOptions | undefined>();
    expectTypeOf(predictEnsemble).returns.toEqualTypeOf<Float32Array>();
    expectTypeOf<PredictOptions>().toEqualTypeOf<{ tta?: boolean }>();
  });

  it('of one model is that model', () => {
    expect(Array.from(predictEnsemble([a], images))).toEqual(Array.from(a.predict(images)));
    expect(Array.from(predictEnsemble([a], images, { tta: true }))).toEqual(Array.from(a.predict(images, { tta: true })));
  });

  it('of two models is the mean of their probabilities', () => {
    for (const tta of [false, true]) {
      const pa = a.predict(images, { tta });
      const pb = b.predict(images, { tta });
      const p = predictEnsemble([a, b], images, { tta });
      expect(p).toHaveLength(N * 10);
      for (let i = 0; i < p.length; i++) expect(p[i]).toBeCloseTo((pa[i] + pb[i]) / 2, 6);
      // Two seeds disagree somewhere, so the mean is neither member.
      expect(pa.some((v, i) => Math.abs(v - pb[i]) > 1e-3)).toBe(true);
    }
  });

  it('mixes architectures that read the same images: an MLP and a CNN', () => {
    const cnn = randomModel(parseCnnSpec('c4k5-relu-mp2-fc10'));
    const p = predictEnsemble([a, cnn], images);
    const pa = a.predict(images);
    const pc = cnn.predict(images);
    for (let i = 0; i < p.length; i++) expect(p[i]).toBeCloseTo((pa[i] + pc[i]) / 2, 6);
  });

  it('refuses members that differ, naming the member', () => {
    const refuse = (models: Model[], message: RegExp) => {
      let error: unknown;
      try {
        predictEnsemble(models, new Float32Array(784));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(MnistDpError);
      expect((error as MnistDpError).code).toBe('BAD_OPTION');
      expect((error as MnistDpError).message).toMatch(message);
    };
    refuse([], /at least one model/);
    refuse([a, b, randomModel(mlpSpec([100, 10]))], /member 3 takes 100 inputs per image, but member 1 takes 784/);
    refuse([a, randomModel(mlpSpec([784, 12]))], /member 2 has 12 classes, but member 1 has 10/);
    const wide = parseCnnSpec('c2k3-relu-fc10', { height: 14, width: 56, channels: 1 });
    refuse([randomModel(parseCnnSpec('c2k3-relu-fc10')), randomModel(wide)], /member 2 reads 14×56×1 images, but member 1 reads 28×28×1/);
  });
});

describe('mistakeOverlap', () => {
  it('counts the images each pair of members gets wrong, and those every member does', () => {
    // Three members' wrong images among 10: image 5 is wrong for all, 3 for the first two only.
    const o = mistakeOverlap([[1, 3, 5], [3, 4, 5], [5, 7]], 10);
    expect(o.shared).toEqual([[3, 2, 1], [2, 3, 1], [1, 1, 2]]);
    expect(o.wrongByAll).toBe(1);
    expect(o.rightByAny).toBe(9);
  });

  it('of members without a mistake in common, or without mistakes', () => {
    expect(mistakeOverlap([[0, 2], [1]], 4)).toEqual({ shared: [[2, 0], [0, 1]], wrongByAll: 0, rightByAny: 4 });
    expect(mistakeOverlap([[], []], 4)).toEqual({ shared: [[0, 0], [0, 0]], wrongByAll: 0, rightByAny: 4 });
  });

  it('refuses indices that are not ascending image indices below the count (a list counted twice would inflate every figure)', () => {
    for (const bad of [[[1, 4]], [[2, 2]], [[3, 1]], [[-1]], [[0.5]]]) {
      expect(() => mistakeOverlap(bad, 4), JSON.stringify(bad)).toThrow("mistakeOverlap: a member's mistakes must be ascending image indices below 4");
    }
  });
});

/** Two-class probability rows from each image's probability of class 0. */
const twoClass = (p0: number[]) => Float32Array.from(p0.flatMap((p) => [p, 1 - p]));

/** A selection's steps without their log loss (checked on its own below). */
const byImages = (steps: SelectionStep[]) => steps.map(({ member, correct, wrongByAll }) => ({ member, correct, wrongByAll }));

/** The log loss of the mean of `members`, in float64 from the float32 mean, as a reference. */
const referenceLogLoss = (members: Float32Array[], labels: number[], C: number) => {
  const mean = meanProbabilities(members);
  return labels.reduce((sum, l, i) => sum - Math.log(Math.max(mean[i * C + l], 1e-15)), 0) / labels.length;
};

/**
 * `count` random candidates over `n` images of `C` classes (labels drawn first, then each candidate's rows,
 * from one LCG seeded with `seed`): image i's row is `score(random(), c === label, k)` for each class c of
 * candidate k, normalised to sum 1.
 */
function randomCandidates(seed: number, n: number, C: number, count: number, score: (r: number, right: boolean, k: number) => number) {
  let s = seed;
  const random = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const labels = Array.from({ length: n }, () => Math.floor(random() * C));
  const candidates = Array.from({ length: count }, (_, k) => {
    const p = new Float32Array(n * C);
    for (let i = 0; i < n; i++) {
      const raw = Array.from({ length: C }, (_, c) => score(random(), c === labels[i], k));
      const sum = raw.reduce((x, y) => x + y, 0);
      raw.forEach((v, c) => (p[i * C + c] = v / sum));
    }
    return p;
  });
  return { labels, candidates };
}

describe('greedySelection', () => {
  it('starts from the best candidate, adds the one that helps most, and stops when none adds an image', () => {
    const labels = [0, 0, 0, 0];
    const a = twoClass([0.6, 0.6, 0.6, 0.1]); // right on 3 of 4
    const b = twoClass([0.45, 0.45, 0.45, 0.99]); // right only where a is wrong: a + b gets all 4
    const c = twoClass([0.9, 0.9, 0.3, 0.4]); // a + c: 2 right
    expect(byImages(greedySelection([b, c, a], labels, 2))).toEqual([
      { member: 2, correct: 3, wrongByAll: 1 },
      { member: 0, correct: 4, wrongByAll: 0 },
    ]); // c would add nothing to a + b
  });

  it('breaks a tie in images right by the fewest images every chosen member gets wrong', () => {
    const labels = [0, 0, 0, 0, 0, 0, 0];
    const a = twoClass([0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.45]); // 4 right: the start
    const b = twoClass([0.4, 0.4, 0.9, 0.9, 0.1, 0.1, 0.9]); // a + b: 5 right; both wrong on images 4 and 5
    const c = twoClass([0.9, 0.4, 0.4, 0.4, 0.6, 0.1, 0.9]); // a + c: 5 right; both wrong only on image 5
    expect(byImages(greedySelection([a, b, c], labels, 2))).toEqual([
      { member: 0, correct: 4, wrongByAll: 3 },
      { member: 2, correct: 5, wrongByAll: 1 },
    ]);
  });

  it("adds at each step the candidate that the ensemble's own mean says is best, up to maxMembers", () => {
    // Random candidates against meanProbabilities + mostProbable, the path eval computes an ensemble by.
    const C = 3;
    // Leaning towards the right class, so that ensembles help.
    const { labels, candidates } = randomCandidates(7, 300, C, 6, (r, right) => r + (right ? 0.35 : 0));
    const right = (members: number[]) => mostProbable(meanProbabilities(members.map((m) => candidates[m])), C)
      .reduce((k, c, i) => k + (c === labels[i] ? 1 : 0), 0);
    const steps = greedySelection(candidates, labels, C, 4);
    expect(steps.length).toBeGreaterThan(1);
    expect(steps.length).toBeLessThanOrEqual(4);
    const chosen: number[] = [];
    for (const step of steps) {
      const others = candidates.map((_, m) => m).filter((m) => !chosen.includes(m));
      const best = Math.max(...others.map((m) => right([...chosen, m])));
      chosen.push(step.member);
      expect(step.correct).toBe(right(chosen));
      expect(step.correct).toBe(best);
    }
    expect(new Set(chosen).size).toBe(chosen.length);
    // maxMembers cuts the same selection short: its first steps.
    expect(greedySelection(candidates, labels, C, 2)).toEqual(steps.slice(0, 2));
    if (steps.length < 4) {
      const rest = candidates.map((_, m) => m).filter((m) => !chosen.includes(m));
      for (const m of rest) expect(right([...chosen, m])).toBeLessThanOrEqual(steps[steps.length - 1].correct);
    }
  });

  it('gives an equal tie to the first candidate, and adds nothing that adds no image', () => {
    const labels = [0, 0, 1];
    const a = twoClass([0.9, 0.2, 0.3]);
    expect(byImages(greedySelection([a, a.slice(), a.slice()], labels, 2))).toEqual([{ member: 0, correct: 2, wrongByAll: 1 }]);
  });

  it('by log loss: starts from the surest right model, and adds one that lowers the log loss where accuracy sees no gain', () => {
    const labels = [0, 0, 0, 0];
    const a = twoClass([0.6, 0.6, 0.6, 0.1]); // right on 3 of 4, unsure
    const b = twoClass([0.95, 0.95, 0.95, 0.2]); // right on the same 3, sure
    const c = twoClass([0.5, 0.5, 0.5, 0.15]); // worse than a
    // By accuracy a and b tie (the first, a, starts) and b adds no image to it: one member.
    expect(byImages(greedySelection([a, b, c], labels, 2, 3))).toEqual([{ member: 0, correct: 3, wrongByAll: 1 }]);
    // By log loss b starts (0.44 nats against a's 0.96); a or c would raise it (averaging b with unsure models).
    const steps = greedySelection([a, b, c], labels, 2, 3, 'log-loss');
    expect(steps.map((st) => st.member)).toEqual([1]);
    expect(steps[0].logLoss).toBeCloseTo(referenceLogLoss([b], labels, 2), 12);

    // e is sure, and surely wrong on image 3; d is unsure everywhere, nearly right on image 3. Both get 3 of 4 right,
    // and so does their mean: accuracy keeps one, the log loss takes both (0.65 → 0.56 nats).
    const e = twoClass([0.95, 0.95, 0.95, 0.05]);
    const d = twoClass([0.55, 0.55, 0.55, 0.45]);
    expect(byImages(greedySelection([e, d], labels, 2, 3))).toEqual([{ member: 0, correct: 3, wrongByAll: 1 }]);
    const both = greedySelection([e, d], labels, 2, 3, 'log-loss');
    expect(both.map((st) => st.member)).toEqual([1, 0]);
    expect(both.map((st) => st.correct)).toEqual([3, 3]);
    expect(both[1].logLoss).toBeCloseTo(referenceLogLoss([d, e], labels, 2), 12);
    expect(both[1].logLoss).toBeLessThan(both[0].logLoss);
  });

  it('by log loss on random candidates: each step is the lowest the ensemble\'s own mean gives, and it stops when none is lower', () => {
    const C = 3;
    const { labels, candidates } = randomCandidates(11, 200, C, 5, (r, right, k) => r ** (1 + k) + (right ? 0.3 : 0)); // k: how sure
    const steps = greedySelection(candidates, labels, C, 5, 'log-loss');
    const chosen: number[] = [];
    for (const step of steps) {
      const others = candidates.map((_, m) => m).filter((m) => !chosen.includes(m));
      const losses = others.map((m) => referenceLogLoss([...chosen, m].map((x) => candidates[x]), labels, C));
      expect(step.member).toBe(others[losses.indexOf(Math.min(...losses))]);
      chosen.push(step.member);
      expect(step.logLoss).toBeCloseTo(referenceLogLoss(chosen.map((x) => candidates[x]), labels, C), 12);
    }
    for (let k = 1; k < steps.length; k++) expect(steps[k].logLoss).toBeLessThan(steps[k - 1].logLoss);
    if (steps.length < 5) {
      for (const m of candidates.map((_, x) => x).filter((x) => !chosen.includes(x))) {
        expect(referenceLogLoss([...chosen, m].map((x) => candidates[x]), labels, C)).toBeGreaterThanOrEqual(steps[steps.length - 1].logLoss - 1e-12);
      }
    }
  });

  it('refuses probabilities that are not one row per label, and a maxMembers that is no whole number ≥ 1', () => {
    expect(() => greedySelection([new Float32Array(5)], [0, 1, 0], 2)).toThrow(/a candidate has 5 probabilities, not 3 images × 2 classes/);
    const a = twoClass([0.9, 0.2, 0.3]);
    for (const bad of [0, 2.5, Number.NaN]) expect(() => greedySelection([a, a], [0, 1, 0], 2, bad)).toThrow(`greedySelection: maxMembers must be an integer ≥ 1, got ${bad}`);
    expect(() => greedySelection([a, a], [0, 1, 0], 2, 2, 'loss' as 'accuracy')).toThrow('greedySelection: by must be accuracy or log-loss, got loss');
  });
});
