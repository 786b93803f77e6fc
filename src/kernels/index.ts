import { badOption } from '../errors.js';
import type { Kernels } from './kernels.js';
import { tsKernels } from './ts.js';

export type { Kernels, SgdHyper } from './kernels.js';
export { tsKernels } from './ts.js';

/** Kernel implementations by name. WebAssembly SIMD kernels join this table (issue 3). */
const KERNELS: Record<string, Kernels> = { ts: tsKernels };

export const KERNEL_NAMES = Object.keys(KERNELS);

export function getKernels(name: string): Kernels {
  const k = KERNELS[name];
  if (!k) throw badOption(`--kernels "${name}" is unknown; use one of: ${KERNEL_NAMES.join(', ')}`);
  return k;
}
