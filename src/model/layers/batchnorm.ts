import { batchNormScratchWords } from '../../kernels/kernels.js';
import type { TensorInfo } from '../layout.js';
import { eachShard, tensorOf, training, view, type LayerKind, type NodeBase, type Pass, type TrainPass } from './layer.js';
import { asIs } from './portable.js';

/** `bn`: batch normalisation per channel (per unit after a dense layer). */
export interface BatchNormSpec {
  kind: 'batchnorm';
}

/** Batch normalisation per channel, its statistics over a micro-shard's pixels in training. */
export interface BatchNormNode extends NodeBase {
  channels: number;
  gamma: TensorInfo;
  beta: TensorInfo;
  /** Running statistics: in the parameter array, not trained (see TensorInfo.trainable). */
  mean: TensorInfo;
  variance: TensorInfo;
}

/** Batch norm's ε, as PyTorch's. */
export const BN_EPS = 1e-5;

export const batchnorm: LayerKind<BatchNormSpec, BatchNormNode> = {
  kind: 'batchnorm',
  help: 'bn (batch norm)',

  parse: (token) => (token === 'bn' ? { kind: 'batchnorm' } : null),

  format: () => 'bn',

  compile(_s, c) {
    const C = c.input.c;
    const id = c.id('bn');
    const one = { kind: 'constant', value: 1 } as const;
    const zero = { kind: 'constant', value: 0 } as const;
    return {
      ...c.node(batchnorm, c.input),
      channels: C,
      gamma: c.param(`bn${id}.gamma`, [C], one),
      beta: c.param(`bn${id}.beta`, [C], zero),
      mean: c.param(`bn${id}.mean`, [C], zero, false),
      variance: c.param(`bn${id}.var`, [C], one, false),
    };
  },

  /** With the running statistics, as at inference here; ε is BN_EPS (also ONNX's and PyTorch's default). */
  onnx: (n, g, x) => g.op('BatchNormalization', [x, g.weight(asIs(n.gamma)), g.weight(asIs(n.beta)), g.weight(asIs(n.mean)), g.weight(asIs(n.variance))],
    { epsilon: { float: BN_EPS } }),

  torch: (n) => [{
    type: n.input.flat ? 'BatchNorm1d' : 'BatchNorm2d',
    args: { num_features: n.channels, eps: BN_EPS },
    tensors: { weight: asIs(n.gamma), bias: asIs(n.beta), running_mean: asIs(n.mean), running_var: asIs(n.variance) },
  }],

  /**
   * xhat (M, size) for backward; stats: per micro-shard [mean, var, invstd] (3C each) in training, the
   * folded scale and shift (2C) at inference.
   */
  saved: (n, rows, micro) => ({ f32: { xhat: rows * n.outSize, stats: Math.max(Math.ceil(rows / Math.max(1, micro)) * 3, 2) * n.channels } }),

  scratch: (n) => ({ sparse: batchNormScratchWords(n.channels) }),

  forward(p, n, out, x) {
    if (p.train) forwardTrain(p, n, out, x, p.train);
    else forwardInference(p, n, out, x);
  },

  /** Per micro-shard: dgamma, dbeta into its slot, and dx from the shard's xhat and invstd. */
  backward(p, n, dx, dout) {
    const { k, params, buf, M } = p;
    const t = training(p);
    const C = n.channels;
    const pixels = n.inSize / C;
    const gamma = tensorOf(params, n.gamma);
    const { xhat, stats } = buf.nodes[n.index].f32;
    // The kernel writes dx with the parameter gradients in one sweep; without a dx it goes over dout (allowed).
    const target = dx ?? dout;
    eachShard(t, M, (r, rows, s) => {
      const R = rows * pixels;
      const at = r * n.inSize;
      const slot = t.slot(t.firstShard + s);
      k.batchNormBackward(view(target, at, R * C), tensorOf(slot, n.gamma), tensorOf(slot, n.beta), view(dout, at, R * C),
        view(xhat, at, R * C), gamma, view(stats, s * 3 * C + 2 * C, C), R, C, buf.sparse);
    });
  },
};

/** Statistics per micro-shard, recorded (times the shard's rows) in the shard's slot for the running averages. */
function forwardTrain({ k, params, buf, M }: Pass, n: BatchNormNode, y: Float32Array, x: Float32Array, t: TrainPass): void {
  const C = n.channels;
  const pixels = n.inSize / C;
  const gamma = tensorOf(params, n.gamma);
  const beta = tensorOf(params, n.beta);
  const { xhat, stats } = buf.nodes[n.index].f32;
  eachShard(t, M, (r, rows, s) => {
    const R = rows * pixels;
    const st = view(stats, s * 3 * C, 3 * C);
    const at = r * n.inSize;
    k.batchNormForward(view(y, at, R * C), view(xhat, at, R * C), st, view(x, at, R * C), gamma, beta, R, C, BN_EPS, buf.sparse);
    const slot = t.slot(t.firstShard + s);
    const unbias = R > 1 ? R / (R - 1) : 1; // the running variance estimates the population's, as PyTorch's
    for (let c = 0; c < C; c++) {
      slot[n.mean.offset + c] = rows * st[c];
      slot[n.variance.offset + c] = rows * st[C + c] * unbias;
    }
  });
}

/** y = γ(x − mean)/√(var + ε) + β, folded into one scale and shift per channel. */
function forwardInference({ k, params, buf, M }: Pass, n: BatchNormNode, y: Float32Array, x: Float32Array): void {
  const C = n.channels;
  const stats = buf.nodes[n.index].f32.stats;
  const scale = view(stats, 0, C);
  const shift = view(stats, C, C);
  for (let c = 0; c < C; c++) {
    const s = params[n.gamma.offset + c] / Math.sqrt(params[n.variance.offset + c] + BN_EPS);
    scale[c] = s;
    shift[c] = params[n.beta.offset + c] - params[n.mean.offset + c] * s;
  }
  k.scaleShift(y, x, scale, shift, (M * n.inSize) / C, C);
}
