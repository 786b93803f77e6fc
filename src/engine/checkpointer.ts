import { existsSync } from 'node:fs';
import { bestCheckpointFile, saveCheckpoint, savedOptions, type Checkpoint, type Position } from '../checkpoint.js';
import type { BestEpoch, EpochMetrics } from '../events.js';
import type { ModelSpec } from '../model/spec.js';
import type { ResolvedTrainOptions } from '../options.js';
import type { SharedViews } from './memory.js';

/**
 * Writes the run's checkpoint (`out`) from the shared memory, and with `keepBest` the model of the best
 * validation epoch so far beside it (bestCheckpointFile). It also knows what is on disk, so that a
 * failure says truly whether a checkpoint is there to resume from.
 */
export class Checkpointer {
  /** With keepBest: the epoch of the best validation accuracy so far and where its model is. */
  best: BestEpoch | null = null;
  private readonly bestFile: string | null;
  /** The file that holds this run's last saved state: `out` once written (or when resuming from it). */
  private saved: string | null;

  constructor(
    private readonly o: ResolvedTrainOptions,
    private readonly spec: ModelSpec,
    private readonly views: SharedViews,
    resumed: Checkpoint | null,
    /** What the checkpoint records besides the run's state (the data set it was trained on). */
    private readonly extra: Pick<Checkpoint, 'data'>,
  ) {
    this.bestFile = o.keepBest && o.out ? bestCheckpointFile(o.out) : null;
    this.saved = resumed && o.out !== null && o.out === o.resume ? o.out : null;
    // A resumed run continues the comparison if its best file is there.
    if (this.bestFile && resumed && existsSync(this.bestFile)) {
      for (const m of resumed.metrics) if (this.beatsBest(m)) this.best = { epoch: m.epoch, valAccuracy: m.valAccuracy, checkpoint: this.bestFile };
    }
  }

  /** Saves the run as it stands (testAccuracy: null until the test set is evaluated at the end). */
  async save(position: Position, metrics: EpochMetrics[], testAccuracy: number | null, file = this.o.out): Promise<void> {
    if (!file) return;
    const { o, views: v } = this;
    await saveCheckpoint(file, {
      spec: this.spec, params: v.params.slice(), ema: o.ema > 0 ? v.ema.slice() : null,
      optimizer: { kind: o.optimizer.kind, state: Object.fromEntries(Object.entries(v.optimizerState).map(([name, state]) => [name, state.slice()])) },
      options: { ...savedOptions(o), spec: this.spec }, position, rng: { kind: 'counter', seed: o.seed }, metrics, testAccuracy,
      ...this.extra,
    });
    if (file === o.out) this.saved = file;
  }

  /** With keepBest: epoch `m` has a higher validation accuracy than every epoch before it (the first such wins a tie). */
  private beatsBest(m: EpochMetrics): m is EpochMetrics & { valAccuracy: number } {
    return this.bestFile !== null && m.valAccuracy !== null && (!this.best || m.valAccuracy > this.best.valAccuracy);
  }

  /** With keepBest: when the epoch just finished (`m`) beats every epoch before it, saves its model as the best. Returns whether it did. */
  async keepIfBest(m: EpochMetrics, position: Position, metrics: EpochMetrics[]): Promise<boolean> {
    if (!this.beatsBest(m)) return false;
    await this.save(position, metrics, null, this.bestFile!);
    this.best = { epoch: m.epoch, valAccuracy: m.valAccuracy, checkpoint: this.bestFile! };
    return true;
  }

  /** For an error message, what is on disk: ` The last checkpoint (run.ckpt) is intact.`, or that this run wrote none. */
  get whatIsSaved(): string {
    if (this.saved) return ` The last checkpoint (${this.saved}) is intact.`;
    return this.o.out ? ' No checkpoint was written.' : '';
  }
}
