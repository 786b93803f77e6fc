import { unwatchFile, watchFile } from 'node:fs';
import { basename } from 'node:path';
import { loadCheckpoint, type EpochMetrics } from '../checkpoint.js';
import type { TrainEvent } from '../events.js';
import { renderSvg } from '../report/charts.js';
import { curveCharts } from '../report/report-charts.js';

/**
 * The live view of a training run for the `serve` page: the run's epochs so far and their curves (the
 * report's charts, rendered to SVG here, so the page needs no charting code). It is fed either by the
 * training events of `train --serve` or by watching a checkpoint (`serve --watch RUN.ckpt`), which
 * training rewrites after every epoch.
 */

/** What the page receives on connecting and after every epoch (the `run` server-sent event). */
export interface LiveState {
  /** `none`: no run to show; `training`: epochs are coming; `done`: the run ended; `watching`: a checkpoint is watched. */
  status: 'none' | 'training' | 'done' | 'watching';
  /** The run's name: the checkpoint's file name, or the network being trained. */
  run: string | null;
  /** Epochs the run will train (null when unknown). */
  epochs: number | null;
  metrics: EpochMetrics[];
  testAccuracy: number | null;
  /** The curves, as SVG: loss, validation accuracy (with a validation split) and speed. */
  charts: { name: string; title: string; svg: string }[];
  /** Why a curve is missing, or a problem reading the watched checkpoint. */
  notes: string[];
}

export class LiveView {
  private state: LiveState = { status: 'none', run: null, epochs: null, metrics: [], testAccuracy: null, charts: [], notes: [] };
  private readonly listeners = new Set<(s: LiveState) => void>();
  private watched: string | null = null;
  /** Renders one after another, so states reach the page in order. */
  private rendering: Promise<void> = Promise.resolve();

  /** The state now. */
  current(): LiveState {
    return this.state;
  }

  /** Calls `listener` with every new state; returns the function that stops it. */
  subscribe(listener: (s: LiveState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A training event (train --serve): each epoch adds a point to the curves. */
  onEvent(e: TrainEvent): void {
    if (e.type === 'start') this.update({ status: 'training', run: e.spec, epochs: e.epochs, metrics: [], testAccuracy: null });
    else if (e.type === 'epoch') {
      const { type: _t, epochs: _e, lr: _l, elapsedSeconds: _s, checkpoint: _c, best: _b, ...metrics } = e;
      this.update({ metrics: [...this.state.metrics, metrics] });
    } else if (e.type === 'done') this.update({ status: 'done', testAccuracy: e.testAccuracy });
  }

  /** Shows the run in checkpoint `file`, read again whenever the file changes (polled every `intervalMs`). */
  async watch(file: string, intervalMs = 500): Promise<void> {
    this.watched = file;
    await this.reload(file);
    watchFile(file, { interval: intervalMs }, () => void this.reload(file));
  }

  /** Stops watching and rendering. */
  close(): void {
    if (this.watched) unwatchFile(this.watched);
    this.listeners.clear();
  }

  /** Waits until every state asked for has been rendered and sent (for tests and a clean stop). */
  settled(): Promise<void> {
    return this.rendering;
  }

  private async reload(file: string): Promise<void> {
    try {
      const c = await loadCheckpoint(file);
      this.update({ status: 'watching', run: basename(file), epochs: c.options.epochs, metrics: c.metrics, testAccuracy: c.testAccuracy }, []);
    } catch (err) {
      // Missing (not written yet) or unreadable: say so on the page and keep watching.
      this.update({ status: 'watching', run: basename(file) }, [(err as Error).message]);
    }
  }

  private update(change: Partial<LiveState>, extraNotes: string[] = []): void {
    const next = { ...this.state, ...change };
    this.rendering = this.rendering.then(async () => {
      const curves = curveCharts([{ label: next.run ?? 'run', metrics: next.metrics }]);
      const charts = [];
      for (const c of curves.charts) charts.push({ name: c.name, title: c.title, svg: await renderSvg(c.spec) });
      this.state = { ...next, charts, notes: [...extraNotes, ...(next.metrics.length > 0 ? curves.notes : [])] };
      for (const listener of this.listeners) listener(this.state);
    });
    this.state = { ...this.state, ...change }; // the data at once; the charts follow
  }
}
