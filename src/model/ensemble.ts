import { badOption } from '../errors.js';
import type { Model, Pixels, PredictOptions } from './model.js';

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
  /** Images every member gets wrong: no way of combining these members gets them right. */
  wrongByAll: number;
  /** Images at least one member gets right: the most any combination of these members could reach. */
  rightByAny: number;
}

/**
 * The overlap of the members' mistakes on `count` images, from each member's wrong image indices
 * (each list ascending, as `eval` collects them).
 */
export function mistakeOverlap(mistakes: readonly (readonly number[])[], count: number): MistakeOverlap {
  const wrong = mistakes.map((list) => {
    const set = new Uint8Array(count);
    for (const i of list) set[i] = 1;
    return set;
  });
  const shared = mistakes.map((a, i) => mistakes.map((_, j) => a.reduce((n, index) => n + wrong[j][index], 0)));
  const wrongByAll = mistakes.length === 0 ? 0 : mistakes[0].filter((index) => wrong.every((set) => set[index] === 1)).length;
  return { shared, wrongByAll, rightByAny: count - wrongByAll };
}
