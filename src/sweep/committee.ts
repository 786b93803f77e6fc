import { percent } from '../format.js';

/**
 * The record of a committee chosen on validation (`npm run ensemble -- --select`): what `mnist-dp eval
 * --split val --select N --json` said about the candidates, as selection.json and selection.md, with the
 * command that trains the choice on all 60,000 images. Pure: the script runs eval and writes the files.
 */

/** The part of `eval --split val --select N --json` (several models) this record reads. */
export interface SelectionEval {
  valSize: number;
  members: { valAccuracy: number; misclassified: number[] }[];
  sharedMistakes: number[][];
  wrongByAll: number;
  selection: { model: string; valAccuracy: number; wrongByAll: number }[];
}

/** One candidate, in the order eval was given them. */
export interface CommitteeCandidate {
  /** The checkpoint file, as given to eval. */
  model: string;
  /** RECIPE:SEED, the name `npm run ensemble -- --members` takes. */
  member: string;
  /** How the file was trained otherwise than its recipe says (empty: as the recipe says). */
  differences: string[];
  /** `npm run best`'s flags that train this candidate alone, e.g. ` --model cnn-strided --epochs 30 --seed 1`. */
  bestFlags: string;
}

export interface CommitteeRecord {
  /** The chosen RECIPE:SEED list, in the order chosen. */
  chosen: string;
  /** The command that trains the choice on all 60,000 images (in a new folder). */
  next: string;
  /** selection.json's object. */
  json: object;
  /** selection.md's text. */
  markdown: string;
}

/**
 * The committee `evaluation.selection` chose among `candidates`. `conv` is the --conv the pool was run
 * with (repeated in `next`), `command` and `machine` are the run's, for the record.
 */
export function committeeRecord(evaluation: SelectionEval, candidates: readonly CommitteeCandidate[], options: { maxMembers: number; command: string; machine: string; conv?: string }): CommitteeRecord {
  const e = evaluation;
  if (e.members.length !== candidates.length) throw new Error(`committeeRecord: eval reports ${e.members.length} candidates, ${candidates.length} were given`);
  if (e.selection.length === 0) throw new Error('committeeRecord: eval chose no candidate (was it run with --select?)');
  const chosenIndex = e.selection.map((step) => {
    const i = candidates.findIndex((c) => c.model === step.model);
    if (i < 0) throw new Error(`committeeRecord: eval chose ${step.model}, which is no candidate given`);
    return i;
  });
  const chosen = chosenIndex.map((i) => candidates[i].member).join(',');
  // A pool's files held out validation images: the choice is trained again on all images, in a new folder.
  const next = chosenIndex.length > 1
    ? `npm run ensemble -- --members ${chosen}${options.conv === undefined ? '' : ` --conv ${options.conv}`} --dir NEW-DIR`
    : `npm run best --${candidates[chosenIndex[0]].bestFlags} --out NEW.ckpt (no other candidate adds an image: a single model)`;
  const json = {
    command: options.command, machine: options.machine, valSize: e.valSize,
    candidates: candidates.map((c, i) => ({ model: c.model, member: c.member, differences: c.differences, valAccuracy: e.members[i].valAccuracy, misclassified: e.members[i].misclassified })),
    sharedMistakes: e.sharedMistakes, wrongByAll: e.wrongByAll,
    selection: e.selection.map((step, k) => ({ ...step, member: candidates[chosenIndex[k]].member })), chosen, next,
  };
  const labels = candidates.map((c) => c.member);
  const markdown = [
    `# A committee chosen on ${e.valSize.toLocaleString('en-US')} validation images (\`${options.command}\`, ${options.machine})`,
    '',
    '| candidate | trained otherwise | validation accuracy | wrong |',
    '| --- | --- | ---: | ---: |',
    ...candidates.map((c, i) => `| ${c.member} | ${c.differences.join(', ')} | ${percent(e.members[i].valAccuracy)} | ${e.members[i].misclassified.length} |`),
    '',
    `Mistakes in common (both wrong; the diagonal: each alone), in the order above; ${e.wrongByAll} images every candidate gets wrong:`,
    '',
    `| | ${labels.join(' | ')} |`,
    `| --- | ${labels.map(() => '---:').join(' | ')} |`,
    ...e.sharedMistakes.map((row, i) => `| ${labels[i]} | ${row.join(' | ')} |`),
    '',
    `Greedy selection (at most ${options.maxMembers} members, equal weights; each figure the ensemble of the members so far, in this order):`,
    '',
    '| step | added | ensemble validation accuracy | wrong by every member chosen |',
    '| ---: | --- | ---: | ---: |',
    ...e.selection.map((step, k) => `| ${k + 1} | ${labels[chosenIndex[k]]} | ${percent(step.valAccuracy)} | ${step.wrongByAll} |`),
    '',
    `Chosen: \`${chosen}\`. Trained on all 60,000 images and tested once: \`${next}\`.`,
    '',
  ].join('\n');
  return { chosen, next, json, markdown };
}
