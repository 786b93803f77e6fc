import type { Compiler, Dims, LayerKind, NodeBase } from './layer.js';

/** `mp2`: max pooling over 2×2 windows, stride 2 (rows and columns that do not fill a window are dropped). */
export interface MaxPoolSpec {
  kind: 'maxpool';
  size: number;
}

export interface MaxPoolNode extends NodeBase {
  size: number;
}

export const maxpool: LayerKind<MaxPoolSpec, MaxPoolNode> = {
  kind: 'maxpool',
  help: 'mp2 (max pool)',

  parse(token, p) {
    const m = /^mp(\d+)$/.exec(token);
    if (!m) return null;
    if (Number(m[1]) < 2) p.fail('needs a pool size ≥ 2');
    return { kind: 'maxpool', size: Number(m[1]) };
  },

  format: (s) => `mp${s.size}`,

  compile: (s, c) => ({ ...c.node(maxpool, pooled(c, s.size)), size: s.size }),

  /** ONNX's and PyTorch's default (no ceil mode) drop the rows and columns that do not fill a window, as here. */
  onnx: (n, g, x) => g.op('MaxPool', [x], { kernel_shape: [n.size, n.size], strides: [n.size, n.size] }),

  torch: (n) => [{ type: 'MaxPool2d', args: { kernel_size: n.size, stride: n.size } }],

  /** argmax (M, OH, OW, C): the index into x of each window's maximum, for backward. */
  saved: (n, rows) => ({ i32: { argmax: rows * n.outSize } }),

  forward({ k, buf, M }, n, out, x) {
    k.maxPoolForward(out, buf.nodes[n.index].i32.argmax, x, M, n.input.h, n.input.w, n.input.c, n.size);
  },

  /** The gradient flows to each window's maximum; 0 elsewhere. */
  backward({ k, buf, M }, n, dx, dout) {
    if (dx) k.maxPoolBackward(dx, dout, buf.nodes[n.index].i32.argmax, M * n.outSize, M * n.inSize);
  },
};

/** The output of a size×size pooling of stride size (max or average), or the one-line error why it cannot pool. */
export function pooled(c: Compiler, size: number): Dims {
  const { h, w, c: C, flat } = c.input;
  if (flat) c.fail('comes after a dense layer or gap; pooling works on images');
  if (h < size || w < size) c.fail(`a ${size}×${size} pool does not fit a ${h}×${w} input`);
  return { h: Math.floor(h / size), w: Math.floor(w / size), c: C, flat: false };
}
