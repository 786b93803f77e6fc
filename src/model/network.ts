import { sparseScratchWords, type Kernels } from '../kernels/kernels.js';
import type { ParamLayout } from './layout.js';
import type { MlpSpec } from './spec.js';

/**
 * The network as a script (llm.c's gpt2_forward / gpt2_backward): forward is the list of dense layers,
 * backward the same list reversed. Buffers are passed in explicitly and sized once by the caller; nothing
 * is allocated here.
 *
 * Shapes: x (M, IN₀); acts[l] (M, OUT_l) the output of dense layer l after its activation, except the
 * last, which holds pre-activations (logits) for the loss kernel to turn into outputs. `sparse` is the
 * first layer's kernel scratch (sparseScratchWords(IN₀, ·) words, see sparseScratch).
 */
export function forward(k: Kernels, spec: MlpSpec, layout: ParamLayout, params: Float32Array, x: Float32Array, acts: Float32Array[], M: number, sparse: Int32Array): Float32Array {
  const last = layout.dense.length - 1;
  let input = x;
  layout.dense.forEach((d, l) => {
    const W = params.subarray(d.w.offset, d.w.offset + d.w.size); // (OUT, IN), or Wᵀ (IN, OUT) when inputMajor
    const b = params.subarray(d.b.offset, d.b.offset + d.b.size); // (OUT)
    if (d.inputMajor) {
      if (l !== 0) throw new Error(`forward: only the first dense layer may be input-major (layer ${l} is)`);
      const relu = l < last && spec.activation.kind === 'relu';
      k.sparseForward(acts[l], input, W, b, M, d.outputs, d.inputs, relu, sparse);
      if (l < last && !relu) k.activationForward(acts[l], M * d.outputs, spec.activation);
    } else if (l < last && spec.activation.kind === 'relu') {
      k.gemmABtRelu(acts[l], input, W, b, M, d.outputs, d.inputs);
    } else {
      k.gemmABt(acts[l], input, W, b, M, d.outputs, d.inputs);
      if (l < last) k.activationForward(acts[l], M * d.outputs, spec.activation);
    }
    input = acts[l];
  });
  return acts[last];
}

/** Where backward writes parameter gradients: one slot (a full parameter-layout array) per micro-shard. */
export interface GradientSlots {
  /** Rows per micro-shard. */
  micro: number;
  /** Index of the micro-shard that starts at local row 0. */
  firstShard: number;
  /** The slot of micro-shard s. */
  slot(s: number): Float32Array;
}

/**
 * Backpropagation over M rows whose forward pass is in x/acts and whose loss gradient ∂loss/∂z of the
 * output layer is in dz (M, OUT_last). Each micro-shard's weight and bias gradients are written (not
 * added) to its own slot, so the sum over shards, taken later in a fixed order, does not depend on which
 * worker computed which rows. dz and spare are scratch of at least M × max(width) floats; both are
 * overwritten, as is `sparse` (sparseScratchWords(·, slots.micro) words).
 */
export function backward(
  k: Kernels,
  spec: MlpSpec,
  layout: ParamLayout,
  params: Float32Array,
  x: Float32Array,
  acts: Float32Array[],
  dz: Float32Array,
  spare: Float32Array,
  M: number,
  slots: GradientSlots,
  sparse: Int32Array,
): void {
  let dZ = dz;
  let dA = spare;
  for (let l = layout.dense.length - 1; l >= 0; l--) {
    const d = layout.dense[l];
    const input = l > 0 ? acts[l - 1] : x; // (M, IN)
    for (let r = 0, s = slots.firstShard; r < M; r += slots.micro, s++) {
      const rows = Math.min(slots.micro, M - r);
      const slot = slots.slot(s);
      const dZs = dZ.subarray(r * d.outputs, (r + rows) * d.outputs);
      const dW = slot.subarray(d.w.offset, d.w.offset + d.w.size);
      if (d.inputMajor) k.sparseWeightGrad(dW, input.subarray(r * d.inputs), dZs, rows, d.inputs, d.outputs, sparse); // dWᵀ = Xᵀ · dZ
      else k.gemmAtB(dW, dZs, input.subarray(r * d.inputs), d.outputs, d.inputs, rows); // dW = dZᵀ · X
      k.colSum(slot.subarray(d.b.offset, d.b.offset + d.b.size), dZs, rows, d.outputs);
    }
    if (l === 0) break;
    if (d.inputMajor) throw new Error(`backward: only the first dense layer may be input-major (layer ${l} is)`);
    const W = params.subarray(d.w.offset, d.w.offset + d.w.size);
    k.gemmAB(dA, dZ, W, M, d.inputs, d.outputs); // dX (M, IN) = dZ (M, OUT) · W (OUT, IN)
    k.activationBackward(dA, acts[l - 1], M * d.inputs, spec.activation);
    [dZ, dA] = [dA, dZ];
  }
}

/** Scratch for the first layer's sparse kernels, forward over any rows and backward in micro-shards of `micro` rows. */
export function sparseScratch(spec: MlpSpec, micro: number): Int32Array {
  return new Int32Array(sparseScratchWords(spec.layers[0], micro));
}

/** Widest layer, for sizing scratch. */
export function maxWidth(spec: MlpSpec): number {
  return Math.max(...spec.layers);
}
