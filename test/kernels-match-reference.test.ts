import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sparseScratchWords, type Kernels } from '../src/kernels/kernels.js';
import { kernelImplementations, type KernelsUnderTest } from './helpers/implementations.js';
import { maxRelativeError, randomFloats, refGemmAB, refGemmABt, refGemmAtB } from './helpers/reference.js';

// Awkward sizes on purpose: 1, primes, and sizes just past a multiple of the 4-wide tiles.
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 7, 17], [7, 17, 3], [17, 3, 129], [129, 10, 7], [8, 256, 784], [13, 129, 33],
];

// Every implementation runs the same checks; one this Node.js cannot run shows up as skipped.
const IMPLEMENTATIONS = await kernelImplementations(32 << 20);

for (const { name, impl } of IMPLEMENTATIONS) describe.skipIf(!impl)(`${name} kernels`, () => {
  let t: KernelsUnderTest;
  let k: Kernels;
  /** A copy of `a` where the implementation can read it. */
  const f32 = (a: ArrayLike<number>) => {
    const v = t.f32(a.length);
    v.set(a);
    return v;
  };
  const random = (n: number, seed: number) => f32(randomFloats(n, seed));
  /** An output filled with NaN, so that any element the kernel fails to write shows up. */
  const poisoned = (n: number) => t.f32(n).fill(Number.NaN);

  beforeAll(() => {
    t = impl!;
    k = t.kernels;
  });
  beforeEach(() => t.reset());

  it.each(SHAPES)('gemmABt (bias) matches the float64 reference for M=%i N=%i K=%i', (M, N, K) => {
    const A = random(M * K, 1), B = random(N * K, 2), bias = random(N, 3);
    const C = poisoned(M * N);
    k.gemmABt(C, A, B, bias, M, N, K);
    expect(maxRelativeError(C, refGemmABt(A, B, bias, M, N, K))).toBeLessThan(1e-5);
    const C2 = poisoned(M * N);
    k.gemmABt(C2, A, B, null, M, N, K);
    expect(maxRelativeError(C2, refGemmABt(A, B, null, M, N, K))).toBeLessThan(1e-5);
  });

  it.each(SHAPES)('gemmAB matches the float64 reference for M=%i N=%i K=%i', (M, N, K) => {
    const A = random(M * K, 4), B = random(K * N, 5);
    const C = poisoned(M * N);
    k.gemmAB(C, A, B, M, N, K);
    expect(maxRelativeError(C, refGemmAB(A, B, M, N, K))).toBeLessThan(1e-5);
  });

  it.each(SHAPES)('gemmAtB matches the float64 reference for M=%i N=%i K=%i', (M, N, K) => {
    const A = random(K * M, 6), B = random(K * N, 7);
    const C = poisoned(M * N);
    k.gemmAtB(C, A, B, M, N, K);
    expect(maxRelativeError(C, refGemmAtB(A, B, M, N, K))).toBeLessThan(1e-5);
  });

  /** The float32 bits of a view. */
  const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

  it.each(SHAPES)('gemmAtBAcc adds Aᵀ·B to C (float64 reference), and gemmAtB then gemmAtBAcc over a split of K is gemmAtB over all K, bit for bit, M=%i N=%i K=%i',
    (M, N, K) => {
      const A = random(K * M, 21), B = random(K * N, 22), C0 = randomFloats(M * N, 23);
      const C = f32(C0);
      k.gemmAtBAcc(C, A, B, M, N, K);
      const ref = refGemmAtB(A, B, M, N, K).map((v, q) => v + C0[q]);
      expect(maxRelativeError(C, ref)).toBeLessThan(1e-5);
      const whole = poisoned(M * N);
      k.gemmAtB(whole, A, B, M, N, K);
      for (const cut of [1, Math.floor(K / 2), K - 1].filter((c) => c > 0 && c < K)) {
        const split = poisoned(M * N);
        k.gemmAtB(split, A, B, M, N, cut);
        k.gemmAtBAcc(split, A.subarray(cut * M), B.subarray(cut * N), M, N, K - cut);
        expect(bitsOf(split)).toEqual(bitsOf(whole));
      }
    });

  it.each([[36, 7, 5, 3], [4, 32, 32, 36], [1, 1, 1, 2]])('gemmABBatch and gemmAtBBatch are their GEMMs one call each, bit for bit (M=%i N=%i K=%i, %i products)', (M, N, K, count) => {
    const A = random(count * M * K, 24), B = random(count * K * N, 25), C = random(count * M * N, 26);
    const batch = poisoned(count * M * N), one = poisoned(count * M * N);
    k.gemmABBatch(batch, A, B, M, N, K, count);
    for (let b = 0; b < count; b++) k.gemmAB(one.subarray(b * M * N), A.subarray(b * M * K), B.subarray(b * K * N), M, N, K);
    expect(bitsOf(batch)).toEqual(bitsOf(one));
    for (const acc of [false, true]) {
      const batchT = f32(C), oneT = f32(C);
      k.gemmAtBBatch(batchT, A, B, M, N, K, count, acc);
      for (let b = 0; b < count; b++) (acc ? k.gemmAtBAcc : k.gemmAtB)(oneT.subarray(b * M * N), A.subarray(b * K * M), B.subarray(b * K * N), M, N, K);
      expect(bitsOf(batchT)).toEqual(bitsOf(oneT));
    }
  });

  it('gemm results do not depend on how many rows are computed at once (the determinism contract)', () => {
    const [M, N, K] = [17, 33, 129];
    const A = random(M * K, 8), B = random(N * K, 9);
    const all = poisoned(M * N);
    k.gemmABt(all, A, B, null, M, N, K);
    for (let i = 0; i < M; i++) {
      const row = poisoned(N);
      k.gemmABt(row, A.subarray(i * K), B, null, 1, N, K);
      expect(Array.from(row)).toEqual(Array.from(all.subarray(i * N, (i + 1) * N)));
    }
  });

  /**
   * Inputs for the sparse first-layer kernels, (rows, IN): ~80 % exact zeros (MNIST's background is
   * 81 %), fully dense, or sparse with every third row all zero; values in [0, 1) like pixels.
   */
  const sparseInputs = (rows: number, IN: number, kind: 'sparse' | 'dense' | 'zero-rows', seed: number) => {
    const x = randomFloats(rows * IN, seed, 0, 1);
    if (kind !== 'dense') {
      const u = randomFloats(rows * IN, seed + 1, 0, 1);
      for (let p = 0; p < x.length; p++) if (u[p] < 0.8) x[p] = 0;
    }
    if (kind === 'zero-rows') for (let r = 0; r < rows; r += 3) x.fill(0, r * IN, (r + 1) * IN);
    return f32(x);
  };
  /** Scratch for the sparse kernels, full of garbage (what is left there must not matter). */
  const scratch = (IN: number, K: number) => t.i32(sparseScratchWords(IN, K)).fill(-0x5a5a5a5b);
  const SPARSE_KINDS = ['sparse', 'dense', 'zero-rows'] as const;
  // [rows, IN, OUT]: OUT past multiples of the 32-column tile and of 4; IN past multiples of 4; the MLP's.
  const SPARSE_SHAPES: [number, number, number][] = [
    [1, 1, 1], [3, 7, 17], [7, 17, 3], [17, 3, 129], [129, 10, 7], [7, 129, 35], [13, 33, 67], [32, 784, 256],
  ];
  const sparseCases = SPARSE_SHAPES.flatMap(([rows, IN, OUT]) => SPARSE_KINDS.map((kind) => [rows, IN, OUT, kind] as const));

  it.each(sparseCases)('sparseForward matches the float64 reference for M=%i IN=%i OUT=%i, %s inputs', (M, IN, OUT, kind) => {
    const X = sparseInputs(M, IN, kind, 21), WT = random(IN * OUT, 22), bias = random(OUT, 23);
    const ref = refGemmAB(X, WT, M, OUT, IN);
    const withBias = ref.map((v, p) => v + bias[p % OUT]);
    for (const [b, relu, want] of [
      [bias, false, withBias], [bias, true, withBias.map((v) => Math.max(v, 0))], [null, false, ref],
    ] as const) {
      const Y = poisoned(M * OUT);
      k.sparseForward(Y, X, WT, b, M, OUT, IN, relu, scratch(IN, 0));
      expect(maxRelativeError(Y, want)).toBeLessThan(1e-5);
      if (relu) expect(Y.every((v) => v >= 0)).toBe(true);
    }
  });

  it.each(sparseCases)('sparseWeightGrad matches the float64 reference for K=%i IN=%i OUT=%i, %s inputs', (K, IN, OUT, kind) => {
    const X = sparseInputs(K, IN, kind, 24), dZ = random(K * OUT, 25);
    const dWT = poisoned(IN * OUT);
    k.sparseWeightGrad(dWT, X, dZ, K, IN, OUT, scratch(0, K));
    expect(maxRelativeError(dWT, refGemmAtB(X, dZ, IN, OUT, K))).toBeLessThan(1e-5);
    // inputs no row sets: rows of exact zeros, written
    for (let i = 0; i < IN; i++) {
      let set = false;
      for (let r = 0; r < K; r++) set ||= X[r * IN + i] !== 0;
      if (!set) expect(Array.from(dWT.subarray(i * OUT, (i + 1) * OUT)).every((v) => v === 0)).toBe(true);
    }
  });

  it('sparse kernels skip zeros: an output does not depend on the weights of zero inputs, even non-finite ones', () => {
    const [M, IN, OUT] = [5, 13, 37];
    const X = sparseInputs(M, IN, 'sparse', 26);
    X.fill(0, 0, M * IN);
    for (let r = 0; r < M; r++) X[r * IN + 2 * r + 1] = 0.5; // one input per row; input 0 never set
    const WT = random(IN * OUT, 27);
    const clean = poisoned(M * OUT);
    k.sparseForward(clean, X, WT, null, M, OUT, IN, false, scratch(IN, 0));
    WT.fill(Number.POSITIVE_INFINITY, 0, OUT); // Wᵀ's row of input 0
    const Y = poisoned(M * OUT);
    k.sparseForward(Y, X, WT, null, M, OUT, IN, false, scratch(IN, 0));
    expect(Array.from(Y)).toEqual(Array.from(clean));
    const dZ = random(M * OUT, 28);
    dZ.fill(Number.NaN, 0, OUT); // only row 0's input 1 is set: dZ row 0 reaches dWᵀ row 1 alone
    const dWT = poisoned(IN * OUT);
    k.sparseWeightGrad(dWT, X, dZ, M, IN, OUT, scratch(0, M));
    for (let i = 0; i < IN; i++) expect(dWT.subarray(i * OUT, (i + 1) * OUT).some(Number.isNaN)).toBe(i === 1);
  });

  it('sparse kernels: results do not depend on how rows are grouped into calls (the determinism contract)', () => {
    const [M, IN, OUT] = [17, 129, 67];
    const X = sparseInputs(M, IN, 'zero-rows', 29), WT = random(IN * OUT, 30), bias = random(OUT, 31);
    const all = poisoned(M * OUT);
    k.sparseForward(all, X, WT, bias, M, OUT, IN, true, scratch(IN, 0));
    for (let r = 0; r < M; r++) {
      const row = poisoned(OUT);
      k.sparseForward(row, X.subarray(r * IN), WT, bias, 1, OUT, IN, true, scratch(IN, 0));
      expect(Array.from(row)).toEqual(Array.from(all.subarray(r * OUT, (r + 1) * OUT)));
    }
    // The weight gradient of a micro-shard depends on its rows only: the same rows at another place in
    // memory, or among other shards' rows, give the same bits.
    const dZ = random(M * OUT, 32);
    const shard = (r0: number, K: number) => {
      const dWT = poisoned(IN * OUT);
      k.sparseWeightGrad(dWT, f32(X.subarray(r0 * IN, (r0 + K) * IN)), f32(dZ.subarray(r0 * OUT, (r0 + K) * OUT)), K, IN, OUT, scratch(0, K));
      return Array.from(dWT);
    };
    const inPlace = poisoned(IN * OUT);
    k.sparseWeightGrad(inPlace, X.subarray(4 * IN), dZ.subarray(4 * OUT), 8, IN, OUT, scratch(0, 8));
    expect(shard(4, 8)).toEqual(Array.from(inPlace));
  });

  it('colSum sums rows', () => {
    const [M, N] = [7, 17];
    const A = random(M * N, 10);
    const out = poisoned(N);
    k.colSum(out, A, M, N);
    const ref = Array.from({ length: N }, (_, j) => Array.from({ length: M }, (_, i) => A[i * N + j]).reduce((a, b) => a + b));
    expect(maxRelativeError(out, ref)).toBeLessThan(1e-5);
  });

  it('gather turns indexed uint8 images into floats in [0, 1] and picks their labels', () => {
    const D = 5;
    const pixels = t.u8(4 * D);
    pixels.set(Uint8Array.from({ length: 4 * D }, (_, i) => (i * 37) % 256));
    const labels = t.u8(4);
    labels.set([3, 1, 4, 1]);
    const index = t.i32(3);
    index.set([2, 0, 3]);
    const X = poisoned(3 * D);
    const y = t.i32(3).fill(-1);
    k.gather(X, y, pixels, labels, index, 3, D);
    for (let r = 0; r < 3; r++) for (let c = 0; c < D; c++) expect(X[r * D + c]).toBeCloseTo(pixels[index[r] * D + c] / 255, 6);
    expect(Array.from(y)).toEqual([4, 3, 1]);
  });

  it('reduceSlots sums slots in order and scales, only inside [begin, end)', () => {
    const [S, stride] = [5, 24];
    const slots = random(S * stride, 11);
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
    const theta = random(37, 12), grad = random(37, 13), vel = t.f32(37);
    const expected = theta.map((th, i) => Math.fround(th - Math.fround(0.1 * grad[i])));
    k.sgdStep(theta, grad, vel, 0, 37, { lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0 });
    // Reference: the notes' formula, in float32 as the parameters are stored
    for (let i = 0; i < 37; i++) expect(theta[i]).toBeCloseTo(expected[i], 6);
  });

  it('sgdStep applies momentum, Nesterov and weight decay as documented', () => {
    const theta = f32([1, -2]), grad = f32([0.5, 0.25]), vel = f32([0.1, -0.1]);
    k.sgdStep(theta, grad, vel, 0, 2, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
    // g = grad + λθ = [0.51, 0.23]; v = 0.9·v + g = [0.6, 0.14]; θ −= 0.1·(g + 0.9·v)
    expect(vel[0]).toBeCloseTo(0.6, 6);
    expect(vel[1]).toBeCloseTo(0.14, 6);
    expect(theta[0]).toBeCloseTo(1 - 0.1 * (0.51 + 0.54), 6);
    expect(theta[1]).toBeCloseTo(-2 - 0.1 * (0.23 + 0.126), 6);
  });
});
