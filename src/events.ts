/** Metrics of one finished epoch (a checkpoint keeps one per epoch trained). */
export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  valLoss: number | null;
  valAccuracy: number | null;
  samplesPerSecond: number;
  seconds: number;
  /** Mean µs per step a worker spent computing gradients, reducing and updating, and at the barriers (absent in checkpoints written before it was kept). */
  stepMicros?: StepMicros;
}

/** Where a step's time went, in mean µs per step of a worker. */
export interface StepMicros {
  gradients: number;
  update: number;
  barriers: number;
  /** In an MPI job: the gradients' exchange between ranks (part of `barriers`). */
  exchange?: number;
}

/** Progress of a training run, as the library's callback, the CLI's progress and `--json` lines see it. */
export type TrainEvent = StartEvent | StepEvent | EpochEvent | DoneEvent;

export interface StartEvent {
  type: 'start';
  spec: string;
  /** The optimiser and the rest of the training recipe, in one line (describeRecipe). */
  recipe: string;
  kernels: string;
  workers: number;
  parameters: number;
  trainSize: number;
  valSize: number;
  testSize: number;
  epochs: number;
  batchSize: number;
  microBatch: number;
  stepsPerEpoch: number;
  /** Where the run starts: 0/0 for a new run, later when resuming. */
  startEpoch: number;
  startStep: number;
  /** The checkpoint file this run writes (null: none); with the default `out` taken, the next free `mnist-dp-N.ckpt`. */
  checkpoint: string | null;
}

/** Sent at most every 100 ms and after the last step of each epoch. Epochs count from 1. */
export interface StepEvent {
  type: 'step';
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  /** Mean training loss per sample so far in this epoch. */
  loss: number;
  samplesPerSecond: number;
  lr: number;
}

export interface EpochEvent extends EpochMetrics {
  type: 'epoch';
  epochs: number;
  lr: number;
  elapsedSeconds: number;
  checkpoint: string | null;
  /** Mean µs per step a worker spent this epoch computing gradients, reducing and updating, and at the barriers. */
  stepMicros: StepMicros;
  /** With `keepBest`: this epoch has the best validation accuracy so far, and its model was saved (DoneEvent.best says where). */
  best: boolean;
  /** With `earlyStop`: validation accuracy has not improved for that many epochs, and the run stops after this one. */
  stopsEarly: boolean;
}

export interface DoneEvent {
  type: 'done';
  /** Null when the run was interrupted before its end. */
  testAccuracy: number | null;
  testLoss: number | null;
  aborted: boolean;
  epochs: number;
  seconds: number;
  checkpoint: string | null;
  /** With `keepBest`: the epoch with the best validation accuracy and the file that keeps its model; else null. */
  best: BestEpoch | null;
  /** With `earlyStop`: the run stopped before its last epoch; testAccuracy is then the best epoch's model's. */
  stoppedEarly: boolean;
}

/** The epoch (from 1) with the best validation accuracy, whose model `keepBest` keeps in `checkpoint`. */
export interface BestEpoch {
  epoch: number;
  valAccuracy: number;
  checkpoint: string;
}
