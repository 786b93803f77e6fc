import type { LayerKind, NodeBase } from './layer.js';

/** `gap`: global average pooling, an (H, W, C) image to its C channel means (a flat vector, for the classifier). */
export interface GapSpec {
  kind: 'gap';
}

export const gap: LayerKind<GapSpec, NodeBase> = {
  kind: 'gap',
  help: 'gap (global average pool)',

  parse: (token) => (token === 'gap' ? { kind: 'gap' } : null),

  format: () => 'gap',

  compile(_s, c) {
    if (c.input.flat) c.fail('comes after a dense layer or gap; global average pooling works on images');
    return c.node(gap, { h: 1, w: 1, c: c.input.c, flat: true });
  },

  /** (N, C, 1, 1), flattened to the (N, C) vector it is here. */
  onnx: (_n, g, x) => g.op('Flatten', [g.op('GlobalAveragePool', [x])], { axis: 1 }),

  torch: () => [{ type: 'AdaptiveAvgPool2d', args: { output_size: 1 } }, { type: 'Flatten' }],

  /** out (M, C) = the mean over the H·W pixels of x (M, H·W, C). */
  forward({ k, M }, n, out, x) {
    k.globalAvgPoolForward(out, x, M, n.input.h * n.input.w, n.input.c);
  },

  /** dx (M, H·W, C) = dout / (H·W) at every pixel. */
  backward({ k, M }, n, dx, dout) {
    if (dx) k.globalAvgPoolBackward(dx, dout, M, n.input.h * n.input.w, n.input.c);
  },
};
