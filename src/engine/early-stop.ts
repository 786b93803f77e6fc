import type { EpochMetrics } from '../events.js';

/**
 * `--early-stop N [--min-delta D]`: a run stops once validation accuracy has not risen by more than D
 * above its best for N epochs in a row (Keras' EarlyStopping, on accuracy). A resumed run replays the
 * epochs it has, so it stops where an uninterrupted run would.
 */
export class EarlyStop {
  private best = Number.NEGATIVE_INFINITY;
  private since = 0;

  constructor(private readonly patience: number, private readonly minDelta: number, history: readonly EpochMetrics[] = []) {
    for (const m of history) this.observe(m);
  }

  /** Records a finished epoch; true when the run should stop after it. Never true with patience 0. */
  observe(m: EpochMetrics): boolean {
    if (this.patience === 0 || m.valAccuracy === null) return false;
    if (m.valAccuracy > this.best + this.minDelta) {
      this.best = m.valAccuracy;
      this.since = 0;
    } else {
      this.since++;
    }
    return this.since >= this.patience;
  }
}
