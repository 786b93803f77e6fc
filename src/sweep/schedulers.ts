import { percent } from '../format.js';
import type { SchedulerSpec } from './spec.js';

/**
 * Early stopping of trials, decided from epoch-level validation accuracy only (the test set never reaches
 * here). A decision is a pure function of the sweep's results log up to and including the report it is
 * about, so the same seed and the same order of results give the same decisions, on one machine or many.
 */

/** One epoch's result of one trial, as the log keeps it (in arrival order). */
export interface EpochReport {
  trial: string;
  epoch: number;
  valAccuracy: number | null;
}

export type Decision = { stop: false } | { stop: true; reason: string };

const GO_ON: Decision = { stop: false };

/** The epochs at which a trial of `budget` epochs is judged: every one for the median rule, the rungs for ASHA. */
export function decisionEpochs(s: SchedulerSpec, budget: number): number[] {
  if (s.kind === 'none') return [];
  if (s.kind === 'median') return Array.from({ length: budget - s.grace + 1 }, (_, i) => s.grace + i).filter((e) => e < budget);
  return ashaRungs(s.grace, s.reduction, budget);
}

/** ASHA's rungs below the budget: grace·reduction^k epochs, k = 0, 1, … */
export function ashaRungs(grace: number, reduction: number, budget: number): number[] {
  const rungs: number[] = [];
  for (let r = grace; r < budget; r *= reduction) rungs.push(r);
  return rungs;
}

/** Whether the trial of `log[at]` goes on after that epoch. */
export function decide(s: SchedulerSpec, budget: number, log: readonly EpochReport[], at: number): Decision {
  const me = log[at];
  if (me.valAccuracy === null || !decisionEpochs(s, budget).includes(me.epoch)) return GO_ON;
  const seen = log.slice(0, at + 1);
  return s.kind === 'asha' ? asha(s.reduction, seen, at) : s.kind === 'median' ? median(s.minTrials, seen, at) : GO_ON;
}

/**
 * Asynchronous successive halving (Li et al. 2020, as Ray Tune's ASHA): a trial reaching a rung goes on
 * if it ranks in the top ⌊n/reduction⌋ (at least one) of the n trials that have reached that rung so far,
 * itself included; ties go to the trial that got there first. The first to arrive always goes on.
 */
function asha(reduction: number, seen: readonly EpochReport[], at: number): Decision {
  const me = seen[at];
  const peers = seen.map((r, i) => ({ r, i })).filter(({ r }) => r.epoch === me.epoch && r.valAccuracy !== null);
  peers.sort((a, b) => b.r.valAccuracy! - a.r.valAccuracy! || a.i - b.i);
  const rank = peers.findIndex(({ i }) => i === at) + 1;
  const keep = Math.max(1, Math.floor(peers.length / reduction));
  if (rank <= keep) return GO_ON;
  return { stop: true, reason: `asha: rank ${rank} of ${peers.length} at rung ${me.epoch}, which keeps the top ${keep}` };
}

/**
 * The median stopping rule (Golovin et al. 2017, Google Vizier): stop a trial whose best validation
 * accuracy so far is below the median of the other trials' mean accuracy over the same epochs, among the
 * others that have reached this epoch (at least minTrials of them, else it goes on).
 */
function median(minTrials: number, seen: readonly EpochReport[], at: number): Decision {
  const me = seen[at];
  const byTrial = new Map<string, EpochReport[]>();
  for (const r of seen) if (r.valAccuracy !== null) byTrial.set(r.trial, [...(byTrial.get(r.trial) ?? []), r]);
  const best = Math.max(...byTrial.get(me.trial)!.filter((r) => r.epoch <= me.epoch).map((r) => r.valAccuracy!));
  const means: number[] = [];
  for (const [trial, reports] of byTrial) {
    if (trial === me.trial) continue;
    const upTo = reports.filter((r) => r.epoch <= me.epoch);
    if (!upTo.some((r) => r.epoch === me.epoch)) continue;
    means.push(upTo.reduce((s, r) => s + r.valAccuracy!, 0) / upTo.length);
  }
  if (means.length < minTrials) return GO_ON;
  means.sort((a, b) => a - b);
  const mid = means.length / 2;
  const m = means.length % 2 === 1 ? means[Math.floor(mid)] : (means[mid - 1] + means[mid]) / 2;
  if (best >= m) return GO_ON;
  return { stop: true, reason: `median: best ${percent(best)} below the median ${percent(m)} of ${means.length} trials' means at epoch ${me.epoch}` };
}
