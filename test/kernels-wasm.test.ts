import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { beforeEach, describe, expect, it } from 'vitest';
import { tsKernels } from '../src/kernels/ts.js';
import type { Activation, LossKind, OutputActivation } from '../src/model/spec.js';
import {
  createWasmKernels, createWasmKernelsSync, SharedArena, wasmFile, wasmSupport, type WasmKernels, type WasmVariant,
} from '../src/kernels/wasm.js';
import { maxRelativeError, randomFloats, refGemmAB, refGemmABt, refGemmAtB } from './helpers/reference.js';

/**
 * What only the WebAssembly kernels need checking for (the shared reference checks of every
 * implementation are in kernels-match-reference.test.ts): their expf, activations and losses against
 * float64 math and the TypeScript kernels, the determinism contract bit for bit across tilings, writes
 * that stay inside their outputs, unaligned views, and the errors for views outside the memory.
 */

execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--quiet', '--if-stale'], { stdio: 'inherit' });

const support = wasmSupport();
const VARIANTS: WasmVariant[] = ['wasm', 'wasm-relaxed'];
const supported = (v: WasmVariant) => (v === 'wasm' ? support.simd : support.relaxed);

it('wasmSupport reports SIMD and relaxed SIMD on this Node.js (relaxed after switching the V8 flag on)', () => {
  expect(support.simd).toBe(true);
  expect(typeof support.relaxed).toBe('boolean');
});

const arena = new SharedArena(96 << 20);
const instances = new Map<WasmVariant, WasmKernels>();
for (const v of VARIANTS) if (supported(v)) instances.set(v, await createWasmKernels(arena.memory, v));

/** A copy of `a` in the shared memory. */
const f32 = (a: ArrayLike<number>) => {
  const v = arena.f32(a.length);
  v.set(a);
  return v;
};
const random = (n: number, seed: number, lo = -1, hi = 1) => f32(randomFloats(n, seed, lo, hi));
const poisoned = (n: number) => arena.f32(n).fill(Number.NaN);
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

const SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 7, 17], [7, 17, 3], [17, 3, 129], [129, 10, 7], [13, 129, 33], [5, 9, 70], [8, 256, 784],
];

// A variant this Node.js cannot run shows up as skipped.
for (const variant of VARIANTS) describe.skipIf(!supported(variant))(`${variant} kernels`, () => {
  const k = instances.get(variant)!; // (undefined, and unused, when skipped)
  beforeEach(() => arena.reset());

  it('has the name of its variant and works in the memory it was given', () => {
    expect(k.name).toBe(variant);
    expect(k.memory).toBe(arena.memory);
  });

  // ── GEMM ──────────────────────────────────────────────────────────────────────────────────────────

  it.each(SHAPES)('the three GEMMs match the float64 reference for M=%i N=%i K=%i', (M, N, K) => {
    const A = random(M * K, 1), B = random(N * K, 2), bias = random(N, 3);
    const C = poisoned(M * N);
    k.gemmABt(C, A, B, bias, M, N, K);
    expect(maxRelativeError(C, refGemmABt(A, B, bias, M, N, K))).toBeLessThan(1e-5);
    C.fill(Number.NaN);
    k.gemmAB(C, A, B, M, N, K);
    expect(maxRelativeError(C, refGemmAB(A, B, M, N, K))).toBeLessThan(1e-5);
    C.fill(Number.NaN);
    k.gemmAtB(C, A, B, M, N, K);
    expect(maxRelativeError(C, refGemmAtB(A, B, M, N, K))).toBeLessThan(1e-5);
  });

  it('K = 0 gives the bias (gemmABt) or zeros; M = 0 or N = 0 writes nothing', () => {
    const [M, N] = [5, 7];
    const bias = random(N, 4), empty = arena.f32(0);
    const C = poisoned(M * N);
    k.gemmABt(C, empty, empty, bias, M, N, 0);
    for (let i = 0; i < M; i++) expect(bits(C.subarray(i * N, (i + 1) * N))).toEqual(bits(bias));
    for (const gemm of [k.gemmAB, k.gemmAtB]) {
      C.fill(Number.NaN);
      gemm(C, empty, empty, M, N, 0);
      expect(Array.from(C)).toEqual(new Array(M * N).fill(0));
    }
    C.fill(Number.NaN);
    const B = random(3 * N, 5), A = random(3 * M, 6);
    k.gemmABt(C, empty, B, null, 0, N, 3);
    k.gemmAB(C, empty, B, 0, N, 3);
    k.gemmAtB(C, empty, B, 0, N, 3);
    k.gemmABt(C, A, empty, null, M, 0, 3);
    k.gemmAB(C, A, empty, M, 0, 3);
    k.gemmAtB(C, A, empty, M, 0, 3);
    expect(C.every(Number.isNaN)).toBe(true);
  });

  it('gemmABtRelu equals gemmABt then activationForward(relu), bit for bit', () => {
    for (const [M, N, K] of SHAPES) {
      arena.reset();
      const A = random(M * K, 7), B = random(N * K, 8), bias = random(N, 9);
      const fused = poisoned(M * N), twoStep = poisoned(M * N);
      k.gemmABtRelu(fused, A, B, bias, M, N, K);
      k.gemmABt(twoStep, A, B, bias, M, N, K);
      k.activationForward(twoStep, M * N, { kind: 'relu' });
      expect(bits(fused)).toEqual(bits(twoStep));
    }
  });

  /** Row groups of odd sizes covering [0, M). */
  const groups = (M: number) => {
    const out: [number, number][] = [];
    for (let i = 0, g = 0; i < M; g++) {
      const n = Math.min([3, 5, 1, 7, 2, 9][g % 6], M - i);
      out.push([i, i + n]);
      i += n;
    }
    return out;
  };

  /** Every way the determinism tests cut M rows into calls: one row per call, then odd-sized groups. */
  const rowSplits = (M: number): [number, number][] => [...Array.from({ length: M }, (_, i): [number, number] => [i, i + 1]), ...groups(M)];

  describe.each([[17, 33, 129], [37, 45, 70], [10, 128, 8], [9, 12, 33]])('determinism contract at M=%i N=%i K=%i', (M, N, K) => {
    it('gemmABt: all rows at once = one row per call = odd-sized row groups, bit for bit', () => {
      const A = random(M * K, 10), B = random(N * K, 11), bias = random(N, 12);
      const all = poisoned(M * N);
      k.gemmABt(all, A, B, bias, M, N, K);
      for (const [r0, r1] of rowSplits(M)) {
        const part = poisoned((r1 - r0) * N);
        k.gemmABt(part, A.subarray(r0 * K), B, bias, r1 - r0, N, K);
        expect(bits(part)).toEqual(bits(all.subarray(r0 * N, r1 * N)));
      }
    });

    it('gemmAB: all rows at once = one row per call = odd-sized row groups, bit for bit', () => {
      const A = random(M * K, 13), B = random(K * N, 14);
      const all = poisoned(M * N);
      k.gemmAB(all, A, B, M, N, K);
      for (const [r0, r1] of rowSplits(M)) {
        const part = poisoned((r1 - r0) * N);
        k.gemmAB(part, A.subarray(r0 * K), B, r1 - r0, N, K);
        expect(bits(part)).toEqual(bits(all.subarray(r0 * N, r1 * N)));
      }
    });

    it('gemmAtB: all rows at once = one row per call = odd-sized row groups, bit for bit', () => {
      const A = random(K * M, 15), B = random(K * N, 16);
      const all = poisoned(M * N);
      k.gemmAtB(all, A, B, M, N, K);
      for (const [r0, r1] of rowSplits(M)) {
        const m = r1 - r0;
        const At = arena.f32(K * m); // A's columns r0..r1, as a (K, m) matrix
        for (let kk = 0; kk < K; kk++) for (let i = 0; i < m; i++) At[kk * m + i] = A[kk * M + r0 + i];
        const part = poisoned(m * N);
        k.gemmAtB(part, At, B, m, N, K);
        expect(bits(part)).toEqual(bits(all.subarray(r0 * N, r1 * N)));
      }
    });

    it('columns too: any column range of C, computed on its own, is bit for bit the same', () => {
      const A = random(M * K, 17), Bt = random(N * K, 18), B = random(K * N, 19), At = random(K * M, 20);
      const abt = poisoned(M * N), ab = poisoned(M * N), atb = poisoned(M * N);
      k.gemmABt(abt, A, Bt, null, M, N, K);
      k.gemmAB(ab, A, B, M, N, K);
      k.gemmAtB(atb, At, B, M, N, K);
      for (const [c0, c1] of groups(N)) {
        const n = c1 - c0;
        const Bcols = arena.f32(K * n); // B's columns c0..c1, as a (K, n) matrix
        for (let kk = 0; kk < K; kk++) for (let j = 0; j < n; j++) Bcols[kk * n + j] = B[kk * N + c0 + j];
        const part = poisoned(M * n);
        const column = (C: Float32Array) => Array.from({ length: M * n }, (_, q) => C[Math.floor(q / n) * N + c0 + (q % n)]);
        const asBits = (v: number[]) => bits(Float32Array.from(v));
        k.gemmABt(part, A, Bt.subarray(c0 * K), null, M, n, K);
        expect(bits(part)).toEqual(asBits(column(abt)));
        k.gemmAB(part, A, Bcols, M, n, K);
        expect(bits(part)).toEqual(asBits(column(ab)));
        k.gemmAtB(part, At, Bcols, M, n, K);
        expect(bits(part)).toEqual(asBits(column(atb)));
      }
    });
  });

  // ── Elementwise ───────────────────────────────────────────────────────────────────────────────────

  it('expf: relative error < 2e-7 over the normal range, exact 0 / ∞ / NaN at the extremes, subnormals within one step', () => {
    const n = 200_003;
    const x = arena.f32(n), y = poisoned(n);
    for (let i = 0; i < n; i++) x[i] = -87.3 + (176 * i) / (n - 1); // e^x normal
    k.exp(y, x, n);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(y[i] - Math.exp(x[i])) / Math.exp(x[i]));
    expect(worst).toBeLessThan(2e-7);

    const special = [0, -0, 1, -1, 0.5, 88.72, 88.73, 89, 100, 1e30, Infinity, -88, -90, -95, -100, -103, -103.9, -104, -110, -150, -1e30, -Infinity, NaN];
    const xs = f32(special), ys = poisoned(special.length);
    k.exp(ys, xs, special.length);
    special.forEach((v, i) => {
      const want = Math.exp(xs[i]);
      if (Number.isNaN(v)) expect(ys[i]).toBeNaN();
      else if (want > 3.4028234663852886e38) expect(ys[i]).toBe(Infinity);
      else if (want < 1.17549435e-38) expect(Math.abs(ys[i] - want)).toBeLessThanOrEqual(2 ** -149); // subnormal or 0
      else expect(Math.abs(ys[i] - want) / want).toBeLessThan(2e-7);
    });
  });

  it('exp works in place (out = x)', () => {
    const x = random(19, 21, -5, 5), want = Float32Array.from(x, (v) => Math.exp(v));
    k.exp(x, x, 19);
    expect(maxRelativeError(x, want)).toBeLessThan(2e-7);
  });

  const SIZES = [1, 3, 7, 17, 129];
  const ACTS: Activation[] = [{ kind: 'relu' }, { kind: 'identity' }, { kind: 'sigmoid', slope: 1 }, { kind: 'sigmoid', slope: 2.5 }];

  describe.each(ACTS)('activation $kind', (act) => {
    const slope = act.kind === 'sigmoid' ? act.slope : 1;
    const phi = (v: number) => (act.kind === 'relu' ? Math.max(v, 0) : act.kind === 'identity' ? v : 1 / (1 + Math.exp(-slope * v)));

    it.each(SIZES)('forward matches float64 math (n = %i)', (n) => {
      const x = random(n, 22 + n, -6, 6), want = Array.from(x, phi);
      k.activationForward(x, n, act);
      if (act.kind === 'sigmoid') expect(maxRelativeError(x, want)).toBeLessThan(1e-6);
      else expect(Array.from(x)).toEqual(want.map(Math.fround));
    });

    it.each(SIZES)('backward matches float64 math (n = %i)', (n) => {
      const a = random(n, 23 + n, -1, 1);
      if (act.kind === 'sigmoid') for (let i = 0; i < n; i++) a[i] = (a[i] + 1) / 2; // outputs of a sigmoid
      const dz = random(n, 24 + n);
      const want = Array.from(dz, (g, i) => (act.kind === 'relu' ? (a[i] <= 0 ? 0 : g) : act.kind === 'identity' ? g : g * slope * a[i] * (1 - a[i])));
      k.activationBackward(dz, a, n, act);
      expect(maxRelativeError(dz, want)).toBeLessThan(1e-6);
    });
  });

  it('sigmoid saturates exactly: S(±100) = 1 / 0, S(±∞) = 1 / 0, and S(NaN) is NaN', () => {
    const x = f32([100, -100, 1000, -1000, Infinity, -Infinity, 0, NaN]);
    k.activationForward(x, x.length, { kind: 'sigmoid', slope: 1 });
    expect(Array.from(x.subarray(0, 7))).toEqual([1, 0, 1, 0, 1, 0, 0.5]);
    expect(x[7]).toBeNaN();
    const y = f32([100, -100]);
    k.activationForward(y, 2, { kind: 'sigmoid', slope: 0.25 });
    expect(Math.abs(y[0] - 1)).toBeLessThanOrEqual(1e-7);
    expect(Math.abs(y[1] - 0)).toBeLessThanOrEqual(1e-7);
  });

  it('relu keeps the TypeScript semantics: only x < 0 becomes 0 (−0 and NaN are left alone)', () => {
    const x = f32([-1, -0, 0, 2, NaN, -Infinity, Infinity]);
    const ref = Float32Array.from(x);
    k.activationForward(x, x.length, { kind: 'relu' });
    tsKernels.activationForward(ref, ref.length, { kind: 'relu' });
    expect(bits(x)).toEqual(bits(ref));
  });

  // ── Loss ──────────────────────────────────────────────────────────────────────────────────────────

  const LOSSES: [OutputActivation, LossKind][] = [
    [{ kind: 'softmax' }, 'cross-entropy'],
    [{ kind: 'softmax' }, 'squared-error'],
    [{ kind: 'sigmoid', slope: 1 }, 'squared-error'],
    [{ kind: 'sigmoid', slope: 2 }, 'squared-error'],
    [{ kind: 'identity' }, 'squared-error'],
    [{ kind: 'relu' }, 'squared-error'],
  ];

  describe.each(LOSSES)('lossForwardBackward, %o outputs, %s', (out, loss) => {
    it.each([[1, 10], [3, 10], [17, 10], [5, 1], [4, 3], [7, 17]])('matches the TypeScript kernel (M=%i, C=%i)', (M, C) => {
      for (const scale of [3, 40]) {
        arena.reset();
        const z = random(M * C, 25 + M + C, -scale, scale), dz = poisoned(M * C);
        const y = arena.i32(M);
        for (let r = 0; r < M; r++) y[r] = (r * 7 + 3) % C;
        const zRef = Float32Array.from(z), dzRef = new Float32Array(M * C);
        const want = tsKernels.lossForwardBackward(zRef, dzRef, Int32Array.from(y), M, C, out, loss);
        const got = k.lossForwardBackward(z, dz, y, M, C, out, loss);
        expect(Math.abs(got - want) / Math.max(Math.abs(want), 1e-30)).toBeLessThan(1e-5);
        expect(maxRelativeError(z, zRef)).toBeLessThan(1e-6); // the outputs ŷ
        if (out.kind === 'sigmoid') {
          // dz = 2(ŷ − y)·a·ŷ·(1 − ŷ): near ŷ = 1, one ulp of ŷ moves 1 − ŷ a lot, so check dz against the
          // formula at the kernel's own ŷ (which is itself checked just above)
          const at = Array.from(z, (p, q) => 2 * (p - (q % C === y[Math.floor(q / C)] ? 1 : 0)) * out.slope * p * (1 - p));
          expect(maxRelativeError(dz, at)).toBeLessThan(1e-5);
        } else {
          expect(maxRelativeError(dz, dzRef)).toBeLessThan(1e-5);
        }
      }
    });
  });

  // ── The rest ──────────────────────────────────────────────────────────────────────────────────────

  it.each([[1, 1], [3, 7], [17, 33], [129, 10], [8, 784]])('colSum is bitwise the TypeScript sum (M=%i, N=%i)', (M, N) => {
    const A = random(M * N, 26), out = poisoned(N), ref = new Float32Array(N);
    k.colSum(out, A, M, N);
    tsKernels.colSum(ref, Float32Array.from(A), M, N);
    expect(bits(out)).toEqual(bits(ref));
  });

  it.each([[1, 1], [3, 5], [7, 17], [17, 784]])('gather is bitwise the TypeScript gather (M=%i, D=%i)', (M, D) => {
    const images = 23;
    const pixels = arena.u8(images * D), labels = arena.u8(images), index = arena.i32(M);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + 11) % 256;
    for (let i = 0; i < images; i++) labels[i] = (i * 3) % 10;
    for (let r = 0; r < M; r++) index[r] = (r * 5 + 2) % images;
    const X = poisoned(M * D), y = arena.i32(M).fill(-1);
    const Xr = new Float32Array(M * D), yr = new Int32Array(M);
    k.gather(X, y, pixels, labels, index, M, D);
    tsKernels.gather(Xr, yr, Uint8Array.from(pixels), Uint8Array.from(labels), Int32Array.from(index), M, D);
    expect(bits(X)).toEqual(bits(Xr));
    expect(Array.from(y)).toEqual(Array.from(yr));
  });

  it('gather refuses an index outside the images instead of reading other memory', () => {
    const pixels = arena.u8(4 * 5), labels = arena.u8(4), index = arena.i32(2);
    index.set([1, 4]);
    expect(() => k.gather(arena.f32(10), arena.i32(2), pixels, labels, index, 2, 5)).toThrow(/index\[1\] = 4 is outside the 4 images/);
  });

  it.each([[1, 1, 0, 1], [5, 24, 3, 19], [16, 1037, 0, 1037], [3, 100, 17, 83]])(
    'reduceSlots matches the float64 sum (count=%i stride=%i [%i, %i))', (S, stride, begin, end) => {
      const slots = random(S * stride, 27), grad = poisoned(stride);
      k.reduceSlots(grad, slots, S, stride, begin, end, 1 / 128);
      const want = Array.from({ length: end - begin }, (_, q) => {
        let s = 0;
        for (let i = 0; i < S; i++) s += slots[i * stride + begin + q];
        return s / 128;
      });
      expect(maxRelativeError(grad.subarray(begin, end), want)).toBeLessThan(1e-6);
      for (let p = 0; p < stride; p++) if (p < begin || p >= end) expect(grad[p]).toBeNaN();
    });

  it.each([false, true])('sgdStep matches the TypeScript step (nesterov %s)', (nesterov) => {
    const n = 1037, begin = 5, end = 1030;
    const hp = { lr: 0.05, momentum: 0.9, nesterov, weightDecay: 1e-4 };
    const theta = random(n, 28), grad = random(n, 29), vel = random(n, 30, -0.1, 0.1);
    const [t2, g2, v2] = [theta, grad, vel].map((a) => Float32Array.from(a));
    for (let step = 0; step < 3; step++) {
      k.sgdStep(theta, grad, vel, begin, end, hp);
      tsKernels.sgdStep(t2, g2, v2, begin, end, hp);
    }
    expect(maxRelativeError(theta, t2)).toBeLessThan(1e-6);
    expect(maxRelativeError(vel, v2)).toBeLessThan(1e-6);
    expect(bits(theta.subarray(0, begin))).toEqual(bits(t2.subarray(0, begin)));
    expect(bits(theta.subarray(end))).toEqual(bits(t2.subarray(end)));
  });

  // ── Memory safety ─────────────────────────────────────────────────────────────────────────────────

  it('writes nothing outside its outputs, and reads unaligned views like aligned ones', () => {
    const GUARD = 24, SENTINEL = 12345.5;
    /** A view of n floats with a sentinel-filled guard on each side, starting `skew` floats past a 64-byte boundary. */
    const guarded = (n: number, skew: number) => {
      const whole = arena.f32(n + 2 * GUARD + skew).fill(SENTINEL);
      return { view: whole.subarray(GUARD + skew, GUARD + skew + n), whole, skew };
    };
    const intact = (g: ReturnType<typeof guarded>) =>
      g.whole.subarray(0, GUARD + g.skew).every((v) => v === SENTINEL) && g.whole.subarray(GUARD + g.skew + g.view.length).every((v) => v === SENTINEL);
    for (const [M, N, K] of [[5, 9, 70], [13, 11, 7], [4, 8, 33]]) {
      const results: number[][][] = [];
      for (const skew of [0, 1, 3]) {
        const at = (a: Float32Array) => {
          const g = guarded(a.length, skew);
          g.view.set(a);
          return g.view;
        };
        const A = at(randomFloats(M * K, 31)), B = at(randomFloats(N * K, 32)), bias = at(randomFloats(N, 33));
        const X = at(randomFloats(M * N, 40));
        const out: number[][] = [];
        const C = guarded(M * N, skew);
        for (const run of [
          () => k.gemmABt(C.view, A, B, bias, M, N, K),
          () => k.gemmABtRelu(C.view, A, B, bias, M, N, K),
          () => k.gemmAB(C.view, A, B, M, N, K),
          () => k.gemmAtB(C.view, A, B, M, N, K),
          () => k.colSum(C.view.subarray(0, N), X, M, N),
          () => k.activationForward(C.view, M * N, { kind: 'sigmoid', slope: 1 }),
          () => k.activationBackward(C.view, X, M * N, { kind: 'sigmoid', slope: 1 }),
          () => k.exp(C.view, X, M * N),
          () => k.reduceSlots(C.view, X, M, N, 1, N - 1, 0.5),
          () => k.sgdStep(C.view, A, bias, 0, N, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
        ]) {
          run();
          expect(intact(C)).toBe(true);
          out.push(bits(C.view));
        }
        const z = guarded(M * 10, skew), dz = guarded(M * 10, skew);
        z.view.set(randomFloats(M * 10, 34, -3, 3));
        const y = arena.i32(M);
        for (let r = 0; r < M; r++) y[r] = r % 10;
        k.lossForwardBackward(z.view, dz.view, y, M, 10, { kind: 'softmax' }, 'cross-entropy');
        expect(intact(z) && intact(dz)).toBe(true);
        out.push(bits(z.view), bits(dz.view));
        results.push(out);
      }
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);
    }
  });

  it('refuses views that are not in its memory, with a clear error', () => {
    const n = 4;
    const inside = arena.f32(n * n);
    const elsewhere = new Float32Array(n * n);
    const otherShared = new SharedArena(65536).f32(n * n);
    const msg = /gemmABt: B is not a view of the kernels' shared WebAssembly.Memory/;
    expect(() => k.gemmABt(inside, inside, elsewhere, null, n, n, n)).toThrow(msg);
    expect(() => k.gemmABt(inside, inside, otherShared, null, n, n, n)).toThrow(msg);
    expect(() => k.gemmAB(elsewhere, inside, inside, n, n, n)).toThrow(/gemmAB: C is not a view/);
    expect(() => k.activationForward(elsewhere, n, { kind: 'relu' })).toThrow(/activationForward: x is not a view/);
    expect(() => k.gather(inside, arena.i32(1), new Uint8Array(16), arena.u8(1), arena.i32(1), 1, 4)).toThrow(/gather: pixels is not a view/);
    expect(() => k.sgdStep(inside, elsewhere, inside, 0, n, { lr: 1, momentum: 0, nesterov: false, weightDecay: 0 })).toThrow(/sgdStep: grad is not a view/);
  });

  it('refuses views too short for the shapes (a wasm kernel would otherwise write past them)', () => {
    const A = arena.f32(12), B = arena.f32(12), C = arena.f32(8);
    expect(() => k.gemmABt(C, A, B, null, 3, 3, 4)).toThrow(/gemmABt: C has 8 elements, the call needs 9/);
    expect(() => k.gemmAtB(arena.f32(9), A, B, 3, 3, 5)).toThrow(/gemmAtB: A has 12 elements, the call needs 15/);
    expect(() => k.reduceSlots(C, A, 2, 8, 0, 8, 1)).toThrow(/reduceSlots: slots has 12 elements, the call needs 16/);
  });
});

describe.skipIf(!support.simd)('creating WebAssembly kernels', () => {
  it('needs a shared memory', async () => {
    const notShared = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    await expect(createWasmKernels(notShared, 'wasm')).rejects.toThrow(/need a shared WebAssembly.Memory/);
    expect(() => createWasmKernelsSync(notShared, 'wasm')).toThrow(/need a shared WebAssembly.Memory/);
  });

  it('refuses an unknown variant', async () => {
    await expect(createWasmKernels(arena.memory, 'wasm-fast' as WasmVariant)).rejects.toThrow(/unknown WebAssembly kernels variant "wasm-fast"/);
  });

  it('the synchronous and asynchronous paths give the same kernels', async () => {
    for (const v of VARIANTS.filter(supported)) {
      arena.reset();
      const [M, N, K] = [6, 10, 21];
      const A = random(M * K, 35), B = random(N * K, 36);
      const c1 = poisoned(M * N), c2 = poisoned(M * N);
      (await createWasmKernels(arena.memory, v)).gemmABt(c1, A, B, null, M, N, K);
      createWasmKernelsSync(arena.memory, v).gemmABt(c2, A, B, null, M, N, K);
      expect(bits(c1)).toEqual(bits(c2));
    }
  });

  it.skipIf(!support.relaxed)('a worker thread accepts relaxed SIMD too (the V8 flag is per process) and computes the same bits', async () => {
    arena.reset();
    const [M, N, K] = [9, 13, 37];
    const A = random(M * K, 37), B = random(N * K, 38), bias = random(N, 39);
    const mine = poisoned(M * N), theirs = poisoned(M * N);
    instances.get('wasm-relaxed')!.gemmABt(mine, A, B, bias, M, N, K);
    const source = `
      const { workerData, parentPort } = require('node:worker_threads');
      const { readFileSync } = require('node:fs');
      const { file, memory, args } = workerData;
      const bytes = readFileSync(file);
      const valid = WebAssembly.validate(bytes); // without setting any flag in this thread
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
      exports.gemmABt(...args);
      parentPort.postMessage(valid);`;
    const valid = await new Promise((resolve, reject) => {
      const w = new Worker(source, {
        eval: true,
        workerData: { file: wasmFile('wasm-relaxed'), memory: arena.memory, args: [theirs.byteOffset, A.byteOffset, B.byteOffset, bias.byteOffset, 1, 0, M, N, K] },
      });
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(valid).toBe(true);
    expect(bits(theirs)).toEqual(bits(mine));
  });
});
