import type { MlpSpec } from './spec.js';

/**
 * All parameters live in one flat Float32Array; this table names the views into it (llm.c's
 * fill_in_parameter_sizes). Gradients and optimiser state reuse the same layout, so zeroing, reducing and
 * updating are single loops over [0, size), and a worker can own any contiguous range.
 */
export interface TensorInfo {
  name: string;
  shape: number[];
  /** In floats, from the start of the parameter array; a multiple of 4 (16 bytes) for SIMD kernels. */
  offset: number;
  size: number;
}

/**
 * One dense layer: W (OUT, IN) row-major, b (OUT); or, when `inputMajor`, its transpose Wᵀ (IN, OUT)
 * row-major. The first layer is stored input-major: its input (pixels) is mostly zeros, and with Wᵀ
 * both its forward pass and its weight gradient skip them as contiguous row operations
 * (Kernels.sparseForward / sparseWeightGrad).
 */
export interface DenseInfo {
  inputs: number;
  outputs: number;
  /** w holds Wᵀ (IN, OUT) instead of W (OUT, IN). */
  inputMajor: boolean;
  w: TensorInfo;
  b: TensorInfo;
}

export interface ParamLayout {
  tensors: TensorInfo[];
  dense: DenseInfo[];
  /** Total floats, padding included. */
  size: number;
}

const ALIGN = 4;
const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

export function paramLayout(spec: MlpSpec): ParamLayout {
  const tensors: TensorInfo[] = [];
  const dense: DenseInfo[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]): TensorInfo => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = { name, shape, offset, size };
    offset = roundUp(offset + size, ALIGN);
    tensors.push(t);
    return t;
  };
  for (let l = 1; l < spec.layers.length; l++) {
    const inputs = spec.layers[l - 1];
    const outputs = spec.layers[l];
    const inputMajor = l === 1;
    const w = inputMajor ? add(`dense${l}.wT`, [inputs, outputs]) : add(`dense${l}.w`, [outputs, inputs]);
    const b = add(`dense${l}.b`, [outputs]);
    dense.push({ inputs, outputs, inputMajor, w, b });
  }
  return { tensors, dense, size: offset };
}

/** Number of real (non-padding) parameters. */
export function parameterCount(layout: ParamLayout): number {
  return layout.tensors.reduce((n, t) => n + t.size, 0);
}
