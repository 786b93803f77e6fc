import { describe, expect, it } from 'vitest';
import { exportSafetensors, importSafetensors, readSafetensorsHeader } from '../src/export/safetensors.js';
import { MnistDpError } from '../src/errors.js';
import type { Model } from '../src/model/model.js';
import { makeSpec, parseCnnSpec } from '../src/model/spec.js';
import { modelWithEveryTensorSet, testImages } from './helpers/export-models.js';

/**
 * exportSafetensors writes a file that safetensors readers take (an 8-byte header length, a JSON header
 * whose offsets tile the data exactly, float32 little-endian data), with PyTorch's names and layouts;
 * read back into an mnist-dp model it gives the same probabilities, bit for bit.
 */

const models: [string, () => Model][] = [
  ['the default MLP (input-major first layer)', () => modelWithEveryTensorSet(makeSpec([784, 256, 128, 10], { kind: 'relu' }, 'cross-entropy'), 1)],
  ["the notes' S_a recipe", () => modelWithEveryTensorSet(makeSpec([784, 30, 10], { kind: 'sigmoid', slope: 2 }, 'squared-error'), 2)],
  ['cnn-bn (batch norm after convolutions and after a dense layer, dropout)', () => modelWithEveryTensorSet(parseCnnSpec('cnn-bn'), 3)],
  ['cnn-res (residual blocks with projection shortcuts, gap)', () => modelWithEveryTensorSet(parseCnnSpec('cnn-res'), 4)],
];

describe('safetensors files of mnist-dp models', () => {
  for (const [what, make] of models) {
    it(`${what}: the header is valid and its tensors cover every byte after it`, () => {
      const model = make();
      const bytes = exportSafetensors(model);
      const { header, metadata, dataStart } = readSafetensorsHeader(bytes, 'test');
      expect(dataStart % 8).toBe(0); // the header is padded to keep the data aligned
      const entries = Object.entries(header).sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
      let end = 0;
      for (const [name, e] of entries) {
        expect(name).toMatch(/^\d+(\.(branch|shortcut)\.\d+)?\.(weight|bias|running_mean|running_var)$/);
        expect(e.dtype).toBe('F32');
        expect(e.data_offsets[0]).toBe(end);
        expect(e.data_offsets[1] - e.data_offsets[0]).toBe(4 * e.shape.reduce((a, b) => a * b, 1));
        end = e.data_offsets[1];
      }
      expect(dataStart + end).toBe(bytes.length);
      // Every real parameter is in the file once (running statistics included), and nothing else.
      expect(end / 4).toBe(model.layout.tensors.reduce((n, t) => n + t.size, 0));
      for (const value of Object.values(metadata)) expect(typeof value).toBe('string');
      expect(JSON.parse(metadata.spec_json)).toEqual(model.spec);
      expect(metadata.format).toBe('pt');
    });

    it(`${what}: read back, it gives bit-identical probabilities`, async () => {
      const model = make();
      const back = importSafetensors(exportSafetensors(model));
      expect(back.spec).toEqual(model.spec);
      expect(Buffer.from(back.params.buffer).equals(Buffer.from(model.params.buffer))).toBe(true);
      const { images } = await testImages(200);
      expect(Buffer.from(back.predict(images).buffer).equals(Buffer.from(model.predict(images).buffer))).toBe(true);
    }, 30_000);
  }

  it('stores PyTorch layouts: a conv weight OIHW, the first dense layer after the convolutions with its columns in CHW order', () => {
    const model = modelWithEveryTensorSet(parseCnnSpec('c3k2-relu-fc4'), 5); // 28×28×1 → 27×27×3 → 4
    const bytes = exportSafetensors(model);
    const { header, dataStart } = readSafetensorsHeader(bytes, 'test');
    const tensor = (name: string) => new Float32Array(bytes.slice(dataStart + header[name].data_offsets[0], dataStart + header[name].data_offsets[1]).buffer);
    expect(header['0.weight'].shape).toEqual([3, 1, 2, 2]);
    expect(header['3.weight'].shape).toEqual([4, 27 * 27 * 3]); // 0 Conv2d, 1 ReLU, 2 Flatten, 3 Linear
    const [conv, dense] = model.layout.tensors.filter((t) => t.name.endsWith('.w'));
    // conv1.w (F, kh, kw, C): element (f=2, y=1, x=0, c=0) is OIHW (2, 0, 1, 0).
    expect(tensor('0.weight')[2 * 4 + 0 * 4 + 1 * 2 + 0]).toBe(model.params[conv.offset + 2 * 4 + 1 * 2 + 0]);
    // dense1.w (OUT, H·W·C in NHWC order): (o=3, y=5, x=7, c=2) is PyTorch's column c·H·W + y·W + x.
    const H = 27;
    expect(tensor('3.weight')[3 * H * H * 3 + 2 * H * H + 5 * H + 7]).toBe(model.params[dense.offset + 3 * H * H * 3 + (5 * H + 7) * 3 + 2]);
  });

  it('a file that is not one, or whose tensors do not fit its spec, is refused in one line naming it', () => {
    const bytes = exportSafetensors(modelWithEveryTensorSet(makeSpec([784, 8, 10], { kind: 'relu' }, 'cross-entropy'), 6));
    const refused = (b: Uint8Array) => {
      try {
        importSafetensors(b, 'w.safetensors');
      } catch (err) {
        expect(err).toBeInstanceOf(MnistDpError);
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(refused(bytes.subarray(0, 5))).toMatch(/^w\.safetensors: is not a safetensors file/);
    expect(refused(bytes.subarray(0, 100))).toMatch(/^w\.safetensors: is not a safetensors file/);
    expect(refused(bytes.subarray(0, bytes.length - 4))).toMatch(/^w\.safetensors: tensor 3\.bias has a wrong size/) // 0 Flatten, 1 Linear, 2 ReLU, 3 Linear;
  });
});
