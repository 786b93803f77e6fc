import { sparseScratchWords } from '../../kernels/kernels.js';
import type { TensorInfo } from '../layout.js';
import { eachShard, tensorOf, training, type Compiler, type LayerKind, type NodeBase } from './layer.js';
import { asIs, permuted, type PortableTensor } from './portable.js';

/** `fc256`: a dense layer of 256 units (an image before it is flattened in NHWC order). */
export interface DenseSpec {
  kind: 'dense';
  units: number;
}

/**
 * W (OUT, IN) row-major and b (OUT); or, when `inputMajor`, Wᵀ (IN, OUT). The MLP's first layer is stored
 * input-major: its input (pixels) is mostly zeros, and with Wᵀ both its forward pass and its weight
 * gradient skip them as contiguous row operations (Kernels.sparseForward / sparseWeightGrad).
 */
export interface DenseNode extends NodeBase {
  inputMajor: boolean;
  w: TensorInfo;
  b: TensorInfo;
}

/** A dense node of `units` outputs; the MLP compiles its layers through this too (its first input-major). */
export function compileDense(c: Compiler, units: number, inputMajor: boolean): DenseNode {
  const IN = c.input.h * c.input.w * c.input.c;
  const id = c.id('dense');
  const w = inputMajor
    ? c.param(`dense${id}.wT`, [IN, units], { kind: 'normal', fanIn: IN, transposed: { rows: units, cols: IN } })
    : c.param(`dense${id}.w`, [units, IN], { kind: 'normal', fanIn: IN });
  const b = c.param(`dense${id}.b`, [units], { kind: 'constant', value: 0 });
  return { ...c.node(dense, { h: 1, w: 1, c: units, flat: true }), inputMajor, w, b };
}

/**
 * The weights as ONNX's Gemm (transB) and PyTorch's Linear read them, (OUT, IN) with the inputs in the
 * order a flatten of NCHW images gives (C, H, W): the input-major Wᵀ transposed, and after an image the
 * columns, which read it flattened in NHWC order, reordered.
 */
function linearWeight(d: DenseNode): PortableTensor {
  const { h, w, c, flat } = d.input;
  if (d.inputMajor) {
    if (!flat) throw new Error('an input-major dense layer reads a flat input');
    return permuted(d.w, d.w.shape, [1, 0]);
  }
  if (flat) return asIs(d.w);
  return permuted(d.w, [d.outSize, h, w, c], [0, 3, 1, 2], d.w.shape);
}

export const dense: LayerKind<DenseSpec, DenseNode> = {
  kind: 'dense',
  help: 'fc256 (dense)',
  fusesRelu: true,

  parse(token, p) {
    const m = /^fc(\d+)$/.exec(token);
    if (!m) return null;
    if (Number(m[1]) < 1) p.fail('needs at least one unit');
    return { kind: 'dense', units: Number(m[1]) };
  },

  format: (s) => `fc${s.units}`,

  compile: (s, c) => compileDense(c, s.units, false),

  /** An image is flattened first (NCHW order; the weights' columns are reordered to match). */
  onnx(d, g, x) {
    const input = d.input.flat ? x : g.op('Flatten', [x], { axis: 1 });
    return g.op('Gemm', [input, g.weight(linearWeight(d)), g.weight(asIs(d.b))], { transB: 1 });
  },

  torch: (d) => [
    ...(d.input.flat ? [] : [{ type: 'Flatten' }]),
    { type: 'Linear', args: { in_features: d.inSize, out_features: d.outSize }, tensors: { weight: linearWeight(d), bias: asIs(d.b) } },
  ],

  scratch: (d, micro) => ({ sparse: d.inputMajor ? sparseScratchWords(d.inSize, micro) : 0 }),

  /** out (M, OUT) = act(x (M, IN) · Wᵀ + b), the ReLU fused into the GEMM. */
  forward({ k, params, buf, M }, d, out, x) {
    const W = tensorOf(params, d.w); // (OUT, IN), or Wᵀ (IN, OUT) when inputMajor
    const b = tensorOf(params, d.b); // (OUT)
    const relu = d.act?.kind === 'relu';
    if (d.inputMajor) {
      if (d.index !== 0) throw new Error(`forward: only the first layer may be input-major (layer ${d.index} is)`);
      k.sparseForward(out, x, W, b, M, d.outSize, d.inSize, relu, buf.sparse);
    } else if (relu) k.gemmABtRelu(out, x, W, b, M, d.outSize, d.inSize);
    else k.gemmABt(out, x, W, b, M, d.outSize, d.inSize);
  },

  /** Per micro-shard dW = dZᵀ · X (dWᵀ = Xᵀ · dZ input-major) and db = Σ dZ; then dX (M, IN) = dZ (M, OUT) · W (OUT, IN). */
  backward(p, d, dx, dout, x) {
    const { k, params, buf, M } = p;
    const t = training(p);
    eachShard(t, M, (r, rows, s) => {
      const slot = t.slot(t.firstShard + s);
      const dZs = dout.subarray(r * d.outSize, (r + rows) * d.outSize);
      const dW = tensorOf(slot, d.w);
      if (d.inputMajor) k.sparseWeightGrad(dW, x.subarray(r * d.inSize), dZs, rows, d.inSize, d.outSize, buf.sparse);
      else k.gemmAtB(dW, dZs, x.subarray(r * d.inSize), d.outSize, d.inSize, rows);
      k.colSum(tensorOf(slot, d.b), dZs, rows, d.outSize);
    });
    if (!dx) return;
    if (d.inputMajor) throw new Error('backward: only the first layer may be input-major');
    k.gemmAB(dx, dout, tensorOf(params, d.w), M, d.inSize, d.outSize);
  },
};
