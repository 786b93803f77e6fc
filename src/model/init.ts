import { CounterRng, Stream } from '../rng.js';
import type { Net } from './layout.js';

/**
 * Seeded initialisation, from each tensor's ParamInit (declared by its layer kind): weights ~ N(0, σ²)
 * with σ² = 2/fan_in (He) for layers that feed a ReLU network and 1/fan_in otherwise (LeCun: the output
 * layer, and sigmoid or identity MLPs, whose units saturate and stall near 85 % with N(0, 1)); constants
 * as declared (biases 0; batch norm γ = 1, β = 0, running mean 0 and variance 1). The l-th weight tensor
 * draws from the stream keyed (seed, init, l), so the weights are a function of the seed alone, drawn in
 * the order of W (OUT, IN) whichever way the layer stores it.
 */
export function initParams(params: Float32Array, net: Net, seed: number): void {
  params.fill(0);
  const reluNet = net.spec.kind === 'cnn' || net.spec.activation.kind === 'relu';
  const weights = net.inits.filter((i) => i.kind === 'normal').length;
  let l = 0;
  net.layout.tensors.forEach((t, i) => {
    const init = net.inits[i];
    const w = params.subarray(t.offset, t.offset + t.size);
    if (init.kind === 'constant') {
      w.fill(init.value);
      return;
    }
    const gain = reluNet && l < weights - 1 ? 2 : 1;
    const rng = new CounterRng(seed, Stream.init, l++);
    const sigma = Math.sqrt(gain / init.fanIn);
    const T = init.transposed;
    if (T) {
      // Drawn in W's (OUT, IN) order, stored transposed: the same network as with W stored output-major.
      for (let o = 0; o < T.rows; o++) for (let c = 0; c < T.cols; c++) w[c * T.rows + o] = sigma * rng.normal();
    } else {
      for (let j = 0; j < w.length; j++) w[j] = sigma * rng.normal();
    }
  });
}
