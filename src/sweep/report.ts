import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bestCheckpointFile, loadModel } from '../checkpoint.js';
import { percent } from './schedulers.js';
import { defaultMnistDir, loadIdxDataset } from '../data/dataset.js';
import { writeFileAtomic } from '../atomic-write.js';
import { describeMachine } from '../machine.js';
import { checkEnsemble, meanProbabilities } from '../model/ensemble.js';
import { mostProbable } from '../model/model.js';
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
  chosen: { name: string; epoch: number; valAccuracy: number; model: string; testAccuracy: number } | null;
  ensemble: { members: string[]; testAccuracy: number } | null;
}

/** The model a trial leaves: its best validation epoch's, or with no validation split its last epoch's. */
export function trialModel(checkpoint: string): string {
  const best = bestCheckpointFile(checkpoint);
  return existsSync(best) ? best : checkpoint;
}

/** Test accuracy of one model or the mean of several models' probabilities. */
async function testAccuracy(files: string[], dataDir: string): Promise<number> {
  const models = [];
  for (const f of files) models.push(await loadModel(f));
  checkEnsemble(models, files);
  const test = (await loadIdxDataset(dataDir)).test;
  const probabilities = models.map((m) => m.predict(test.images));
  const predicted = mostProbable(models.length > 1 ? meanProbabilities(probabilities) : probabilities[0], models[0].classes);
  let right = 0;
  predicted.forEach((p, i) => { if (p === test.labels[i]) right++; });
  return right / test.count;
}

/**
 * Picks the trial, evaluates it (and the ensemble) on the test set, and writes DIR/results.json and
 * DIR/results.md. `checkpointOf` says where each trial's checkpoint is on this machine.
 */
export async function finishSweep(spec: SweepSpec, specFile: string, trials: Trial[], outcomes: TrialOutcome[],
  checkpointOf: (trial: string) => string, dir: string): Promise<SweepResults> {
  const rows = outcomes.map((o, i) => ({ ...o, flags: trials[i].flags }));
  let chosen: SweepResults['chosen'] = null;
  const candidates = rows.filter((r) => r.status !== 'failed' && r.bestValAccuracy !== null);
  if (candidates.length > 0) {
    const top = candidates.reduce((a, b) => (b.bestValAccuracy! > a.bestValAccuracy! ? b : a));
    const model = trialModel(checkpointOf(top.name));
    const dataDir = trials.find((t) => t.name === top.name)!.options.data ?? defaultMnistDir();
    chosen = { name: top.name, epoch: top.bestEpoch!, valAccuracy: top.bestValAccuracy!, model, testAccuracy: await testAccuracy([model], dataDir) };
  }
  let ensemble: SweepResults['ensemble'] = null;
  const complete = rows.filter((r) => r.status === 'completed');
  if (spec.ensemble && complete.length > 0) {
    const members = complete.map((r) => trialModel(checkpointOf(r.name)));
    ensemble = { members, testAccuracy: await testAccuracy(members, trials[0].options.data ?? defaultMnistDir()) };
  }
  const results: SweepResults = {
    spec: specFile, id: spec.id, machine: describeMachine(), base: spec.base, scheduler: spec.scheduler, budget: spec.epochs,
    trialEpochs: rows.reduce((s, r) => s + r.epochs, 0), trials: rows, chosen, ensemble,
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
      ? `Chosen on validation accuracy: **${r.chosen.name}**, ${percent(r.chosen.valAccuracy)} at epoch ${r.chosen.epoch} (${r.chosen.model}); its test accuracy, measured once: **${percent(r.chosen.testAccuracy)}**.`
      : 'No trial has a validation accuracy (val-size 0, or every trial failed): none is chosen.',
    ...(r.ensemble ? ['', `Ensemble of the ${r.ensemble.members.length} trials that ran to their end (mean of probabilities): test accuracy **${percent(r.ensemble.testAccuracy)}**.`] : []),
    '',
  ].join('\n');
}
