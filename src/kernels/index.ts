import { badOption } from '../errors.js';
import type { Kernels } from './kernels.js';
import { tsKernels } from './ts.js';
import { createWasmKernelsSync, wasmSupport, type WasmVariant } from './wasm.js';

export type { Kernels, SgdHyper } from './kernels.js';
export { tsKernels } from './ts.js';

/**
 * Kernel implementations by name: 'ts' (the TypeScript reference), 'wasm' (WebAssembly SIMD) and
 * 'wasm-relaxed' (relaxed SIMD: fused multiply-add). 'auto' picks the fastest this runtime supports.
 */
export const KERNEL_NAMES = ['ts', 'wasm', 'wasm-relaxed'] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

/** The fastest kernels this process can run. */
export function bestKernels(): KernelName {
  const s = wasmSupport();
  return s.relaxed ? 'wasm-relaxed' : s.simd ? 'wasm' : 'ts';
}

/** Resolves 'auto' and checks that the named kernels run here; a clear BAD_OPTION error otherwise. */
export function resolveKernels(name: string): KernelName {
  if (name === 'auto') return bestKernels();
  if (!(KERNEL_NAMES as readonly string[]).includes(name)) {
    throw badOption(`--kernels "${name}" is unknown; use auto or one of: ${KERNEL_NAMES.join(', ')}`);
  }
  const s = wasmSupport();
  if ((name === 'wasm' && !s.simd) || (name === 'wasm-relaxed' && !s.relaxed)) {
    throw badOption(`--kernels ${name} is not supported by this Node.js (${s.simd ? 'no relaxed SIMD' : 'no WebAssembly SIMD'}); use --kernels ${bestKernels()}`);
  }
  return name as KernelName;
}

/** Kernels of the given (resolved) name working in `memory`, the shared memory their views will live in. */
export function createKernels(name: KernelName, memory: WebAssembly.Memory): Kernels {
  return name === 'ts' ? tsKernels : createWasmKernelsSync(memory, name as WasmVariant);
}
