import type { Checkpoint, EpochMetrics } from '../checkpoint.js';
import { learningRate } from '../options.js';
import { heatmap, lineChart, shareBars, stackedBars, type Chart, type Datum } from './charts.js';

/**
 * The report's charts, from what checkpoints hold (metrics per epoch, options) and from an evaluation on
 * the test set (the confusion matrix). Each is a vega-lite spec (charts.ts); a chart with nothing to show
 * is left out, and `notes` says why.
 */

/** A run to show: its checkpoint, and the label its lines get. */
export interface ReportRun {
  file: string;
  label: string;
  checkpoint: Checkpoint;
}

/** The evaluation the per-class bars and the confusion heat map are drawn from. */
export interface ConfusionSource {
  /** `confusion[t][p]`: test images of class t predicted as p. */
  confusion: number[][];
}

/** Points per epoch of the learning-rate curve: the schedule changes within epochs. */
const LR_SAMPLES = 1000;

/** A run's epochs, as a checkpoint or the live training events have them. */
export interface RunCurves {
  label: string;
  metrics: readonly EpochMetrics[];
}

/**
 * The per-epoch curves of the runs, overlaid (one colour per run): loss, validation accuracy, speed. The
 * report and the live view of `serve` both show these.
 */
export function curveCharts(runs: readonly RunCurves[]): { charts: Chart[]; notes: string[] } {
  const charts: Chart[] = [];
  const notes: string[] = [];
  const color = runs.length > 1 ? { field: 'run', title: 'run' } : undefined;
  const perEpoch = (pick: (m: EpochMetrics) => Datum): Datum[] => runs.flatMap((r) => r.metrics.map((m) => ({ run: r.label, epoch: m.epoch, ...pick(m) })));

  const losses = runs.flatMap((r) => r.metrics.flatMap((m) => [
    { run: r.label, epoch: m.epoch, split: 'train', loss: m.trainLoss },
    ...(m.valLoss === null ? [] : [{ run: r.label, epoch: m.epoch, split: 'validation', loss: m.valLoss }]),
  ]));
  if (losses.length === 0) {
    notes.push('No epoch has finished yet: no curves.');
    return { charts, notes };
  }
  charts.push({
    name: 'loss', title: 'Loss per epoch (mean per image)',
    spec: lineChart(losses, { x: { field: 'epoch', title: 'epoch', integer: true }, y: { field: 'loss', title: 'loss' }, color, dash: { field: 'split', title: 'split' }, points: true }),
  });

  const accuracy = perEpoch((m) => ({ accuracy: m.valAccuracy })).filter((d) => d.accuracy !== null);
  if (accuracy.length > 0) {
    charts.push({
      name: 'validation-accuracy', title: 'Validation accuracy per epoch',
      spec: lineChart(accuracy, { x: { field: 'epoch', title: 'epoch', integer: true }, y: { field: 'accuracy', title: 'validation accuracy', percent: true }, color, points: true }),
    });
  } else {
    notes.push('No validation images were held out (--val-size 0): no validation loss or accuracy.');
  }
  charts.push({
    name: 'samples-per-second', title: 'Training speed per epoch (images per second, evaluation excluded)',
    spec: lineChart(perEpoch((m) => ({ speed: m.samplesPerSecond })), {
      x: { field: 'epoch', title: 'epoch', integer: true }, y: { field: 'speed', title: 'images / s', zero: true }, color, points: true,
    }),
  });
  return { charts, notes };
}

/** The report's training charts: the curves, then the learning-rate schedule and each run's step split. */
export function trainingCharts(runs: readonly ReportRun[]): { charts: Chart[]; notes: string[] } {
  const { charts, notes } = curveCharts(runs.map((r) => ({ label: r.label, metrics: r.checkpoint.metrics })));
  if (charts.length === 0) return { charts, notes };
  const color = runs.length > 1 ? { field: 'run', title: 'run' } : undefined;
  const rates = runs.flatMap((r) => {
    const o = r.checkpoint.options;
    const perEpochSamples = Math.max(1, Math.floor(LR_SAMPLES / o.epochs));
    const points: Datum[] = [];
    for (let e = 0; e < o.epochs; e++) {
      for (let s = 0; s < perEpochSamples; s++) points.push({ run: r.label, epoch: e + s / perEpochSamples, lr: learningRate(o, e, s, perEpochSamples) });
    }
    return points;
  });
  charts.push({
    name: 'learning-rate', title: 'Learning-rate schedule (over the whole run, as its options define it)',
    spec: lineChart(rates, { x: { field: 'epoch', title: 'epoch' }, y: { field: 'lr', title: 'learning rate', zero: true }, color }),
  });

  const parts = ['gradients', 'update', 'barriers'] as const;
  runs.forEach((r, i) => {
    const timed = r.checkpoint.metrics.filter((m) => m.stepMicros);
    if (timed.length === 0) {
      notes.push(`${r.label}: its checkpoint keeps no step timings (written before checkpoints kept stepMicros): no step split.`);
      return;
    }
    const values = timed.flatMap((m) => parts.map((part, order) => ({ epoch: m.epoch, part, order, micros: m.stepMicros![part] })));
    charts.push({
      name: runs.length > 1 ? `step-split-${i + 1}` : 'step-split',
      title: `Where a step's time goes: mean µs per step of a worker${runs.length > 1 ? ` (${r.label})` : ''}`,
      spec: stackedBars(values, { x: { field: 'epoch', title: 'epoch' }, part: { field: 'part', title: 'phase', order: [...parts] }, y: { field: 'micros', title: 'µs per step' } }),
    });
  });
  return { charts, notes };
}

/** Per-class accuracy bars and the 10×10 confusion heat map of an evaluation. */
export function testCharts(e: ConfusionSource, of: string): Chart[] {
  const perClass = e.confusion.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return { digit: String(c), accuracy: total > 0 ? row[c] / total : null };
  });
  const worst = Math.min(...perClass.map((d) => d.accuracy ?? 1));
  // Start the axis a little below the worst class, so that 99.0 % and 99.8 % look different.
  const floor = Math.max(0, Math.floor((worst - 0.02) * 50) / 50);
  const cells = e.confusion.flatMap((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((count, p) => ({ true: String(t), predicted: String(p), count, shade: total > 0 ? count / total : 0 }));
  });
  return [
    {
      name: 'per-class-accuracy', title: `Test accuracy per class (${of})`,
      spec: shareBars(perClass, { x: { field: 'digit', title: 'true digit' }, y: { field: 'accuracy', title: 'test accuracy' }, floor }),
    },
    {
      name: 'confusion', title: `Confusion matrix on the test set (${of}): rows the true digit, columns the predicted one`,
      spec: heatmap(cells, { row: { field: 'true', title: 'true digit' }, column: { field: 'predicted', title: 'predicted digit' }, count: 'count' }),
    },
  ];
}
