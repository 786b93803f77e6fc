import { hash4, sampleKey, Stream } from '../../rng.js';
import type { LayerKind, NodeBase, TrainPass } from './layer.js';

/** `do0.25`: dropout of a quarter of the values in training (inverted: the kept ones scaled by 1/(1 − rate)). */
export interface DropoutSpec {
  kind: 'dropout';
  rate: number;
}

export interface DropoutNode extends NodeBase {
  rate: number;
  /** Which dropout layer this is (0, 1, …): each draws its masks from its own stream. */
  ordinal: number;
}

export const dropout: LayerKind<DropoutSpec, DropoutNode> = {
  kind: 'dropout',
  help: 'do0.25 (dropout)',

  parse(token, p) {
    const m = /^do(0?\.\d+)$/.exec(token);
    if (!m) return null;
    const rate = Number(m[1]);
    if (!(rate > 0 && rate < 1)) p.fail('has a dropout rate outside (0, 1)');
    return { kind: 'dropout', rate };
  },

  format: (s) => `do${s.rate}`,

  compile: (s, c) => ({ ...c.node(dropout, c.input), rate: s.rate, ordinal: c.dropoutOrdinal() }),

  /** Nothing at inference. */
  onnx: (_n, _g, x) => x,

  torch: (n) => [{ type: 'Dropout', args: { p: n.rate } }],

  /** mask (M, size): 0 or 1/(1 − rate). */
  saved: (n, rows) => ({ f32: { mask: rows * n.outSize } }),

  /** out = x ⊙ mask in training; x unchanged at inference. */
  forward({ k, buf, M, train }, n, out, x) {
    const count = M * n.outSize;
    if (!train) {
      out.set(x.subarray(0, count));
      return;
    }
    const mask = buf.nodes[n.index].f32.mask;
    dropoutMask(mask, n.outSize, n.rate, n.ordinal, M, train);
    k.multiply(out, x, mask, count);
  },

  /** dx = dout ⊙ mask. */
  backward({ k, buf, M }, n, dx, dout) {
    if (dx) k.multiply(dx, dout, buf.nodes[n.index].f32.mask, M * n.outSize);
  },
};

/** mask (M, size): 0 with probability `rate`, else 1/(1 − rate); element i of a row from hash(seed, stream, (epoch, sample), i). */
function dropoutMask(mask: Float32Array, size: number, rate: number, ordinal: number, M: number, t: TrainPass): void {
  const keep = 1 / (1 - rate);
  const threshold = rate * 4294967296;
  const stream = Stream.dropout + 256 * ordinal;
  for (let r = 0; r < M; r++) {
    const key = sampleKey(t.epoch, t.samples[r]);
    const row = r * size;
    for (let i = 0; i < size; i++) mask[row + i] = hash4(t.seed, stream, key, i) < threshold ? 0 : keep;
  }
}
