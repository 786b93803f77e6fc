import { describe, expect, it } from 'vitest';
import type { Kernels } from '../src/kernels/kernels.js';
import { tsKernels } from '../src/kernels/ts.js';
import { createWasmKernels, SharedArena, wasmSupport } from '../src/kernels/wasm.js';
import type { ConvNode } from '../src/model/layers/conv.js';
import { conv } from '../src/model/layers/conv.js';
import type { Pass } from '../src/model/layers/layer.js';
import { compileNet } from '../src/model/layout.js';
import { allocateNetBuffers } from '../src/model/network.js';
import { parseCnnSpec } from '../src/model/spec.js';

// A Winograd layer walks its samples in parts (src/model/layers/conv-winograd.ts: a few images at a time,
// so that the transformed tiles stay in cache), and its weight gradient carries each chunk's sum from part
// to part (gemmAtB, then gemmAtBAcc). The part's size is a matter of speed only: the output, the input
// gradient and every micro-shard's weight and bias gradients must be the same bits for any part size
// (from one image to the whole chunk), on each kernel implementation.
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const ROWS = 20, MICRO = 8; // micro-shards of 8, 8, 4 rows: chunks end inside and at the shards' ends

function fill(a: Float32Array, seed: number): void {
  let s = seed;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
}

const arena = new SharedArena(128 << 20);
const implementations: [string, Kernels | null][] = [
  ['ts', tsKernels],
  ['wasm', wasmSupport().simd ? await createWasmKernels(arena.memory, 'wasm') : null],
  ['wasm-relaxed', wasmSupport().relaxed ? await createWasmKernels(arena.memory, 'wasm-relaxed') : null],
];

// [input H = W, C, filters, padding, window]: cnn-wide's three Winograd layers (F(4×4), F(2×2), F(4×4)), a
// padded one, and the 5×5 layers (F(2×2, 5×5)) of cnn-small-bn and cnn.
const LAYERS: [number, number, number, number, number][] = [[26, 32, 32, 0, 3], [12, 32, 64, 0, 3], [10, 64, 64, 0, 3], [9, 16, 8, 1, 3],
  [12, 16, 32, 0, 5], [12, 32, 64, 0, 5]];

for (const [name, k] of implementations) describe.skipIf(!k)(`${name} kernels`, () => {
  it.each(LAYERS.map(([H, C, F, pad, r]) => [`${r}×${r}, ${H}×${H}×${C} → ${F}${pad ? ` pad ${pad}` : ''}`, H, C, F, pad, r] as const))('%s: the same bits for parts of any size', (_name, H, C, F, pad, r) => {
    arena.reset();
    const spec = parseCnnSpec(`c${F}k${r}s1p${pad}-fc10`, { height: H, width: H, channels: C });
    const compiled = compileNet(spec, 'winograd');
    const node = compiled.nodes[0] as ConvNode;
    const plan = node.wino!;
    const chunk = Math.min(plan.chunk, MICRO);
    plan.part = plan.chunk; // the scratch, allocated below, then fits every part size
    const buf = allocateNetBuffers(compiled, ROWS, MICRO, arena);
    const params = arena.f32(compiled.layout.size);
    const x = buf.x, out = buf.nodes[0].out, dout = arena.f32(ROWS * node.outSize), dx = arena.f32(ROWS * node.inSize);
    fill(params, 1);
    fill(x, 2);
    fill(dout, 3);
    const slots = Array.from({ length: Math.ceil(ROWS / MICRO) }, () => arena.f32(compiled.layout.size));
    const pass: Pass = { k: k!, params, buf, M: ROWS, train: { micro: MICRO, firstShard: 0, slot: (s) => slots[s], seed: 1, epoch: 0, samples: new Int32Array(ROWS) } };
    const run = (part: number) => {
      plan.part = part;
      out.fill(Number.NaN);
      dx.fill(Number.NaN);
      for (const s of slots) s.fill(Number.NaN);
      conv.forward(pass, node, out, x);
      conv.backward(pass, node, dx, dout, x, out);
      return [out, dx, ...slots].map((a) => Buffer.from(bytes(a)));
    };
    const whole = run(plan.chunk);
    expect(whole[0].readFloatLE(0)).not.toBeNaN();
    for (const part of [...new Set([1, 2, 3, chunk])]) {
      const got = run(part);
      got.forEach((b, q) => expect(b.equals(whole[q]), `part ${part}, buffer ${q}`).toBe(true));
    }
  }, 120_000);
});
