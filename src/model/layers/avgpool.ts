import type { LayerKind, NodeBase } from './layer.js';
import { pooled } from './maxpool.js';

/** `ap2`: average pooling over 2×2 windows, stride 2 (rows and columns that do not fill a window are dropped). */
export interface AvgPoolSpec {
  kind: 'avgpool';
  size: number;
}

export interface AvgPoolNode extends NodeBase {
  size: number;
}

export const avgpool: LayerKind<AvgPoolSpec, AvgPoolNode> = {
  kind: 'avgpool',
  help: 'ap2 (average pool)',

  parse(token, p) {
    const m = /^ap(\d+)$/.exec(token);
    if (!m) return null;
    if (Number(m[1]) < 2) p.fail('needs a pool size ≥ 2');
    return { kind: 'avgpool', size: Number(m[1]) };
  },

  format: (s) => `ap${s.size}`,

  compile: (s, c) => ({ ...c.node(avgpool, pooled(c, s.size)), size: s.size }),

  onnx: (n, g, x) => g.op('AveragePool', [x], { kernel_shape: [n.size, n.size], strides: [n.size, n.size] }),

  torch: (n) => [{ type: 'AvgPool2d', args: { kernel_size: n.size, stride: n.size } }],

  /** out (M, OH, OW, C) = the mean of each window of x (M, H, W, C). */
  forward({ k, M }, n, out, x) {
    k.avgPoolForward(out, x, M, n.input.h, n.input.w, n.input.c, n.size);
  },

  /** dx = dout / size² over each window; 0 where no window reached. */
  backward({ k, M }, n, dx, dout) {
    if (dx) k.avgPoolBackward(dx, dout, M, n.input.h, n.input.w, n.input.c, n.size);
  },
};
