import type { ElementwiseStep, Optimizer, OptimizerOptions } from './optimizer.js';

/** What Adam, AdamW and LAMB share: the moments m, v as state, the options they read, and how the recipe line shows them (`adam (β 0.9, 0.999)`). */
export const adamFamily: Pick<Optimizer, 'state' | 'reads' | 'describe'> = {
  state: ['m', 'v'],
  reads: ['weightDecay', 'beta1', 'beta2', 'adamEps'],
  describe: (o: OptimizerOptions) => `${o.kind} (β ${o.beta1}, ${o.beta2})`,
};

/** The kernel adamStep as a step, with L2 weight decay in the gradient (Adam) or decoupled (AdamW). */
export function adamStep(decoupled: boolean): ElementwiseStep {
  return {
    kind: 'elementwise',
    run(k, v, begin, end, hp) {
      k.adamStep(v.params, v.grad, v.state.m, v.state.v, begin, end,
        { lr: hp.lr, beta1: hp.beta1, beta2: hp.beta2, eps: hp.eps, weightDecay: hp.weightDecay, decoupled, step: hp.step });
    },
  };
}

/**
 * Adam (Kingma & Ba 2015) with bias correction and L2 weight decay added to the gradient, as PyTorch's
 * torch.optim.Adam: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − α·m̂/(√v̂ + ε). State: the moments m, v.
 */
export const adam: Optimizer = { ...adamFamily, kind: 'adam', summary: 'L2 weight decay', step: adamStep(false) };
