import { join } from 'node:path';
import { train } from '../../src/api.js';
import { saveCheckpoint, savedOptions } from '../../src/checkpoint.js';
import { initParams } from '../../src/model/init.js';
import { compileNet, paramLayout } from '../../src/model/layout.js';
import { Model } from '../../src/model/model.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { resolveOptions, type TrainOptions } from '../../src/options.js';

/**
 * Checkpoints for tests of evaluation: small MLPs trained briefly on real MNIST (about a second each,
 * around 85-90 % accurate), and untrained models and checkpoints of any spec for the cases that must be refused.
 */

/** Trains a 784-32-10 MLP for one epoch on 2,000 images with this seed, saved to dir/mlp-<seed>.ckpt. */
export async function trainTinyMlp(dir: string, seed: number): Promise<string> {
  const out = join(dir, `mlp-${seed}.ckpt`);
  await train({ epochs: 1, trainSize: 2000, valSize: 500, batchSize: 50, workers: 1, layers: '784-32-10', seed, out });
  return out;
}

/** A checkpoint of an untrained network of `spec` (every weight 0), saved to dir/name, its options `given` beside an MLP's defaults. */
export async function untrainedCheckpoint(dir: string, name: string, spec: ModelSpec, given: TrainOptions = {}): Promise<string> {
  const options = savedOptions(resolveOptions({ layers: '784-10', workers: 1, ...given }));
  const size = paramLayout(spec).size;
  const file = join(dir, name);
  await saveCheckpoint(file, {
    spec, params: new Float32Array(size), ema: null, optimizer: { kind: 'sgd', state: { velocity: new Float32Array(size) } },
    options: { ...options, spec }, position: { epoch: 0, step: 0, lossSum: 0, samples: 0 }, rng: { kind: 'counter', seed: 1 },
    metrics: [], testAccuracy: null,
  });
  return file;
}

/** An untrained in-memory model of `spec` with seeded random weights (as training starts). */
export function randomModel(spec: ModelSpec, seed = 1): Model {
  const net = compileNet(spec);
  const params = new Float32Array(net.layout.size);
  initParams(params, net, seed);
  return new Model(spec, params);
}
