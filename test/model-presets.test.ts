import { describe, expect, it } from 'vitest';
import { compileNet, parameterCount } from '../src/model/layout.js';
import { formatCnnLayers, MODEL_PRESETS, parseCnnSpec } from '../src/model/spec.js';

/** The named networks of `--model`: each compiles for MNIST and reads back as its own layer string. */

describe('model presets', () => {
  it.each(Object.keys(MODEL_PRESETS))('%s compiles for 28×28 images with 10 classes and prints as its layer string', (name) => {
    const spec = parseCnnSpec(name);
    const net = compileNet(spec);
    expect(net.inputs).toBe(28 * 28);
    expect(net.classes).toBe(10);
    expect(formatCnnLayers(spec)).toBe(MODEL_PRESETS[name]);
  });

  it('cnn-strided has the parameters counted by hand: 5×5 stride-2 padding-2 convolutions take 24×24 to 12×12 and 8×8 to 4×4', () => {
    const conv = (inC: number, k: number, outC: number) => inC * k * k * outC + outC;
    const bn = (c: number) => 4 * c; // scale, shift, running mean and variance
    const count =
      conv(1, 3, 32) + bn(32) + conv(32, 3, 32) + bn(32) + conv(32, 5, 32) + bn(32) + // 28 → 26 → 24 → 12
      conv(32, 3, 64) + bn(64) + conv(64, 3, 64) + bn(64) + conv(64, 5, 64) + bn(64) + // 12 → 10 → 8 → 4
      (4 * 4 * 64 * 128 + 128) + bn(128) + (128 * 10 + 10);
    expect(count).toBe(327_242);
    expect(parameterCount(compileNet(parseCnnSpec('cnn-strided')).layout)).toBe(count);
  });
});
