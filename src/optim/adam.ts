import type { AdamHyper } from '../kernels/kernels.js';
import type { Optimizer, OptimizerOptions, StepHyper } from './optimizer.js';

/** The kernel adamStep's hyper-parameters for a step: L2 weight decay (Adam) or decoupled (AdamW). */
export function adamHyper(hp: StepHyper, decoupled: boolean): AdamHyper {
  return { lr: hp.lr, beta1: hp.beta1, beta2: hp.beta2, eps: hp.eps, weightDecay: hp.weightDecay, decoupled, step: hp.step };
}

/** `adam (β 0.9, 0.999)`: how the recipe line shows Adam, AdamW and LAMB. */
export const describeBetas = (o: OptimizerOptions): string => `${o.kind} (β ${o.beta1}, ${o.beta2})`;

/**
 * Adam (Kingma & Ba 2015) with bias correction and L2 weight decay added to the gradient, as PyTorch's
 * torch.optim.Adam: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − α·m̂/(√v̂ + ε). State: the moments m, v.
 */
export const adam: Optimizer = {
  kind: 'adam',
  summary: 'L2 weight decay',
  state: ['m', 'v'],
  reads: ['weightDecay', 'beta1', 'beta2', 'adamEps'],
  describe: describeBetas,
  step: {
    kind: 'elementwise',
    run(k, v, begin, end, hp) {
      k.adamStep(v.params, v.grad, v.state.m, v.state.v, begin, end, adamHyper(hp, false));
    },
  },
};
