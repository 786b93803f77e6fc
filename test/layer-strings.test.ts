import { describe, expect, it } from 'vitest';
import { MnistDpError } from '../src/errors.js';
import { compileNet } from '../src/model/layout.js';
import type { ResidualNode } from '../src/model/layers/residual.js';
import { formatCnnLayers, MODEL_PRESETS, parseCnnSpec, type CnnSpec } from '../src/model/spec.js';

/**
 * The layer strings of --model: every named network and every token reads back as itself, residual
 * blocks get the shortcut their shapes need, and bad strings get one clear line (a BAD_OPTION error).
 */

const roundTrip = (text: string, input?: CnnSpec['input']) => {
  const spec = parseCnnSpec(text, input);
  const again = parseCnnSpec(formatCnnLayers(spec), input);
  expect(again).toEqual(spec);
  return formatCnnLayers(spec);
};

/** The error parsing and compiling `text` for 28×28×1 images throws: a one-line BAD_OPTION. */
function failure(text: string): string {
  try {
    compileNet(parseCnnSpec(text));
  } catch (err) {
    expect(err).toBeInstanceOf(MnistDpError);
    expect((err as MnistDpError).code).toBe('BAD_OPTION');
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error(`"${text}" was accepted`);
}

describe('layer strings', () => {
  it.each(Object.keys(MODEL_PRESETS))('the named network %s parses, prints and parses back to the same spec', (name) => {
    expect(roundTrip(name)).toBe(MODEL_PRESETS[name]);
  });

  it.each([
    ['c8k3p1-relu-ap2-c16k3-bn-relu-gap-fc10', 'c8k3p1-relu-ap2-c16k3-bn-relu-gap-fc10'],
    ['C8K3P1 RELU, AP3 - GAP - FC10', 'c8k3p1-relu-ap3-gap-fc10'],
    ['c8k3p1-res(c8k3p1-bn-relu-c8k3p1-bn)-relu-fc10', 'c8k3p1-res(c8k3p1-bn-relu-c8k3p1-bn)-relu-fc10'],
    ['c8k3p1-res(c16k3s2p1 bn relu c16k3p1 bn)-relu-res(c16k3p1,do0.2,c16k3p1)-gap-fc10', 'c8k3p1-res(c16k3s2p1-bn-relu-c16k3p1-bn)-relu-res(c16k3p1-do0.2-c16k3p1)-gap-fc10'],
  ])('%s reads back as %s', (text, canonical) => {
    expect(roundTrip(text)).toBe(canonical);
  });

  it('a residual block is one spec holding its branch; the activation after it is its own token', () => {
    const spec = parseCnnSpec('c8k3p1-res(c8k3p1-bn-relu-c8k3p1-bn)-relu-gap-fc10');
    expect(spec.layers.map((l) => l.kind)).toEqual(['conv', 'residual', 'activation', 'gap', 'dense']);
    expect(spec.layers[1]).toEqual({
      kind: 'residual',
      branch: [
        { kind: 'conv', filters: 8, size: 3, stride: 1, pad: 1 }, { kind: 'batchnorm' }, { kind: 'activation', activation: { kind: 'relu' } },
        { kind: 'conv', filters: 8, size: 3, stride: 1, pad: 1 }, { kind: 'batchnorm' },
      ],
    });
  });

  it('the shortcut is the identity when the branch keeps the shape, else a 1×1 convolution of the stride (and batch norm when the branch has one)', () => {
    const net = compileNet(parseCnnSpec('c8k3p1-res(c8k3p1-bn-relu-c8k3p1-bn)-relu-res(c16k3s2p1-bn-relu-c16k3p1-bn)-relu-res(c24k3p1)-gap-fc10'));
    const [same, halved, wider] = net.nodes.filter((n) => n.layer.kind === 'residual') as ResidualNode[];
    expect(same.shortcut).toEqual([]);
    expect(same.output).toEqual({ h: 28, w: 28, c: 8, flat: false });
    expect(halved.output).toEqual({ h: 14, w: 14, c: 16, flat: false });
    expect(halved.shortcut.map((n) => n.layer.kind)).toEqual(['conv', 'batchnorm']);
    expect(halved.shortcut[0]).toMatchObject({ filters: 16, g: { k: 1, stride: 2, pad: 0, OH: 14, OW: 14 } });
    expect(wider.shortcut.map((n) => n.layer.kind)).toEqual(['conv']); // no batch norm in the branch, none in the shortcut
    // Parameters in the order the layers come: the stem, each block's branch, then its shortcut.
    expect(net.layout.tensors.map((t) => t.name).slice(0, 8)).toEqual(['conv1.w', 'conv1.b', 'conv2.w', 'conv2.b', 'bn1.gamma', 'bn1.beta', 'bn1.mean', 'bn1.var']);
    expect(net.layout.tensors.filter((t) => t.name.startsWith('conv6')).map((t) => t.shape)).toEqual([[16, 1, 1, 8], [16]]); // the second block's projection
  });

  it('a spec stored by an older version (a plain layers array) still compiles to the same tensor names, shapes and offsets', () => {
    const stored: CnnSpec = JSON.parse('{"kind":"cnn","input":{"height":28,"width":28,"channels":1},"layers":[{"kind":"conv","filters":4,"size":5,"stride":1,"pad":0},' +
      '{"kind":"batchnorm"},{"kind":"activation","activation":{"kind":"relu"}},{"kind":"maxpool","size":2},{"kind":"dense","units":16},' +
      '{"kind":"dropout","rate":0.3},{"kind":"dense","units":10}],"output":{"kind":"softmax"},"loss":"cross-entropy"}');
    expect(compileNet(stored).layout.tensors.map(({ name, shape, offset }) => [name, shape.join('×'), offset])).toEqual([
      ['conv1.w', '4×5×5×1', 0], ['conv1.b', '4', 100], ['bn1.gamma', '4', 104], ['bn1.beta', '4', 108], ['bn1.mean', '4', 112], ['bn1.var', '4', 116],
      ['dense1.w', '16×576', 120], ['dense1.b', '16', 9336], ['dense2.w', '10×16', 9352], ['dense2.b', '10', 9512],
    ]);
  });
});

describe('bad layer strings get one line that says what is wrong', () => {
  it.each([
    ['a "(" without its ")"', 'c8k3p1-res(c8k3p1-bn-fc10', /"\(" without its "\)"/],
    ['a ")" without its "("', 'c8k3p1-c8k3p1-bn)-fc10', /"\)" without its "\("/],
    ['text after a block\'s ")"', 'c8k3p1-res(c8k3p1)x-fc10', /"res\(c8k3p1\)x" must end with "\)"/],
    ['an empty block', 'c8k3p1-res()-fc10', /empty branch/],
    ['a block inside a block', 'c8k3p1-res(c8k3p1-res(c8k3p1))-fc10', /do not nest/],
    ['an activation opening a block', 'c8k3p1-res(relu-c8k3p1)-fc10', /activation must follow a conv, dense, bn or res layer \(layer 1 of "relu-c8k3p1"\)/],
    ['a branch whose output cannot be added to its input', 'c8k3p1-res(c8k3)-fc10', /layer 2 \(res\): its branch's output 26×26×8 cannot be added to its input 28×28×8/],
    ['a dense layer inside a block', 'c8k3p1-res(c8k3p1-fc10)-fc10', /layer 2 \(res\): its branch must end on an image/],
    ['a block after a dense layer', 'fc32-res(c8k3p1)-fc10', /layer 2 \(res\): comes after a dense layer or gap/],
    ['a convolution after gap', 'c8k3p1-gap-c8k3-fc10', /layer 3 \(conv\): comes after a dense layer or gap/],
    ['pooling after gap', 'c8k3p1-gap-ap2-fc10', /layer 3 \(avgpool\): comes after a dense layer or gap/],
    ['a window that does not fit inside a block', 'c8k3p1-res(c8k3p1-c8k40)-fc10', /layer 2 \(res\), its branch, layer 2 \(conv\): a 40×40 window does not fit/],
    ['an average pool of size 1', 'c8k3-ap1-fc10', /"ap1" needs a pool size ≥ 2/],
  ])('%s', (_what, text, message) => {
    const line = failure(text);
    expect(line).toMatch(/^--model/);
    expect(line).toMatch(message);
  });
});
