import { adamFamily, adamStep } from './adam.js';
import type { Optimizer } from './optimizer.js';

/**
 * AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, θ ← θ − α·(m̂/(√v̂ + ε) + λθ), as
 * PyTorch's torch.optim.AdamW. The same state as Adam.
 */
export const adamw: Optimizer = { ...adamFamily, kind: 'adamw', summary: 'decoupled weight decay', step: adamStep(true) };
