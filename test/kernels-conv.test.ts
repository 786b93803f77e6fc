import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { batchNormScratchWords, type AdamHyper, type ConvGeometry, type Kernels } from '../src/kernels/kernels.js';
import { tsKernels } from '../src/kernels/ts.js';
import type { WasmKernels } from '../src/kernels/wasm.js';
import { kernelImplementations, type KernelsUnderTest } from './helpers/implementations.js';
import {
  convGeometry, maxRelativeError, randomFloats, refAdamStep, refBatchNorm, refBatchNormBackward, refCol2im, refConv, refIm2col, refMaxPool,
  refMaxPoolBackward,
} from './helpers/reference.js';

/**
 * The kernels of convolutional networks (im2col, col2im, max pooling, batch normalisation, and the
 * elementwise scaleShift, multiply, addTo, adamStep, emaUpdate), for every implementation, against the
 * naive float64 references of helpers/reference.ts: awkward shapes (C = 1, 3, 5, 32; k = 1, 3, 5;
 * stride 1 and 2; pad 0–2; odd H, W; R not a multiple of 4), outputs poisoned with NaN (an element a
 * kernel forgets shows up) inside sentinel guards (an element written past an output shows up), views
 * at offsets that are 16-byte aligned but not 64 (and, some, only 4-byte aligned), and the determinism
 * contract: an element's bits depend on its own image / channel / element only, not on what else shares
 * the call.
 */

const IMPLEMENTATIONS = await kernelImplementations(48 << 20);

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

/** [M, H, W, C, k, stride, pad] */
const CONVS: [number, number, number, number, number, number, number][] = [
  [2, 7, 9, 1, 3, 1, 1],
  [3, 9, 7, 3, 5, 2, 2],
  [2, 28, 28, 1, 5, 1, 0],
  [1, 7, 7, 5, 1, 1, 0],
  [2, 9, 9, 32, 3, 2, 1],
  [1, 12, 12, 32, 5, 1, 0],
  [2, 5, 7, 3, 3, 1, 2],
  [1, 3, 3, 5, 5, 1, 2],
  [2, 7, 9, 5, 5, 2, 0],
  [2, 9, 7, 5, 3, 2, 1],
  [3, 1, 1, 1, 1, 1, 0],
  [1, 6, 5, 2, 1, 2, 1],
  // Unpadded rows of 12 and 24 bytes (cnn-wide's first layer; a stride-2 one): the unpadded im2col's scalar and vector-with-overlap copies.
  [2, 10, 11, 1, 3, 1, 0],
  [1, 8, 8, 2, 3, 2, 0],
];
/** [M, H, W, C, size] */
const POOLS: [number, number, number, number, number][] = [
  [2, 7, 9, 1, 2], [3, 9, 7, 3, 3], [1, 24, 24, 32, 2], [2, 5, 5, 5, 2], [2, 8, 8, 13, 3], [1, 7, 7, 4, 2], [2, 11, 7, 21, 3], [1, 3, 2, 6, 1],
];
/** [R, C] */
const NORMS: [number, number][] = [[1, 1], [7, 3], [37, 5], [150, 32], [9, 13], [64, 1], [33, 64], [5, 7]];
const LENGTHS = [1, 3, 7, 17, 64, 1031];

for (const { name, impl } of IMPLEMENTATIONS) describe.skipIf(!impl)(`${name} kernels`, () => {
  let t: KernelsUnderTest;
  let k: Kernels;
  const GUARD = 16, SENTINEL = 31337.25;
  const guards: { whole: Float32Array | Int32Array; begin: number; end: number }[] = [];
  // Offsets cycled through, in floats past the allocation's start: 16-byte aligned but not 64 (4, 12, 20),
  // and only 4-byte aligned (1, 3).
  const SKEWS = [4, 12, 1, 20, 3, 0];
  let skewAt = 0;
  const skew = () => SKEWS[skewAt++ % SKEWS.length];

  /** n floats (or int32s) at an odd offset, inside sentinel guards that afterEach checks are untouched. */
  function guarded(n: number, ints: false): Float32Array;
  function guarded(n: number, ints: true): Int32Array;
  function guarded(n: number, ints: boolean): Float32Array | Int32Array {
    const s = skew();
    const whole = ints ? t.i32(n + 2 * GUARD + s).fill(-777) : t.f32(n + 2 * GUARD + s).fill(SENTINEL);
    guards.push({ whole, begin: GUARD + s, end: GUARD + s + n });
    return whole.subarray(GUARD + s, GUARD + s + n);
  }
  /** An input: a copy of a. */
  const input = (a: ArrayLike<number>) => {
    const v = guarded(a.length, false);
    v.set(a);
    return v;
  };
  const random = (n: number, seed: number, lo = -1, hi = 1) => input(randomFloats(n, seed, lo, hi));
  /** An output filled with NaN. */
  const poisoned = (n: number) => guarded(n, false).fill(Number.NaN);
  const poisonedInts = (n: number) => guarded(n, true).fill(-1);

  beforeAll(() => {
    t = impl!;
    k = t.kernels;
  });
  beforeEach(() => {
    t.reset();
    guards.length = 0;
  });
  afterEach(() => {
    for (const g of guards) {
      const outside = [...g.whole.subarray(0, g.begin), ...g.whole.subarray(g.end)];
      expect(outside.every((v) => v === (g.whole instanceof Int32Array ? -777 : SENTINEL)), 'a guard around a buffer was overwritten').toBe(true);
    }
  });

  // ── im2col, col2im ────────────────────────────────────────────────────────────────────────────────

  describe.each(CONVS)('convolution M=%i H=%i W=%i C=%i k=%i stride=%i pad=%i', (M, H, W, C, kk, stride, pad) => {
    const g: ConvGeometry = convGeometry(H, W, C, kk, stride, pad);
    const rows = M * g.OH * g.OW, width = kk * kk * C;

    it('im2col copies exactly what the indexing formula names (zero padding included)', () => {
      const x = random(M * H * W * C, 1);
      const cols = poisoned(rows * width);
      k.im2col(cols, x, M, g);
      expect(Array.from(cols)).toEqual(Array.from(refIm2col(x, M, g)));
    });

    it('im2col then gemmABt is the direct convolution', () => {
      const F = 7;
      const x = random(M * H * W * C, 2), w = random(F * width, 3), bias = random(F, 4);
      const cols = poisoned(rows * width), out = poisoned(rows * F);
      k.im2col(cols, x, M, g);
      k.gemmABt(out, cols, w, bias, rows, F, width);
      expect(maxRelativeError(out, refConv(x, w, bias, M, F, g))).toBeLessThan(1e-5);
    });

    it('col2im is the sum of the patches put back (the gather formula), and the adjoint of im2col', () => {
      const dcols = random(rows * width, 5), dx = poisoned(M * H * W * C);
      k.col2im(dx, dcols, M, g);
      expect(maxRelativeError(dx, refCol2im(dcols, M, g))).toBeLessThan(1e-6);
      // ⟨im2col(x), dcols⟩ = ⟨x, col2im(dcols)⟩
      const x = randomFloats(M * H * W * C, 6), cols = refIm2col(x, M, g);
      const lhs = cols.reduce((s, v, i) => s + v * dcols[i], 0), rhs = x.reduce((s, v, i) => s + v * dx[i], 0);
      expect(Math.abs(lhs - rhs) / Math.max(1, Math.abs(lhs))).toBeLessThan(1e-5);
    });

    it('each image on its own gives the same bits as all at once (im2col and col2im)', () => {
      const x = random(M * H * W * C, 7), dcols = random(rows * width, 8);
      const cols = poisoned(rows * width), dx = poisoned(M * H * W * C);
      k.im2col(cols, x, M, g);
      k.col2im(dx, dcols, M, g);
      const img = H * W * C, per = g.OH * g.OW * width;
      for (let n = 0; n < M; n++) {
        const c1 = poisoned(per), d1 = poisoned(img);
        k.im2col(c1, x.subarray(n * img), 1, g);
        k.col2im(d1, dcols.subarray(n * per), 1, g);
        expect(bits(c1)).toEqual(bits(cols.subarray(n * per, (n + 1) * per)));
        expect(bits(d1)).toEqual(bits(dx.subarray(n * img, (n + 1) * img)));
      }
    });
  });

  it('col2im equals the TypeScript kernel bit for bit (the same sums in the same order)', () => {
    for (const [M, H, W, C, kk, stride, pad] of CONVS) {
      const g = convGeometry(H, W, C, kk, stride, pad);
      const dcols = random(M * g.OH * g.OW * kk * kk * C, 9), dx = poisoned(M * H * W * C), ref = new Float32Array(M * H * W * C);
      k.col2im(dx, dcols, M, g);
      tsKernels.col2im(ref, Float32Array.from(dcols), M, g);
      expect(bits(dx)).toEqual(bits(ref));
    }
  });

  // ── Max pooling ───────────────────────────────────────────────────────────────────────────────────

  describe.each(POOLS)('max pooling M=%i H=%i W=%i C=%i size=%i', (M, H, W, C, size) => {
    const OH = Math.floor(H / size), OW = Math.floor(W / size), n = M * OH * OW * C, len = M * H * W * C;

    it('forward: the maxima and their indices; ties (quantised values) go to the first in (dy, dx) order', () => {
      for (const quantise of [false, true]) {
        const x = random(len, 10 + size);
        if (quantise) for (let i = 0; i < len; i++) x[i] = Math.floor(x[i] * 2); // −2 … 1: many ties
        const y = poisoned(n), argmax = poisonedInts(n);
        k.maxPoolForward(y, argmax, x, M, H, W, C, size);
        const ref = refMaxPool(x, M, H, W, C, size);
        expect(Array.from(y)).toEqual(Array.from(ref.y));
        expect(Array.from(argmax)).toEqual(Array.from(ref.argmax));
      }
    });

    it('backward: dx is dy at each maximum, 0 elsewhere (every element written)', () => {
      const x = random(len, 11), y = poisoned(n), argmax = poisonedInts(n);
      k.maxPoolForward(y, argmax, x, M, H, W, C, size);
      const dy = random(n, 12), dx = poisoned(len);
      k.maxPoolBackward(dx, dy, argmax, n, len);
      expect(Array.from(dx)).toEqual(Array.from(refMaxPoolBackward(dy, argmax, len)));
    });

    it('each image on its own gives the same bits as all at once', () => {
      const x = random(len, 13), y = poisoned(n), argmax = poisonedInts(n);
      k.maxPoolForward(y, argmax, x, M, H, W, C, size);
      const per = OH * OW * C, img = H * W * C;
      for (let q = 0; q < M; q++) {
        const y1 = poisoned(per), a1 = poisonedInts(per);
        k.maxPoolForward(y1, a1, x.subarray(q * img), 1, H, W, C, size);
        expect(bits(y1)).toEqual(bits(y.subarray(q * per, (q + 1) * per)));
        expect(Array.from(a1, (i) => i + q * img)).toEqual(Array.from(argmax.subarray(q * per, (q + 1) * per)));
      }
    });
  });

  it('max pooling keeps the `x > best` rule: a NaN first stays, a later NaN never wins, −∞ counts', () => {
    // one 2×2 window per channel, 5 channels (lanes 0–3 of a vector, then a single channel)
    const windows = [[NaN, 1, 2, 0], [1, NaN, 3, 3], [-Infinity, -Infinity, -Infinity, -Infinity], [-0, 0, -1, 0], [2, 5, NaN, 5]];
    const C = windows.length, x = poisoned(4 * C);
    windows.forEach((w, c) => w.forEach((v, e) => (x[(Math.floor(e / 2) * 2 + (e % 2)) * C + c] = v)));
    const y = poisoned(C), argmax = poisonedInts(C);
    k.maxPoolForward(y, argmax, x, 1, 2, 2, C, 2);
    expect(y[0]).toBeNaN();
    expect(Array.from(y.subarray(1))).toEqual([3, -Infinity, -0, 5]);
    expect(Object.is(y[3], -0)).toBe(true);
    expect(Array.from(argmax)).toEqual([0, 2 * C + 1, 2, 3, C + 4]);
  });

  it('maxPoolBackward adds duplicate indices up in order and zeroes the rest of dx', () => {
    const dy = input([1, 2, 4, 8, 0.5]), argmax = poisonedInts(5), dx = poisoned(9);
    argmax.set([3, 0, 3, 8, 3]);
    k.maxPoolBackward(dx, dy, argmax, 5, 9);
    expect(Array.from(dx)).toEqual([2, 0, 0, 5.5, 0, 0, 0, 0, 8]);
  });

  it('maxPoolBackward: indices in any order, over a dx of many kilobytes, every element written once', () => {
    const len = 9001, n = 4003, dy = random(n, 14), argmax = poisonedInts(n), dx = poisoned(len);
    for (let i = 0; i < n; i++) argmax[i] = (i * 7919 + ((i * i) % 13) * 1000) % len; // scattered, some repeated
    argmax[n - 1] = len - 1;
    k.maxPoolBackward(dx, dy, argmax, n, len);
    expect(maxRelativeError(dx, refMaxPoolBackward(dy, argmax, len))).toBeLessThan(1e-6);
  });

  // ── Batch normalisation ───────────────────────────────────────────────────────────────────────────

  describe.each(NORMS)('batch normalisation R=%i C=%i', (R, C) => {
    const eps = 1e-5;
    /** The kernels' scratch, filled with garbage (-1 words: NaN doubles) that they must not read before writing. */
    const scratch = (channels: number) => poisonedInts(batchNormScratchWords(channels));
    /** x with a per-channel offset and scale, so that channels differ. */
    const data = (seed: number) => {
      const x = random(R * C, seed, -1, 1);
      for (let i = 0; i < R * C; i++) x[i] = x[i] * (1 + (i % C) * 0.5) + ((i % C) % 3) - 1;
      return x;
    };

    it('forward: y, xhat and [mean, var, invstd] match float64', () => {
      const x = data(20), gamma = random(C, 21, 0.5, 2), beta = random(C, 22);
      const y = poisoned(R * C), xhat = poisoned(R * C), stats = poisoned(3 * C);
      k.batchNormForward(y, xhat, stats, x, gamma, beta, R, C, eps, scratch(C));
      const ref = refBatchNorm(x, gamma, beta, R, C, eps);
      expect(maxRelativeError(stats.subarray(0, C), ref.mean)).toBeLessThan(1e-5);
      expect(maxRelativeError(stats.subarray(C, 2 * C), ref.variance)).toBeLessThan(1e-5);
      expect(maxRelativeError(stats.subarray(2 * C), ref.invstd)).toBeLessThan(1e-5);
      expect(maxRelativeError(xhat, ref.xhat)).toBeLessThan(1e-5);
      expect(maxRelativeError(y, ref.y)).toBeLessThan(1e-5);
    });

    it('forward in place (y = x) gives the same bits', () => {
      const x = data(23), gamma = random(C, 24, 0.5, 2), beta = random(C, 25);
      const y = poisoned(R * C), xhat = poisoned(R * C), stats = poisoned(3 * C);
      k.batchNormForward(y, xhat, stats, x, gamma, beta, R, C, eps, scratch(C));
      const xhat2 = poisoned(R * C), stats2 = poisoned(3 * C);
      k.batchNormForward(x, xhat2, stats2, x, gamma, beta, R, C, eps, scratch(C));
      expect(bits(x)).toEqual(bits(y));
      expect(bits(xhat2)).toEqual(bits(xhat));
      expect(bits(stats2)).toEqual(bits(stats));
    });

    it('backward: dx, dgamma, dbeta match the float64 Jacobian; in place (dx = dy) too', () => {
      const x = data(26), gamma = random(C, 27, 0.5, 2), beta = random(C, 28);
      const y = poisoned(R * C), xhat = poisoned(R * C), stats = poisoned(3 * C);
      k.batchNormForward(y, xhat, stats, x, gamma, beta, R, C, eps, scratch(C));
      const dy = random(R * C, 29), dx = poisoned(R * C), dgamma = poisoned(C), dbeta = poisoned(C);
      const invstd = stats.subarray(2 * C);
      k.batchNormBackward(dx, dgamma, dbeta, dy, xhat, gamma, invstd, R, C, scratch(C));
      const ref = refBatchNormBackward(dy, xhat, gamma, invstd, R, C);
      expect(maxRelativeError(dbeta, ref.dbeta)).toBeLessThan(1e-5);
      expect(maxRelativeError(dgamma, ref.dgamma)).toBeLessThan(1e-5);
      expect(maxRelativeError(dx, ref.dx)).toBeLessThan(1e-5); // (R = 1: xhat = 0 and dx = 0)
      const dg2 = poisoned(C), db2 = poisoned(C);
      k.batchNormBackward(dy, dg2, db2, dy, xhat, gamma, invstd, R, C, scratch(C));
      expect(bits(dy)).toEqual(bits(dx));
      expect(bits(dg2)).toEqual(bits(dgamma));
      expect(bits(db2)).toEqual(bits(dbeta));
    });

    it('a channel computed on its own (C = 1) gives the same bits as among all C', () => {
      const x = data(30), gamma = random(C, 31, 0.5, 2), beta = random(C, 32), dy = random(R * C, 33);
      const y = poisoned(R * C), xhat = poisoned(R * C), stats = poisoned(3 * C);
      const dx = poisoned(R * C), dgamma = poisoned(C), dbeta = poisoned(C);
      k.batchNormForward(y, xhat, stats, x, gamma, beta, R, C, eps, scratch(C));
      k.batchNormBackward(dx, dgamma, dbeta, dy, xhat, gamma, stats.subarray(2 * C), R, C, scratch(C));
      const column = (a: Float32Array, c: number) => input(Array.from({ length: R }, (_, r) => a[r * C + c]));
      const pick = (a: Float32Array, c: number) => bits(Float32Array.from({ length: R }, (_, r) => a[r * C + c]));
      for (let c = 0; c < C; c++) {
        const y1 = poisoned(R), h1 = poisoned(R), s1 = poisoned(3), d1 = poisoned(R), g1 = poisoned(1), b1 = poisoned(1);
        const x1 = column(x, c), dy1 = column(dy, c);
        k.batchNormForward(y1, h1, s1, x1, gamma.subarray(c), beta.subarray(c), R, 1, eps, scratch(1));
        k.batchNormBackward(d1, g1, b1, dy1, h1, gamma.subarray(c), s1.subarray(2), R, 1, scratch(1));
        expect(bits(y1)).toEqual(pick(y, c));
        expect(bits(h1)).toEqual(pick(xhat, c));
        expect(bits(s1)).toEqual(bits(Float32Array.of(stats[c], stats[C + c], stats[2 * C + c])));
        expect(bits(d1)).toEqual(pick(dx, c));
        expect([g1[0], b1[0]]).toEqual([dgamma[c], dbeta[c]]);
      }
    });

    it('scaleShift: y = x·scale + shift per channel, in place too, each row on its own the same bits', () => {
      const x = data(34), scale = random(C, 35), shift = random(C, 36), y = poisoned(R * C);
      k.scaleShift(y, x, scale, shift, R, C);
      expect(maxRelativeError(y, Array.from(x, (v, i) => v * scale[i % C] + shift[i % C]))).toBeLessThan(1e-6);
      for (const [r0, r1] of [[0, 1], [1, Math.min(4, R)], [Math.min(4, R), R]]) {
        const part = poisoned((r1 - r0) * C);
        k.scaleShift(part, x.subarray(r0 * C), scale, shift, r1 - r0, C);
        expect(bits(part)).toEqual(bits(y.subarray(r0 * C, r1 * C)));
      }
      k.scaleShift(x, x, scale, shift, R, C);
      expect(bits(x)).toEqual(bits(y));
    });
  });

  // ── Elementwise ───────────────────────────────────────────────────────────────────────────────────

  /** [begin, end) cut into odd-sized pieces. */
  const pieces = (begin: number, end: number) => {
    const out: [number, number][] = [];
    for (let p = begin, q = 0; p < end; q++) {
      const s = Math.min([5, 1, 7, 3, 13, 2][q % 6], end - p);
      out.push([p, p + s]);
      p += s;
    }
    return out;
  };

  describe.each(LENGTHS)('elementwise, n = %i', (n) => {
    it('multiply: y = x ⊙ mask exactly, in place too', () => {
      const x = random(n, 40), mask = input(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 1 / 0.7))), y = poisoned(n);
      k.multiply(y, x, mask, n);
      expect(Array.from(y)).toEqual(Array.from(x, (v, i) => Math.fround(v * mask[i])));
      k.multiply(x, x, mask, n);
      expect(bits(x)).toEqual(bits(y));
    });

    it('addTo: dst += src exactly, and nothing past n', () => {
      const dst = random(n + 3, 41), src = random(n + 3, 42), want = Array.from(dst, (v, i) => (i < n ? Math.fround(v + src[i]) : v));
      k.addTo(dst, src, n);
      expect(Array.from(dst)).toEqual(want);
    });

    it('emaUpdate: avg = decay·avg + (1 − decay)·x on [begin, end); pieces give the same bits', () => {
      const begin = Math.min(2, n - 1), end = n;
      const avg = random(n, 43), x = random(n, 44), decay = 0.999;
      const ref = Array.from(avg, (a, i) => (i >= begin && i < end ? decay * a + (1 - decay) * x[i] : a));
      const avg2 = input(avg);
      k.emaUpdate(avg, x, begin, end, decay);
      expect(maxRelativeError(avg, ref)).toBeLessThan(1e-6);
      expect(bits(avg.subarray(0, begin))).toEqual(bits(avg2.subarray(0, begin)));
      for (const [p, q] of pieces(begin, end)) k.emaUpdate(avg2, x, p, q, decay);
      expect(bits(avg2)).toEqual(bits(avg));
    });

    it.each([false, true])('adamStep (decoupled %s) follows float64 Adam over steps; pieces give the same bits', (decoupled) => {
      const begin = Math.min(1, n - 1), end = n;
      const theta = random(n, 45), m = poisoned(n).fill(0), v = poisoned(n).fill(0);
      const theta2 = input(theta), m2 = input(m), v2 = input(v);
      const T = f64(theta), Mo = f64(m), Vo = f64(v);
      const before = bits(theta.subarray(0, begin));
      for (let step = 1; step <= 4; step++) {
        const grad = random(n, 46 + step, -0.5, 0.5);
        const hp: AdamHyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, decoupled, step };
        k.adamStep(theta, grad, m, v, begin, end, hp);
        for (const [p, q] of pieces(begin, end)) k.adamStep(theta2, grad, m2, v2, p, q, hp);
        const [Ts, Ms, Vs] = [T, Mo, Vo].map((a) => a.subarray(begin, end));
        refAdamStep(Ts, grad.subarray(begin, end), Ms, Vs, hp);
      }
      expect(maxRelativeError(theta, T)).toBeLessThan(1e-5);
      expect(maxRelativeError(m, Mo)).toBeLessThan(1e-5);
      expect(maxRelativeError(v, Vo)).toBeLessThan(1e-5);
      expect(bits(theta.subarray(0, begin))).toEqual(before);
      expect([bits(theta2), bits(m2), bits(v2)]).toEqual([bits(theta), bits(m), bits(v)]);
    });
  });
});

// ── What only the WebAssembly kernels need: refusing views they would read or write past ──────────────

for (const variant of ['wasm', 'wasm-relaxed'] as const) {
  const entry = IMPLEMENTATIONS.find((i) => i.name === variant)!;
  describe.skipIf(!entry.impl)(`${variant} kernels refuse what they cannot do safely`, () => {
    const t = entry.impl!;
    const k = t?.kernels as WasmKernels;
    beforeEach(() => t.reset());
    const g = convGeometry(5, 5, 3, 3, 1, 1);

    it('views outside the shared memory', () => {
      const inside = t.f32(1000), elsewhere = new Float32Array(1000);
      expect(() => k.im2col(inside, elsewhere, 1, g)).toThrow(/im2col: x is not a view of the kernels' shared WebAssembly.Memory/);
      expect(() => k.col2im(elsewhere, inside, 1, g)).toThrow(/col2im: dx is not a view/);
      expect(() => k.maxPoolForward(inside, new Int32Array(10), inside, 1, 4, 4, 1, 2)).toThrow(/maxPoolForward: argmax is not a view/);
      expect(() => k.batchNormForward(inside, inside, inside, inside, elsewhere, inside, 4, 2, 1e-5, t.i32(16))).toThrow(/batchNormForward: gamma is not a view/);
      expect(() => k.adamStep(inside, inside, elsewhere, inside, 0, 4, { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1, weightDecay: 0, decoupled: false, step: 1 }))
        .toThrow(/adamStep: m is not a view/);
      expect(() => k.addTo(inside, elsewhere, 4)).toThrow(/addTo: src is not a view/);
    });

    it('views too short for the shapes', () => {
      const x = t.f32(75);
      expect(() => k.im2col(t.f32(25 * 27 - 1), x, 1, g)).toThrow(/im2col: cols has 674 elements, the call needs 675/);
      expect(() => k.col2im(t.f32(74), t.f32(675), 1, g)).toThrow(/col2im: dx has 74 elements, the call needs 75/);
      expect(() => k.maxPoolForward(t.f32(4), t.i32(3), t.f32(16), 1, 4, 4, 1, 2)).toThrow(/maxPoolForward: argmax has 3 elements, the call needs 4/);
      expect(() => k.batchNormBackward(t.f32(8), t.f32(2), t.f32(2), t.f32(8), t.f32(8), t.f32(2), t.f32(1), 4, 2, t.i32(16)))
        .toThrow(/batchNormBackward: invstd has 1 elements, the call needs 2/);
      expect(() => k.batchNormForward(t.f32(8), t.f32(8), t.f32(6), t.f32(8), t.f32(2), t.f32(2), 4, 2, 1e-5, t.i32(15)))
        .toThrow(/batchNormForward: scratch has 15 elements, the call needs 16/);
      expect(() => k.scaleShift(t.f32(8), t.f32(7), t.f32(2), t.f32(2), 4, 2)).toThrow(/scaleShift: x has 7 elements, the call needs 8/);
      expect(() => k.emaUpdate(t.f32(9), t.f32(8), 3, 9, 0.5)).toThrow(/emaUpdate: x has 8 elements, the call needs 9/);
    });

    it('a pool window of size 0, and argmax indices outside dx (nothing written)', () => {
      expect(() => k.maxPoolForward(t.f32(4), t.i32(4), t.f32(16), 1, 4, 4, 1, 0)).toThrow(/maxPoolForward: bad window size 0/);
      const dx = t.f32(8).fill(7), dy = t.f32(6), argmax = t.i32(6);
      argmax.set([0, 1, 2, 3, 8, 4]);
      expect(() => k.maxPoolBackward(dx, dy, argmax, 6, 8)).toThrow(/maxPoolBackward: argmax\[4\] = 8 is outside dx \(8 elements\)/);
      argmax.set([0, -1, 2, 3, 5, 4]);
      expect(() => k.maxPoolBackward(dx, dy, argmax, 6, 8)).toThrow(/argmax\[1\] = -1 is outside dx/);
      argmax.set([0, 1, 2, 3, 5, 9]); // the last, single-index check
      expect(() => k.maxPoolBackward(dx, dy, argmax, 6, 8)).toThrow(/argmax\[5\] = 9/);
      expect(Array.from(dx)).toEqual(new Array(8).fill(7));
    });

    it('a geometry whose positions overflow int32', () => {
      const big = { ...g, stride: 2 ** 30, OH: 3 };
      expect(() => k.im2col(t.f32(3 * 5 * 27), t.f32(75), 1, big)).toThrow(/im2col: the geometry's positions overflow int32/);
    });
  });
}
