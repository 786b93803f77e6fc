/**
 * Float64 references of the optimisers and of gradient clipping, written from their formulas (and
 * PyTorch's definitions) as plainly as possible, over one tensor at a time: θ, the gradient and the state
 * are Float64Arrays changed in place.
 */

/** torch.optim.SGD (dampening 0): g = ∇ + λθ; v = μv + g; θ −= α·(nesterov ? g + μv : v). */
export function refSgdStep(theta: Float64Array, grad: ArrayLike<number>, velocity: Float64Array,
  hp: { lr: number; momentum: number; nesterov: boolean; weightDecay: number }): void {
  for (let p = 0; p < theta.length; p++) {
    const g = grad[p] + hp.weightDecay * theta[p];
    velocity[p] = hp.momentum * velocity[p] + g;
    theta[p] -= hp.lr * (hp.nesterov ? g + hp.momentum * velocity[p] : velocity[p]);
  }
}

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));

/**
 * One LAMB step on one tensor (You et al. 2019, Algorithm 2, bias-corrected): m, v as Adam's;
 * r = m̂/(√v̂ + ε) + λθ; θ −= α·ratio·r with ratio = ‖θ‖/‖r‖, or 1 when either norm is 0. Returns the ratio.
 */
export function refLambStep(theta: Float64Array, grad: ArrayLike<number>, m: Float64Array, v: Float64Array,
  hp: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }): number {
  const r = new Float64Array(theta.length);
  for (let p = 0; p < theta.length; p++) {
    m[p] = hp.beta1 * m[p] + (1 - hp.beta1) * grad[p];
    v[p] = hp.beta2 * v[p] + (1 - hp.beta2) * grad[p] * grad[p];
    const mHat = m[p] / (1 - Math.pow(hp.beta1, hp.step)), vHat = v[p] / (1 - Math.pow(hp.beta2, hp.step));
    r[p] = mHat / (Math.sqrt(vHat) + hp.eps) + hp.weightDecay * theta[p];
  }
  const thetaNorm = norm(theta), rNorm = norm(r);
  const ratio = thetaNorm > 0 && rNorm > 0 ? thetaNorm / rNorm : 1;
  for (let p = 0; p < theta.length; p++) theta[p] -= hp.lr * ratio * r[p];
  return ratio;
}

/**
 * torch.nn.utils.clip_grad_norm_(params, maxNorm) over the given gradients (one array per tensor):
 * total = √Σg² over all of them, coefficient = maxNorm/(total + 1e-6), every gradient multiplied by it
 * when it is below 1. Returns the total norm (as PyTorch does).
 */
export function refClipGradNorm(grads: Float64Array[], maxNorm: number): number {
  const total = Math.sqrt(grads.reduce((s, g) => s + norm(g) ** 2, 0));
  const coefficient = maxNorm / (total + 1e-6);
  if (coefficient < 1) for (const g of grads) for (let p = 0; p < g.length; p++) g[p] *= coefficient;
  return total;
}
