#!/usr/bin/env node
// node bench/im2col-first-layers.mjs [DIST]: median µs per im2col call (32 images, wasm-relaxed) for the first layers of cnn-small and cnn-wide and the second of cnn-small; DIST (default ./dist) lets two builds be compared, one after the other.
const dist = new URL(process.argv[2] ?? "./dist", `file://${process.cwd()}/`).href;
const { SharedArena, createWasmKernels } = await import(`${dist}/src/kernels/wasm.js`);
const arena = new SharedArena(64 << 20);
const k = await createWasmKernels(arena.memory, 'wasm-relaxed');
const cases = [['c16k5 28×28×1', { H: 28, W: 28, C: 1, k: 5, stride: 1, pad: 0, OH: 24, OW: 24 }], ['c32k3 28×28×1', { H: 28, W: 28, C: 1, k: 3, stride: 1, pad: 0, OH: 26, OW: 26 }], ['c32k5 12×12×16 (cnn-small conv2)', { H: 12, W: 12, C: 16, k: 5, stride: 1, pad: 0, OH: 8, OW: 8 }]];
for (const [name, g] of cases) {
  const M = 32; const x = arena.f32(M * g.H * g.W * g.C); x.fill(0.5); const cols = arena.f32(M * g.OH * g.OW * g.k * g.k * g.C);
  const t = [];
  for (let r = 0; r < 200; r++) { const s = process.hrtime.bigint(); k.im2col(cols, x, M, g); t.push(Number(process.hrtime.bigint() - s) / 1e3); }
  t.sort((a, b) => a - b);
  console.log(name.padEnd(18), t[100].toFixed(1), 'µs', ((cols.length * 4) / (t[100] * 1e3)).toFixed(2), 'GB/s');
}
