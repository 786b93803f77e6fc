/**
 * mnist-dp: data-parallel training of neural networks for MNIST across Node.js worker threads.
 * The public API, listed explicitly.
 */
export { train, Trainer, spawnTrainer, terminateTrainer, prepareRun, type TrainCallbacks } from './api.js';
export type { TrainResult } from './engine/trainer.js';
export { Model, shippedModelFile, type ModelInfo, type Pixels, type PredictOptions } from './model/model.js';
export { readInkPng, decodeInkPng, pngSize, toDigitImage, toResizedImage, MNIST_SHAPE, MAX_PICTURE_PIXELS, type InkImage, type DigitShape } from './data/digit-image.js';
export { predictPicture, defaultPrep, PREP_NAMES, type Prep, type PicturePrediction } from './model/predict-picture.js';
export { dataSetRecord, describeDataSet, MNIST_SHA256, type DataSetRecord } from './data/provenance.js';
/** Ensembles: their probabilities, how much their members err alike, and a committee chosen greedily on validation images. */
export { predictEnsemble, mistakeOverlap, greedySelection, type MistakeOverlap, type SelectionStep } from './model/ensemble.js';
export { TTA_VIEWS, type TtaView } from './model/tta.js';
/** Batch norm's running statistics recomputed for a model's final weights on its training images (PyTorch's update_bn). */
export { recalibrateBatchNorm, type RecalibrateOptions } from './model/recalibrate.js';
export { recalibrateCheckpoint, type RecalibrateFileOptions, type RecalibrateFileResult } from './recalibrate-checkpoint.js';
/** A model or an ensemble as one ONNX file (opset 13: input float32 [N, 1, H, W] in 0-1, output probabilities [N, classes]), optionally with TTA. */
export { exportOnnx, type OnnxExportOptions } from './export/onnx.js';
/** A model's weights as safetensors, named and laid out as the equivalent PyTorch nn.Sequential's state_dict; and read back into a Model. */
export { exportSafetensors, importSafetensors } from './export/safetensors.js';
export { DEFAULT_OPTIONS, resolveOptions, learningRate, type TrainOptions, type ResolvedTrainOptions, type ScheduleKind } from './options.js';
export { OPTIMIZERS, OPTIMIZER_NAMES, type Optimizer, type OptimizerKind, type OptimizerOptions } from './optim/index.js';
export type { TrainEvent, StartEvent, StepEvent, EpochEvent, DoneEvent, BestEpoch, EpochMetrics, StepMicros } from './events.js';
export { bestCheckpointFile, loadCheckpoint, loadModel, saveCheckpoint, type Checkpoint } from './checkpoint.js';
export { loadIdxDataset, defaultMnistDir, type Dataset, type IdxDataset } from './data/dataset.js';
export { readIdxFile, parseIdx, type IdxArray } from './data/idx.js';
export { describeSpec, type MlpSpec, type CnnSpec, type LayerSpec, type ModelSpec, type Activation, type OutputActivation, type LossKind } from './model/spec.js';
export { MnistDpError, type ErrorCode } from './errors.js';
/** Training across the ranks of an MPI job: TrainOptions.mpi (README, Across machines). */
export { MPI_MODES, type MpiMode } from './mpi/world.js';
export { describeMachine } from './machine.js';
export { tsKernels, type Kernels } from './kernels/index.js';
export { logDirListener, CSV_COLUMNS, type RunLogger } from './logs/log-dir.js';
export { startServer, MAX_BODY_BYTES, type DigitServer, type ServeOptions, type PredictAnswer } from './serve/server.js';
export { LiveView, type LiveState } from './serve/live.js';
export { buildReport, type Report, type ReportEvaluation } from './report/report.js';
export { lineChart, renderSvg, renderPng, type Chart } from './report/charts.js';
export { parseSweepSpec, readSweepSpec, trialsOf, type SweepSpec, type SchedulerSpec, type Domain, type Trial } from './sweep/spec.js';
export { runLocalSweep, type SweepHooks } from './sweep/local.js';
export type { SweepResults } from './sweep/report.js';
export type { TrialOutcome, TrialProgress, TrialStatus } from './sweep/trial.js';
export { decide, ashaRungs, type EpochReport, type Decision } from './sweep/schedulers.js';
