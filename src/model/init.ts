import { CounterRng, Stream } from '../rng.js';
import type { ParamLayout } from './layout.js';
import type { MlpSpec } from './spec.js';

/**
 * Seeded initialisation: weights ~ N(0, σ²) with σ² = 2/fan_in for ReLU (He) and 1/fan_in otherwise
 * (LeCun/Xavier for sigmoid and identity: with N(0, 1) sigmoid units saturate and training stalls near
 * 85 %); biases 0. Layer l draws from the stream keyed (seed, init, l), so the weights are a function of
 * the seed alone, drawn in the order of W (OUT, IN) whichever way the layer stores it.
 */
export function initParams(params: Float32Array, spec: MlpSpec, layout: ParamLayout, seed: number): void {
  params.fill(0);
  layout.dense.forEach((d, l) => {
    const gain = spec.activation.kind === 'relu' && l < layout.dense.length - 1 ? 2 : 1;
    const sigma = Math.sqrt(gain / d.inputs);
    const rng = new CounterRng(seed, Stream.init, l);
    const w = params.subarray(d.w.offset, d.w.offset + d.w.size);
    if (d.inputMajor) {
      // Drawn in W's (OUT, IN) order, stored transposed: the same network as with W stored output-major.
      for (let o = 0; o < d.outputs; o++) for (let i = 0; i < d.inputs; i++) w[i * d.outputs + o] = sigma * rng.normal();
    } else {
      for (let i = 0; i < w.length; i++) w[i] = sigma * rng.normal();
    }
  });
}
