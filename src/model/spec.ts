import { badOption } from '../errors.js';
import type { Activation, LossKind, OutputActivation } from '../kernels/kernels.js';

/**
 * A model is described by a small plain object (the spec): the CLI builds it from flags, the checkpoint
 * stores it, and the layout of the parameters is a pure function of it.
 */

// The activation and loss types are the kernels' argument types (kernels/ imports nothing from model/).
export type { Activation, LossKind, OutputActivation } from '../kernels/kernels.js';

/** A feedforward network of dense layers: layers[0] inputs, layers[n-1] outputs. */
export interface MlpSpec {
  kind: 'mlp';
  layers: number[];
  activation: Activation;
  output: OutputActivation;
  loss: LossKind;
}

/** One layer of a convolutional network, in the order the data flows. Images are NHWC. */
export type LayerSpec =
  | { kind: 'conv'; filters: number; size: number; stride: number; pad: number }
  | { kind: 'maxpool'; size: number }
  | { kind: 'batchnorm' }
  | { kind: 'dropout'; rate: number }
  | { kind: 'dense'; units: number }
  | { kind: 'activation'; activation: Activation };

/**
 * A network of layers over (height, width, channels) images: convolutions, pooling, batch norm, dropout,
 * then dense layers (the image is flattened in NHWC order before the first one). Outputs are softmax with
 * cross-entropy; the last layer is dense with one unit per class.
 */
export interface CnnSpec {
  kind: 'cnn';
  input: { height: number; width: number; channels: number };
  layers: LayerSpec[];
  output: { kind: 'softmax' };
  loss: 'cross-entropy';
}

/** Any model: a multilayer perceptron (the notes' network) or a convolutional network. */
export type ModelSpec = MlpSpec | CnnSpec;

/**
 * Named architectures for `--model`. `cnn` is the benchmark CNN that PyTorch's anchor also trains
 * (../shared/anchors/torch_cnn.py); `cnn-small` the one `--preset fast` trains, `cnn-wide` the one `--preset best` trains.
 * `cnn-strided` downsamples by 5×5 convolutions of stride 2 instead of pooling (after Chris Deotte's Kaggle
 * MNIST study): 1.5× the work of cnn-wide, a different network for ensembles (`npm run ensemble`).
 */
export const MODEL_PRESETS: Record<string, string> = {
  cnn: 'c32k5-relu-mp2-c64k5-relu-mp2-fc256-relu-fc10',
  'cnn-small': 'c16k5-relu-mp2-c32k5-relu-mp2-fc128-relu-fc10',
  'cnn-bn': 'c32k5-bn-relu-mp2-c64k5-bn-relu-mp2-fc256-bn-relu-do0.25-fc10',
  'cnn-wide': 'c32k3-bn-relu-c32k3-bn-relu-mp2-c64k3-bn-relu-c64k3-bn-relu-mp2-fc256-bn-relu-do0.3-fc10',
  'cnn-strided': 'c32k3-bn-relu-c32k3-bn-relu-c32k5s2p2-bn-relu-do0.4-c64k3-bn-relu-c64k3-bn-relu-c64k5s2p2-bn-relu-do0.4-fc128-bn-relu-do0.4-fc10',
};

const LAYER_HELP = 'layers such as c32k5 (conv: 32 filters 5×5, optional s2 stride, p2 padding), mp2 (max pool), bn (batch norm), ' +
  'relu / sigmoid / identity, do0.25 (dropout), fc256 (dense), e.g. c32k5-relu-mp2-fc10';

/** Parses one token of a layer string. */
function parseLayerToken(token: string, text: string): LayerSpec {
  let m = /^c(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?$/.exec(token);
  if (m) {
    const [filters, size, stride, pad] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 1), Number(m[4] ?? 0)];
    if (filters < 1 || size < 1 || stride < 1) throw badOption(`--model "${text}": "${token}" needs filters, size and stride ≥ 1`);
    return { kind: 'conv', filters, size, stride, pad };
  }
  if ((m = /^mp(\d+)$/.exec(token))) {
    if (Number(m[1]) < 2) throw badOption(`--model "${text}": "${token}" needs a pool size ≥ 2`);
    return { kind: 'maxpool', size: Number(m[1]) };
  }
  if (token === 'bn') return { kind: 'batchnorm' };
  if ((m = /^do(0?\.\d+)$/.exec(token))) {
    const rate = Number(m[1]);
    if (!(rate > 0 && rate < 1)) throw badOption(`--model "${text}": dropout rate in "${token}" must be in (0, 1)`);
    return { kind: 'dropout', rate };
  }
  if ((m = /^fc(\d+)$/.exec(token))) {
    if (Number(m[1]) < 1) throw badOption(`--model "${text}": "${token}" needs at least one unit`);
    return { kind: 'dense', units: Number(m[1]) };
  }
  if (/^(relu|identity|sigmoid(:.*)?)$/.test(token)) return { kind: 'activation', activation: parseActivation(token) };
  throw badOption(`--model "${text}": "${token}" is not a layer; use ${LAYER_HELP}`);
}

/**
 * A CNN spec from a preset name (see MODEL_PRESETS) or a layer string such as
 * `c32k5-relu-mp2-c64k5-relu-mp2-fc256-relu-fc10` for images of the given shape. Shapes are checked
 * when the network is compiled (compileNet).
 */
export function parseCnnSpec(text: string, input = { height: 28, width: 28, channels: 1 }): CnnSpec {
  const source = MODEL_PRESETS[String(text).trim()] ?? String(text).trim().toLowerCase();
  const tokens = source.split(/[-,\s]+/).filter((t) => t.length > 0);
  if (tokens.length === 0) throw badOption(`--model "${text}" is empty; use a preset (${Object.keys(MODEL_PRESETS).join(', ')}) or ${LAYER_HELP}`);
  const layers = tokens.map((t) => parseLayerToken(t, String(text)));
  const last = layers[layers.length - 1];
  if (last.kind !== 'dense') throw badOption(`--model "${text}" must end with a dense layer with one unit per class, such as fc10`);
  layers.forEach((l, i) => {
    const before = layers[i - 1];
    if (l.kind === 'activation' && !(before && (before.kind === 'conv' || before.kind === 'dense' || before.kind === 'batchnorm'))) {
      throw badOption(`--model "${text}": an activation must follow a conv, dense or bn layer (layer ${i + 1})`);
    }
  });
  return { kind: 'cnn', input: { ...input }, layers, output: { kind: 'softmax' }, loss: 'cross-entropy' };
}

/** The canonical layer string of a CNN spec (what parseCnnSpec reads back). */
export function formatCnnLayers(spec: CnnSpec): string {
  return spec.layers.map((l) => {
    switch (l.kind) {
      case 'conv':
        return `c${l.filters}k${l.size}${l.stride !== 1 ? `s${l.stride}` : ''}${l.pad !== 0 ? `p${l.pad}` : ''}`;
      case 'maxpool':
        return `mp${l.size}`;
      case 'batchnorm':
        return 'bn';
      case 'dropout':
        return `do${l.rate}`;
      case 'dense':
        return `fc${l.units}`;
      case 'activation':
        return formatActivation(l.activation);
    }
  }).join('-');
}

/** Inputs per sample and classes of any spec. */
export function specInputs(spec: ModelSpec): number {
  return spec.kind === 'mlp' ? spec.layers[0] : spec.input.height * spec.input.width * spec.input.channels;
}

export function specClasses(spec: ModelSpec): number {
  if (spec.kind === 'mlp') return spec.layers[spec.layers.length - 1];
  const last = spec.layers[spec.layers.length - 1];
  return last.kind === 'dense' ? last.units : 0;
}

export const ACTIVATION_NAMES = ['relu', 'sigmoid', 'identity'] as const;
export const LOSS_NAMES = ['cross-entropy', 'squared-error'] as const;

/** Parses `784-256-128-10` (also accepts `,` or `x` between sizes). */
export function parseLayers(text: string): number[] {
  const parts = String(text).trim().split(/[-,x]/);
  const sizes = parts.map((p) => Number(p));
  if (parts.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    throw badOption(`--layers "${text}" is not a list of positive layer sizes such as 784-256-128-10`);
  }
  return sizes;
}

/** Parses `relu`, `identity`, `sigmoid` or `sigmoid:A` (slope a > 0, default 1). */
export function parseActivation(text: string): Activation {
  const [name, arg, ...rest] = String(text).trim().toLowerCase().split(':');
  if (name === 'relu' && arg === undefined) return { kind: 'relu' };
  if (name === 'identity' && arg === undefined) return { kind: 'identity' };
  if (name === 'sigmoid' && rest.length === 0) {
    const slope = arg === undefined ? 1 : Number(arg);
    if (!(slope > 0) || !Number.isFinite(slope)) {
      throw badOption(`--activation "${text}": the sigmoid slope a must be a positive number, as in sigmoid:2`);
    }
    return { kind: 'sigmoid', slope };
  }
  throw badOption(`--activation "${text}" is unknown; use relu, identity, sigmoid or sigmoid:A (slope A)`);
}

/** Parses an output activation: `softmax` or any hidden activation. */
export function parseOutputActivation(text: string): OutputActivation {
  return String(text).trim().toLowerCase() === 'softmax' ? { kind: 'softmax' } : parseActivation(text);
}

export function parseLoss(text: string): LossKind {
  const name = String(text).trim().toLowerCase();
  if ((LOSS_NAMES as readonly string[]).includes(name)) return name as LossKind;
  throw badOption(`--loss "${text}" is unknown; use cross-entropy or squared-error`);
}

export function formatActivation(a: OutputActivation): string {
  return a.kind === 'sigmoid' ? (a.slope === 1 ? 'sigmoid' : `sigmoid:${a.slope}`) : a.kind;
}

/** One line such as `mlp 784-256-128-10 relu → softmax, cross-entropy`. */
export function describeSpec(spec: ModelSpec): string {
  if (spec.kind === 'cnn') return `cnn ${spec.input.height}×${spec.input.width}×${spec.input.channels} ${formatCnnLayers(spec)} → softmax, cross-entropy`;
  return `mlp ${spec.layers.join('-')} ${formatActivation(spec.activation)} → ${formatActivation(spec.output)}, ${spec.loss}`;
}

/**
 * Builds a spec. Cross-entropy needs softmax outputs. Squared error follows the notes, where every neuron,
 * output ones included, applies the activation: its outputs default to the hidden activation (for ReLU,
 * whose outputs cannot go negative, identity).
 */
export function makeSpec(layers: number[], activation: Activation, loss: LossKind, output?: OutputActivation): MlpSpec {
  const out: OutputActivation =
    output ?? (loss === 'cross-entropy' ? { kind: 'softmax' } : activation.kind === 'relu' ? { kind: 'identity' } : activation);
  if (loss === 'cross-entropy' && out.kind !== 'softmax') {
    throw badOption(`--loss cross-entropy needs softmax outputs, not ${formatActivation(out)}; use --loss squared-error`);
  }
  return { kind: 'mlp', layers: [...layers], activation, output: out, loss };
}

/** Two specs describe the same architecture (so that parameters of one fit the other). */
export function sameSpec(a: ModelSpec, b: ModelSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
