import { CounterRng, Stream } from '../rng.js';
import type { Net } from './layout.js';

/**
 * Seeded initialisation: weights ~ N(0, σ²) with σ² = 2/fan_in (He) for layers that feed a ReLU network
 * and 1/fan_in otherwise (LeCun: the output layer, and sigmoid or identity MLPs, whose units saturate
 * and stall near 85 % with N(0, 1)); biases 0; batch norm γ = 1, β = 0, running mean 0 and variance 1.
 * The l-th weight layer draws from the stream keyed (seed, init, l), so the weights are a function of the
 * seed alone, drawn in the order of W (OUT, IN) whichever way the layer stores it.
 */
export function initParams(params: Float32Array, net: Net, seed: number): void {
  params.fill(0);
  const spec = net.spec;
  const weighted = net.layers.filter((l) => l.kind === 'dense' || l.kind === 'conv');
  weighted.forEach((layer, l) => {
    const last = l === weighted.length - 1;
    const reluNet = spec.kind === 'cnn' || spec.activation.kind === 'relu';
    const gain = reluNet && !last ? 2 : 1;
    const rng = new CounterRng(seed, Stream.init, l);
    const w = params.subarray(layer.w.offset, layer.w.offset + layer.w.size);
    if (layer.kind === 'dense' && layer.inputMajor) {
      // Drawn in W's (OUT, IN) order, stored transposed: the same network as with W stored output-major.
      const sigma = Math.sqrt(gain / layer.inSize);
      for (let o = 0; o < layer.outSize; o++) for (let i = 0; i < layer.inSize; i++) w[i * layer.outSize + o] = sigma * rng.normal();
    } else {
      const fanIn = layer.w.size / layer.w.shape[0];
      const sigma = Math.sqrt(gain / fanIn);
      for (let i = 0; i < w.length; i++) w[i] = sigma * rng.normal();
    }
  });
  for (const layer of net.layers) {
    if (layer.kind !== 'batchnorm') continue;
    params.fill(1, layer.gamma.offset, layer.gamma.offset + layer.channels);
    params.fill(1, layer.variance.offset, layer.variance.offset + layer.channels);
  }
}
