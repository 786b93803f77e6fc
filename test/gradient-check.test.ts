import { describe, expect, it } from 'vitest';
import { tsKernels as k } from '../src/kernels/ts.js';
import { initParams } from '../src/model/init.js';
import { paramLayout } from '../src/model/layout.js';
import { backward, forward, maxWidth, sparseScratch } from '../src/model/network.js';
import { makeSpec, parseActivation, parseOutputActivation, type MlpSpec } from '../src/model/spec.js';
import { maxRelativeError, randomFloats } from './helpers/reference.js';

/** Summed loss over M rows, and (optionally) its gradient in one slot or in micro-shards of `micro` rows. */
function lossAndGradient(spec: MlpSpec, params: Float32Array, x: Float32Array, y: Int32Array, M: number, micro = M) {
  const layout = paramLayout(spec);
  const C = spec.layers[spec.layers.length - 1];
  const acts = layout.dense.map((d) => new Float32Array(M * d.outputs));
  const dz = new Float32Array(M * maxWidth(spec));
  const spare = new Float32Array(M * maxWidth(spec));
  const sparse = sparseScratch(spec, M);
  const z = forward(k, spec, layout, params, x, acts, M, sparse);
  const loss = k.lossForwardBackward(z, dz, y, M, C, spec.output, spec.loss);
  const slots = Array.from({ length: Math.ceil(M / micro) }, () => new Float32Array(layout.size));
  backward(k, spec, layout, params, x, acts, dz, spare, M, { micro, firstShard: 0, slot: (s) => slots[s] }, sparse);
  const grad = new Float64Array(layout.size);
  for (const s of slots) s.forEach((g, p) => (grad[p] += g));
  return { loss, grad };
}

/** Central differences of the summed loss with respect to every parameter. */
function numericGradient(spec: MlpSpec, params: Float32Array, x: Float32Array, y: Int32Array, M: number, eps: number): Float64Array {
  const g = new Float64Array(params.length);
  for (let p = 0; p < params.length; p++) {
    const keep = params[p];
    params[p] = keep + eps;
    const up = lossAndGradient(spec, params, x, y, M).loss;
    params[p] = keep - eps;
    const down = lossAndGradient(spec, params, x, y, M).loss;
    params[p] = keep;
    g[p] = (up - down) / (2 * eps);
  }
  return g;
}

function setup(layers: number[], activation: string, loss: 'cross-entropy' | 'squared-error', output?: string, seed = 3) {
  const spec = makeSpec(layers, parseActivation(activation), loss, output ? parseOutputActivation(output) : undefined);
  const params = new Float32Array(paramLayout(spec).size);
  initParams(params, spec, paramLayout(spec), seed);
  // Non-zero biases, so that their gradients and the shifted pre-activations are exercised too.
  paramLayout(spec).dense.forEach((d) => params.set(randomFloats(d.b.size, seed + d.b.offset, -0.2, 0.2), d.b.offset));
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

  it('micro-shard gradients sum to the whole batch gradient', () => {
    const { spec, params, x, y, M } = setup([6, 7, 5, 4], 'relu', 'cross-entropy');
    const whole = lossAndGradient(spec, params, x, y, M, M).grad;
    const sharded = lossAndGradient(spec, params, x, y, M, 2).grad;
    expect(maxRelativeError(sharded, whole)).toBeLessThan(1e-6);
  });
});
