import { badOption } from '../errors.js';

/**
 * A model is described by a small plain object (the spec): the CLI builds it from flags, the checkpoint
 * stores it, and the layout of the parameters is a pure function of it.
 */

/** Hidden-layer activations from the notes: sigmoid S_a(x) = 1/(1+e^(-a x)), identity, ReLU. */
export type Activation = { kind: 'relu' } | { kind: 'sigmoid'; slope: number } | { kind: 'identity' };

/** What the output layer applies before the loss. */
export type OutputActivation = Activation | { kind: 'softmax' };

/** `cross-entropy` (with softmax) or the notes' squared error C = Σ(ŷ − y)² per sample. */
export type LossKind = 'cross-entropy' | 'squared-error';

/** A feedforward network of dense layers: layers[0] inputs, layers[n-1] outputs. */
export interface MlpSpec {
  kind: 'mlp';
  layers: number[];
  activation: Activation;
  output: OutputActivation;
  loss: LossKind;
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
export function describeSpec(spec: MlpSpec): string {
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
export function sameSpec(a: MlpSpec, b: MlpSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
