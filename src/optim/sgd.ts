import type { Optimizer } from './optimizer.js';

/**
 * SGD with momentum μ, classical or Nesterov, and L2 weight decay λ added to the gradient (the kernel
 * sgdStep): g ← ∇ + λθ; v ← μv + g; θ ← θ − α·(nesterov ? g + μv : v). With μ = 0 and λ = 0 this is the
 * notes' plain θ ← θ − α∇C. As PyTorch's torch.optim.SGD (dampening 0).
 */
export const sgd: Optimizer = {
  kind: 'sgd',
  summary: 'momentum, Nesterov',
  state: ['velocity'],
  reads: ['momentum', 'nesterov', 'weightDecay'],
  describe: (o) => (o.momentum > 0 ? `sgd (${o.nesterov ? 'Nesterov ' : ''}μ ${o.momentum})` : 'sgd'),
  step: {
    kind: 'elementwise',
    run(k, v, begin, end, hp) {
      k.sgdStep(v.params, v.grad, v.state.velocity, begin, end, hp);
    },
  },
};
