import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { badCheckpoint, badOption } from '../errors.js';
import type { EpochMetrics } from '../events.js';
import type { DataSetRecord } from '../data/provenance.js';
import { bestKernels, createKernels, type Kernels } from '../kernels/index.js';
import { tsKernels } from '../kernels/ts.js';
import { SharedArena } from '../kernels/wasm.js';
import { pixelScale } from './pixels.js';
import { compileNet, type Net, type ParamLayout } from './layout.js';
import { CONV_ALGORITHMS, type ConvAlgorithm } from './layers/layer.js';
import { allocateNetBuffers, forward, netBufferBytes, type NetBuffers } from './network.js';
import { specClasses, specInputs, type ModelSpec } from './spec.js';
import { ttaImageShape, ttaTransforms, warpRows } from './tta.js';

/** Pixels of one or many images: uint8 0-255, or floats 0-1 (a Float32Array, Float64Array or plain array; other typed arrays are refused). */
export type Pixels = Uint8Array | Uint8ClampedArray | Float32Array | Float64Array | readonly number[];

const CHUNK = 256; // rows per forward pass in predict: bounds scratch memory for large inputs

/** How predict and classify read the images. */
export interface PredictOptions {
  /**
   * Test-time augmentation: average the probabilities over each image and its copies shifted by one pixel
   * left, right, up and down (TTA_VIEWS; 5 forward passes per image). Needs single-channel images: a
   * CNN's input shape, or for an MLP a square number of inputs.
   */
  tta?: boolean;
}

/** What a checkpoint recorded of a model's training. */
export interface ModelInfo {
  metrics: EpochMetrics[];
  testAccuracy: number | null;
  epochsTrained: number;
  /** The data set it was trained on; null when the checkpoint records none (before version 4: MNIST, as far as anyone knows). */
  data?: DataSetRecord | null;
  /** The training options it recorded (its recipe, as checkpoint.ts's SavedOptions), for exported files' metadata; absent when unknown. */
  recipe?: Readonly<Record<string, unknown>>;
}

/**
 * How the recorded training ran its convolutions (its recipe's `conv`), so that inference computes what
 * training validated, bit for bit; none recorded: im2col + GEMM (what every run did before --conv).
 */
function recordedConv(recipe: ModelInfo['recipe']): ConvAlgorithm {
  const conv = recipe?.conv;
  return (CONV_ALGORITHMS as readonly unknown[]).includes(conv) ? (conv as ConvAlgorithm) : 'im2col';
}

/** What runs a network on the calling thread: kernels, a copy of its weights, and its buffers. */
export interface NetEngine {
  k: Kernels;
  params: Float32Array;
  buf: NetBuffers;
}

/**
 * Kernels (the fastest this runtime has, see bestKernels), a copy of `params` and buffers for `rows` rows
 * (in training mode, micro-shards of `micro`), all in one WebAssembly memory of their own.
 */
export function netEngine(net: Net, params: Float32Array, rows: number, micro: number): NetEngine {
  const name = bestKernels();
  // The arena aligns each view to 64 bytes, as the allocator's measure does; the weights come after the buffers.
  const arena = new SharedArena(netBufferBytes(net, rows, micro) + 64 + net.layout.size * 4);
  const buf = allocateNetBuffers(net, rows, micro, arena);
  const copy = arena.f32(net.layout.size);
  copy.set(params);
  const k = name === 'ts' ? tsKernels : createKernels(name, arena.memory);
  return { k, params: copy, buf };
}

/**
 * A trained network, for inference on the calling thread. Its weights and buffers live in a WebAssembly
 * memory of its own, so the fastest kernels this runtime has (see bestKernels) run the forward pass.
 */
export class Model {
  readonly net: Net;
  readonly layout: ParamLayout;
  readonly inputs: number;
  readonly classes: number;
  private engine?: NetEngine;

  constructor(
    readonly spec: ModelSpec,
    /** The weights (for a run that kept a moving average, the average). */
    readonly params: Float32Array,
    /** What the checkpoint recorded of its training. */
    readonly info: ModelInfo = { metrics: [], testAccuracy: null, epochsTrained: 0 },
  ) {
    this.net = compileNet(spec, recordedConv(info.recipe));
    this.layout = this.net.layout;
    this.inputs = specInputs(spec);
    this.classes = specClasses(spec);
    if (params.length !== this.layout.size) throw badOption(`Model: got ${params.length} parameters, the spec needs ${this.layout.size}`);
  }

  /** Kernels, a copy of the weights and CHUNK rows of buffers, in one memory; made on first use. */
  private setup(): NetEngine {
    this.engine ??= netEngine(this.net, this.params, CHUNK, CHUNK);
    return this.engine;
  }

  /**
   * Class probabilities of one or many images (each `inputs` pixels, 784 for 28×28), 10 per image for
   * MNIST. Uint8 input is read as 0-255, anything else as 0-1. With softmax outputs these are the softmax
   * probabilities; other output activations are clipped at 0 and normalised to sum to 1. With `tta`, each
   * image's probabilities are the mean over its views (see PredictOptions).
   */
  predict(pixels: Pixels, options: PredictOptions = {}): Float32Array {
    const scale = pixelScale(pixels); // refuses what it would misread (an Int32Array, NaN, 0-255 in a plain array)
    const D = this.inputs;
    const C = this.classes;
    const n = pixels.length / D;
    if (!Number.isInteger(n) || n < 1) {
      throw badOption(`predict: got ${pixels.length} pixels, expected a positive multiple of ${D} (one ${D}-pixel image per row)`);
    }
    const shape = options.tta ? ttaImageShape(this.spec) : null;
    const { buf } = this.setup();
    const out = new Float32Array(n * C);
    if (shape === null) {
      for (let start = 0; start < n; start += CHUNK) {
        const M = Math.min(CHUNK, n - start);
        for (let i = 0; i < M * D; i++) buf.x[i] = pixels[start * D + i] * scale;
        this.probabilitiesOf(M, out.subarray(start * C, (start + M) * C), false);
      }
      return out;
    }
    // TTA: each chunk's images are read once into `src`; every view is warped from there into the input
    // buffer, and its probabilities added to the chunk's rows of `out`.
    const { height: H, width: W } = shape;
    const views = ttaTransforms(H, W);
    const src = new Float32Array(Math.min(CHUNK, n) * D);
    for (let start = 0; start < n; start += CHUNK) {
      const M = Math.min(CHUNK, n - start);
      for (let i = 0; i < M * D; i++) src[i] = pixels[start * D + i] * scale;
      const rows = out.subarray(start * C, (start + M) * C);
      views.forEach((t, v) => {
        warpRows(buf.x, src, M, H, W, t);
        this.probabilitiesOf(M, rows, v > 0);
      });
      for (let i = 0; i < M * C; i++) rows[i] /= views.length;
    }
    return out;
  }

  /** Runs the M images in the input buffer forward and writes (or with `add`, adds) their probabilities to `rows`. */
  private probabilitiesOf(M: number, rows: Float32Array, add: boolean): void {
    const { k, params, buf } = this.setup();
    const C = this.classes;
    const z = forward(k, this.net, params, buf, M, null);
    const p = add ? new Float32Array(C) : null;
    for (let r = 0; r < M; r++) {
      const row = rows.subarray(r * C, (r + 1) * C);
      if (p === null) {
        probabilities(z.subarray(r * C, (r + 1) * C), row, this.spec);
      } else {
        probabilities(z.subarray(r * C, (r + 1) * C), p, this.spec);
        for (let j = 0; j < C; j++) row[j] += p[j];
      }
    }
  }

  /** The most probable class of each image (of the TTA mean, with `tta`). */
  classify(pixels: Pixels, options: PredictOptions = {}): Int32Array {
    return mostProbable(this.predict(pixels, options), this.classes);
  }
}

/** The index of the largest of each row of `classes` probabilities (the first, on a tie). */
export function mostProbable(p: Float32Array, classes: number): Int32Array {
  const labels = new Int32Array(p.length / classes);
  for (let r = 0; r < labels.length; r++) {
    let best = 0;
    for (let j = 1; j < classes; j++) if (p[r * classes + j] > p[r * classes + best]) best = j;
    labels[r] = best;
  }
  return labels;
}

/** Output layer pre-activations z → probabilities p (one row). */
function probabilities(z: Float32Array, p: Float32Array, spec: ModelSpec): void {
  const out = spec.output;
  if (out.kind === 'softmax') {
    let max = -Infinity;
    for (const v of z) max = Math.max(max, v);
    let sum = 0;
    for (let j = 0; j < z.length; j++) sum += (p[j] = Math.exp(z[j] - max));
    for (let j = 0; j < z.length; j++) p[j] /= sum;
    return;
  }
  p.set(z);
  tsKernels.activationForward(p, p.length, out);
  let sum = 0;
  for (let j = 0; j < p.length; j++) sum += (p[j] = Math.max(0, p[j]));
  for (let j = 0; j < p.length; j++) p[j] = sum > 0 ? p[j] / sum : 1 / p.length;
}

/**
 * The model that ships with the package, models/mnist-best.ckpt (README: "The included model"), found
 * from the source tree (src/model) or the build (dist/src/model).
 */
export function shippedModelFile(): string {
  for (const rel of ['../../models/mnist-best.ckpt', '../../../models/mnist-best.ckpt']) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(file)) return file;
  }
  throw badCheckpoint('models/mnist-best.ckpt', 'the shipped model is missing from this installation; give --model FILE');
}
