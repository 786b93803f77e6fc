import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bestCheckpointFile } from '../checkpoint.js';
import { percent } from '../format.js';
import { writeFileAtomic } from '../atomic-write.js';
import { describeMachine } from '../machine.js';
import { resolveOptions } from '../options.js';
import { evaluateModels } from '../evaluate.js';
import { writeReport, type EvaluatedModels } from '../report/write.js';
import type { SweepSpec, Trial } from './spec.js';
import type { TrialOutcome } from './trial.js';

/**
 * The end of a sweep: the results table, the trial chosen on validation accuracy alone, and the test set
 * once, for that trial's model (and, for an ensemble spec, for the ensemble of the trials that ran to
 * their end). Nothing here feeds back into a decision.
 */

export interface SweepResults {
  spec: string;
  id: string;
  machine: string;
  /** The flags every trial shares; each trial's row has its own. */
  base: SweepSpec['base'];
  scheduler: SweepSpec['scheduler'];
  budget: number;
  /** Epochs trained by all trials together: what the sweep cost. */
  trialEpochs: number;
  trials: (TrialOutcome & { flags: Trial['flags'] })[];
  /** The trial with the best validation accuracy (ties: the earlier trial), with its best epoch's model's test accuracy; null without validation. */
  /** testAccuracy null: the spec said "test": false (a search whose finalists are tested later). valImages: the size of its validation split. */
  chosen: { name: string; epoch: number; valAccuracy: number; valImages: number; model: string; testAccuracy: number | null } | null;
  ensemble: { members: string[]; testAccuracy: number | null } | null;
  /** DIR/report.html: every trial's curves, and the test set's pages of the ensemble or the chosen trial; null when no model was chosen. */
  report: string | null;
}

/** The model a trial leaves: its best validation epoch's, or with no validation split its last epoch's. */
export function trialModel(checkpoint: string): string {
  const best = bestCheckpointFile(checkpoint);
  return existsSync(best) ? best : checkpoint;
}

/**
 * Picks the trial, evaluates it (and the ensemble) on the test set, and writes DIR/results.json,
 * DIR/results.md and DIR/report.html (every trial's curves overlaid; the test-set pages of the ensemble
 * for an ensemble spec, else of the chosen trial). `checkpointOf` says where each trial's checkpoint is on
 * this machine.
 */
export async function finishSweep(spec: SweepSpec, specFile: string, trials: Trial[], outcomes: TrialOutcome[],
  checkpointOf: (trial: string) => string, dir: string): Promise<SweepResults> {
  const rows = outcomes.map((o, i) => ({ ...o, flags: trials[i].flags }));
  const optionsOf = (name: string) => trials.find((t) => t.name === name)!.options;
  const dataOf = (name: string) => optionsOf(name).data;
  let chosen: SweepResults['chosen'] = null;
  let shown: EvaluatedModels | null = null;
  const candidates = rows.filter((r) => r.status !== 'failed' && r.bestValAccuracy !== null);
  if (candidates.length > 0) {
    const top = candidates.reduce((a, b) => (b.bestValAccuracy! > a.bestValAccuracy! ? b : a));
    const model = trialModel(checkpointOf(top.name));
    if (spec.test) shown = { files: [model], tta: false, evaluation: await evaluateModels([model], { tta: false, data: dataOf(top.name) }) };
    const valImages = resolveOptions({ ...optionsOf(top.name), workers: 1 }).valSize;
    chosen = { name: top.name, epoch: top.bestEpoch!, valAccuracy: top.bestValAccuracy!, valImages, model, testAccuracy: shown?.evaluation.accuracy ?? null };
  }
  let ensemble: SweepResults['ensemble'] = null;
  const complete = rows.filter((r) => r.status === 'completed');
  if (spec.ensemble && complete.length > 0) {
    const members = complete.map((r) => trialModel(checkpointOf(r.name)));
    // The members share a data set, or evaluateModels refuses the ensemble.
    if (spec.test) shown = { files: members, tta: false, evaluation: await evaluateModels(members, { tta: false, data: dataOf(complete[0].name) }) };
    ensemble = { members, testAccuracy: shown?.evaluation.accuracy ?? null };
  }
  const ran = rows.filter((r) => r.status !== 'failed' && existsSync(checkpointOf(r.name))).map((r) => checkpointOf(r.name));
  const report = chosen && ran.length > 0 ? join(dir, 'report.html') : null;
  if (report) await writeReport(ran, shown, report); // without a test set ("test": false): the curves alone
  const results: SweepResults = {
    spec: specFile, id: spec.id, machine: describeMachine(), base: spec.base, scheduler: spec.scheduler, budget: spec.epochs,
    trialEpochs: rows.reduce((s, r) => s + r.epochs, 0), trials: rows, chosen, ensemble, report,
  };
  await writeFileAtomic(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFileAtomic(join(dir, 'results.md'), resultsMarkdown(results));
  return results;
}

const schedulerText = (s: SweepSpec['scheduler']) =>
  s.kind === 'asha' ? `ASHA (grace ${s.grace}, reduction ${s.reduction})` : s.kind === 'median' ? `median stopping rule (grace ${s.grace}, min trials ${s.minTrials})` : 'no early stopping of trials';

/** The table of trials (settings, epochs, best validation accuracy, time, why it stopped); the status table of a running sweep too. */
export function trialTable(rows: { name: string; flags: Trial['flags']; status: string; epochs: number; bestValAccuracy: number | null; bestEpoch: number | null; seconds: number; reason: string }[]): string {
  return [
    '| trial | settings | epochs | best val acc (epoch) | time | status |',
    '| --- | --- | ---: | ---: | ---: | --- |',
    ...rows.map((r) => `| ${r.name} | ${Object.entries(r.flags).map(([k, v]) => `${k} ${v}`).join(', ')} | ${r.epochs} | ` +
      `${r.bestValAccuracy === null ? '' : `${percent(r.bestValAccuracy)} (${r.bestEpoch})`} | ${r.seconds.toFixed(1)} s | ${r.status}${r.reason && r.reason !== r.status ? `: ${r.reason}` : ''} |`),
  ].join('\n');
}

/**
 * One standard error, in points, of an accuracy p measured on n images (the binomial √(p(1−p)/n)): how far
 * the validation split alone moves a figure, so that a reader does not rank trials on noise.
 */
export function standardErrorPoints(p: number, n: number): number {
  return 100 * Math.sqrt((p * (1 - p)) / n);
}

export function resultsMarkdown(r: SweepResults): string {
  return [
    `# Sweep ${r.id} (${r.spec})`,
    '',
    `${r.trials.length} trials, budget ${r.budget} epochs, ${schedulerText(r.scheduler)}; ${r.trialEpochs} trial-epochs trained. ${r.machine}.`,
    '',
    `Every trial: ${Object.entries(r.base).map(([k, v]) => `--${k} ${v}`).join(' ') || 'the train defaults'}; its own settings below.`,
    '',
    trialTable(r.trials),
    '',
    r.chosen
      ? `Chosen on validation accuracy: **${r.chosen.name}**, ${percent(r.chosen.valAccuracy)} at epoch ${r.chosen.epoch} (${r.chosen.model}); ${r.chosen.testAccuracy === null
        ? 'the test set was not evaluated (the spec says "test": false).' : `its test accuracy, measured once: **${percent(r.chosen.testAccuracy)}**.`} ` +
        `On ${r.chosen.valImages.toLocaleString('en-US')} validation images one standard error of that figure is ±${standardErrorPoints(r.chosen.valAccuracy, r.chosen.valImages).toFixed(2)} ` +
        'points: trials closer than about twice that are not told apart by this split.'
      : 'No trial has a validation accuracy (val-size 0, or every trial failed): none is chosen.',
    ...(r.ensemble?.testAccuracy != null ? ['', `Ensemble of the ${r.ensemble.members.length} trials that ran to their end (mean of probabilities): test accuracy **${percent(r.ensemble.testAccuracy)}**.`] : []),
    '',
    ...(r.report ? [r.chosen?.testAccuracy === null ? 'Curves of every trial: report.html.' : 'Curves of every trial, and the test set per class, confusion and mistakes of the model above: report.html.', ''] : []),
  ].join('\n');
}
