import { loadCheckpoint, type EpochMetrics } from '../checkpoint.js';
import { badOption } from '../errors.js';
import { tsKernels } from '../kernels/ts.js';
import { paramLayout, type ParamLayout } from './layout.js';
import { forward, sparseScratch } from './network.js';
import type { MlpSpec } from './spec.js';

/** Pixels of one or many images: uint8 0-255, or floats 0-1. */
export type Pixels = Uint8Array | Uint8ClampedArray | Float32Array | Float64Array | ArrayLike<number>;

const CHUNK = 256; // rows per forward pass in predict: bounds scratch memory for large inputs

/** A trained network, for inference on the calling thread. */
export class Model {
  readonly layout: ParamLayout;
  readonly inputs: number;
  readonly classes: number;

  constructor(
    readonly spec: MlpSpec,
    readonly params: Float32Array,
    /** What the checkpoint recorded of its training. */
    readonly info: { metrics: EpochMetrics[]; testAccuracy: number | null; epochsTrained: number } = { metrics: [], testAccuracy: null, epochsTrained: 0 },
  ) {
    this.layout = paramLayout(spec);
    this.inputs = spec.layers[0];
    this.classes = spec.layers[spec.layers.length - 1];
  }

  /**
   * Class probabilities of one or many images (each `inputs` pixels, 784 for 28×28), 10 per image for
   * MNIST. Uint8 input is read as 0-255, anything else as 0-1. With softmax outputs these are the softmax
   * probabilities; other output activations are clipped at 0 and normalised to sum to 1.
   */
  predict(pixels: Pixels): Float32Array {
    const D = this.inputs;
    const C = this.classes;
    const n = pixels.length / D;
    if (!Number.isInteger(n) || n < 1) {
      throw badOption(`predict: got ${pixels.length} pixels, expected a positive multiple of ${D} (one ${D}-pixel image per row)`);
    }
    const scale = pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray ? 1 / 255 : 1;
    const rows = Math.min(n, CHUNK);
    const x = new Float32Array(rows * D);
    const acts = this.layout.dense.map((d) => new Float32Array(rows * d.outputs));
    const sparse = sparseScratch(this.spec, 0);
    const out = new Float32Array(n * C);
    for (let start = 0; start < n; start += rows) {
      const M = Math.min(rows, n - start);
      for (let i = 0; i < M * D; i++) x[i] = pixels[start * D + i] * scale;
      const z = forward(tsKernels, this.spec, this.layout, this.params, x, acts, M, sparse);
      for (let r = 0; r < M; r++) probabilities(z.subarray(r * C, (r + 1) * C), out.subarray((start + r) * C, (start + r + 1) * C), this.spec);
    }
    return out;
  }

  /** The most probable class of each image. */
  classify(pixels: Pixels): Int32Array {
    const p = this.predict(pixels);
    const C = this.classes;
    const labels = new Int32Array(p.length / C);
    for (let r = 0; r < labels.length; r++) {
      let best = 0;
      for (let j = 1; j < C; j++) if (p[r * C + j] > p[r * C + best]) best = j;
      labels[r] = best;
    }
    return labels;
  }
}

/** Output layer pre-activations z → probabilities p (one row). */
function probabilities(z: Float32Array, p: Float32Array, spec: MlpSpec): void {
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

/** Loads a checkpoint written by `train` as a Model. */
export async function loadModel(file: string): Promise<Model> {
  const c = await loadCheckpoint(file);
  return new Model(c.spec, c.params, { metrics: c.metrics, testAccuracy: c.testAccuracy, epochsTrained: c.position.epoch });
}
