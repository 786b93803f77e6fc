import { beforeEach, describe, expect, it } from 'vitest';
import type { Kernels } from '../src/kernels/kernels.js';
import { kernelImplementations, type KernelsUnderTest } from './helpers/implementations.js';
import { maxRelativeError, randomFloats, refAvgPool, refAvgPoolBackward, refGlobalAvgPool } from './helpers/reference.js';

/**
 * Average pooling and global average pooling, for every implementation (the WebAssembly sets delegate to the TypeScript reference),
 * against the naive float64 references of helpers/reference.ts: awkward shapes (C = 1, 3, 13; windows
 * that do not divide H or W), outputs poisoned with NaN (an element a kernel forgets shows up), and
 * each image on its own giving the same bits as all at once.
 */

const IMPLEMENTATIONS = await kernelImplementations(8 << 20);
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** [M, H, W, C, size] */
const POOLS: [number, number, number, number, number][] = [[2, 7, 9, 1, 2], [3, 9, 7, 3, 3], [1, 24, 24, 32, 2], [2, 8, 8, 13, 3], [1, 3, 2, 6, 2]];
/** [M, P (pixels), C] */
const GLOBAL: [number, number, number][] = [[1, 1, 1], [2, 49, 64], [3, 9, 5], [4, 784, 3], [2, 7, 13]];

for (const { name, impl } of IMPLEMENTATIONS) describe.skipIf(!impl)(`${name} kernels`, () => {
  let t: KernelsUnderTest;
  let k: Kernels;
  beforeEach(() => {
    t = impl!;
    t.reset();
    k = t.kernels;
  });
  const random = (n: number, seed: number) => {
    const a = t.f32(n);
    a.set(randomFloats(n, seed));
    return a;
  };
  const poisoned = (n: number) => t.f32(n).fill(NaN);

  describe.each(POOLS)('average pooling M=%i H=%i W=%i C=%i size=%i', (M, H, W, C, size) => {
    const n = M * Math.floor(H / size) * Math.floor(W / size) * C, len = M * H * W * C;

    it('forward: the mean of each window, every output written', () => {
      const x = random(len, 3), y = poisoned(n);
      k.avgPoolForward(y, x, M, H, W, C, size);
      expect(maxRelativeError(y, refAvgPool(x, M, H, W, C, size))).toBeLessThan(1e-6);
    });

    it('backward: dy / size² over each window, 0 in the dropped rows and columns, every element written', () => {
      const dy = random(n, 4), dx = poisoned(len);
      k.avgPoolBackward(dx, dy, M, H, W, C, size);
      expect(maxRelativeError(dx, refAvgPoolBackward(dy, M, H, W, C, size))).toBeLessThan(1e-6);
    });

    it('backward is the adjoint of forward: ⟨pool(x), dy⟩ = ⟨x, pool′(dy)⟩', () => {
      const x = random(len, 5), dy = random(n, 6), y = poisoned(n), dx = poisoned(len);
      k.avgPoolForward(y, x, M, H, W, C, size);
      k.avgPoolBackward(dx, dy, M, H, W, C, size);
      let left = 0, right = 0;
      for (let i = 0; i < n; i++) left += y[i] * dy[i];
      for (let i = 0; i < len; i++) right += x[i] * dx[i];
      expect(Math.abs(left - right)).toBeLessThan(1e-5 * (Math.abs(left) + 1));
    });

    it('each image on its own gives the same bits as all at once', () => {
      const x = random(len, 7), y = poisoned(n), per = n / M, img = len / M;
      k.avgPoolForward(y, x, M, H, W, C, size);
      for (let q = 0; q < M; q++) {
        const y1 = poisoned(per);
        k.avgPoolForward(y1, x.subarray(q * img), 1, H, W, C, size);
        expect(bits(y1)).toEqual(bits(y.subarray(q * per, (q + 1) * per)));
      }
    });
  });

  describe.each(GLOBAL)('global average pooling M=%i P=%i C=%i', (M, P, C) => {
    it('forward: each channel\'s mean over the pixels, every output written', () => {
      const x = random(M * P * C, 8), y = poisoned(M * C);
      k.globalAvgPoolForward(y, x, M, P, C);
      expect(maxRelativeError(y, refGlobalAvgPool(x, M, P, C))).toBeLessThan(1e-6);
    });

    it('backward: dy / P at every pixel (every element written), the adjoint of forward', () => {
      const x = random(M * P * C, 9), dy = random(M * C, 10), y = poisoned(M * C), dx = poisoned(M * P * C);
      k.globalAvgPoolBackward(dx, dy, M, P, C);
      const ref = new Float64Array(M * P * C);
      for (let i = 0; i < ref.length; i++) ref[i] = dy[Math.floor(i / (P * C)) * C + (i % C)] / P;
      expect(maxRelativeError(dx, ref)).toBeLessThan(1e-6);
      k.globalAvgPoolForward(y, x, M, P, C);
      let left = 0, right = 0;
      for (let i = 0; i < M * C; i++) left += y[i] * dy[i];
      for (let i = 0; i < M * P * C; i++) right += x[i] * dx[i];
      expect(Math.abs(left - right)).toBeLessThan(1e-5 * (Math.abs(left) + 1));
    });
  });
});
