import { adam, adamHyper } from './adam.js';
import type { Optimizer } from './optimizer.js';

/**
 * AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, θ ← θ − α·(m̂/(√v̂ + ε) + λθ), as
 * PyTorch's torch.optim.AdamW. The same state as Adam.
 */
export const adamw: Optimizer = {
  ...adam,
  kind: 'adamw',
  summary: 'decoupled weight decay',
  step: {
    kind: 'elementwise',
    run(k, v, begin, end, hp) {
      k.adamStep(v.params, v.grad, v.state.m, v.state.v, begin, end, adamHyper(hp, true));
    },
  },
};
