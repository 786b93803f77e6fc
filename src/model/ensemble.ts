import { badOption } from '../errors.js';
import { mostProbable, type Model, type Pixels, type PredictOptions } from './model.js';

/**
 * An ensemble averages the class probabilities of several models of the same task. Members trained from
 * different seeds (or of different architectures) make partly independent mistakes, so the mean is
 * usually more accurate than any one of them.
 */

/**
 * Checks that `models` can be averaged: at least one, all taking the same number of inputs and giving the
 * same number of classes, and CNNs all reading images of one shape. Throws BAD_OPTION naming the first
 * member that differs from the first one, by `names[i]` (default "member i+1").
 */
export function checkEnsemble(models: readonly Model[], names: readonly string[] = models.map((_, i) => `member ${i + 1}`)): void {
  if (models.length === 0) throw badOption('an ensemble needs at least one model');
  const first = models[0];
  const shape = (m: Model) => (m.spec.kind === 'cnn' ? `${m.spec.input.height}×${m.spec.input.width}×${m.spec.input.channels}` : null);
  models.forEach((m, i) => {
    if (m.inputs !== first.inputs) {
      throw badOption(`${names[i]} takes ${m.inputs} inputs per image, but ${names[0]} takes ${first.inputs}: ensemble members must read the same images`);
    }
    if (m.classes !== first.classes) {
      throw badOption(`${names[i]} has ${m.classes} classes, but ${names[0]} has ${first.classes}: ensemble members must predict the same classes`);
    }
    const a = shape(first);
    const b = shape(m);
    if (a !== null && b !== null && a !== b) {
      throw badOption(`${names[i]} reads ${b} images, but ${names[0]} reads ${a}: ensemble members must read the same images`);
    }
  });
}

/**
 * The element-wise mean of equally long probability arrays (one per member, rows of classes): again
 * probabilities, each row summing to 1.
 */
export function meanProbabilities(members: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(members[0].length);
  for (const p of members) for (let i = 0; i < out.length; i++) out[i] += p[i];
  for (let i = 0; i < out.length; i++) out[i] /= members.length;
  return out;
}

/**
 * Class probabilities of one or many images under an ensemble: the mean of the members' `predict`
 * (each with `options`, so `tta` averages every member over the same views). Throws BAD_OPTION when the
 * members do not fit each other (see checkEnsemble) or the pixels are not whole images.
 */
export function predictEnsemble(models: readonly Model[], pixels: Pixels, options: PredictOptions = {}): Float32Array {
  checkEnsemble(models);
  return meanProbabilities(models.map((m) => m.predict(pixels, options)));
}

/** How much the members of an ensemble err on the same images: what a committee is chosen by. */
export interface MistakeOverlap {
  /** `shared[a][b]`: images both member a and member b get wrong; `shared[a][a]` is a's own mistakes. */
  shared: number[][];
  /**
   * Images every member gets wrong: roughly the mistakes no choice or weighting of these members removes
   * (not a hard bound: the mean of their probabilities can still be right on one, two members wrong in
   * different directions with the right class second, but rarely).
   */
  wrongByAll: number;
  /** Images at least one member gets right: what picking the right member for each image would reach. */
  rightByAny: number;
}

/**
 * The overlap of the members' mistakes on `count` images, from each member's wrong image indices
 * (each list ascending and below `count`, as `eval` collects them; throws BAD_OPTION otherwise).
 */
export function mistakeOverlap(mistakes: readonly (readonly number[])[], count: number): MistakeOverlap {
  for (const list of mistakes) {
    if (list.some((index, k) => !Number.isInteger(index) || index < 0 || index >= count || (k > 0 && index <= list[k - 1]))) {
      throw badOption(`mistakeOverlap: a member's mistakes must be ascending image indices below ${count}`);
    }
  }
  const wrong = mistakes.map((list) => {
    const set = new Uint8Array(count);
    for (const i of list) set[i] = 1;
    return set;
  });
  const shared = mistakes.map((a) => mistakes.map((_, j) => a.reduce((n, index) => n + wrong[j][index], 0)));
  const wrongByAll = mistakes.length === 0 ? 0 : mistakes[0].filter((index) => wrong.every((set) => set[index] === 1)).length;
  return { shared, wrongByAll, rightByAny: count - wrongByAll };
}

/**
 * The floor a probability is raised to before its logarithm: a float32 softmax rounds a class far below the
 * others to 0, and one such image would make the mean infinite (scikit-learn's log_loss clips the same way).
 */
export const LOG_LOSS_FLOOR = 1e-15;

/**
 * The sum over images of −ln(the true class's probability, at least LOG_LOSS_FLOOR): `p` holds `C`
 * probabilities per image, for the images whose classes are labels[from], labels[from + 1], …
 */
export function logLossSum(p: Float32Array, labels: ArrayLike<number>, from: number, C: number): number {
  let sum = 0;
  for (let i = 0; i * C < p.length; i++) sum -= Math.log(Math.max(p[i * C + labels[from + i]], LOG_LOSS_FLOOR));
  return sum;
}

/** What a greedy ensemble selection maximises: images right, or (finer) the log loss it lowers. */
export type SelectBy = 'accuracy' | 'log-loss';
export const SELECT_BY: readonly SelectBy[] = ['accuracy', 'log-loss'];

/** One step of a greedy ensemble selection: the member added and what the ensemble then gets right. */
export interface SelectionStep {
  /** Index of the member added (into the candidates given). */
  member: number;
  /** Images the ensemble of the members chosen so far (this one included) gets right. */
  correct: number;
  /** Images every member chosen so far gets wrong. */
  wrongByAll: number;
  /** The ensemble's log loss (mean −ln of the true class's probability, nats) with the members chosen so far. */
  logLoss: number;
}

/**
 * Greedy forward selection of an ensemble from candidates (Caruana et al., "Ensemble selection from
 * libraries of models", 2004, without replacement). By `accuracy` (the default): start from the candidate
 * with the most images right, then repeatedly add the one whose addition gets the ensemble (the mean of the
 * probabilities) the most images right; ties go to the smallest `wrongByAll`, then to the first candidate;
 * stop when no candidate adds at least one image. By `log-loss`: start from the candidate with the lowest
 * log loss, add the one that lowers the ensemble's the most (ties: the first), and stop when none lowers
 * it. The log loss sees a member that makes the ensemble surer of images it already gets right, or less sure
 * of wrong answers, which on a few thousand validation images moves no whole image: so it can tell a helpful
 * third member from a useless one where accuracy cannot. Either stops at `maxMembers`. `probabilities[m]`
 * holds candidate m's rows of `classes` probabilities for the images whose classes are `labels`. Each
 * step's figures are exactly what meanProbabilities + mostProbable (and logLossSum) give for the members
 * chosen so far, in the order chosen (float32 sums: another order can round a near tie the other way). Meant
 * for validation images: chosen on the test set, the ensemble's test figure would say nothing.
 */
export function greedySelection(
  probabilities: readonly Float32Array[], labels: ArrayLike<number>, classes: number, maxMembers = 10, by: SelectBy = 'accuracy',
): SelectionStep[] {
  const n = labels.length;
  if (!Number.isInteger(maxMembers) || maxMembers < 1) throw badOption(`greedySelection: maxMembers must be an integer ≥ 1, got ${maxMembers}`);
  if (!SELECT_BY.includes(by)) throw badOption(`greedySelection: by must be ${SELECT_BY.join(' or ')}, got ${String(by)}`);
  for (const p of probabilities) {
    if (p.length !== n * classes) throw badOption(`greedySelection: a candidate has ${p.length} probabilities, not ${n} images × ${classes} classes`);
  }
  const rightOf = (p: Float32Array) => mostProbable(p, classes).map((c, i) => (c === labels[i] ? 1 : 0));
  const right = probabilities.map(rightOf);
  const anyRight = new Uint8Array(n); // images some member chosen so far gets right
  const chosen: Float32Array[] = [];
  const steps: SelectionStep[] = [];
  const better = (a: SelectionStep, b: SelectionStep) => (by === 'log-loss'
    ? a.logLoss < b.logLoss
    : a.correct > b.correct || (a.correct === b.correct && a.wrongByAll < b.wrongByAll));
  const gains = (a: SelectionStep, last: SelectionStep) => (by === 'log-loss' ? a.logLoss < last.logLoss : a.correct >= last.correct + 1);
  while (steps.length < Math.min(maxMembers, probabilities.length)) {
    let step: SelectionStep | null = null;
    for (let m = 0; m < probabilities.length; m++) {
      if (steps.some((st) => st.member === m)) continue;
      // The ensemble with m added, exactly as eval averages it (meanProbabilities, in the order chosen).
      const mean = meanProbabilities([...chosen, probabilities[m]]);
      const correct = rightOf(mean).reduce((a, b) => a + b, 0);
      let wrongByAll = 0;
      for (let i = 0; i < n; i++) if (anyRight[i] === 0 && right[m][i] === 0) wrongByAll++;
      const candidate = { member: m, correct, wrongByAll, logLoss: logLossSum(mean, labels, 0, classes) / n };
      if (step === null || better(candidate, step)) step = candidate;
    }
    if (step === null || (steps.length > 0 && !gains(step, steps[steps.length - 1]))) break;
    steps.push(step);
    chosen.push(probabilities[step.member]);
    for (let i = 0; i < n; i++) anyRight[i] |= right[step.member][i];
  }
  return steps;
}
