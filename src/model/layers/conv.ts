import { sparseScratchWords, type ConvGeometry } from '../../kernels/kernels.js';
import type { TensorInfo } from '../layout.js';
import { eachShard, tensorOf, training, type Compiler, type LayerKind, type NodeBase } from './layer.js';
import { compileWinograd, winogradBackward, winogradForward, winogradScratch, type WinogradPlan } from './conv-winograd.js';
import { asIs, permuted, type PortableTensor } from './portable.js';

/** `c32k5s2p2`: 32 filters of 5×5, stride 2 (default 1), zero padding 2 (default 0). */
export interface ConvSpec {
  kind: 'conv';
  filters: number;
  size: number;
  stride: number;
  pad: number;
}

/** A convolution as im2col + GEMM: W (F, k·k·C) row-major, b (F); output (OH, OW, F). */
export interface ConvNode extends NodeBase {
  g: ConvGeometry;
  filters: number;
  w: TensorInfo;
  b: TensorInfo;
  /**
   * Samples per im2col call. Fixed by the layer's shape alone: the weight gradient of a micro-shard is
   * summed chunk by chunk, so the chunk must not depend on the worker count (determinism).
   */
  chunk: number;
  /**
   * The gradient reaching the layer's output is mostly zeros (its own ReLU, or a max pooling next, passes
   * few), so backward runs the sparse kernels, which skip them. Not after batch norm: its gradient is dense.
   */
  sparseGrad: boolean;
  /**
   * Winograd F(m×m, r×r) for this layer's forward and backward (conv-winograd.ts), or null for im2col +
   * GEMM. For a 3×3 layer it replaces the sparse backward too: bench:kernels measures Winograd's backward
   * ahead of the sparse one at 50 % zeros (a ReLU) and level with it at 75 % (max pooling). A 5×5 layer
   * under `--conv auto` keeps the sparse backward (wino.backward false): there it is ahead.
   */
  wino: WinogradPlan | null;
}

/** The weights (F, k, k, C) as ONNX's and PyTorch's OIHW (F, C, k, k). */
const oihw = (c: ConvNode): PortableTensor => permuted(c.w, c.w.shape, [0, 3, 1, 2]);

/** Rows (output pixels) an im2col chunk aims at: enough for the GEMM to run at speed, small enough to stay in cache. */
const CHUNK_PIXELS = 512;

/** A convolution node (also the 1×1 projection of a residual block's shortcut). */
export function compileConv(c: Compiler, s: ConvSpec): ConvNode {
  if (c.input.flat) c.fail('comes after a dense layer or gap; convolutions work on images');
  const { h: H, w: W, c: C } = c.input;
  const OH = Math.floor((H + 2 * s.pad - s.size) / s.stride) + 1;
  const OW = Math.floor((W + 2 * s.pad - s.size) / s.stride) + 1;
  if (OH < 1 || OW < 1) c.fail(`a ${s.size}×${s.size} window does not fit a ${H}×${W} input; use a smaller size or more padding`);
  if (s.pad >= s.size) c.fail('padding must be smaller than the window');
  const id = c.id('conv');
  const kkC = s.size * s.size * C;
  const w = c.param(`conv${id}.w`, [s.filters, s.size, s.size, C], { kind: 'normal', fanIn: kkC });
  const b = c.param(`conv${id}.b`, [s.filters], { kind: 'constant', value: 0 });
  const after = c.after;
  const g: ConvGeometry = { H, W, C, k: s.size, stride: s.stride, pad: s.pad, OH, OW };
  const sparseGrad = after !== undefined && (after.kind === 'maxpool' || (after.kind === 'activation' && after.activation.kind === 'relu'));
  return {
    ...c.node(conv, { h: OH, w: OW, c: s.filters, flat: false }),
    g,
    filters: s.filters,
    w,
    b,
    chunk: Math.max(1, Math.floor(CHUNK_PIXELS / (OH * OW))),
    sparseGrad,
    wino: compileWinograd(c.conv, g, sparseGrad),
  };
}

export const conv: LayerKind<ConvSpec, ConvNode> = {
  kind: 'conv',
  help: 'c32k5 (conv: 32 filters 5×5, optional s2 stride, p2 padding)',
  fusesRelu: true,

  parse(token, p) {
    const m = /^c(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?$/.exec(token);
    if (!m) return null;
    const [filters, size, stride, pad] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 1), Number(m[4] ?? 0)];
    if (filters < 1 || size < 1 || stride < 1) p.fail('needs filters, size and stride ≥ 1');
    return { kind: 'conv', filters, size, stride, pad };
  },

  format: (s) => `c${s.filters}k${s.size}${s.stride !== 1 ? `s${s.stride}` : ''}${s.pad !== 0 ? `p${s.pad}` : ''}`,

  compile: (s, c) => compileConv(c, s),

  onnx: (c, g, x) => g.op('Conv', [x, g.weight(oihw(c)), g.weight(asIs(c.b))], {
    kernel_shape: [c.g.k, c.g.k], strides: [c.g.stride, c.g.stride], pads: [c.g.pad, c.g.pad, c.g.pad, c.g.pad],
  }),

  torch: (c) => [{
    type: 'Conv2d',
    args: { in_channels: c.g.C, out_channels: c.filters, kernel_size: c.g.k, stride: c.g.stride, padding: c.g.pad },
    tensors: { weight: oihw(c), bias: asIs(c.b) },
  }],

  scratch(c) {
    const wino = c.wino ? { wino: winogradScratch(c.wino, c.g, c.filters) } : {};
    if (c.wino?.backward) return wino;
    const kkC = c.g.k * c.g.k * c.g.C;
    const pixels = c.chunk * c.g.OH * c.g.OW;
    return { ...wino, cols: pixels * kkC, tmpW: c.filters * kkC, sparse: sparseScratchWords(c.filters, pixels) };
  },

  /** out (M·OH·OW, F) = im2col(x) · Wᵀ + b, chunk by chunk, the ReLU fused into the GEMM. */
  forward(p, c, out, x) {
    if (c.wino) return winogradForward(p, c, c.wino, out, x);
    const { k, params, buf, M } = p;
    const { g } = c;
    const W = tensorOf(params, c.w); // (F, k·k·C)
    const b = tensorOf(params, c.b); // (F)
    const kkC = g.k * g.k * g.C;
    const pixels = g.OH * g.OW;
    const relu = c.act?.kind === 'relu';
    for (let n0 = 0; n0 < M; n0 += c.chunk) {
      const rows = Math.min(c.chunk, M - n0);
      k.im2col(buf.cols, x.subarray(n0 * c.inSize), rows, g);
      const y = out.subarray(n0 * c.outSize);
      if (relu) k.gemmABtRelu(y, buf.cols, W, b, rows * pixels, c.filters, kkC);
      else k.gemmABt(y, buf.cols, W, b, rows * pixels, c.filters, kkC);
    }
  },

  /**
   * Per micro-shard, chunk by chunk: dW += dOutᵀ · im2col(x) (the first chunk written, later ones added in
   * order, so the sum is fixed by the shard alone), db = Σ dOut; and dX = col2im(dOut · W).
   */
  backward(p, c, dx, dout, x) {
    if (c.wino?.backward) return winogradBackward(p, c, c.wino, dx, dout, x);
    const { k, params, buf, M } = p;
    const t = training(p);
    const { g } = c;
    const kkC = g.k * g.k * g.C;
    const pixels = g.OH * g.OW;
    const W = tensorOf(params, c.w);
    eachShard(t, M, (r, rows, s) => {
      const slot = t.slot(t.firstShard + s);
      const dW = tensorOf(slot, c.w);
      for (let n0 = r; n0 < r + rows; n0 += c.chunk) {
        const n = Math.min(c.chunk, r + rows - n0);
        const dOut = dout.subarray(n0 * c.outSize); // (n·OH·OW, F)
        k.im2col(buf.cols, x.subarray(n0 * c.inSize), n, g);
        // When dOut is mostly zeros (c.sparseGrad: a ReLU, or max pooling, which passes one gradient in
        // four), the sparse kernels skip them, as the MLP's first layer skips blank pixels.
        const target = n0 === r ? dW : buf.tmpW;
        if (c.sparseGrad) k.sparseWeightGrad(target, dOut, buf.cols, n * pixels, c.filters, kkC, buf.sparse); // dW (F, k·k·C) = dOutᵀ · cols
        else k.gemmAtB(target, dOut, buf.cols, c.filters, kkC, n * pixels);
        if (target !== dW) k.addTo(dW, buf.tmpW, c.w.size);
        if (dx) {
          if (c.sparseGrad) k.sparseForward(buf.cols, dOut, W, null, n * pixels, kkC, c.filters, false, buf.sparse); // dcols (n·OH·OW, k·k·C) = dOut · W
          else k.gemmAB(buf.cols, dOut, W, n * pixels, kkC, c.filters);
          k.col2im(dx.subarray(n0 * c.inSize), buf.cols, n, g);
        }
      }
      k.colSum(tensorOf(slot, c.b), dout.subarray(r * c.outSize), rows * pixels, c.filters);
    });
  },
};
