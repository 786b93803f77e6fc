import { describe, expect, it } from 'vitest';
import { tsKernels as k } from '../src/kernels/ts.js';
import { initParams } from '../src/model/init.js';
import { compileNet } from '../src/model/layout.js';
import type { ConvNode } from '../src/model/layers/conv.js';
import type { ConvAlgorithm } from '../src/model/layers/layer.js';
import { backward, forward, localBuffers, smoothLabels } from '../src/model/network.js';
import { makeSpec, parseActivation, parseCnnSpec, parseOutputActivation, type ModelSpec } from '../src/model/spec.js';
import { maxRelativeError, randomFloats } from './helpers/reference.js';

/**
 * Summed loss over M rows in training mode, and (optionally) its gradient in one slot or in micro-shards
 * of `micro` rows. Only trainable parameters get gradients: the entries of batch norm's running
 * statistics are zeroed (backward records batch statistics there, which the loss does not depend on).
 */
function lossAndGradient(spec: ModelSpec, params: Float32Array, x: Float32Array, y: Int32Array, M: number, micro = M, smoothing = 0, conv: ConvAlgorithm = 'im2col') {
  const net = compileNet(spec, conv);
  const buf = localBuffers(net, M, micro);
  buf.x.set(x);
  const slots = Array.from({ length: Math.ceil(M / micro) }, () => new Float32Array(net.layout.size));
  const pass = { micro, firstShard: 0, slot: (s: number) => slots[s], seed: 9, epoch: 2, samples: Int32Array.from({ length: M }, (_, r) => 100 + r) };
  const z = forward(k, net, params, buf, M, pass);
  let loss = k.lossForwardBackward(z, buf.dz, y, M, net.classes, spec.output, spec.loss);
  if (smoothing > 0) loss = smoothLabels(z, buf.dz, y, M, net.classes, smoothing, loss);
  backward(k, net, params, buf, M, pass);
  const grad = new Float64Array(net.layout.size);
  for (const s of slots) s.forEach((g, p) => (grad[p] += g));
  for (const t of net.layout.tensors) if (!t.trainable) grad.fill(0, t.offset, t.offset + t.size);
  return { loss, grad };
}

/** Central differences of the summed loss with respect to every trainable parameter (0 for the others). */
function numericGradient(spec: ModelSpec, params: Float32Array, x: Float32Array, y: Int32Array, M: number, eps: number, smoothing = 0,
  conv: ConvAlgorithm = 'im2col'): Float64Array {
  const g = new Float64Array(params.length);
  const frozen = new Set<number>();
  for (const t of compileNet(spec).layout.tensors) if (!t.trainable) for (let i = 0; i < t.size; i++) frozen.add(t.offset + i);
  for (let p = 0; p < params.length; p++) {
    if (frozen.has(p)) continue;
    const keep = params[p];
    params[p] = keep + eps;
    const up = lossAndGradient(spec, params, x, y, M, M, smoothing, conv).loss;
    params[p] = keep - eps;
    const down = lossAndGradient(spec, params, x, y, M, M, smoothing, conv).loss;
    params[p] = keep;
    g[p] = (up - down) / (2 * eps);
  }
  return g;
}

function setup(layers: number[], activation: string, loss: 'cross-entropy' | 'squared-error', output?: string, seed = 3) {
  const spec = makeSpec(layers, parseActivation(activation), loss, output ? parseOutputActivation(output) : undefined);
  const params = initialised(spec, seed);
  const M = 5;
  const x = randomFloats(M * layers[0], seed + 100, 0, 1);
  // Over half the inputs exactly 0, like MNIST's background: the first layer skips them (sparseForward,
  // sparseWeightGrad), and its gradient must come out right all the same. The pattern (period 7 over rows
  // of 6: each input is zero in some rows, set in others) is fixed rather than random because a random
  // one put a ReLU pre-activation within EPS of its kink, where central differences mean nothing.
  for (let i = 0; i < x.length; i++) if (i % 7 < 4) x[i] = 0;
  const C = layers[layers.length - 1];
  const y = Int32Array.from({ length: M }, (_, r) => (r * 7 + seed) % C);
  return { spec, params, x, y, M };
}

/** Seeded weights, and non-zero biases and batch-norm shifts, so that their gradients and shifted pre-activations are exercised too. */
function initialised(spec: ModelSpec, seed: number): Float32Array {
  const net = compileNet(spec);
  const params = new Float32Array(net.layout.size);
  initParams(params, net, seed);
  for (const t of net.layout.tensors) {
    if (t.name.endsWith('.b') || t.name.endsWith('.beta')) params.set(randomFloats(t.size, seed + t.offset, -0.2, 0.2), t.offset);
    if (t.name.endsWith('.gamma')) params.set(randomFloats(t.size, seed + t.offset, 0.5, 1.5), t.offset);
  }
  return params;
}

/** A small CNN on random H×W×C images. */
function setupCnn(layers: string, H: number, W: number, C: number, seed = 5, M = 4) {
  const spec = parseCnnSpec(layers, { height: H, width: W, channels: C });
  const params = initialised(spec, seed);
  const x = randomFloats(M * H * W * C, seed + 100, 0, 1);
  const classes = compileNet(spec).classes;
  const y = Int32Array.from({ length: M }, (_, r) => (r * 7 + seed) % classes);
  return { spec, params, x, y, M };
}

// Float32 parameters: eps 1e-2 keeps rounding noise (~1e-7·loss/eps) far below the tolerance, and the
// O(eps²) truncation error of central differences too.
const EPS = 1e-2;
const TOLERANCE = 2e-3;

describe('backpropagation matches finite differences', () => {
  const cases: [string, number[], string, 'cross-entropy' | 'squared-error', string | undefined][] = [
    ['relu hidden, softmax + cross-entropy, three layers', [6, 7, 5, 4], 'relu', 'cross-entropy', undefined],
    ['sigmoid hidden, softmax + cross-entropy', [6, 7, 4], 'sigmoid', 'cross-entropy', undefined],
    ['sigmoid with slope 2.5, squared error with sigmoid outputs (the notes)', [6, 7, 4], 'sigmoid:2.5', 'squared-error', undefined],
    ['identity hidden, squared error with identity outputs', [6, 7, 4], 'identity', 'squared-error', undefined],
    ['relu hidden, squared error with identity outputs', [6, 7, 4], 'relu', 'squared-error', 'identity'],
    ['sigmoid hidden, squared error through softmax', [6, 7, 4], 'sigmoid', 'squared-error', 'softmax'],
    ['a single layer (no hidden layer), cross-entropy', [6, 4], 'relu', 'cross-entropy', undefined],
    ['sigmoid:0.5, four layers, squared error', [6, 5, 5, 5, 3], 'sigmoid:0.5', 'squared-error', undefined],
  ];
  it.each(cases)('%s', (_name, layers, activation, loss, output) => {
    const { spec, params, x, y, M } = setup(layers, activation, loss, output);
    const analytic = lossAndGradient(spec, params, x, y, M).grad;
    const numeric = numericGradient(spec, params, x, y, M, EPS);
    expect(maxRelativeError(analytic, numeric)).toBeLessThan(TOLERANCE);
  });

  it('detects a wrong gradient (the check can fail)', () => {
    const { spec, params, x, y, M } = setup([6, 7, 4], 'sigmoid', 'cross-entropy');
    const analytic = lossAndGradient(spec, params, x, y, M).grad;
    analytic[3] += 0.05; // one wrong weight gradient
    const numeric = numericGradient(spec, params, x, y, M, EPS);
    expect(maxRelativeError(analytic, numeric)).toBeGreaterThan(TOLERANCE);
  });

  // The last number is the seed. Each was chosen so that no max-pooling window holds a near-tie and no
  // ReLU input sits within EPS of 0: there, central differences straddle a non-differentiable point and
  // mean nothing (about half the seeds hit one; batch norm over 4 rows moves inputs the most).
  const cnnCases: [string, string, number, number, number, number][] = [
    ['convolution 3×3, padding 1, ReLU, max pooling 2, dense', 'c3k3p1-relu-mp2-fc4', 6, 6, 2, 5],
    ['convolution with stride 2 and padding 2 (identity), dense', 'c2k3s2p2-fc3', 5, 5, 1, 5],
    ['max pooling 3 over an input it does not divide (7×7)', 'c2k2-relu-mp3-fc3', 8, 8, 1, 5],
    ['two convolutions with pooling between', 'c2k3p1-relu-mp2-c3k2-relu-fc3', 6, 6, 1, 5],
    ['batch norm after a convolution and after a dense layer', 'c3k3-bn-relu-fc5-bn-relu-fc3', 5, 5, 2, 27],
    ['dropout (a fixed mask: keyed by seed, epoch and sample)', 'c2k3-relu-fc6-relu-do0.5-fc3', 5, 5, 1, 6],
    ['average pooling 2 after a padded convolution', 'c3k3p1-ap2-fc4', 6, 6, 2, 5],
    ['average pooling 3 over an input it does not divide (7×7), after batch norm and ReLU', 'c2k2-bn-relu-ap3-fc3', 8, 8, 1, 5],
    ['global average pooling before the classifier', 'c3k3-bn-gap-fc3', 5, 5, 2, 5],
    ['residual blocks with batch norm inside, an identity and a projection shortcut (1×1 conv stride 2 and bn), then gap',
      'c3k3p1-bn-res(c3k3p1-bn-c3k3p1-bn)-res(c4k3s2p1-bn-c4k3p1-bn)-gap-fc3', 6, 6, 1, 5],
    // Deeper ReLU nets put some pre-activation within EPS of 0 for every seed tried (at EPS = 1e-4 they
    // agree to float32 noise): the sigmoid stands in for it, smooth, through the same paths (an
    // activation inside the branch and one on the sum), and a small ReLU block is checked on its own.
    ['residual blocks with activations inside and on the sum, a projection without batch norm (channels change, size kept)',
      'c3k3p1-sigmoid-res(c3k3p1-sigmoid-c3k3p1)-sigmoid-res(c4k3p1)-sigmoid-fc3', 5, 5, 1, 5],
    ['a residual block followed by ReLU', 'c3k3p1-res(c3k3p1)-relu-fc3', 4, 4, 1, 9],
  ];
  it.each(cnnCases)('%s', (_name, layers, H, W, C, seed) => {
    const { spec, params, x, y, M } = setupCnn(layers, H, W, C, seed);
    const analytic = lossAndGradient(spec, params, x, y, M).grad;
    const numeric = numericGradient(spec, params, x, y, M, EPS);
    expect(maxRelativeError(analytic, numeric)).toBeLessThan(TOLERANCE);
  });

  it('label smoothing', () => {
    const { spec, params, x, y, M } = setupCnn('c2k3-fc3', 5, 5, 1);
    const analytic = lossAndGradient(spec, params, x, y, M, M, 0.1).grad;
    const numeric = numericGradient(spec, params, x, y, M, EPS, 0.1);
    expect(maxRelativeError(analytic, numeric)).toBeLessThan(TOLERANCE);
  });

  it('micro-shard gradients sum to the whole batch gradient', () => {
    const { spec, params, x, y, M } = setup([6, 7, 5, 4], 'relu', 'cross-entropy');
    const whole = lossAndGradient(spec, params, x, y, M, M).grad;
    const sharded = lossAndGradient(spec, params, x, y, M, 2).grad;
    expect(maxRelativeError(sharded, whole)).toBeLessThan(1e-6);
  });

  it('convolution gradients summed chunk by chunk over micro-shards equal the whole batch gradient', () => {
    // 40 samples of 4×4 outputs: the conv chunk is 32 samples (512 pixels), so a shard of 40 takes two chunks.
    const { spec, params, x, y, M } = setupCnn('c2k3-relu-fc3', 6, 6, 1, 5, 40);
    const whole = lossAndGradient(spec, params, x, y, M, M).grad;
    const sharded = lossAndGradient(spec, params, x, y, M, 8).grad;
    expect(maxRelativeError(sharded, whole)).toBeLessThan(1e-5);
  });

  // Through Winograd (--conv winograd: every 3×3 and 5×5 stride-1 layer, whatever its channels; F(4×4, 3×3)
  // or F(2×2, 3×3) by the output's size, F(2×2, 5×5)): the forward, and the backward's transforms and GEMMs,
  // after batch norm and where a ReLU and max pooling follow. Odd output sizes crop the last tiles; padding 0-2.
  const winogradCases: [string, string, number, number, number, number][] = [
    ['conv 3×3 then batch norm (Winograd backward), 3×3 output (cropped tiles)', 'c3k3-bn-relu-fc5-bn-relu-fc3', 5, 5, 2, 27],
    ['conv 3×3 padding 1 then ReLU and max pooling (F(4×4): one 6×6 output tile per image)', 'c3k3p1-relu-mp2-fc4', 6, 6, 2, 5],
    ['a 10×10 output in F(2×2) tiles, sigmoid (smooth: no ReLU kink within EPS)', 'c2k3p1-sigmoid-fc3', 10, 10, 2, 5],
    ['two 3×3 convs, padding 2 and 1, the second reaching its input gradient through the transforms', 'c3k3p2-bn-c2k3p1-bn-gap-fc3', 5, 5, 2, 5],
    ['residual blocks (Winograd inside, the 1×1 projection and the stride-2 conv im2col)',
      'c3k3p1-bn-res(c3k3p1-bn-c3k3p1-bn)-res(c4k3s2p1-bn-c4k3p1-bn)-gap-fc3', 6, 6, 1, 5],
    ['conv 5×5 (F(2×2, 5×5)), 3×3 output (cropped tiles), sigmoid', 'c3k5-sigmoid-fc3', 7, 7, 2, 5],
    ['two 5×5 convs, padding 2 and 1, batch norm after each (the second\'s input gradient through the transforms)',
      'c3k5p2-bn-sigmoid-c2k5p1-bn-gap-fc3', 6, 6, 2, 5],
  ];
  it.each(winogradCases)('Winograd: %s', (_name, layers, H, W, C, seed) => {
    const { spec, params, x, y, M } = setupCnn(layers, H, W, C, seed);
    expect(compileNet(spec, 'winograd').all.some((n) => 'wino' in n && n.wino !== null)).toBe(true);
    const analytic = lossAndGradient(spec, params, x, y, M, M, 0, 'winograd').grad;
    const numeric = numericGradient(spec, params, x, y, M, EPS, 0, 'winograd');
    expect(maxRelativeError(analytic, numeric)).toBeLessThan(TOLERANCE);
    // and the same gradient as im2col + GEMM, to float32 rounding
    expect(maxRelativeError(analytic, lossAndGradient(spec, params, x, y, M).grad)).toBeLessThan(1e-5);
  });

  it('a 5×5 layer under --conv auto that a ReLU follows: Winograd forward, the sparse im2col backward', () => {
    const { spec, params, x, y, M } = setupCnn('c2k5p1-relu-fc3', 5, 5, 16, 5);
    const node = compileNet(spec, 'auto').nodes[0] as ConvNode;
    expect(node.wino?.backward).toBe(false);
    expect(node.sparseGrad).toBe(true);
    const analytic = lossAndGradient(spec, params, x, y, M, M, 0, 'auto').grad;
    expect(maxRelativeError(analytic, numericGradient(spec, params, x, y, M, EPS, 0, 'auto'))).toBeLessThan(TOLERANCE);
    expect(maxRelativeError(analytic, lossAndGradient(spec, params, x, y, M).grad)).toBeLessThan(1e-5);
  });

  it('Winograd gradients summed chunk by chunk over micro-shards equal the whole batch gradient', () => {
    // 6×6 outputs are 9 tiles: the chunk is 28 samples, so a shard of 40 takes two chunks.
    const { spec, params, x, y, M } = setupCnn('c2k3p1-fc3', 6, 6, 1, 5, 40);
    const whole = lossAndGradient(spec, params, x, y, M, M, 0, 'winograd').grad;
    const sharded = lossAndGradient(spec, params, x, y, M, 8, 0, 'winograd').grad;
    expect(maxRelativeError(sharded, whole)).toBeLessThan(1e-5);
  });
});
