/**
 * One thread of the independent-GEMM ceiling (bench/scaling.ts): repeats a forward GEMM on its own
 * memory for a fixed time and reports its FLOP rate. W such threads at once measure what the hardware
 * allows W threads of this kind of code, with no synchronisation or sharing at all.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createKernels, type KernelName } from '../src/kernels/index.js';
import { SharedArena } from '../src/kernels/wasm.js';

const { kernels, M, N, K, seconds, start } = workerData as {
  kernels: KernelName; M: number; N: number; K: number; seconds: number; start: Int32Array;
};
const arena = new SharedArena((M * K + N * K + M * N + N) * 4 + 4096);
const k = createKernels(kernels, arena.memory);
const A = arena.f32(M * K).fill(0.5), B = arena.f32(N * K).fill(0.25), C = arena.f32(M * N), bias = arena.f32(N);
k.gemmABt(C, A, B, bias, M, N, K); // warm-up (compilation tiers)
Atomics.add(start, 0, 1);
while (Atomics.load(start, 1) === 0) Atomics.wait(start, 1, 0, 10); // all threads start together
let calls = 0;
const t0 = performance.now();
let elapsed = 0;
while (elapsed < seconds * 1000) {
  k.gemmABt(C, A, B, bias, M, N, K);
  calls++;
  elapsed = performance.now() - t0;
}
parentPort!.postMessage((2 * M * N * K * calls) / (elapsed / 1000));
