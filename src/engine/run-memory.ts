import type { Checkpoint } from '../checkpoint.js';
import { augmentScratchFloats } from '../data/augment.js';
import { defaultMnistDir, loadIdxDataset, trainingCount, type IdxDataset } from '../data/dataset.js';
import { badOption } from '../errors.js';
import { initParams } from '../model/init.js';
import { compileNet, type Net } from '../model/layout.js';
import { describeSpec, specClasses, specInputs, type ModelSpec } from '../model/spec.js';
import type { ResolvedTrainOptions } from '../options.js';
import { OPTIMIZERS } from '../optim/index.js';
import { createSharedMemory, planMemory, sharedViews, type MemoryPlan, type SharedViews } from './memory.js';

/**
 * The first part of a run: the data set read once and placed in the shared memory beside the weights,
 * which start from the seed or from the checkpoint being resumed.
 */
export interface RunMemory {
  data: IdxDataset;
  spec: ModelSpec;
  net: Net;
  /** Training images proper; the validation images follow them in the train region. */
  trainCount: number;
  image: { height: number; width: number };
  memory: WebAssembly.Memory;
  plan: MemoryPlan;
  views: SharedViews;
}

/**
 * A new CNN reads images of the data's shape: a layer string says nothing about the input, so the same
 * `--model` trains on 28×28 MNIST or on any other single-channel IDX data set. A resumed run keeps its
 * checkpoint's shape (checked by checkSpecFitsData).
 */
function fitInputToData(spec: ModelSpec, data: IdxDataset): ModelSpec {
  if (spec.kind !== 'cnn') return spec;
  return { ...spec, input: { height: data.train.rows, width: data.train.cols, channels: 1 } };
}

/** Checks that the network fits the data: inputs = pixels per image, outputs = number of classes. */
function checkSpecFitsData(spec: ModelSpec, data: IdxDataset): void {
  const inputs = data.train.rows * data.train.cols;
  if (spec.kind === 'cnn') {
    const { height, width, channels } = spec.input;
    if (height !== data.train.rows || width !== data.train.cols || channels !== 1 || specClasses(spec) !== data.classes) {
      throw badOption(`--model ${describeSpec(spec)} does not fit the data: it takes ${height}×${width}×${channels} images and ${specClasses(spec)} classes, the data has ${data.train.rows}×${data.train.cols}×1 and ${data.classes}; end the model with fc${data.classes}`);
    }
    return;
  }
  if (specInputs(spec) !== inputs || specClasses(spec) !== data.classes) {
    throw badOption(`--layers ${spec.layers.join('-')} does not fit the data: it must start at ${inputs} (${data.train.rows}×${data.train.cols} pixels) and end at ${data.classes} (classes), e.g. ${inputs}-256-128-${data.classes}`);
  }
}

/**
 * Reads the data set, plans the shared memory and fills it: the training images (the first trainCount
 * of the training file) and the validation images (its last valSize) in one region, then the test set;
 * the weights, optimiser state and weight average from `resumed`, or initialised from the seed.
 */
export async function loadRunMemory(o: ResolvedTrainOptions, resumed: Checkpoint | null): Promise<RunMemory> {
  const data = await loadIdxDataset(o.data ?? defaultMnistDir());
  const spec = resumed ? o.spec : fitInputToData(o.spec, data);
  checkSpecFitsData(spec, data);
  const total = data.train.count;
  if (o.valSize >= total) throw badOption(`--val-size ${o.valSize} leaves no training images (the training set has ${total})`);
  const trainCount = trainingCount(total, o.trainSize, o.valSize);
  const D = data.train.rows * data.train.cols;
  const net = compileNet(spec, o.conv);
  const image = { height: data.train.rows, width: data.train.cols };
  const plan = planMemory({
    net, optimizerState: OPTIMIZERS[o.optimizer.kind].state, ema: o.ema > 0,
    augmentFloats: o.augment ? augmentScratchFloats(image.height, image.width, o.augment) : 0,
    batch: o.batchSize, micro: o.microBatch, workers: o.workers, D,
    trainCount: trainCount + o.valSize, trainOnly: trainCount, testCount: data.test.count,
  });
  const memory = createSharedMemory(plan);
  const v = sharedViews(memory.buffer, plan);
  v.trainImages.set(data.train.images.subarray(0, trainCount * D));
  v.trainImages.set(data.train.images.subarray((total - o.valSize) * D), trainCount * D);
  v.trainLabels.set(data.train.labels.subarray(0, trainCount));
  v.trainLabels.set(data.train.labels.subarray(total - o.valSize), trainCount);
  v.testImages.set(data.test.images);
  v.testLabels.set(data.test.labels);

  if (resumed) {
    v.params.set(resumed.params);
    for (const [name, state] of Object.entries(v.optimizerState)) state.set(resumed.optimizer.state[name]);
  } else {
    initParams(v.params, net, o.seed);
  }
  if (o.ema > 0) v.ema.set(resumed?.ema ?? v.params);
  return { data, spec, net, trainCount, image, memory, plan, views: v };
}
