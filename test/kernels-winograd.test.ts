import { beforeEach, describe, expect, it } from 'vitest';
import type { ConvGeometry, Kernels } from '../src/kernels/kernels.js';
import { tsKernels } from '../src/kernels/ts.js';
import { transpose, WINOGRAD, winogradTiles, type WinogradVariant } from '../src/kernels/winograd.js';
import { WINOGRAD_MATRICES } from '../src/kernels/wasm/winograd.mjs';
import { kernelImplementations } from './helpers/implementations.js';
import { convGeometry, maxRelativeError, randomFloats, refConv } from './helpers/reference.js';

/**
 * Winograd F(2×2, 3×3), F(4×4, 3×3) and F(2×2, 5×5) (src/kernels/winograd.ts), every implementation: each of the six
 * transforms against a float64 reference built from the exact rational matrices and the plain index
 * formulas (tile p = (n·TY + ty)·TX + tx, patch at (m·ty − pad, m·tx − pad)); the WebAssembly kernels
 * bit for bit the TypeScript reference's; and a whole convolution (filter and input transforms, the α²
 * GEMMs, the output transform) against a direct float64 convolution, with the error bounds measured.
 *
 * Measured (inputs and weights uniform in [−1, 1), normwise max|err| / max|ref|, TypeScript kernels,
 * these shapes and cnn-wide's 26×26×32 → 32 and 10×10×64 → 64, three seeds each):
 *   each transform alone: below 2e-7 for F(2×2), 6e-7 for F(4×4) (asserted)
 *   a whole convolution: F(2×2) at most 3.2e-7, F(4×4) at most 5.7e-6, growing with C (1e-6 at C ≤ 8,
 *   3-5e-6 at C = 13-64); the TypeScript im2col + GEMM (float64 sums) 3-5e-8
 *   F(2×2, 5×5) (2026-12-03; 12×12×16 → 32, 12×12×32 → 64, 7×7×5 → 6 pad 1, 8×8×8 → 8 pad 2,
 *   24×24×13 → 16, three seeds each): a whole convolution 1.0-3.2e-6; each transform within 6e-7
 * The bounds asserted are those rounded up: 2e-7 / 6e-7 / 6e-7 per transform, 5e-7 / 1e-5 / 1e-5 per
 * convolution (the README states them).
 */

const IMPLEMENTATIONS = await kernelImplementations(64 << 20);
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/**
 * The exact matrices, in float64 (the kernels round the sixths and thirds to float32). The two of α = 6
 * are built from their points as src/kernels/winograd.ts says (not copied from it): Aᵀ[i][j] = p_jⁱ,
 * G[j][k] = s_j·p_jᵏ with s_j = 1/∏_{l≠j}(p_j − p_l), ∞ the last unit vector in each; Bᵀ as Lavin and
 * Gray give it. F(2×2, 3×3) is Lavin and Gray's, whose Bᵀ and G carry other signs and scales.
 */
function exact(m: number, r: number, points: number[], BT: number[][]) {
  const s = points.map((p, j) => 1 / points.reduce((prod, q, l) => (l === j ? prod : prod * (p - q)), 1));
  const unit = (n: number) => Array.from({ length: n }, (_, i) => (i === n - 1 ? 1 : 0));
  const G = [...points.map((p, j) => Array.from({ length: r }, (_, k) => s[j] * p ** k)), unit(r)];
  const AT = Array.from({ length: m }, (_, i) => [...points.map((p) => p ** i), i === m - 1 ? 1 : 0]);
  return { BT, G, AT };
}
const BT6 = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]];
const EXACT: Record<WinogradVariant, { BT: number[][]; G: number[][]; AT: number[][] }> = {
  '2x3': {
    BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
    G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
    AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
  },
  '4x3': exact(4, 3, [0, 1, -1, 2, -2], BT6),
  '2x5': exact(2, 5, [0, 1, -1, 2, -2], BT6),
};

/** T X Tᵀ in float64, X (r × r) given by get(i, j). */
function ref2d(T: number[][], get: (i: number, j: number) => number): Float64Array {
  const a = T.length, r = T[0].length;
  const out = new Float64Array(a * a);
  for (let i = 0; i < a; i++) for (let k = 0; k < a; k++) {
    let s = 0;
    for (let u = 0; u < r; u++) for (let v = 0; v < r; v++) s += T[i][u] * get(u, v) * T[k][v];
    out[i * a + k] = s;
  }
  return out;
}

/** [M, H, W, C, pad, F] */
const SHAPES: [number, number, number, number, number, number][] = [
  [2, 6, 6, 1, 0, 3], [1, 7, 9, 5, 1, 6], [3, 5, 5, 4, 2, 8], [1, 12, 12, 32, 0, 64], [2, 9, 8, 13, 1, 7], [1, 3, 3, 2, 1, 1], [2, 26, 26, 32, 0, 32],
];
const VARIANTS: [number, number][] = [[2, 3], [4, 3], [2, 5]];
const TRANSFORM_BOUND: Record<WinogradVariant, number> = { '2x3': 2e-7, '4x3': 6e-7, '2x5': 6e-7 };
const CONV_BOUND: Record<WinogradVariant, number> = { '2x3': 5e-7, '4x3': 1e-5, '2x5': 1e-5 };

it('the WebAssembly generator transforms by the same matrices as the TypeScript reference', () => {
  // (The generator is plain JavaScript run at build time and cannot import the TypeScript; each holds a copy.)
  expect(WINOGRAD_MATRICES).toEqual(WINOGRAD);
});

it('the matrices are those of their points (float32 coefficients within 1e-7 of the exact ones)', () => {
  for (const [v, t] of Object.entries(WINOGRAD) as [WinogradVariant, (typeof WINOGRAD)[WinogradVariant]][]) {
    for (const key of ['BT', 'G', 'AT'] as const) {
      const want = EXACT[v][key];
      expect(t[key].map((row) => row.length)).toEqual(want.map((row) => row.length));
      t[key].forEach((row, i) => row.forEach((c, j) => expect(Math.abs(c - want[i][j])).toBeLessThan(1e-7)));
    }
  }
});

for (const { name, impl } of IMPLEMENTATIONS) describe.skipIf(!impl)(`${name} Winograd kernels`, () => {
  const t = impl!;
  const k: Kernels = t?.kernels;
  beforeEach(() => t.reset());
  const copy = (a: Float32Array) => {
    const v = t.f32(a.length);
    v.set(a);
    return v;
  };

  for (const [m, r] of VARIANTS) for (const [M, H, W, C, pad, F] of SHAPES) {
    if (H + 2 * pad < r || W + 2 * pad < r) continue; // no output
    const g: ConvGeometry = convGeometry(H, W, C, r, 1, pad);
    const { TY, TX, alpha: a } = winogradTiles(g, m);
    const P = M * TY * TX, a2 = a * a, taps = r * r;
    const v = `${m}x${r}` as WinogradVariant;
    const { BT, G, AT } = EXACT[v];
    const label = `F(${m}×${m}, ${r}×${r}), ${M}×${H}×${W}×${C}, pad ${pad}, ${F} filters`;
    /** Tile p's image and patch origin. */
    const tileOf = (p: number) => ({ n: Math.floor(p / (TY * TX)), y0: Math.floor(p / TX) % TY * m - pad, x0: (p % TX) * m - pad });

    it(`winogradInput and winogradInputGrad, ${label}`, () => {
      const x = copy(randomFloats(M * H * W * C, 1)), V = t.f32(a2 * P * C);
      k.winogradInput(V, x, M, g, m);
      const ref = new Float64Array(V.length);
      const refDx = new Float64Array(x.length);
      const dV = copy(randomFloats(V.length, 2)), dx = t.f32(x.length).fill(Number.NaN);
      for (let p = 0; p < P; p++) {
        const { n, y0, x0 } = tileOf(p);
        const inside = (i: number, j: number) => y0 + i >= 0 && y0 + i < H && x0 + j >= 0 && x0 + j < W;
        for (let c = 0; c < C; c++) {
          const at = (i: number, j: number) => ((n * H + y0 + i) * W + x0 + j) * C + c;
          const v = ref2d(BT, (i, j) => (inside(i, j) ? x[at(i, j)] : 0));
          for (let xi = 0; xi < a2; xi++) ref[(xi * P + p) * C + c] = v[xi];
          const d = ref2d(transpose(BT), (i, j) => dV[(((i * a + j) * P) + p) * C + c]);
          for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) if (inside(i, j)) refDx[at(i, j)] += d[i * a + j];
        }
      }
      expect(maxRelativeError(V, ref)).toBeLessThan(TRANSFORM_BOUND[v]);
      k.winogradInputGrad(dx, dV, M, g, m);
      expect(maxRelativeError(dx, refDx)).toBeLessThan(TRANSFORM_BOUND[v]);
      if (k !== tsKernels) {
        const V2 = new Float32Array(V.length), dx2 = new Float32Array(x.length);
        tsKernels.winogradInput(V2, x, M, g, m);
        tsKernels.winogradInputGrad(dx2, dV, M, g, m);
        expect(bits(V)).toEqual(bits(V2));
        expect(bits(dx)).toEqual(bits(dx2));
      }
    });

    it(`winogradOutput (bias, ReLU) and winogradOutputGrad, ${label}`, () => {
      const Mt = copy(randomFloats(a2 * P * F, 3)), bias = copy(randomFloats(F, 4));
      const out = t.f32(M * g.OH * g.OW * F).fill(Number.NaN), outRelu = t.f32(out.length);
      k.winogradOutput(out, Mt, bias, M, g, F, m, false);
      k.winogradOutput(outRelu, Mt, null, M, g, F, m, true);
      const ref = new Float64Array(out.length), refRelu = new Float64Array(out.length);
      const dout = copy(randomFloats(out.length, 5)), dMt = t.f32(Mt.length).fill(Number.NaN);
      const refdM = new Float64Array(Mt.length);
      for (let p = 0; p < P; p++) {
        const { n, y0, x0 } = tileOf(p);
        const oy0 = y0 + pad, ox0 = x0 + pad;
        const inside = (i: number, j: number) => oy0 + i < g.OH && ox0 + j < g.OW;
        for (let f = 0; f < F; f++) {
          const at = (i: number, j: number) => ((n * g.OH + oy0 + i) * g.OW + ox0 + j) * F + f;
          const y = ref2d(AT, (i, j) => Mt[((i * a + j) * P + p) * F + f]);
          for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if (inside(i, j)) {
            ref[at(i, j)] = y[i * m + j] + bias[f];
            refRelu[at(i, j)] = Math.max(0, y[i * m + j]);
          }
          const d = ref2d(transpose(AT), (i, j) => (inside(i, j) ? dout[at(i, j)] : 0));
          for (let xi = 0; xi < a2; xi++) refdM[(xi * P + p) * F + f] = d[xi];
        }
      }
      expect(maxRelativeError(out, ref)).toBeLessThan(TRANSFORM_BOUND[v]);
      expect(maxRelativeError(outRelu, refRelu)).toBeLessThan(TRANSFORM_BOUND[v]);
      k.winogradOutputGrad(dMt, dout, M, g, F, m);
      expect(maxRelativeError(dMt, refdM)).toBeLessThan(TRANSFORM_BOUND[v]);
      if (k !== tsKernels) {
        const o2 = new Float32Array(out.length), d2 = new Float32Array(Mt.length);
        tsKernels.winogradOutput(o2, Mt, bias, M, g, F, m, false);
        tsKernels.winogradOutputGrad(d2, dout, M, g, F, m);
        expect(bits(out)).toEqual(bits(o2));
        expect(bits(dMt)).toEqual(bits(d2));
      }
    });

    it(`winogradFilter (both layouts) and winogradFilterGrad, ${label}`, () => {
      const w = copy(randomFloats(F * taps * C, 6)), U = t.f32(a2 * F * C).fill(Number.NaN), Ucf = t.f32(a2 * F * C).fill(Number.NaN);
      const dU = copy(randomFloats(U.length, 7)), dw = t.f32(w.length).fill(Number.NaN);
      k.winogradFilter(U, w, F, C, m, r, false);
      k.winogradFilter(Ucf, w, F, C, m, r, true);
      k.winogradFilterGrad(dw, dU, F, C, m, r);
      const ref = new Float64Array(U.length), refCf = new Float64Array(U.length), refDw = new Float64Array(w.length);
      for (let f = 0; f < F; f++) for (let c = 0; c < C; c++) {
        const u = ref2d(G, (i, j) => w[(f * taps + i * r + j) * C + c]);
        for (let xi = 0; xi < a2; xi++) ref[(xi * F + f) * C + c] = u[xi];
        for (let xi = 0; xi < a2; xi++) refCf[(xi * C + c) * F + f] = u[xi];
        const d = ref2d(transpose(G), (i, j) => dU[((i * a + j) * F + f) * C + c]);
        for (let q = 0; q < taps; q++) refDw[(f * taps + q) * C + c] = d[q];
      }
      expect(maxRelativeError(U, ref)).toBeLessThan(TRANSFORM_BOUND[v]);
      expect(maxRelativeError(Ucf, refCf)).toBeLessThan(TRANSFORM_BOUND[v]);
      expect(maxRelativeError(dw, refDw)).toBeLessThan(TRANSFORM_BOUND[v]);
      if (k !== tsKernels) {
        const U2 = new Float32Array(U.length), U2cf = new Float32Array(U.length), dw2 = new Float32Array(w.length);
        tsKernels.winogradFilter(U2, w, F, C, m, r, false);
        tsKernels.winogradFilter(U2cf, w, F, C, m, r, true);
        tsKernels.winogradFilterGrad(dw2, dU, F, C, m, r);
        expect(bits(U)).toEqual(bits(U2));
        expect(bits(Ucf)).toEqual(bits(U2cf));
        expect(bits(dw)).toEqual(bits(dw2));
      }
    });

    it(`a whole convolution through the α² GEMMs equals a direct float64 convolution, ${label}`, () => {
      const x = copy(randomFloats(M * H * W * C, 8)), w = copy(randomFloats(F * taps * C, 9)), bias = copy(randomFloats(F, 10));
      const U = t.f32(a2 * F * C), V = t.f32(a2 * P * C), Mt = t.f32(a2 * P * F), out = t.f32(M * g.OH * g.OW * F);
      k.winogradFilter(U, w, F, C, m, r, true);
      k.winogradInput(V, x, M, g, m);
      for (let xi = 0; xi < a2; xi++) k.gemmAB(Mt.subarray(xi * P * F), V.subarray(xi * P * C), U.subarray(xi * F * C), P, F, C);
      k.winogradOutput(out, Mt, bias, M, g, F, m, false);
      expect(maxRelativeError(out, refConv(x, w, bias, M, F, g))).toBeLessThan(CONV_BOUND[v]);
    });
  }

  it.skipIf(k === tsKernels)('refuses, in one line and before touching memory, a variant that is not built and a stride it cannot run', () => {
    const g5 = convGeometry(8, 8, 4, 5, 1, 0), strided = convGeometry(9, 9, 4, 5, 2, 0);
    const U = t.f32(64 * 2 * 4), w = t.f32(2 * 25 * 4), w7 = t.f32(2 * 49 * 4), x = t.f32(9 * 9 * 4), V = t.f32(36 * 16 * 4);
    expect(() => k.winogradFilter(U, w, 2, 4, 4, 5, false)).toThrow(/F\(4×4, 5×5\) is not built/);
    expect(() => k.winogradFilterGrad(w7, U, 2, 4, 2, 7)).toThrow(/F\(2×2, 7×7\) is not built/);
    expect(() => k.winogradInput(V, x, 1, g5, 4)).toThrow(/F\(4×4, 5×5\) is not built/);
    expect(() => k.winogradInput(V, x, 1, strided, 2)).toThrow(/stride-1 convolutions, got stride 2/);
  });

  it('the checks can fail: a wrong coefficient is caught', () => {
    const g = convGeometry(6, 6, 4, 3, 1, 1), m = 2, r = 3, F = 2;
    const { TY, TX } = winogradTiles(g, m);
    const P = TY * TX;
    const w = copy(randomFloats(F * 9 * g.C, 11)), x = copy(randomFloats(g.H * g.W * g.C, 12)), bias = t.f32(F);
    const U = t.f32(16 * F * g.C), V = t.f32(16 * P * g.C), Mt = t.f32(16 * P * F), out = t.f32(g.OH * g.OW * F);
    k.winogradFilter(U, w, F, g.C, m, r, true);
    U[5] *= 1.001;
    k.winogradInput(V, x, 1, g, m);
    for (let xi = 0; xi < 16; xi++) k.gemmAB(Mt.subarray(xi * P * F), V.subarray(xi * P * g.C), U.subarray(xi * F * g.C), P, F, g.C);
    k.winogradOutput(out, Mt, bias, 1, g, F, m, false);
    expect(maxRelativeError(out, refConv(x, w, bias, 1, F, g))).toBeGreaterThan(CONV_BOUND['2x3']);
  });
});
