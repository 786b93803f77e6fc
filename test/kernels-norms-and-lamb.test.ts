import { beforeEach, describe, expect, it } from 'vitest';
import type { LambHyper } from '../src/kernels/kernels.js';
import { kernelImplementations } from './helpers/implementations.js';
import { maxRelativeError, randomFloats } from './helpers/reference.js';

/**
 * The kernels of the update's per-tensor work (sumSquares, scale, axpy, lambDirection), for every
 * implementation, against float64 references: ranges that start and end off multiples of 4, elements
 * outside [begin, end) left alone, and results that do not depend on how a range is cut.
 */

const IMPLEMENTATIONS = await kernelImplementations(1 << 20);
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const SIZES = [1, 3, 4, 17, 64, 1001];

for (const { name, impl } of IMPLEMENTATIONS) {
  describe.skipIf(!impl)(`${name}: the kernels of norms and LAMB follow float64`, () => {
    const t = impl!;
    const k = t.kernels;
    beforeEach(() => t.reset());
    const random = (n: number, seed: number, lo = -1, hi = 1) => {
      const v = t.f32(n);
      v.set(randomFloats(n, seed, lo, hi));
      return v;
    };

    it.each(SIZES)('sumSquares over [begin, end) of %i floats: Σx² in float64, the same whatever else is in the array', (n) => {
      const x = random(n + 5, n);
      const begin = Math.min(2, n - 1), end = begin + n;
      let want = 0;
      for (let p = begin; p < end; p++) want += x[p] * x[p];
      expect(Math.abs(k.sumSquares(x, begin, end) - want) / want).toBeLessThan(1e-14);
      const moved = random(n + 9, 99);
      moved.set(x.subarray(begin, end), 7);
      expect(k.sumSquares(moved, 7, 7 + n)).toBe(k.sumSquares(x, begin, end));
      expect(k.sumSquares(x, begin, begin)).toBe(0);
    });

    it.each(SIZES)('scale and axpy on [begin, end) of %i floats, nothing outside', (n) => {
      const begin = Math.min(3, n), end = begin + n;
      const x = random(end + 2, 10 + n), y = random(end + 2, 20 + n);
      const x0 = Float64Array.from(x), y0 = Float64Array.from(y);
      const factor = Math.fround(0.3721), a = -0.0173;
      k.scale(x, begin, end, factor);
      k.axpy(y, x, begin, end, a);
      const wantX = Array.from(x0, (v, p) => (p >= begin && p < end ? v * factor : v));
      const wantY = Array.from(y0, (v, p) => (p >= begin && p < end ? v + a * wantX[p] : v));
      expect(Array.from(x)).toEqual(wantX.map(Math.fround)); // one float32 multiply: exact
      expect(maxRelativeError(y, wantY)).toBeLessThan(1e-7);
      expect([x[begin - 1], x[end], y[end + 1]]).toEqual([x0[begin - 1], x0[end], y0[end + 1]].map(Math.fround));
    });

    it.each([17, 1001])('lambDirection over steps (%i floats): Adam moments, bias correction, r = m̂/(√v̂ + ε) + λθ written over the gradient', (n) => {
      const begin = 1, end = n;
      const theta = random(n, 30), m = t.f32(n), v = t.f32(n);
      const m2 = t.f32(n), v2 = t.f32(n);
      const M = new Float64Array(n), V = new Float64Array(n);
      for (let step = 1; step <= 3; step++) {
        const hp: LambHyper = { beta1: 0.9, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, step };
        const g = random(n, 40 + step, -0.5, 0.5), g2 = random(n, 40 + step, -0.5, 0.5);
        const want = Float64Array.from(g);
        for (let p = begin; p < end; p++) {
          M[p] = hp.beta1 * M[p] + (1 - hp.beta1) * g[p];
          V[p] = hp.beta2 * V[p] + (1 - hp.beta2) * g[p] * g[p];
          want[p] = M[p] / (1 - hp.beta1 ** step) / (Math.sqrt(V[p] / (1 - hp.beta2 ** step)) + hp.eps) + hp.weightDecay * theta[p];
        }
        k.lambDirection(theta, g, m, v, begin, end, hp);
        for (const [p, q] of [[begin, 5], [5, 6], [6, end]]) k.lambDirection(theta, g2, m2, v2, p, q, hp);
        expect(maxRelativeError(g, want)).toBeLessThan(1e-5);
        expect(maxRelativeError(m, M)).toBeLessThan(1e-5);
        expect(maxRelativeError(v, V)).toBeLessThan(1e-5);
        expect([bits(g2), bits(m2), bits(v2)]).toEqual([bits(g), bits(m), bits(v)]);
      }
      expect([m[0], v[0]]).toEqual([0, 0]);
    });
  });
}
