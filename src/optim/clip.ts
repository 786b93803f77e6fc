/**
 * Gradient clipping by global norm, with PyTorch's torch.nn.utils.clip_grad_norm_ semantics: the norm of
 * all trainable gradients together, total = √Σg², and the coefficient max/(total + 1e-6); the gradients
 * are scaled by it when it is below 1 (PyTorch clamps it at 1 and always multiplies: the same). What is
 * clipped is the batch-mean gradient before weight decay (the optimisers add λθ after), as in PyTorch.
 */
export const CLIP_EPS = 1e-6;

/** The factor the gradients are multiplied by: max/(total + 1e-6) when that is below 1, else 1. */
export function clipCoefficient(totalNorm: number, maxNorm: number): number {
  const c = maxNorm / (totalNorm + CLIP_EPS);
  return c < 1 ? c : 1;
}
