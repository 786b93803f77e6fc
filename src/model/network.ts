import type { Kernels } from '../kernels/kernels.js';
import { activation } from './layers/activation.js';
import type { NetBuffers, Node, Pass, SharedScratch, TrainPass } from './layers/layer.js';
import type { Net } from './layout.js';

export type { NetBuffers, NodeBuffers, TrainPass } from './layers/layer.js';
export { BN_EPS } from './layers/batchnorm.js';

/**
 * The network as a script (llm.c's gpt2_forward / gpt2_backward): forward runs the chain of compiled
 * nodes, backward the same chain reversed; each node's record (src/model/layers/) does its own part.
 * Buffers are passed in explicitly and made once by the caller (allocateNetBuffers); nothing is
 * allocated here.
 *
 * Shapes: x (M, inputs); each node's out (M, outSize), after its activation, except the last node's,
 * which holds pre-activations (logits) for the loss kernel to turn into outputs.
 */

/**
 * Forward over M rows of buf.x; returns the logits (M, classes). With `train` null this is inference:
 * batch norm uses its running statistics and dropout passes everything through.
 */
export function forward(k: Kernels, net: Net, params: Float32Array, buf: NetBuffers, M: number, train: TrainPass | null): Float32Array {
  return forwardChain({ k, params, buf, M, train }, net.nodes, buf.x);
}

/**
 * Backpropagation over M rows whose forward pass (in training mode, with the same `train`) is in buf and
 * whose loss gradient ∂loss/∂logits is in buf.dz (M, classes). buf.dz and buf.spare are overwritten.
 */
export function backward(k: Kernels, net: Net, params: Float32Array, buf: NetBuffers, M: number, train: TrainPass): void {
  backwardChain({ k, params, buf, M, train }, net.nodes, buf.x, buf.dz, buf.spare, false);
}

/** Runs a chain of nodes on x, each node's output the next one's input; returns the last output. */
export function forwardChain(p: Pass, nodes: readonly Node[], x: Float32Array): Float32Array {
  let input = x;
  for (const node of nodes) {
    const out = p.buf.nodes[node.index].out;
    node.layer.forward(p, node, out, input);
    activation.forward(p, node, out, input);
    input = out;
  }
  return input;
}

/**
 * Backpropagates through a chain whose input was x and whose output gradient is in `g`, ping-ponging
 * between g and `other` (both overwritten); returns the one that holds ∂loss/∂x (the chain's first node
 * computes it only when `inputGrad`; its parameter gradients are computed either way).
 */
export function backwardChain(p: Pass, nodes: readonly Node[], x: Float32Array, g: Float32Array, other: Float32Array, inputGrad: boolean): Float32Array {
  let [dout, dx] = [g, other];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    const input = i > 0 ? p.buf.nodes[nodes[i - 1].index].out : x; // (M, inSize)
    const out = p.buf.nodes[node.index].out;
    activation.backward(p, node, null, dout, input, out);
    const needInputGrad = i > 0 || inputGrad;
    node.layer.backward(p, node, needInputGrad ? dx : null, dout, input, out);
    if (!needInputGrad) break;
    [dout, dx] = [dx, dout];
  }
  return dout;
}

// ── Buffers ────────────────────────────────────────────────────────────────────────────────────────────

/** Where buffers come from: plain arrays, a bump allocator in a shared memory, or one that only measures. */
export interface BufferAllocator {
  f32(n: number): Float32Array;
  i32(n: number): Int32Array;
}

/**
 * The one allocator of a network's buffers for `rows` rows in micro-shards of `micro` rows: the input,
 * each node's output and saved values (what its record asks for), the two gradient buffers, and the
 * scratch all nodes share (sized by the largest need). The order of the calls to `alloc` is fixed by the
 * network alone, so replaying it over the same kind of allocator gives the same views (engine/memory.ts
 * measures a worker's scratch region this way, then builds the views in it).
 */
export function allocateNetBuffers(net: Net, rows: number, micro: number, alloc: BufferAllocator): NetBuffers {
  const scratch: SharedScratch = { cols: 0, tmpW: 0, sparse: 0, wino: 0 };
  for (const node of net.all) {
    const need = node.layer.scratch?.(node, micro) ?? {};
    for (const key of ['cols', 'tmpW', 'sparse', 'wino'] as const) scratch[key] = Math.max(scratch[key], need[key] ?? 0);
  }
  const each = <T>(sizes: Record<string, number> | undefined, make: (n: number) => T): Record<string, T> =>
    Object.fromEntries(Object.entries(sizes ?? {}).map(([name, n]) => [name, make(n)]));
  const x = alloc.f32(rows * net.inputs);
  const nodes = net.all.map((node) => {
    const saved = node.layer.saved?.(node, rows, micro) ?? {};
    return { out: alloc.f32(rows * node.outSize), f32: each(saved.f32, (n) => alloc.f32(n)), i32: each(saved.i32, (n) => alloc.i32(n)) };
  });
  return {
    x,
    nodes,
    cols: alloc.f32(scratch.cols),
    tmpW: alloc.f32(scratch.tmpW),
    dz: alloc.f32(rows * net.width),
    spare: alloc.f32(rows * net.width),
    sparse: alloc.i32(scratch.sparse),
    wino: alloc.f32(scratch.wino),
  };
}

/** Plain (non-shared) buffers, for inference on the calling thread and for tests. */
export function localBuffers(net: Net, rows: number, micro = rows): NetBuffers {
  return allocateNetBuffers(net, rows, micro, { f32: (n) => new Float32Array(n), i32: (n) => new Int32Array(n) });
}

/**
 * Hands out views one after the other from byte `start` of `buffer`, each aligned to `align` bytes (64,
 * a cache line, as the memory plan's regions; SIMD kernels need 16). With a null buffer it hands out
 * empty arrays and only counts: `end` is then the bytes the same calls take in a real one.
 */
export class BumpAllocator implements BufferAllocator {
  private next: number;

  constructor(private readonly buffer: ArrayBufferLike | null, private readonly start = 0, private readonly align = 64) {
    this.next = start;
  }

  /** Bytes from `start` taken so far. */
  get used(): number {
    return this.next - this.start;
  }

  private take(bytes: number): number {
    const at = Math.ceil(this.next / this.align) * this.align;
    this.next = at + bytes;
    return at;
  }

  f32(n: number): Float32Array {
    const at = this.take(n * 4);
    return this.buffer ? new Float32Array(this.buffer, at, n) : new Float32Array(0);
  }

  i32(n: number): Int32Array {
    const at = this.take(n * 4);
    return this.buffer ? new Int32Array(this.buffer, at, n) : new Int32Array(0);
  }
}

/** Bytes allocateNetBuffers takes from a BumpAllocator that starts at an aligned offset. */
export function netBufferBytes(net: Net, rows: number, micro: number): number {
  const counter = new BumpAllocator(null);
  allocateNetBuffers(net, rows, micro, counter);
  return counter.used;
}

/**
 * Label smoothing for softmax cross-entropy, applied after the loss kernel: the target becomes
 * q = (1 − ε)·onehot + ε/C, so ∂loss/∂z = p − q = (p − onehot) + ε·(onehot − 1/C), and the loss
 * (1 − ε)·CE + (ε/C)·Σ_j −log p_j. p (rows, C) holds the probabilities the kernel wrote, dz its gradient,
 * ce its summed cross-entropy; returns the smoothed loss. (−log p_j is capped at 69 where p_j underflows.)
 */
export function smoothLabels(p: Float32Array, dz: Float32Array, y: Int32Array, rows: number, C: number, eps: number, ce: number): number {
  let uniform = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    for (let j = 0; j < C; j++) {
      uniform -= Math.log(Math.max(p[o + j], 1e-30));
      dz[o + j] += eps * ((j === y[r] ? 1 : 0) - 1 / C);
    }
  }
  return (1 - eps) * ce + (eps / C) * uniform;
}
