import { badOption } from '../errors.js';
import type { ConvGeometry } from '../kernels/kernels.js';
import type { Activation, CnnSpec, MlpSpec, ModelSpec } from './spec.js';

/**
 * A spec compiled into what training needs: the list of layers with their shapes, and the table of
 * parameter tensors. All parameters live in one flat Float32Array; the table names the views into it
 * (llm.c's fill_in_parameter_sizes). Gradients and optimiser state reuse the same layout, so zeroing,
 * reducing and updating are single loops over [0, size), and a worker can own any contiguous range.
 *
 * Images flow in NHWC order (channels fastest); a dense layer sees its input flattened in that order.
 */
export interface TensorInfo {
  name: string;
  shape: number[];
  /** In floats, from the start of the parameter array; a multiple of 4 (16 bytes) for SIMD kernels. */
  offset: number;
  size: number;
  /**
   * false for batch norm's running statistics: they live in the parameter array (so checkpoints,
   * workers and the weight average carry them for free) but the optimiser does not touch them; the step
   * moves them towards the batch's statistics instead (see Segment).
   */
  trainable: boolean;
}

/** Per-sample shape of an image between layers. */
export interface Shape {
  h: number;
  w: number;
  c: number;
}

interface LayerBase {
  /** Floats per sample in and out. */
  inSize: number;
  outSize: number;
  /** Applied to the layer's output in place (fused into the GEMM for ReLU); null for none. */
  act: Activation | null;
}

/**
 * A dense layer: W (OUT, IN) row-major and b (OUT); or, when `inputMajor`, Wᵀ (IN, OUT). The MLP's first
 * layer is stored input-major: its input (pixels) is mostly zeros, and with Wᵀ both its forward pass and
 * its weight gradient skip them as contiguous row operations (Kernels.sparseForward / sparseWeightGrad).
 */
export interface DenseLayer extends LayerBase {
  kind: 'dense';
  inputMajor: boolean;
  w: TensorInfo;
  b: TensorInfo;
}

/** A convolution as im2col + GEMM: W (F, k·k·C) row-major, b (F); output (OH, OW, F). */
export interface ConvLayer extends LayerBase {
  kind: 'conv';
  g: ConvGeometry;
  filters: number;
  w: TensorInfo;
  b: TensorInfo;
  /**
   * Samples per im2col call. Fixed by the layer's shape alone: the weight gradient of a micro-shard is
   * summed chunk by chunk, so the chunk must not depend on the worker count (determinism).
   */
  chunk: number;
  /**
   * The gradient reaching the layer's output is mostly zeros (its own ReLU, or a max pooling next, passes
   * few), so backward runs the sparse kernels, which skip them. Not after batch norm: its gradient is dense.
   */
  sparseGrad: boolean;
}

export interface PoolLayer extends LayerBase {
  kind: 'maxpool';
  input: Shape;
  size: number;
}

/** Batch normalisation per channel, its statistics over a micro-shard's pixels in training. */
export interface NormLayer extends LayerBase {
  kind: 'batchnorm';
  channels: number;
  gamma: TensorInfo;
  beta: TensorInfo;
  mean: TensorInfo;
  variance: TensorInfo;
}

export interface DropoutLayer extends LayerBase {
  kind: 'dropout';
  rate: number;
  /** Which dropout layer this is (0, 1, …): each draws its masks from its own stream. */
  ordinal: number;
}

export type NetLayer = DenseLayer | ConvLayer | PoolLayer | NormLayer | DropoutLayer;

/** A run of the parameter array that the optimiser updates (trainable) or that follows batch statistics. */
export interface Segment {
  begin: number;
  end: number;
  trainable: boolean;
}

export interface ParamLayout {
  tensors: TensorInfo[];
  /** [0, size) cut into runs of trainable and statistics tensors, padding included. */
  segments: Segment[];
  /** Total floats, padding included. */
  size: number;
}

export interface Net {
  spec: ModelSpec;
  layers: NetLayer[];
  layout: ParamLayout;
  /** Floats per input sample, and classes. */
  inputs: number;
  classes: number;
  /** The largest per-sample size of any layer's input or output: the width of the gradient buffers. */
  width: number;
  /** Floats of im2col scratch the widest convolution chunk needs (0 without convolutions). */
  colFloats: number;
  /** Floats of the largest convolution weight (scratch for chunked weight gradients). */
  convWeightFloats: number;
}

const ALIGN = 4;
const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;
/** Rows (output pixels) an im2col chunk aims at: enough for the GEMM to run at speed, small enough to stay in cache. */
const CHUNK_PIXELS = 512;

/** Hands out 16-byte aligned offsets in order, then cuts [0, size) into segments. */
class LayoutBuilder {
  tensors: TensorInfo[] = [];
  offset = 0;
  add(name: string, shape: number[], trainable = true): TensorInfo {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = { name, shape, offset: this.offset, size, trainable };
    this.offset = roundUp(this.offset + size, ALIGN);
    this.tensors.push(t);
    return t;
  }
  finish(): ParamLayout {
    const segments: Segment[] = [];
    for (const t of this.tensors) {
      const last = segments[segments.length - 1];
      if (last && last.trainable === t.trainable) last.end = roundUp(t.offset + t.size, ALIGN);
      else {
        if (last) last.end = t.offset;
        segments.push({ begin: last ? t.offset : 0, end: roundUp(t.offset + t.size, ALIGN), trainable: t.trainable });
      }
    }
    return { tensors: this.tensors, segments, size: this.offset };
  }
}

function compileMlp(spec: MlpSpec): Net {
  const b = new LayoutBuilder();
  const layers: NetLayer[] = [];
  const n = spec.layers.length - 1;
  for (let l = 1; l <= n; l++) {
    const inputs = spec.layers[l - 1];
    const outputs = spec.layers[l];
    const inputMajor = l === 1;
    const w = inputMajor ? b.add(`dense${l}.wT`, [inputs, outputs]) : b.add(`dense${l}.w`, [outputs, inputs]);
    const bias = b.add(`dense${l}.b`, [outputs]);
    layers.push({ kind: 'dense', inSize: inputs, outSize: outputs, act: l < n ? spec.activation : null, inputMajor, w, b: bias });
  }
  return { spec, layers, layout: b.finish(), inputs: spec.layers[0], classes: spec.layers[n], width: Math.max(...spec.layers), colFloats: 0, convWeightFloats: 0 };
}

function compileCnn(spec: CnnSpec): Net {
  const b = new LayoutBuilder();
  const layers: NetLayer[] = [];
  let shape: Shape = { h: spec.input.height, w: spec.input.width, c: spec.input.channels };
  let flat: number | null = null; // once a dense layer has run, the data is a vector of this length
  const count: Record<string, number> = {};
  const next = (kind: string) => (count[kind] = (count[kind] ?? 0) + 1);
  const size = () => flat ?? shape.h * shape.w * shape.c;
  let dropouts = 0;
  let colFloats = 0;
  let convWeightFloats = 0;
  let width = size();
  const where = (i: number) => `--model: layer ${i + 1} (${describe(spec.layers[i])})`;
  spec.layers.forEach((l, i) => {
    const inSize = size();
    switch (l.kind) {
      case 'conv': {
        if (flat !== null) throw badOption(`${where(i)} comes after a dense layer; convolutions must come first`);
        const { h: H, w: W, c: C } = shape;
        const OH = Math.floor((H + 2 * l.pad - l.size) / l.stride) + 1;
        const OW = Math.floor((W + 2 * l.pad - l.size) / l.stride) + 1;
        if (OH < 1 || OW < 1) throw badOption(`${where(i)}: a ${l.size}×${l.size} window does not fit a ${H}×${W} input; use a smaller size or more padding`);
        if (l.pad >= l.size) throw badOption(`${where(i)}: padding must be smaller than the window`);
        const g = { H, W, C, k: l.size, stride: l.stride, pad: l.pad, OH, OW };
        const id = next('conv');
        const kkC = l.size * l.size * C;
        const w = b.add(`conv${id}.w`, [l.filters, l.size, l.size, C]);
        const bias = b.add(`conv${id}.b`, [l.filters]);
        const chunk = Math.max(1, Math.floor(CHUNK_PIXELS / (OH * OW)));
        colFloats = Math.max(colFloats, chunk * OH * OW * kkC);
        convWeightFloats = Math.max(convWeightFloats, l.filters * kkC);
        shape = { h: OH, w: OW, c: l.filters };
        const after = spec.layers[i + 1];
        const sparseGrad = after !== undefined && (after.kind === 'maxpool' || (after.kind === 'activation' && after.activation.kind === 'relu'));
        layers.push({ kind: 'conv', inSize, outSize: size(), act: null, g, filters: l.filters, w, b: bias, chunk, sparseGrad });
        break;
      }
      case 'maxpool': {
        if (flat !== null) throw badOption(`${where(i)} comes after a dense layer; pooling works on images`);
        if (shape.h < l.size || shape.w < l.size) throw badOption(`${where(i)}: a ${l.size}×${l.size} pool does not fit a ${shape.h}×${shape.w} input`);
        const input = shape;
        shape = { h: Math.floor(shape.h / l.size), w: Math.floor(shape.w / l.size), c: shape.c };
        layers.push({ kind: 'maxpool', inSize, outSize: size(), act: null, input, size: l.size });
        break;
      }
      case 'batchnorm': {
        const channels = flat ?? shape.c;
        const id = next('bn');
        const gamma = b.add(`bn${id}.gamma`, [channels]);
        const beta = b.add(`bn${id}.beta`, [channels]);
        const mean = b.add(`bn${id}.mean`, [channels], false);
        const variance = b.add(`bn${id}.var`, [channels], false);
        layers.push({ kind: 'batchnorm', inSize, outSize: inSize, act: null, channels, gamma, beta, mean, variance });
        break;
      }
      case 'dropout':
        layers.push({ kind: 'dropout', inSize, outSize: inSize, act: null, rate: l.rate, ordinal: dropouts++ });
        break;
      case 'dense': {
        const id = next('dense');
        const w = b.add(`dense${id}.w`, [l.units, inSize]);
        const bias = b.add(`dense${id}.b`, [l.units]);
        flat = l.units;
        layers.push({ kind: 'dense', inSize, outSize: l.units, act: null, inputMajor: false, w, b: bias });
        break;
      }
      case 'activation':
        layers[layers.length - 1].act = l.activation;
        break;
    }
    width = Math.max(width, size());
  });
  const last = layers[layers.length - 1];
  return { spec, layers, layout: b.finish(), inputs: spec.input.height * spec.input.width * spec.input.channels, classes: last.outSize, width, colFloats, convWeightFloats };
}

function describe(l: CnnSpec['layers'][number]): string {
  return l.kind === 'activation' ? l.activation.kind : l.kind;
}

/** Compiles a spec; throws a BAD_OPTION error naming the layer when shapes do not fit. */
export function compileNet(spec: ModelSpec): Net {
  return spec.kind === 'mlp' ? compileMlp(spec) : compileCnn(spec);
}

export function paramLayout(spec: ModelSpec): ParamLayout {
  return compileNet(spec).layout;
}

/** Number of real (non-padding) parameters, running statistics included. */
export function parameterCount(layout: ParamLayout): number {
  return layout.tensors.reduce((n, t) => n + t.size, 0);
}
