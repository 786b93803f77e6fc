import { badOption } from '../errors.js';
import type { Activation, LossKind, OutputActivation } from '../kernels/kernels.js';
import { checkActivationHosts, parseActivation, formatActivation, type ActivationSpec } from './layers/activation.js';
import type { AvgPoolSpec } from './layers/avgpool.js';
import type { BatchNormSpec } from './layers/batchnorm.js';
import type { ConvSpec } from './layers/conv.js';
import type { DenseSpec } from './layers/dense.js';
import type { DropoutSpec } from './layers/dropout.js';
import type { GapSpec } from './layers/gap.js';
import { layerKind, LAYER_KINDS } from './layers/index.js';
import type { ParseContext } from './layers/layer.js';
import type { MaxPoolSpec } from './layers/maxpool.js';
import type { ResidualSpec } from './layers/residual.js';

export { formatActivation, parseActivation };
export type { ActivationSpec, AvgPoolSpec, BatchNormSpec, ConvSpec, DenseSpec, DropoutSpec, GapSpec, MaxPoolSpec, ResidualSpec };

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

/**
 * One layer of a convolutional network, in the order the data flows (images are NHWC). Each kind's spec
 * lives with its record in src/model/layers/; checkpoints store these objects as they are.
 */
export type LayerSpec = ConvSpec | MaxPoolSpec | AvgPoolSpec | GapSpec | BatchNormSpec | DropoutSpec | DenseSpec | ActivationSpec | ResidualSpec;

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
 * (../shared/anchors/torch_cnn.py); `cnn-small` the one `--preset fast` trained up to issue 16 and
 * `cnn-small-bn` (it with batch norm) the one it trains now; `cnn-wide` the one `--preset best` trained up to issue 16.
 * `cnn-strided` downsamples by 5×5 convolutions of stride 2 instead of pooling (after Chris Deotte's Kaggle
 * MNIST study): 1.5× the work of cnn-wide, a different network for ensembles (`npm run ensemble`).
 * `cnn-wide-res` is cnn-wide with a residual block of two padded 3×3 convolutions after each pooling stage
 * (issue 17 in BENCHMARKS.md: 99.74 and 99.76 % validation, ~1.45× cnn-wide's time); `--preset best` trains it.
 */
export const MODEL_PRESETS: Record<string, string> = {
  cnn: 'c32k5-relu-mp2-c64k5-relu-mp2-fc256-relu-fc10',
  'cnn-small': 'c16k5-relu-mp2-c32k5-relu-mp2-fc128-relu-fc10',
  'cnn-small-bn': 'c16k5-bn-relu-mp2-c32k5-bn-relu-mp2-fc128-bn-relu-fc10',
  'cnn-bn': 'c32k5-bn-relu-mp2-c64k5-bn-relu-mp2-fc256-bn-relu-do0.25-fc10',
  'cnn-wide': 'c32k3-bn-relu-c32k3-bn-relu-mp2-c64k3-bn-relu-c64k3-bn-relu-mp2-fc256-bn-relu-do0.3-fc10',
  'cnn-wide-res': 'c32k3-bn-relu-c32k3-bn-relu-mp2-res(c32k3p1-bn-relu-c32k3p1-bn)-relu-c64k3-bn-relu-c64k3-bn-relu-mp2-res(c64k3p1-bn-relu-c64k3p1-bn)-relu-fc256-bn-relu-do0.3-fc10',
  'cnn-strided': 'c32k3-bn-relu-c32k3-bn-relu-c32k5s2p2-bn-relu-do0.4-c64k3-bn-relu-c64k3-bn-relu-c64k5s2p2-bn-relu-do0.4-fc128-bn-relu-do0.4-fc10',
  'cnn-res': 'c16k3p1-bn-relu-res(c16k3p1-bn-relu-c16k3p1-bn)-relu-res(c32k3s2p1-bn-relu-c32k3p1-bn)-relu-res(c64k3s2p1-bn-relu-c64k3p1-bn)-relu-gap-fc10',
};

/** The layer tokens, from their records: what --help and the errors of --model list. */
export const LAYER_HELP = `layers such as ${LAYER_KINDS.map((k) => k.help).join(', ')}, e.g. c32k5-relu-mp2-fc10`;

/**
 * The tokens of a layer string, split at `-`, `,` or spaces outside parentheses (a residual block's
 * inside stays one token: `res(c8k3p1-bn)`).
 */
function splitTokens(source: string, fail: (why: string) => never): string[] {
  const tokens: string[] = [];
  let depth = 0;
  let token = '';
  for (const ch of source) {
    if (ch === '(') depth++;
    if (ch === ')' && --depth < 0) fail('has a ")" without its "("; write a residual block as res(c32k3p1-bn-relu-c32k3p1-bn)');
    if (depth === 0 && /[-,\s]/.test(ch)) {
      if (token) tokens.push(token);
      token = '';
    } else token += ch;
  }
  if (depth > 0) fail('has a "(" without its ")"; write a residual block as res(c32k3p1-bn-relu-c32k3p1-bn)');
  if (token) tokens.push(token);
  return tokens;
}

/** Parses a chain of layer tokens (a whole layer string, or a residual block's inside) with the records of LAYER_KINDS. */
function parseChain(source: string, text: string): LayerSpec[] {
  const fail = (why: string): never => {
    throw badOption(`--model "${text}" ${why}`);
  };
  const layers = splitTokens(source, fail).map((token) => {
    const p: ParseContext = {
      fail: (why) => fail(`: "${token}" ${why}`),
      chain: (inner) => parseChain(inner, text),
    };
    for (const kind of LAYER_KINDS) {
      const spec = kind.parse(token, p);
      if (spec) return spec as LayerSpec;
    }
    return fail(`: "${token}" is not a layer; use ${LAYER_HELP}`);
  });
  checkActivationHosts(layers, (why, i) => fail(`: ${why} (layer ${i + 1}${source === text ? '' : ` of "${source}"`})`));
  return layers;
}

/**
 * A CNN spec from a preset name (see MODEL_PRESETS) or a layer string such as
 * `c32k5-relu-mp2-c64k5-relu-mp2-fc256-relu-fc10` for images of the given shape. Shapes are checked
 * when the network is compiled (compileNet).
 */
export function parseCnnSpec(text: string, input = { height: 28, width: 28, channels: 1 }): CnnSpec {
  const source = MODEL_PRESETS[String(text).trim()] ?? String(text).trim().toLowerCase();
  const layers = parseChain(source, String(text));
  if (layers.length === 0) throw badOption(`--model "${text}" is empty; use a preset (${Object.keys(MODEL_PRESETS).join(', ')}) or ${LAYER_HELP}`);
  const last = layers[layers.length - 1];
  if (last.kind !== 'dense') throw badOption(`--model "${text}" must end with a dense layer with one unit per class, such as fc10`);
  return { kind: 'cnn', input: { ...input }, layers, output: { kind: 'softmax' }, loss: 'cross-entropy' };
}

/** The layer string of a chain of specs, by each kind's record. */
function formatChain(layers: readonly LayerSpec[]): string {
  return layers.map((l) => layerKind(l).format(l, formatChain)).join('-');
}

/** The canonical layer string of a CNN spec (what parseCnnSpec reads back). */
export function formatCnnLayers(spec: CnnSpec): string {
  return formatChain(spec.layers);
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

/** Parses an output activation: `softmax` or any hidden activation. */
export function parseOutputActivation(text: string): OutputActivation {
  return String(text).trim().toLowerCase() === 'softmax' ? { kind: 'softmax' } : parseActivation(text);
}

export function parseLoss(text: string): LossKind {
  const name = String(text).trim().toLowerCase();
  if ((LOSS_NAMES as readonly string[]).includes(name)) return name as LossKind;
  throw badOption(`--loss "${text}" is unknown; use cross-entropy or squared-error`);
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
