import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { KERNEL_SIGNATURES, type AdapterMethods } from '../src/kernels/wasm/signatures.js';
import { createWasmKernelsSync, SharedArena, wasmSupport } from '../src/kernels/wasm.js';

/**
 * Every view of every WebAssembly kernel is checked: each sample call below passes views of exactly the
 * length the call needs (worked out here by hand, from the shapes, independently of the signature table),
 * and must run; then each view in turn, one element shorter, must be refused with the message that names
 * it, and so must a copy of it outside the shared memory.
 */

execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--quiet', '--if-stale'], { stdio: 'inherit' });

const arena = new SharedArena(1 << 20);
const f = (n: number) => arena.f32(n);
const i = (n: number) => arena.i32(n);
const u = (n: number) => arena.u8(n);
const sgd = { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 };
const adam = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: false, step: 2 };
const geometry = { H: 4, W: 4, C: 2, k: 3, stride: 1, pad: 1, OH: 4, OW: 4 }; // M = 1: x 32, cols 16·9·2 = 288

/** A call of each method with views of exactly the needed length; `anyLength` names views the call reads nothing of by their length. */
const SAMPLES: { [K in keyof AdapterMethods]: () => { args: Parameters<AdapterMethods[K]>; anyLength?: string[] } } = {
  gemmABt: () => ({ args: [f(2 * 3), f(2 * 4), f(3 * 4), f(3), 2, 3, 4] }),
  gemmABtRelu: () => ({ args: [f(2 * 3), f(2 * 4), f(3 * 4), f(3), 2, 3, 4] }),
  gemmAB: () => ({ args: [f(2 * 3), f(2 * 4), f(4 * 3), 2, 3, 4] }),
  gemmAtB: () => ({ args: [f(2 * 3), f(4 * 2), f(4 * 3), 2, 3, 4] }),
  gemmAtBAcc: () => ({ args: [f(2 * 3), f(4 * 2), f(4 * 3), 2, 3, 4] }),
  gemmABBatch: () => ({ args: [f(3 * 2 * 3), f(3 * 2 * 4), f(3 * 4 * 3), 2, 3, 4, 3] }),
  gemmAtBBatch: () => ({ args: [f(3 * 2 * 3), f(3 * 4 * 2), f(3 * 4 * 3), 2, 3, 4, 3, true] }),
  sparseForward: () => ({ args: [f(2 * 3), f(2 * 5), f(5 * 3), f(3), 2, 3, 5, true, i(2 * 5)] }),
  sparseWeightGrad: () => ({ args: [f(5 * 3), f(4 * 5), f(4 * 3), 4, 5, 3, i(2 * 4)] }),
  colSum: () => ({ args: [f(3), f(2 * 3), 2, 3] }),
  activationForward: () => ({ args: [f(7), 7, { kind: 'sigmoid', slope: 1 }] }),
  activationBackward: () => ({ args: [f(7), f(7), 7, { kind: 'relu' }] }),
  gather: () => ({ args: [f(2 * 3), i(2), u(4 * 3), u(4), i(2), 2, 3], anyLength: ['pixels', 'labels'] }),
  lossForwardBackward: () => ({ args: [f(2 * 10), f(2 * 10), i(2), 2, 10, { kind: 'softmax' }, 'cross-entropy'] }),
  reduceSlots: () => ({ args: [f(7), f(2 * 10 + 7), 3, 10, 2, 7, 0.5] }),
  multiply: () => ({ args: [f(5), f(5), f(5), 5] }),
  addTo: () => ({ args: [f(5), f(5), 5] }),
  exp: () => ({ args: [f(5), f(5), 5] }),
  im2col: () => ({ args: [f(288), f(32), 1, geometry] }),
  col2im: () => ({ args: [f(32), f(288), 1, geometry] }),
  maxPoolForward: () => ({ args: [f(2 * 2 * 2), i(2 * 2 * 2), f(4 * 5 * 2), 1, 4, 5, 2, 2] }),
  maxPoolBackward: () => ({ args: [f(9), f(4), i(4), 4, 9] }),
  // Winograd on the same 4×4 geometry, 3 filters: m = 2 has 2 × 2 tiles of α² = 16, m = 4 one tile of 36
  // (the filter kernels: F(2×2, 3×3), and F(2×2, 5×5) with its α² = 36 and 25 taps)
  winogradFilter: () => ({ args: [f(16 * 3 * 2), f(3 * 9 * 2), 3, 2, 2, 3, true] }),
  winogradFilterGrad: () => ({ args: [f(3 * 25 * 2), f(36 * 3 * 2), 3, 2, 2, 5] }),
  winogradInput: () => ({ args: [f(16 * 4 * 2), f(32), 1, geometry, 2] }),
  winogradInputGrad: () => ({ args: [f(32), f(36 * 1 * 2), 1, geometry, 4] }),
  winogradOutput: () => ({ args: [f(4 * 4 * 3), f(16 * 4 * 3), f(3), 1, geometry, 3, 2, true] }),
  winogradOutputGrad: () => ({ args: [f(16 * 4 * 3), f(4 * 4 * 3), 1, geometry, 3, 2] }),
  batchNormForward: () => ({ args: [f(3 * 2), f(3 * 2), f(3 * 2), f(3 * 2), f(2), f(2), 3, 2, 1e-5, i(8 * 2)] }),
  batchNormBackward: () => ({ args: [f(3 * 2), f(2), f(2), f(3 * 2), f(3 * 2), f(2), f(2), 3, 2, i(8 * 2)] }),
  scaleShift: () => ({ args: [f(3 * 2), f(3 * 2), f(2), f(2), 3, 2] }),
  sgdStep: () => ({ args: [f(6), f(6), f(6), 1, 6, sgd] }),
  adamStep: () => ({ args: [f(6), f(6), f(6), f(6), 1, 6, adam] }),
  emaUpdate: () => ({ args: [f(6), f(6), 1, 6, 0.9] }),
};

const replaced = (args: readonly unknown[], at: number, v: unknown) => args.map((a, j) => (j === at ? v : a));

describe.skipIf(!wasmSupport().simd)('the wasm kernels check every view', () => {
  const k = createWasmKernelsSync(arena.memory, 'wasm');
  const call = (method: keyof AdapterMethods, args: readonly unknown[]) => (k[method] as (...a: unknown[]) => unknown)(...args);

  it.each(Object.keys(SAMPLES) as (keyof AdapterMethods)[])('%s: runs with views of exactly the needed length, refuses each one shorter or elsewhere', (method) => {
    arena.reset();
    const { args, anyLength = [] } = SAMPLES[method]();
    call(method, args);
    const names = KERNEL_SIGNATURES[method].args.map((a) => a.name);
    let views = 0;
    args.forEach((arg, at) => {
      if (!ArrayBuffer.isView(arg)) return;
      views++;
      const v = arg as Float32Array;
      const elsewhere = replaced(args, at, new (v.constructor as Float32ArrayConstructor)(v.length));
      expect(() => call(method, elsewhere)).toThrow(`wasm kernels, ${method}: ${names[at]} is not a view of the kernels' shared WebAssembly.Memory`);
      if (anyLength.includes(names[at])) return;
      const short = replaced(args, at, v.subarray(0, v.length - 1));
      expect(() => call(method, short)).toThrow(new RangeError(`wasm kernels, ${method}: ${names[at]} has ${v.length - 1} elements, the call needs ${v.length}`));
    });
    expect(views).toBe(KERNEL_SIGNATURES[method].args.filter((a) => a.kind === 'view').length);
  });
});
