import { describe, expect, it } from 'vitest';
import { tsKernels } from '../src/kernels/ts.js';
import type { Kernels } from '../src/kernels/kernels.js';
import { maxRelativeError, poisoned, randomFloats, refGemmAB, refGemmABt, refGemmAtB } from './helpers/reference.js';

// Awkward sizes on purpose: 1, primes, and sizes just past a multiple of the 4-wide tiles.
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 7, 17], [7, 17, 3], [17, 3, 129], [129, 10, 7], [8, 256, 784], [13, 129, 33],
];
const IMPLEMENTATIONS: Kernels[] = [tsKernels];

describe.each(IMPLEMENTATIONS)('$name kernels', (k) => {
  it.each(SHAPES)('gemmABt (bias) matches the float64 reference for M=%i N=%i K=%i', (M, N, K) => {
    const A = randomFloats(M * K, 1), B = randomFloats(N * K, 2), bias = randomFloats(N, 3);
    const C = poisoned(M * N);
    k.gemmABt(C, A, B, bias, M, N, K);
    expect(maxRelativeError(C, refGemmABt(A, B, bias, M, N, K))).toBeLessThan(1e-5);
    const C2 = poisoned(M * N);
    k.gemmABt(C2, A, B, null, M, N, K);
    expect(maxRelativeError(C2, refGemmABt(A, B, null, M, N, K))).toBeLessThan(1e-5);
  });

  it.each(SHAPES)('gemmAB matches the float64 reference for M=%i N=%i K=%i', (M, N, K) => {
    const A = randomFloats(M * K, 4), B = randomFloats(K * N, 5);
    const C = poisoned(M * N);
    k.gemmAB(C, A, B, M, N, K);
    expect(maxRelativeError(C, refGemmAB(A, B, M, N, K))).toBeLessThan(1e-5);
  });

  it.each(SHAPES)('gemmAtB matches the float64 reference for M=%i N=%i K=%i', (M, N, K) => {
    const A = randomFloats(K * M, 6), B = randomFloats(K * N, 7);
    const C = poisoned(M * N);
    k.gemmAtB(C, A, B, M, N, K);
    expect(maxRelativeError(C, refGemmAtB(A, B, M, N, K))).toBeLessThan(1e-5);
  });

  it('gemm results do not depend on how many rows are computed at once (the determinism contract)', () => {
    const [M, N, K] = [17, 33, 129];
    const A = randomFloats(M * K, 8), B = randomFloats(N * K, 9);
    const all = poisoned(M * N);
    k.gemmABt(all, A, B, null, M, N, K);
    for (let i = 0; i < M; i++) {
      const row = poisoned(N);
      k.gemmABt(row, A.subarray(i * K), B, null, 1, N, K);
      expect(Array.from(row)).toEqual(Array.from(all.subarray(i * N, (i + 1) * N)));
    }
  });

  it('colSum sums rows', () => {
    const [M, N] = [7, 17];
    const A = randomFloats(M * N, 10);
    const out = poisoned(N);
    k.colSum(out, A, M, N);
    const ref = Array.from({ length: N }, (_, j) => Array.from({ length: M }, (_, i) => A[i * N + j]).reduce((a, b) => a + b));
    expect(maxRelativeError(out, ref)).toBeLessThan(1e-5);
  });

  it('gather turns indexed uint8 images into floats in [0, 1] and picks their labels', () => {
    const D = 5;
    const pixels = Uint8Array.from({ length: 4 * D }, (_, i) => (i * 37) % 256);
    const labels = Uint8Array.from([3, 1, 4, 1]);
    const index = Int32Array.from([2, 0, 3]);
    const X = poisoned(3 * D);
    const y = new Int32Array(3).fill(-1);
    k.gather(X, y, pixels, labels, index, 3, D);
    for (let r = 0; r < 3; r++) for (let c = 0; c < D; c++) expect(X[r * D + c]).toBeCloseTo(pixels[index[r] * D + c] / 255, 6);
    expect(Array.from(y)).toEqual([4, 3, 1]);
  });

  it('reduceSlots sums slots in order and scales, only inside [begin, end)', () => {
    const [S, stride] = [5, 24];
    const slots = randomFloats(S * stride, 11);
    const grad = poisoned(stride);
    k.reduceSlots(grad, slots, S, stride, 3, 19, 0.25);
    for (let p = 0; p < stride; p++) {
      if (p < 3 || p >= 19) expect(grad[p]).toBeNaN();
      else {
        let s = 0;
        for (let i = 0; i < S; i++) s += slots[i * stride + p];
        expect(grad[p]).toBeCloseTo(0.25 * s, 6);
      }
    }
  });

  it('sgdStep with momentum 0 and no weight decay is exactly θ ← θ − α∇C', () => {
    const theta = randomFloats(37, 12), grad = randomFloats(37, 13), vel = new Float32Array(37);
    const expected = theta.map((t, i) => Math.fround(t - Math.fround(0.1 * grad[i])));
    k.sgdStep(theta, grad, vel, 0, 37, { lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0 });
    // Reference: the notes' formula, in float32 as the parameters are stored
    for (let i = 0; i < 37; i++) expect(theta[i]).toBeCloseTo(expected[i], 6);
  });

  it('sgdStep applies momentum, Nesterov and weight decay as documented', () => {
    const theta = Float32Array.from([1, -2]), grad = Float32Array.from([0.5, 0.25]), vel = Float32Array.from([0.1, -0.1]);
    k.sgdStep(theta, grad, vel, 0, 2, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
    // g = grad + λθ = [0.51, 0.23]; v = 0.9·v + g = [0.6, 0.14]; θ −= 0.1·(g + 0.9·v)
    expect(vel[0]).toBeCloseTo(0.6, 6);
    expect(vel[1]).toBeCloseTo(0.14, 6);
    expect(theta[0]).toBeCloseTo(1 - 0.1 * (0.51 + 0.54), 6);
    expect(theta[1]).toBeCloseTo(-2 - 0.1 * (0.23 + 0.126), 6);
  });
});
