import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { distPath } from '../dist-path.js';
import { setFlagsFromString } from 'node:v8';
import type { Activation, LossKind, OutputActivation } from '../model/spec.js';
import { tsKernels } from './ts.js';
import { batchNormScratchWords, type AdamHyper, type ConvGeometry, type Kernels, type SgdHyper } from './kernels.js';

/**
 * WebAssembly SIMD kernels. The module (built from src/kernels/wasm/generate.mjs by `npm run build:wasm`
 * into dist/wasm/) imports the training's shared WebAssembly.Memory, so every kernel works in place on
 * the typed-array views the engine already has: a method passes each view's byteOffset as a pointer.
 *
 * Two variants: 'wasm' (plain SIMD, f32x4.mul + f32x4.add) and 'wasm-relaxed' (relaxed SIMD,
 * f32x4.relaxed_madd, a fused multiply-add on x64 with FMA3). Node 20's V8 accepts relaxed SIMD only
 * behind --experimental-wasm-relaxed-simd; this module sets that flag for the process (worker threads
 * included: V8 flags are per process) before it compiles anything, and `wasmSupport()` reports whether it
 * took. Each variant is deterministic on a given machine (V8 emits the same instructions in all tiers),
 * and both keep the contract of kernels.ts (an element depends on its own row, column and K only); they
 * differ from each other, and from the TypeScript kernels, in the low bits. One difference in how:
 * gemmABt sums each dot product as four partial sums along k (k mod 4), added at the end in a fixed
 * order, instead of one running sum (see src/kernels/wasm/generate.mjs).
 *
 * Every method checks, cheaply, that its views are views of `memory` and long enough for the shapes it
 * is given (a WebAssembly kernel would otherwise read or write past a view, into its neighbours), and
 * throws a clear Error / RangeError otherwise.
 */

export type WasmVariant = 'wasm' | 'wasm-relaxed';
export const WASM_VARIANTS: readonly WasmVariant[] = ['wasm', 'wasm-relaxed'];

export interface WasmSupport {
  /** WebAssembly with 128-bit SIMD (the 'wasm' variant). */
  simd: boolean;
  /** Relaxed SIMD as well, after trying to switch it on (the 'wasm-relaxed' variant). */
  relaxed: boolean;
}

/** The Kernels interface plus what only the WebAssembly kernels offer. */
export interface WasmKernels extends Kernels {
  readonly name: WasmVariant;
  /** The shared memory every view passed to a method must belong to. */
  readonly memory: WebAssembly.Memory;
  /** out[i] = e^x[i] for i < n, by the kernels' own expf (what the sigmoid uses). out may be x. */
  exp(out: Float32Array, x: Float32Array, n: number): void;
}

// ── Support detection ──────────────────────────────────────────────────────────────────────────────────

/** A minimal module: one function `() → v128` whose body is `code`. */
function probeModule(code: number[]): Uint8Array<ArrayBuffer> {
  const body = [0x00 /* no locals */, ...code, 0x0b /* end */];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: one type, func () → v128
    0x03, 0x02, 0x01, 0x00, // function section: one function, of type 0
    0x0a, body.length + 2, 0x01, body.length, ...body, // code section: one body (sizes < 128: one-byte LEBs)
  ]);
}
const V128_ZERO = [0xfd, 0x0c, ...new Array<number>(16).fill(0)]; // v128.const i32x4 0 0 0 0
/** (f32x4.add (v128.const 0) (v128.const 0)) */
const SIMD_PROBE = probeModule([...V128_ZERO, ...V128_ZERO, 0xfd, 0xe4, 0x01]);
/** (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0)) */
const RELAXED_PROBE = probeModule([...V128_ZERO, ...V128_ZERO, ...V128_ZERO, 0xfd, 0x85, 0x02]);

let support: WasmSupport | undefined;

/**
 * Which variants this process can run. Tries to switch relaxed SIMD on first (a V8 flag, for the whole
 * process, which must happen before the first relaxed module is compiled; harmless where relaxed SIMD is
 * on by default, as from Node 22 on).
 */
export function wasmSupport(): WasmSupport {
  if (support) return support;
  const simd = WebAssembly.validate(SIMD_PROBE);
  if (simd && !WebAssembly.validate(RELAXED_PROBE)) {
    try {
      setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // not a V8 that knows the flag: relaxed stays unsupported
    }
  }
  support = { simd, relaxed: simd && WebAssembly.validate(RELAXED_PROBE) };
  return support;
}

// ── Loading ────────────────────────────────────────────────────────────────────────────────────────────

const FILES: Record<WasmVariant, string> = { wasm: 'kernels.wasm', 'wasm-relaxed': 'kernels-relaxed.wasm' };

/** dist/wasm/<file>, where `npm run build:wasm` writes the assembled kernels. */
export function wasmFile(variant: WasmVariant): string {
  const file = FILES[variant];
  if (!file) throw new Error(`unknown WebAssembly kernels variant "${String(variant)}"; use one of: ${WASM_VARIANTS.join(', ')}`);
  const path = distPath('wasm', file);
  if (!existsSync(path)) throw new Error(`the WebAssembly kernels are not built (${path} is missing); run npm run build:wasm`);
  return path;
}

function checkSupported(variant: WasmVariant): void {
  if (variant !== 'wasm' && variant !== 'wasm-relaxed') {
    throw new Error(`unknown WebAssembly kernels variant "${String(variant)}"; use one of: ${WASM_VARIANTS.join(', ')}`);
  }
  const s = wasmSupport();
  if (!s.simd) throw new Error(`--kernels ${variant}: this JavaScript engine has no WebAssembly SIMD`);
  if (variant === 'wasm-relaxed' && !s.relaxed) {
    throw new Error('--kernels wasm-relaxed: this JavaScript engine has no relaxed SIMD (even with --experimental-wasm-relaxed-simd); use --kernels wasm');
  }
}

const compiled = new Map<WasmVariant, WebAssembly.Module>();
const compiling = new Map<WasmVariant, Promise<WebAssembly.Module>>();

async function compile(variant: WasmVariant): Promise<WebAssembly.Module> {
  checkSupported(variant);
  const done = compiled.get(variant);
  if (done) return done;
  let p = compiling.get(variant);
  if (!p) {
    p = readFile(wasmFile(variant)).then((bytes) => WebAssembly.compile(bytes));
    compiling.set(variant, p);
    p.then((m) => compiled.set(variant, m), () => compiling.delete(variant));
  }
  return p;
}

function compileSync(variant: WasmVariant): WebAssembly.Module {
  checkSupported(variant);
  let m = compiled.get(variant);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(wasmFile(variant)));
    compiled.set(variant, m);
  }
  return m;
}

function checkMemory(memory: WebAssembly.Memory): void {
  if (!(memory instanceof WebAssembly.Memory) || !(memory.buffer instanceof SharedArrayBuffer)) {
    throw new TypeError('the WebAssembly kernels need a shared WebAssembly.Memory (new WebAssembly.Memory({ initial, maximum, shared: true }))');
  }
}

/**
 * Kernels of the given variant working in `memory` (shared; any size). Compiles the module once per
 * variant and process (cached), instantiates it per call.
 */
export async function createWasmKernels(memory: WebAssembly.Memory, variant: WasmVariant): Promise<WasmKernels> {
  checkMemory(memory);
  const module = await compile(variant);
  return bind(await WebAssembly.instantiate(module, { env: { memory } }), memory, variant);
}

/** The same, synchronously (for worker start-up code that cannot await; Node compiles any size synchronously). */
export function createWasmKernelsSync(memory: WebAssembly.Memory, variant: WasmVariant): WasmKernels {
  checkMemory(memory);
  return bind(new WebAssembly.Instance(compileSync(variant), { env: { memory } }), memory, variant);
}

// ── The Kernels object ─────────────────────────────────────────────────────────────────────────────────

interface Exports {
  gemmABt(C: number, A: number, B: number, bias: number, hasBias: number, relu: number, M: number, N: number, K: number): void;
  gemmAB(C: number, A: number, B: number, M: number, N: number, K: number): void;
  gemmAtB(C: number, A: number, B: number, M: number, N: number, K: number): void;
  sparseForward(Y: number, X: number, WT: number, bias: number, hasBias: number, relu: number, M: number, OUT: number, IN: number, S: number): void;
  sparseWeightGrad(dWT: number, X: number, dZ: number, K: number, IN: number, OUT: number, S: number): void;
  colSum(out: number, A: number, M: number, N: number): void;
  activationForward(x: number, n: number, kind: number, slope: number): void;
  activationBackward(dz: number, a: number, n: number, kind: number, slope: number): void;
  gather(X: number, y: number, pixels: number, labels: number, index: number, M: number, D: number): void;
  lossForwardBackward(z: number, dz: number, y: number, M: number, C: number, out: number, loss: number, slope: number): number;
  reduceSlots(grad: number, slots: number, count: number, stride: number, begin: number, end: number, scale: number): void;
  sgdStep(params: number, grad: number, vel: number, begin: number, end: number, lr: number, momentum: number, nesterov: number, wd: number): void;
  exp(out: number, x: number, n: number): void;
  im2col(cols: number, x: number, M: number, H: number, W: number, C: number, k: number, stride: number, pad: number, OH: number, OW: number): void;
  col2im(dx: number, dcols: number, M: number, H: number, W: number, C: number, k: number, stride: number, pad: number, OH: number, OW: number): void;
  maxPoolForward(y: number, argmax: number, x: number, M: number, H: number, W: number, C: number, size: number): void;
  /** 0, or 1 (nothing written) when an index is outside [0, len). */
  maxPoolBackward(dx: number, dy: number, argmax: number, n: number, len: number): number;
  batchNormForward(y: number, xhat: number, stats: number, x: number, gamma: number, beta: number, R: number, C: number, eps: number, scratch: number): void;
  batchNormBackward(dx: number, dgamma: number, dbeta: number, dy: number, xhat: number, gamma: number, invstd: number, R: number, C: number,
    scratch: number): void;
  scaleShift(y: number, x: number, scale: number, shift: number, R: number, C: number): void;
  multiply(y: number, x: number, mask: number, n: number): void;
  addTo(dst: number, src: number, n: number): void;
  adamStep(params: number, grad: number, m: number, v: number, begin: number, end: number, lr: number, b1: number, omb1: number, b2: number, omb2: number,
    eps: number, wd: number, c1: number, c2: number, decoupled: number): void;
  emaUpdate(avg: number, x: number, begin: number, end: number, decay: number, omd: number): void;
}

const ACT_CODE = { identity: 0, relu: 1, sigmoid: 2, softmax: 3 } as const;

function actCode(act: OutputActivation, method: string, allowSoftmax: boolean): number {
  const code = (ACT_CODE as Record<string, number | undefined>)[act.kind];
  if (code === undefined || (code === 3 && !allowSoftmax)) throw new Error(`${method}: unsupported activation "${act.kind}"`);
  return code;
}

const slopeOf = (act: OutputActivation) => (act.kind === 'sigmoid' ? act.slope : 1);

function bind(instance: WebAssembly.Instance, memory: WebAssembly.Memory, name: WasmVariant): WasmKernels {
  const x = instance.exports as unknown as Exports;
  let buffer: ArrayBufferLike = memory.buffer;

  /** The view's byteOffset, after checking that it lies in the memory and holds at least `need` elements. */
  const ptr = (v: ArrayBufferView & { length: number }, need: number, what: string, method: string): number => {
    if (v.buffer !== buffer) {
      buffer = memory.buffer; // the memory may have grown (a new buffer object)
      if (v.buffer !== buffer) {
        throw new Error(
          `${name} kernels, ${method}: ${what} is not a view of the kernels' shared WebAssembly.Memory; ` +
          'every buffer a WebAssembly kernel reads or writes must live in that memory (see the memory plan, or allocate with SharedArena)');
      }
    }
    if (v.length < need) throw new RangeError(`${name} kernels, ${method}: ${what} has ${v.length} elements, the call needs ${need}`);
    return v.byteOffset;
  };
  const dims = (method: string, ...ns: number[]) => {
    for (const n of ns) if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`${name} kernels, ${method}: bad size ${n}`);
  };

  /** The geometry's numbers, checked: sizes, and positions (o·stride − pad + k) that stay in int32. */
  const geometry = (method: string, M: number, g: ConvGeometry): ConvGeometry => {
    const { H, W, C, k, stride, pad, OH, OW } = g;
    dims(method, M, H, W, C, k, stride, pad, OH, OW);
    if (Math.max(OH * stride, OW * stride) + k + pad > 0x7fffffff) throw new RangeError(`${name} kernels, ${method}: the geometry's positions overflow int32`);
    return g;
  };

  const gemmABt = (relu: number, method: string) =>
    (C: Float32Array, A: Float32Array, B: Float32Array, bias: Float32Array | null, M: number, N: number, K: number): void => {
      dims(method, M, N, K);
      x.gemmABt(ptr(C, M * N, 'C', method), ptr(A, M * K, 'A', method), ptr(B, N * K, 'B', method),
        bias ? ptr(bias, N, 'bias', method) : 0, bias ? 1 : 0, relu, M, N, K);
    };

  const kernels: WasmKernels = {
    name,
    memory,
    gemmABt: gemmABt(0, 'gemmABt'),
    gemmABtRelu: gemmABt(1, 'gemmABtRelu'),
    gemmAB(C, A, B, M, N, K) {
      dims('gemmAB', M, N, K);
      x.gemmAB(ptr(C, M * N, 'C', 'gemmAB'), ptr(A, M * K, 'A', 'gemmAB'), ptr(B, K * N, 'B', 'gemmAB'), M, N, K);
    },
    gemmAtB(C, A, B, M, N, K) {
      dims('gemmAtB', M, N, K);
      x.gemmAtB(ptr(C, M * N, 'C', 'gemmAtB'), ptr(A, K * M, 'A', 'gemmAtB'), ptr(B, K * N, 'B', 'gemmAtB'), M, N, K);
    },
    sparseForward(Y, X, WT, bias, M, OUT, IN, relu, scratch) {
      const m = 'sparseForward';
      dims(m, M, OUT, IN);
      x.sparseForward(ptr(Y, M * OUT, 'Y', m), ptr(X, M * IN, 'X', m), ptr(WT, IN * OUT, 'WT', m),
        bias ? ptr(bias, OUT, 'bias', m) : 0, bias ? 1 : 0, relu ? 1 : 0, M, OUT, IN, ptr(scratch, M > 0 ? 2 * IN : 0, 'scratch', m));
    },
    sparseWeightGrad(dWT, X, dZ, K, IN, OUT, scratch) {
      const m = 'sparseWeightGrad';
      dims(m, K, IN, OUT);
      x.sparseWeightGrad(ptr(dWT, IN * OUT, 'dWT', m), ptr(X, K * IN, 'X', m), ptr(dZ, K * OUT, 'dZ', m), K, IN, OUT,
        ptr(scratch, IN > 0 ? 2 * K : 0, 'scratch', m));
    },
    colSum(out, A, M, N) {
      dims('colSum', M, N);
      x.colSum(ptr(out, N, 'out', 'colSum'), ptr(A, M * N, 'A', 'colSum'), M, N);
    },
    activationForward(v: Float32Array, n: number, act: Activation) {
      dims('activationForward', n);
      x.activationForward(ptr(v, n, 'x', 'activationForward'), n, actCode(act, 'activationForward', false), slopeOf(act));
    },
    activationBackward(dz: Float32Array, a: Float32Array, n: number, act: Activation) {
      dims('activationBackward', n);
      x.activationBackward(ptr(dz, n, 'dz', 'activationBackward'), ptr(a, n, 'a', 'activationBackward'), n,
        actCode(act, 'activationBackward', false), slopeOf(act));
    },
    gather(X, y, pixels, labels, index, M, D) {
      dims('gather', M, D);
      const images = D > 0 ? Math.min(Math.floor(pixels.length / D), labels.length) : labels.length;
      for (let r = 0; r < M; r++) {
        const i = index[r];
        if (!(i >= 0 && i < images)) throw new RangeError(`${name} kernels, gather: index[${r}] = ${i} is outside the ${images} images`);
      }
      x.gather(ptr(X, M * D, 'X', 'gather'), ptr(y, M, 'y', 'gather'), ptr(pixels, 0, 'pixels', 'gather'),
        ptr(labels, 0, 'labels', 'gather'), ptr(index, M, 'index', 'gather'), M, D);
    },
    lossForwardBackward(z, dz, y, M, C, out: OutputActivation, loss: LossKind) {
      dims('lossForwardBackward', M, C);
      const lossCode = loss === 'cross-entropy' ? 0 : loss === 'squared-error' ? 1 : -1;
      if (lossCode < 0) throw new Error(`lossForwardBackward: unsupported loss "${String(loss)}"`);
      return x.lossForwardBackward(ptr(z, M * C, 'z', 'lossForwardBackward'), ptr(dz, M * C, 'dz', 'lossForwardBackward'),
        ptr(y, M, 'y', 'lossForwardBackward'), M, C, actCode(out, 'lossForwardBackward', true), lossCode, slopeOf(out));
    },
    reduceSlots(grad, slots, count, stride, begin, end, scale) {
      dims('reduceSlots', count, stride, begin, end);
      if (end <= begin) return;
      x.reduceSlots(ptr(grad, end, 'grad', 'reduceSlots'), ptr(slots, count > 0 ? (count - 1) * stride + end : 0, 'slots', 'reduceSlots'),
        count, stride, begin, end, scale);
    },
    sgdStep(params, grad, velocity, begin, end, hp: SgdHyper) {
      dims('sgdStep', begin, end);
      if (end <= begin) return;
      x.sgdStep(ptr(params, end, 'params', 'sgdStep'), ptr(grad, end, 'grad', 'sgdStep'), ptr(velocity, end, 'velocity', 'sgdStep'),
        begin, end, hp.lr, hp.momentum, hp.nesterov ? 1 : 0, hp.weightDecay);
    },
    im2col(cols, v, M, g) {
      const m = 'im2col';
      const { H, W, C, k: kk, stride, pad, OH, OW } = geometry(m, M, g);
      x.im2col(ptr(cols, M * OH * OW * kk * kk * C, 'cols', m), ptr(v, M * H * W * C, 'x', m), M, H, W, C, kk, stride, pad, OH, OW);
    },
    col2im(dx, dcols, M, g) {
      const m = 'col2im';
      const { H, W, C, k: kk, stride, pad, OH, OW } = geometry(m, M, g);
      x.col2im(ptr(dx, M * H * W * C, 'dx', m), ptr(dcols, M * OH * OW * kk * kk * C, 'dcols', m), M, H, W, C, kk, stride, pad, OH, OW);
    },
    maxPoolForward(y, argmax, v, M, H, W, C, size) {
      const m = 'maxPoolForward';
      dims(m, M, H, W, C, size);
      if (size < 1) throw new RangeError(`${name} kernels, ${m}: bad window size ${size}`);
      const out = M * Math.floor(H / size) * Math.floor(W / size) * C;
      x.maxPoolForward(ptr(y, out, 'y', m), ptr(argmax, out, 'argmax', m), ptr(v, M * H * W * C, 'x', m), M, H, W, C, size);
    },
    maxPoolBackward(dx, dy, argmax, n, dxLength) {
      const m = 'maxPoolBackward';
      dims(m, n, dxLength);
      if (x.maxPoolBackward(ptr(dx, dxLength, 'dx', m), ptr(dy, n, 'dy', m), ptr(argmax, n, 'argmax', m), n, dxLength) !== 0) {
        let i = 0;
        while (argmax[i] >= 0 && argmax[i] < dxLength) i++;
        throw new RangeError(`${name} kernels, ${m}: argmax[${i}] = ${argmax[i]} is outside dx (${dxLength} elements)`);
      }
    },
    avgPoolForward: tsKernels.avgPoolForward, // TS reference
    avgPoolBackward: tsKernels.avgPoolBackward, // TS reference
    globalAvgPoolForward: tsKernels.globalAvgPoolForward, // TS reference
    globalAvgPoolBackward: tsKernels.globalAvgPoolBackward, // TS reference
    batchNormForward(y, xhat, stats, v, gamma, beta, R, C, eps, scratch) {
      const m = 'batchNormForward';
      dims(m, R, C);
      x.batchNormForward(ptr(y, R * C, 'y', m), ptr(xhat, R * C, 'xhat', m), ptr(stats, 3 * C, 'stats', m), ptr(v, R * C, 'x', m),
        ptr(gamma, C, 'gamma', m), ptr(beta, C, 'beta', m), R, C, eps, ptr(scratch, batchNormScratchWords(C), 'scratch', m));
    },
    batchNormBackward(dx, dgamma, dbeta, dy, xhat, gamma, invstd, R, C, scratch) {
      const m = 'batchNormBackward';
      dims(m, R, C);
      x.batchNormBackward(ptr(dx, R * C, 'dx', m), ptr(dgamma, C, 'dgamma', m), ptr(dbeta, C, 'dbeta', m), ptr(dy, R * C, 'dy', m),
        ptr(xhat, R * C, 'xhat', m), ptr(gamma, C, 'gamma', m), ptr(invstd, C, 'invstd', m), R, C, ptr(scratch, batchNormScratchWords(C), 'scratch', m));
    },
    scaleShift(y, v, scale, shift, R, C) {
      const m = 'scaleShift';
      dims(m, R, C);
      x.scaleShift(ptr(y, R * C, 'y', m), ptr(v, R * C, 'x', m), ptr(scale, C, 'scale', m), ptr(shift, C, 'shift', m), R, C);
    },
    multiply(y, v, mask, n) {
      dims('multiply', n);
      x.multiply(ptr(y, n, 'y', 'multiply'), ptr(v, n, 'x', 'multiply'), ptr(mask, n, 'mask', 'multiply'), n);
    },
    addTo(dst, src, n) {
      dims('addTo', n);
      x.addTo(ptr(dst, n, 'dst', 'addTo'), ptr(src, n, 'src', 'addTo'), n);
    },
    adamStep(params, grad, mom, vel, begin, end, hp: AdamHyper) {
      const m = 'adamStep';
      dims(m, begin, end);
      if (end <= begin) return;
      const { lr, beta1, beta2, eps, weightDecay, decoupled, step } = hp;
      x.adamStep(ptr(params, end, 'params', m), ptr(grad, end, 'grad', m), ptr(mom, end, 'm', m), ptr(vel, end, 'v', m), begin, end,
        lr, beta1, 1 - beta1, beta2, 1 - beta2, eps, weightDecay, 1 / (1 - beta1 ** step), 1 / (1 - beta2 ** step), decoupled ? 1 : 0);
    },
    emaUpdate(avg, v, begin, end, decay) {
      dims('emaUpdate', begin, end);
      if (end <= begin) return;
      x.emaUpdate(ptr(avg, end, 'avg', 'emaUpdate'), ptr(v, end, 'x', 'emaUpdate'), begin, end, decay, 1 - decay);
    },
    sumSquares: tsKernels.sumSquares, // TS reference
    scale: tsKernels.scale, // TS reference
    axpy: tsKernels.axpy, // TS reference
    lambDirection: tsKernels.lambDirection, // TS reference
    exp(out, v, n) {
      dims('exp', n);
      x.exp(ptr(out, n, 'out', 'exp'), ptr(v, n, 'x', 'exp'), n);
    },
  };
  return kernels;
}

// ── A bump allocator over a fresh shared memory (tests, benchmarks) ────────────────────────────────────

/**
 * A fresh shared WebAssembly.Memory of at least `bytes` bytes, handing out zeroed views aligned to
 * `align` bytes (64 by default, as the memory plan's regions), one after the other.
 */
export class SharedArena {
  readonly memory: WebAssembly.Memory;
  private next = 0;

  constructor(readonly bytes: number, private readonly align = 64) {
    const pages = Math.max(1, Math.ceil(bytes / 65536));
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  }

  /** Bytes handed out so far (alignment padding included). */
  get used(): number {
    return this.next;
  }

  private take(bytes: number): number {
    const at = Math.ceil(this.next / this.align) * this.align;
    if (at + bytes > this.memory.buffer.byteLength) {
      throw new RangeError(`SharedArena: ${bytes} more bytes do not fit (${at} of ${this.memory.buffer.byteLength} used)`);
    }
    this.next = at + bytes;
    return at;
  }

  f32(n: number): Float32Array {
    return new Float32Array(this.memory.buffer, this.take(n * 4), n).fill(0);
  }

  i32(n: number): Int32Array {
    return new Int32Array(this.memory.buffer, this.take(n * 4), n).fill(0);
  }

  u8(n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.take(n), n).fill(0);
  }

  /** Forgets every view handed out (their memory will be handed out again). */
  reset(): void {
    this.next = 0;
  }
}
