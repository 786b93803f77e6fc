import { percent } from '../format.js';
import type { SelectBy } from '../model/ensemble.js';

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
  selection: { model: string; valAccuracy: number; valLogLoss?: number; wrongByAll: number }[];
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
  /** Whether the selection used is the one over recalibrated candidates (eval --recalibrate-bn). */
  recalibrateBn: boolean;
  /** The command that trains the choice on all 60,000 images (in a new folder). */
  next: string;
  /** selection.json's object. */
  json: object;
  /** selection.md's text. */
  markdown: string;
}

/** A selection's final ensemble validation accuracy. */
const finalAccuracy = (e: SelectionEval) => e.selection[e.selection.length - 1].valAccuracy;
/** A selection's final ensemble validation log loss (eval reports it for every step). */
const finalLogLoss = (e: SelectionEval) => {
  const loss = e.selection[e.selection.length - 1].valLogLoss;
  if (loss === undefined) throw new Error('committeeRecord: eval reported no validation log loss (an eval older than --select-by?)');
  return loss;
};

/**
 * The committee `evaluation.selection` chose among `candidates`. With `recalibrated` (the same eval with
 * --recalibrate-bn: every candidate's batch norm statistics recomputed on its own training images), the
 * selection whose final ensemble validation accuracy is higher is used (with `selectBy` log-loss: whose
 * final log loss is lower); ties go to the plain one. `conv`
 * is the --conv the pool was run with (repeated in `next`), `command` and `machine` are the run's, for the record.
 */
export function committeeRecord(
  evaluation: SelectionEval, candidates: readonly CommitteeCandidate[],
  options: { maxMembers: number; command: string; machine: string; conv?: string; selectBy?: SelectBy }, recalibrated?: SelectionEval,
): CommitteeRecord {
  const membersOf = (ev: SelectionEval) => {
    if (ev.members.length !== candidates.length) throw new Error(`committeeRecord: eval reports ${ev.members.length} candidates, ${candidates.length} were given`);
    if (ev.selection.length === 0) throw new Error('committeeRecord: eval chose no candidate (was it run with --select?)');
    return ev.selection.map((step) => {
      const i = candidates.findIndex((c) => c.model === step.model);
      if (i < 0) throw new Error(`committeeRecord: eval chose ${step.model}, which is no candidate given`);
      return i;
    });
  };
  const plainIndex = membersOf(evaluation);
  const recalibratedIndex = recalibrated === undefined ? null : membersOf(recalibrated);
  const byLoss = options.selectBy === 'log-loss';
  const recalibrateBn = recalibrated !== undefined
    && (byLoss ? finalLogLoss(recalibrated) < finalLogLoss(evaluation) : finalAccuracy(recalibrated) > finalAccuracy(evaluation));
  const e = recalibrateBn ? recalibrated : evaluation;
  const chosenIndex = recalibrateBn ? recalibratedIndex! : plainIndex;
  const listOf = (index: number[]) => index.map((i) => candidates[i].member).join(',');
  const chosen = listOf(chosenIndex);
  const recal = recalibrateBn ? ' --recalibrate-bn' : '';
  // A pool's files held out validation images: the choice is trained again on all images, in a new folder.
  const next = chosenIndex.length > 1
    ? `npm run ensemble -- --members ${chosen}${options.conv === undefined ? '' : ` --conv ${options.conv}`}${recal} --dir NEW-DIR`
    : `npm run best --${candidates[chosenIndex[0]].bestFlags} --out NEW.ckpt${recalibrateBn ? ', then mnist-dp eval --recalibrate-bn --model NEW.ckpt' : ''} (no other candidate ${byLoss ? 'lowers the log loss' : 'adds an image'}: a single model)`;
  const other = recalibrated === undefined ? null : {
    recalibrateBn: !recalibrateBn,
    chosen: listOf(recalibrateBn ? plainIndex : recalibratedIndex!),
    valAccuracy: finalAccuracy(recalibrateBn ? evaluation : recalibrated),
    ...(byLoss ? { valLogLoss: finalLogLoss(recalibrateBn ? evaluation : recalibrated) } : {}),
  };
  const json = {
    command: options.command, machine: options.machine, valSize: e.valSize, selectBy: options.selectBy ?? 'accuracy', recalibrateBn,
    candidates: candidates.map((c, i) => ({
      model: c.model, member: c.member, differences: c.differences, valAccuracy: evaluation.members[i].valAccuracy,
      ...(recalibrated === undefined ? {} : { valAccuracyRecalibrated: recalibrated.members[i].valAccuracy }),
      misclassified: e.members[i].misclassified,
    })),
    sharedMistakes: e.sharedMistakes, wrongByAll: e.wrongByAll,
    selection: e.selection.map((step, k) => ({ ...step, member: candidates[chosenIndex[k]].member })), chosen, next,
    ...(other === null ? {} : { other }),
  };
  const labels = candidates.map((c) => c.member);
  const mode = recalibrateBn ? 'batch norm recalibrated' : 'plain';
  const markdown = [
    `# A committee chosen on ${e.valSize.toLocaleString('en-US')} validation images (\`${options.command}\`, ${options.machine})`,
    '',
    ...(recalibrated === undefined
      ? ['| candidate | trained otherwise | validation accuracy | wrong |', '| --- | --- | ---: | ---: |']
      : ['| candidate | trained otherwise | validation accuracy | wrong | batch norm recalibrated | wrong |', '| --- | --- | ---: | ---: | ---: | ---: |']),
    ...candidates.map((c, i) => {
      const row = `| ${c.member} | ${c.differences.join(', ')} | ${percent(evaluation.members[i].valAccuracy)} | ${evaluation.members[i].misclassified.length} |`;
      return recalibrated === undefined ? row : `${row} ${percent(recalibrated.members[i].valAccuracy)} | ${recalibrated.members[i].misclassified.length} |`;
    }),
    '',
    `Mistakes in common (both wrong; the diagonal: each alone), in the order above${recalibrated === undefined ? '' : `, ${mode}`}; ${e.wrongByAll} images every candidate gets wrong:`,
    '',
    `| | ${labels.join(' | ')} |`,
    `| --- | ${labels.map(() => '---:').join(' | ')} |`,
    ...e.sharedMistakes.map((row, i) => `| ${labels[i]} | ${row.join(' | ')} |`),
    '',
    `Greedy selection${byLoss ? ' by validation log loss' : ''} (at most ${options.maxMembers} members, equal weights${recalibrated === undefined ? '' : `, ${mode}`}; each figure the ensemble of the members so far, in this order):`,
    '',
    ...(byLoss
      ? ['| step | added | ensemble validation accuracy | log loss | wrong by every member chosen |', '| ---: | --- | ---: | ---: | ---: |',
        ...e.selection.map((step, k) => `| ${k + 1} | ${labels[chosenIndex[k]]} | ${percent(step.valAccuracy)} | ${step.valLogLoss!.toFixed(5)} | ${step.wrongByAll} |`)]
      : ['| step | added | ensemble validation accuracy | wrong by every member chosen |', '| ---: | --- | ---: | ---: |',
        ...e.selection.map((step, k) => `| ${k + 1} | ${labels[chosenIndex[k]]} | ${percent(step.valAccuracy)} | ${step.wrongByAll} |`)]),
    '',
    ...(other === null ? [] : [
      `The selection ${other.recalibrateBn ? 'with batch norm recalibrated' : 'plain'} ends at ${percent(other.valAccuracy)}${other.valLogLoss === undefined ? '' : ` (log loss ${other.valLogLoss.toFixed(5)})`} with \`${other.chosen}\`; the one above is used (the ${byLoss ? 'lower log loss' : 'higher'}; ties: plain).`,
      '',
    ]),
    `Chosen: \`${chosen}\`. Trained on all 60,000 images and tested once: \`${next}\`.`,
    '',
  ].join('\n');
  return { chosen, recalibrateBn, next, json, markdown };
}
