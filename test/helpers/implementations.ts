import { execFileSync } from 'node:child_process';
import { tsKernels } from '../../src/kernels/ts.js';
import type { Kernels } from '../../src/kernels/kernels.js';
import { createWasmKernels, SharedArena, wasmSupport, type WasmVariant } from '../../src/kernels/wasm.js';

/**
 * Every kernel implementation, for tests that run the same checks on each: the TypeScript kernels take
 * any typed array, the WebAssembly ones only views of their shared memory, so each comes with where its
 * buffers must live. One this Node.js cannot run is listed with `impl: null` (its tests show as skipped).
 */
export interface KernelsUnderTest {
  name: string;
  kernels: Kernels;
  /** A zeroed array of n elements where the kernels can use it (the arena's start alignment, 64). */
  f32(n: number): Float32Array;
  i32(n: number): Int32Array;
  u8(n: number): Uint8Array;
  /** Frees everything handed out (before each test). */
  reset(): void;
}

const plainArrays: KernelsUnderTest = {
  name: 'ts',
  kernels: tsKernels,
  f32: (n) => new Float32Array(n),
  i32: (n) => new Int32Array(n),
  u8: (n) => new Uint8Array(n),
  reset: () => {},
};

async function inSharedMemory(variant: WasmVariant, arenaBytes: number): Promise<KernelsUnderTest> {
  const arena = new SharedArena(arenaBytes);
  return {
    name: variant,
    kernels: await createWasmKernels(arena.memory, variant),
    f32: (n) => arena.f32(n),
    i32: (n) => arena.i32(n),
    u8: (n) => arena.u8(n),
    reset: () => arena.reset(),
  };
}

/**
 * ts, wasm and wasm-relaxed, the WebAssembly ones each with an arena of `arenaBytes`. Builds the
 * WebAssembly kernels first if this checkout has not (or if their source is newer than the build), so
 * that `npx vitest run` alone tests what is in src/.
 */
export async function kernelImplementations(arenaBytes: number): Promise<{ name: string; impl: KernelsUnderTest | null }[]> {
  execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--quiet', '--if-stale'], { stdio: 'inherit' });
  const support = wasmSupport();
  return [
    { name: 'ts', impl: plainArrays },
    { name: 'wasm', impl: support.simd ? await inSharedMemory('wasm', arenaBytes) : null },
    { name: 'wasm-relaxed', impl: support.relaxed ? await inSharedMemory('wasm-relaxed', arenaBytes) : null },
  ];
}
