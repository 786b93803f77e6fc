import { adamFamily } from './adam.js';
import type { Optimizer } from './optimizer.js';

/**
 * LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
 * Algorithm 2): Adam's moments with bias correction, the direction r = m̂/(√v̂ + ε) + λθ, and a trust ratio
 * per tensor, θ ← θ − α·(‖θ‖/‖r‖)·r.
 *
 * Edge cases as NVIDIA's FusedLAMB (apex) and timm's Lamb: the ratio is 1 when ‖θ‖ or ‖r‖ is 0 (a tensor
 * initialised to zeros, such as a bias, takes plain Adam steps until it moves); φ is the identity (the paper
 * leaves its clamp open; cybertronai/pytorch-lamb clamps ‖θ‖ at 10, we do not). Every trainable tensor is
 * adapted and decayed, biases and batch norm's γ, β included, also at λ = 0 (timm's always_adapt, apex's
 * use_nvlamb), as our other optimisers decay every trainable tensor. Norms are summed in float64.
 *
 * The direction is kept in the gradient array between the two passes (the gradient is not needed once the
 * moments are updated): prepare writes r there, apply adds −α·ratio·r to θ.
 */
export const lamb: Optimizer = {
  ...adamFamily, // Adam's moments and options
  kind: 'lamb',
  summary: 'per-tensor trust ratio',
  step: {
    kind: 'per-tensor',
    sums: 2,
    prepare(k, v, begin, end, hp, sums, at) {
      k.lambDirection(v.params, v.grad, v.state.m, v.state.v, begin, end, hp);
      sums[at] = k.sumSquares(v.params, begin, end); // ‖θ‖², before the step
      sums[at + 1] = k.sumSquares(v.grad, begin, end); // ‖r‖²
    },
    apply(k, v, begin, end, hp, totals) {
      k.axpy(v.params, v.grad, begin, end, -Math.fround(hp.lr * trustRatio(Math.sqrt(totals[0]), Math.sqrt(totals[1]))));
    },
  },
};

/** ‖θ‖/‖r‖, or 1 when either is 0 (apex FusedLAMB, timm). */
export function trustRatio(thetaNorm: number, directionNorm: number): number {
  return thetaNorm > 0 && directionNorm > 0 ? thetaNorm / directionNorm : 1;
}
