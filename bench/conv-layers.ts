/**
 * bench:kernels' rows for the 3×3 convolutions of cnn-wide and cnn-res and the 5×5 ones of cnn-small-bn and
 * cnn (see bench/kernels.ts): each layer
 * compiled alone, once per algorithm, and run through its record's forward and backward (the code
 * training runs: chunks, transforms, GEMMs, scratch), on 32 samples, the default micro-shard.
 */
import type { Kernels } from '../src/kernels/kernels.js';
import type { SharedArena } from '../src/kernels/wasm.js';
import { conv, type ConvNode } from '../src/model/layers/conv.js';
import type { ConvAlgorithm, Pass } from '../src/model/layers/layer.js';
import { compileNet } from '../src/model/layout.js';
import { allocateNetBuffers } from '../src/model/network.js';
import { parseCnnSpec } from '../src/model/spec.js';

/** [network, H, W, C, F, stride, pad, window] of each layer. */
const LAYERS: [string, number, number, number, number, number, number, number][] = [
  ['cnn-wide', 28, 28, 1, 32, 1, 0, 3], ['cnn-wide', 26, 26, 32, 32, 1, 0, 3], ['cnn-wide', 12, 12, 32, 64, 1, 0, 3], ['cnn-wide', 10, 10, 64, 64, 1, 0, 3],
  ['cnn-res', 28, 28, 1, 16, 1, 1, 3], ['cnn-res', 28, 28, 16, 16, 1, 1, 3], ['cnn-res', 14, 14, 16, 32, 2, 1, 3], ['cnn-res', 14, 14, 32, 32, 1, 1, 3],
  ['cnn-res', 7, 7, 32, 64, 2, 1, 3], ['cnn-res', 7, 7, 64, 64, 1, 1, 3],
  ['cnn-small-bn', 28, 28, 1, 16, 1, 0, 5], ['cnn-small-bn', 12, 12, 16, 32, 1, 0, 5], ['cnn', 28, 28, 1, 32, 1, 0, 5], ['cnn', 12, 12, 32, 64, 1, 0, 5],
];
const ROWS = 32;

type Measure = (make: (k: Kernels) => () => void) => Promise<number[]>;

/** LCG floats in [−1, 1), a fraction `zeros` of them 0 (where the draw falls below it). */
function fill(a: Float32Array, seed: number, zeros = 0): void {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 4294967296;
    a[i] = u < zeros ? 0 : 2 * ((u - zeros) / (1 - zeros)) - 1;
  }
}

export async function benchConvLayers(impls: Kernels[], arena: SharedArena, measure: Measure): Promise<void> {
  if (impls.length === 0) return;
  console.log();
  console.log(`3×3 and 5×5 convolution layers, ${ROWS} samples: µs per call / effective GFLOP/s (2·k²·C·F per output pixel)`);
  console.log('layer'.padEnd(84) + impls.map((k) => k.name.padStart(20)).join(''));
  for (const [net, H, W, C, F, stride, pad, r] of LAYERS) {
    const name = `${net} ${r}×${r} ${H}×${H}×${C} → ${F}${stride > 1 ? ` stride ${stride}` : ''}${pad ? ` pad ${pad}` : ''}`;
    const algorithms: ConvAlgorithm[] = stride === 1 ? ['im2col', 'winograd'] : ['im2col'];
    const sparse = net === 'cnn-wide' || net === 'cnn' ? [0.5, 0.75] : []; // a ReLU follows these layers' convolutions directly
    const backward = new Map<string, number>(); // weight + input grad µs of the first kernels, by variant
    for (const algorithm of algorithms) {
      for (const zeros of algorithm === 'im2col' ? [0, ...sparse] : [0]) {
        arena.reset();
        const spec = parseCnnSpec(`c${F}k${r}s${stride}p${pad}-fc10`, { height: H, width: W, channels: C });
        const compiled = compileNet(spec, algorithm);
        const node = compiled.nodes[0] as ConvNode;
        node.sparseGrad = zeros > 0; // the sparse kernels, as when a ReLU or max pooling follows
        const buf = allocateNetBuffers(compiled, ROWS, ROWS, arena);
        const params = arena.f32(compiled.layout.size), slot = arena.f32(compiled.layout.size);
        const x = buf.x, out = buf.nodes[0].out, dout = arena.f32(ROWS * node.outSize), dx = arena.f32(ROWS * node.inSize);
        fill(params, 1);
        fill(x, 2);
        fill(dout, 3, zeros);
        const flop = 2 * r * r * C * F * node.g.OH * node.g.OW * ROWS;
        const pass = (k: Kernels): Pass => ({
          k, params, buf, M: ROWS,
          train: { micro: ROWS, firstShard: 0, slot: () => slot, seed: 1, epoch: 0, samples: new Int32Array(ROWS) },
        });
        const what = node.wino ? `Winograd F(${node.wino.m}×${node.wino.m}, ${r}×${r})` : zeros > 0 ? `im2col, sparse backward (${100 * zeros} % zeros)` : 'im2col + GEMM';
        const rows: [string, (p: Pass) => void][] = zeros > 0 ? [] : [['forward', (p) => conv.forward(p, node, out, x)]];
        rows.push(['weight grad', (p) => conv.backward(p, node, null, dout, x, out)], ['weight + input grad', (p) => conv.backward(p, node, dx, dout, x, out)]);
        const show = (label: string, ms: number[], flops: number) =>
          console.log(label.padEnd(84) + ms.map((t) => `${(t * 1000).toFixed(0)} µs / ${(flops / (t * 1e6)).toFixed(1)}`.padStart(20)).join(''));
        let weightMs: number[] = [];
        for (const [step, run] of rows) {
          const ms = await measure((k) => {
            const p = pass(k);
            return () => run(p);
          });
          if (step === 'weight grad') weightMs = ms;
          if (step === 'weight + input grad') backward.set(what, ms[0] * 1000);
          show(`${name}: ${what}, ${step}`, ms, flop * (step === 'weight + input grad' ? 2 : 1));
          if (step === 'weight + input grad') show(`${name}: ${what}, input grad (the difference)`, ms.map((t, q) => t - weightMs[q]), flop);
        }
      }
    }
    if (sparse.length > 0 && stride === 1) {
      // Which backward wins for this layer (weight + input gradient, the first kernels' times).
      const [best] = [...backward].sort((a, b) => a[1] - b[1]);
      console.log(`  → backward of ${name}: ${best[0]} wins (${[...backward].map(([w, t]) => `${w} ${t.toFixed(0)} µs`).join(', ')})`);
    }
  }
}
