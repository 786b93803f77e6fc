import { badOption } from '../../errors.js';
import type { Activation, OutputActivation } from '../spec.js';
import type { LayerKind, Node } from './layer.js';
import type { OnnxGraph, TorchModule } from './portable.js';

/** `relu`, `sigmoid`, `sigmoid:2`, `identity`: applied to the output of the layer before. */
export interface ActivationSpec {
  kind: 'activation';
  activation: Activation;
}

/** The kinds an activation may follow (its host node); the GEMM of a conv or dense layer fuses a ReLU. */
export const ACTIVATION_HOSTS: readonly string[] = ['conv', 'dense', 'batchnorm', 'residual'];

const ACTIVATION_PLACE = 'an activation must follow a conv, dense, bn or res layer';

/** Throws (through `fail`, given the 0-based position) at the first activation of a chain that has no host before it. */
export function checkActivationHosts(layers: readonly { kind: string }[], fail: (why: string, i: number) => never): void {
  layers.forEach((l, i) => {
    if (l.kind === 'activation' && !(i > 0 && ACTIVATION_HOSTS.includes(layers[i - 1].kind))) fail(ACTIVATION_PLACE, i);
  });
}

/**
 * An activation is no node of its own: compile attaches it to the node before (its `act`), and the chain
 * runs this record's forward and backward on that node's output, in place, after the node's own.
 */
export const activation: LayerKind<ActivationSpec, Node> = {
  kind: 'activation',
  help: 'relu / sigmoid / identity',

  parse: (token) => (/^(relu|identity|sigmoid(:.*)?)$/.test(token) ? { kind: 'activation', activation: parseActivation(token) } : null),

  format: (s) => formatActivation(s.activation),

  compile(s, c) {
    const host = c.previous;
    if (!host || !ACTIVATION_HOSTS.includes(host.layer.kind) || host.act) return c.fail(ACTIVATION_PLACE);
    host.act = s.activation;
    return null;
  },

  /** out ← φ(out) in place, unless the host's GEMM fused it (ReLU after conv or dense). */
  forward({ k, M }, host, out) {
    if (host.act && !(host.act.kind === 'relu' && host.layer.fusesRelu)) k.activationForward(out, M * host.outSize, host.act);
  },

  /** The host's activation on its output `x`. */
  onnx: (host, g, x) => (host.act ? onnxActivation(g, host.act, x) : x),

  torch: (host) => (host.act ? torchActivation(host.act) : []),

  /** dout ← dout ⊙ φ'(z), φ' read from the output a = φ(z). */
  backward({ k, M }, host, _dx, dout, _x, out) {
    if (host.act) k.activationBackward(dout, out, M * host.outSize, host.act);
  },
};

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

export function formatActivation(a: OutputActivation): string {
  return a.kind === 'sigmoid' ? (a.slope === 1 ? 'sigmoid' : `sigmoid:${a.slope}`) : a.kind;
}

/** `Relu`; `Sigmoid`, its slope a ≠ 1 as a `Mul` before it; nothing for identity. */
export function onnxActivation(g: OnnxGraph, a: Activation, x: string): string {
  if (a.kind === 'relu') return g.op('Relu', [x]);
  if (a.kind === 'identity') return x;
  return g.op('Sigmoid', [a.slope === 1 ? x : g.op('Mul', [x, g.constant([a.slope], [])])]);
}

export function torchActivation(a: Activation): TorchModule[] {
  if (a.kind === 'relu') return [{ type: 'ReLU' }];
  if (a.kind === 'identity') return [];
  return [...(a.slope === 1 ? [] : [{ type: 'Scale', args: { factor: a.slope } }]), { type: 'Sigmoid' }];
}

/**
 * The probabilities from the last layer's outputs `z` (N, classes), as Model.predict makes them: softmax;
 * any other output activation clipped at 0 and normalised to sum to 1 (1/classes each where all are 0).
 */
export function onnxProbabilities(g: OnnxGraph, out: OutputActivation, z: string, classes: number): string {
  if (out.kind === 'softmax') return g.op('Softmax', [z], { axis: 1 });
  const p = g.op('Relu', [onnxActivation(g, out, z)]);
  const sum = g.op('ReduceSum', [p, g.constant([1], [1], 'int64')], { keepdims: 1 });
  const allZero = g.op('Equal', [sum, g.constant([0], [])]);
  return g.op('Where', [allZero, g.constant([1 / classes], []), g.op('Div', [p, sum])]);
}

/** The same as PyTorch modules: Softmax, or the activation and the README's Normalize (clip at 0, divide by the sum). */
export function torchProbabilities(out: OutputActivation): TorchModule[] {
  return out.kind === 'softmax' ? [{ type: 'Softmax', args: { dim: 1 } }] : [...torchActivation(out), { type: 'Normalize' }];
}
