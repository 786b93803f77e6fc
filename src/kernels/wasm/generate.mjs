// @ts-check
/**
 * The WebAssembly SIMD kernels, as a generator of WebAssembly text (WAT). `npm run build:wasm`
 * (scripts/build-wasm.mjs) runs it twice and assembles the text with wabt (the npm package, offline):
 *
 *   dist/wasm/kernels.wasm           plain SIMD:   a·b + c as f32x4.mul then f32x4.add (two roundings)
 *   dist/wasm/kernels-relaxed.wasm   relaxed SIMD: a·b + c as f32x4.relaxed_madd (one FMA on x64)
 *
 * ── Why generated WAT rather than AssemblyScript ────────────────────────────────────────────────────
 * Measured first, on the 2-core AVX-512 Xeon of this project (Node 20.20, V8 11.3), single thread,
 * median: the same 4 × 8-tile gemmAB (M=128, N=256, K=128) written both ways ran at
 *     AssemblyScript 0.28 (asc -O3): 42 GFLOP/s plain, 55 relaxed
 *     WAT assembled by wabt 1.0.39:  41 GFLOP/s plain, 55 relaxed
 * so speed did not decide it (both compile to the same V8 code); three other things did:
 *  - Determinism by construction. Every tile shape (4×8, 1×32, the 4-wide and single-column
 *    remainders…) is emitted by the same few functions below, so an output element is computed by the
 *    same instruction sequence whichever tile it falls in. In AssemblyScript each remainder tile would be
 *    a hand-written copy of the main loop, to be kept in step with it by hand.
 *  - Nothing between the source and the instructions: no optimiser, no runtime, no static data (a data
 *    segment in a module that imports the training memory would overwrite it at instantiation). What is
 *    written here is what V8 compiles, which made tuning against V8's register allocator practical.
 *  - Weight and layout: wabt is 5.5 MB with no dependencies, assemblyscript + binaryen ~100 MB; and
 *    AssemblyScript sources under src/ would be type-checked by tsc (tsconfig includes src/**\/*.ts).
 * The final kernels' numbers are in bench/kernels.ts's output (npm run bench:kernels).
 * The generated text (dist/wasm/*.wat) is written next to the binaries, for reading.
 *
 * ── Conventions ─────────────────────────────────────────────────────────────────────────────────────
 * Every pointer argument is a byte offset into the imported shared memory (a typed array's byteOffset).
 * Matrices are row-major, float32. Loads and stores need no alignment (v128.load is unaligned-safe);
 * nothing is ever read or written outside the elements the kernel's shapes name, so a view that ends at
 * the end of the memory is fine, and neighbours of an output are never touched.
 *
 * ── Determinism (the contract of src/kernels/kernels.ts) ────────────────────────────────────────────
 * An output element's value depends only on its own row and column data and on K, never on M, N, the
 * tiling, or which rows share a call:
 *  - gemmAB, gemmAtB: one accumulator per element, k ascending: acc = a₀·b₀, then acc ← acc + aₖ·bₖ
 *    (vector lanes are columns). Remainder rows and columns run the same f32x4 instructions (a single
 *    column uses lane 0 of a vector), so the rounding (fused or not) is the same everywhere; gemmAtB's
 *    chunks of k store and reload the float32 accumulator, which changes nothing.
 *  - gemmABt: both operands are contiguous along k, so the kernel vectorises along k: lane l of an
 *    element's accumulator sums k ≡ l (mod 4) in ascending order (the last, partial vector padded with
 *    zeros), then the lanes are added as (l0 + l2) + (l1 + l3), then the bias. That order is a function
 *    of K alone; the 4-column transpose-add and the single-column reduction produce it identically.
 *  - sparseForward, sparseWeightGrad: one accumulator per element, over the nonzero inputs only, in
 *    ascending input index (forward) or row (weight gradient), from 0, as listed in the scratch; every
 *    block shape (8 vectors, 1 vector, lane 0) runs the same madd.
 *  - im2col copies; col2im and maxPoolBackward add into a zeroed dx in the TypeScript order (ascending
 *    patch row / index), so their bits are the TypeScript kernels'; max pooling compares.
 *  - Per-channel kernels (batch norm, scaleShift) vectorise across channels (scaleShift rows inner,
 *    batch norm rows outer with its per-channel state in a scratch): blocks of vectors, then single
 *    channels in lane 0 of the same instructions, so a channel's bits do not depend on C or its block.
 *    Batch norm's sums are float64, one per channel, ascending row (the TypeScript sums bit for bit);
 *    the elementwise kernels (multiply, addTo, adamStep, emaUpdate) use elementwise().
 * relaxed_madd may be fused or not by the spec; V8 on x64 with FMA3 fuses it in both of its tiers
 * (Liftoff-only and TurboFan-only runs give the same bits), so the relaxed build is deterministic on a
 * given machine; a machine without FMA3 would give other (still self-consistent) low bits.
 *
 * ── Where things are ────────────────────────────────────────────────────────────────────────────────
 * This file assembles the module; the kernels are written by family, each in a file of its own, with
 * the small builder they share (builder.mjs: expressions, Func and its locals, the loops, the Emitter
 * with the build's multiply-add):
 *   gemm.mjs         gemmAB, gemmAtB(Acc), gemmABt, …Batch  sparse.mjs       sparseForward, sparseWeightGrad
 *   conv.mjs         im2col, col2im, max pooling        norm.mjs         batch norm, scaleShift
 *   elementwise.mjs  exp, activations, gather, colSum,  loss.mjs         lossForwardBackward
 *                    reduceSlots, multiply, addTo      optimisers.mjs   sgdStep, adamStep, emaUpdate
 *   winograd.mjs     Winograd F(2×2 / 4×4, 3×3), F(2×2, 5×5): the filter, input and output transforms and their adjoints
 * Each exported function's parameters are those its row in ../wasm/signatures.ts passes
 * (test/kernels-signatures.test.ts checks the two against each other).
 */
import { Emitter } from './builder.mjs';
import { adamStep, emaUpdate, sgdStep } from './optimisers.mjs';
import { activationBackward, activationForward, colSum, expExport, expv, gather, multiplyAddTo, reduceSlots } from './elementwise.mjs';
import { col2im, im2col, maxPoolBackward, maxPoolForward } from './conv.mjs';
import { batchNormBackward, batchNormForward, scaleShift } from './norm.mjs';
import { gemmABt, gemmBatch, gemmRowsTimesB } from './gemm.mjs';
import { logf64, lossForwardBackward } from './loss.mjs';
import { sparseForward, sparseWeightGrad } from './sparse.mjs';
import { winogradKernels } from './winograd.mjs';

/**
 * The module's text. The order of the functions is the module's (and so the binary's) order: keep it.
 * @param {{ relaxed: boolean }} options
 */
export function generateWat({ relaxed }) {
  const g = new Emitter(relaxed);
  return [
    `;; Generated by src/kernels/wasm/generate.mjs (${relaxed ? 'relaxed SIMD' : 'plain SIMD'}). Do not edit.`,
    '(module',
    '(import "env" "memory" (memory 1 65536 shared))',
    expv(g),
    expExport(g),
    gemmABt(g),
    gemmRowsTimesB(g, 'gemmAB'),
    gemmRowsTimesB(g, 'gemmAtB'),
    sparseForward(g),
    sparseWeightGrad(g),
    colSum(g),
    activationForward(g),
    activationBackward(g),
    gather(g),
    logf64(),
    lossForwardBackward(g),
    reduceSlots(g),
    sgdStep(g),
    im2col(g),
    col2im(g),
    maxPoolForward(g),
    maxPoolBackward(g),
    batchNormForward(g),
    batchNormBackward(g),
    scaleShift(g),
    multiplyAddTo(g),
    adamStep(g),
    emaUpdate(g),
    winogradKernels(g),
    gemmRowsTimesB(g, 'gemmAtBAcc'),
    gemmBatch('gemmABBatch'),
    gemmBatch('gemmAtBBatch'),
    ')',
  ].join('\n');
}
