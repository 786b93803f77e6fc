import type { LayerSpec } from '../spec.js';
import { backwardChain, forwardChain } from '../network.js';
import { sizeOf, type LayerKind, type Node, type NodeBase } from './layer.js';

/**
 * `res(c32k3p1-bn-relu-c32k3p1-bn)`: a residual block, out = branch(x) + shortcut(x), where the shortcut
 * is x itself when the branch keeps the shape, and otherwise a 1×1 convolution of the stride and filters
 * that match (followed by batch norm when the branch has one: ResNet's projection shortcut). The token
 * after the block (usually `relu`) applies to the sum.
 */
export interface ResidualSpec {
  kind: 'residual';
  branch: LayerSpec[];
}

export interface ResidualNode extends NodeBase {
  branch: Node[];
  /** Empty for the identity. */
  shortcut: Node[];
  /** The largest per-sample size inside the block: the width of its two gradient buffers. */
  width: number;
}

export const residual: LayerKind<ResidualSpec, ResidualNode> = {
  kind: 'residual',
  help: 'res(c32k3p1-bn-relu-c32k3p1-bn) (residual block: branch + shortcut)',

  parse(token, p) {
    if (!token.startsWith('res(')) return null;
    if (!token.endsWith(')')) p.fail('must end with ")", as in res(c32k3p1-bn-relu-c32k3p1-bn)');
    const branch = p.chain(token.slice(4, -1));
    if (branch.length === 0) p.fail('has an empty branch; put layers inside, as in res(c32k3p1-bn-relu-c32k3p1-bn)');
    if (branch.some((l) => l.kind === 'residual')) p.fail('holds a residual block; blocks do not nest');
    return { kind: 'residual', branch };
  },

  format: (s, chain) => `res(${chain(s.branch)})`,

  compile(s, c) {
    const x = c.input;
    if (x.flat) c.fail('comes after a dense layer or gap; residual blocks work on images');
    const branch = c.chain(s.branch, x, 'its branch');
    const y = branch[branch.length - 1].output;
    if (y.flat) c.fail('its branch must end on an image (no dense or gap inside a residual block)');
    let shortcut: Node[] = [];
    if (y.h !== x.h || y.w !== x.w || y.c !== x.c) {
      const stride = strideBetween(x.h, x.w, y.h, y.w);
      if (stride === undefined) {
        return c.fail(`its branch's output ${y.h}×${y.w}×${y.c} cannot be added to its input ${x.h}×${x.w}×${x.c}: keep the size (pad (k − 1)/2) or divide it by a stride`);
      }
      const projection: LayerSpec[] = [{ kind: 'conv', filters: y.c, size: 1, stride, pad: 0 }];
      if (s.branch.some((l) => l.kind === 'batchnorm')) projection.push({ kind: 'batchnorm' });
      shortcut = c.chain(projection, x, 'its shortcut');
    }
    const inner = [...branch, ...shortcut];
    const width = Math.max(sizeOf(x), ...inner.map((n) => n.outSize));
    return { ...c.node(residual, y), branch, shortcut, width };
  },

  onnx: (r, g, x) => g.op('Add', [g.chain(r.branch, x), r.shortcut.length > 0 ? g.chain(r.shortcut, x) : x]),

  torch: (r, chain) => [{ type: 'Residual', branch: chain(r.branch), shortcut: chain(r.shortcut) }],

  /** Two gradient buffers (M, width) for the chains inside. */
  saved: (r, rows) => ({ f32: { gradA: rows * r.width, gradB: rows * r.width } }),

  /** out = branch(x) + shortcut(x). */
  forward(p, r, out, x) {
    const n = p.M * r.outSize;
    const b = forwardChain(p, r.branch, x);
    const s = r.shortcut.length > 0 ? forwardChain(p, r.shortcut, x) : x;
    out.set(b.subarray(0, n));
    p.k.addTo(out, s, n);
  },

  /**
   * dx = ∂branch + ∂shortcut: the gradient reaching x along both paths, added. The shortcut goes first,
   * from a copy of dout, because the branch's chain runs in dout itself (it ping-pongs between dout and
   * gradA, as the network's chain does between dz and spare).
   */
  backward(p, r, dx, dout, x) {
    const { k, buf, M } = p;
    const { gradA, gradB } = buf.nodes[r.index].f32;
    const n = M * r.outSize;
    const nIn = M * r.inSize;
    if (r.shortcut.length === 0) dx?.set(dout.subarray(0, n));
    else {
      gradA.set(dout.subarray(0, n));
      const g = backwardChain(p, r.shortcut, x, gradA, gradB, dx !== null);
      dx?.set(g.subarray(0, nIn));
    }
    const g = backwardChain(p, r.branch, x, dout, gradA, dx !== null);
    if (dx) k.addTo(dx, g, nIn);
  },
};

/** The stride s of a 1×1 convolution that maps H×W to OH×OW (⌊(H − 1)/s⌋ + 1 rows), or undefined. */
function strideBetween(H: number, W: number, OH: number, OW: number): number | undefined {
  for (let s = 1; s <= Math.max(H, W); s++) if (Math.floor((H - 1) / s) + 1 === OH && Math.floor((W - 1) / s) + 1 === OW) return s;
  return undefined;
}
