import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { distPath } from '../dist-path.js';
import { setFlagsFromString } from 'node:v8';
import type { Kernels } from './kernels.js';
import { bindAdapter } from './wasm/adapter.js';

export type { WasmExports } from './wasm/signatures.js';

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
 * order, instead of one running sum (see src/kernels/wasm/gemm.mjs).
 *
 * Every method checks, cheaply, that its views are views of `memory` and long enough for the shapes it
 * is given (a WebAssembly kernel would otherwise read or write past a view, into its neighbours), and
 * throws a clear Error / RangeError otherwise. Those methods are derived from one table of the kernels'
 * signatures (src/kernels/wasm/signatures.ts: each argument's dtype and needed length, and the export
 * call) by src/kernels/wasm/adapter.ts.
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

/** The methods over one instance: the adapter derived from the signature table (./wasm/signatures.ts). */
function bind(instance: WebAssembly.Instance, memory: WebAssembly.Memory, name: WasmVariant): WasmKernels {
  return { name, memory, ...bindAdapter(instance, memory, name) };
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
