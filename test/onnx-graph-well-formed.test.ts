import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { MnistDpError } from '../src/errors.js';
import { exportOnnx } from '../src/export/onnx.js';
import { Model } from '../src/model/model.js';
import { makeSpec, parseCnnSpec } from '../src/model/spec.js';
import { modelWithEveryTensorSet } from './helpers/export-models.js';
import { describeOnnx } from './helpers/onnxruntime.js';

/**
 * An exported graph keeps the ONNX checker's rules: names that are C identifiers, each value made once
 * before it is read, every initialiser used, typed input and output with a dynamic batch dimension, one
 * pinned opset; and it says what it is in its metadata. Models that cannot be exported are refused in one line.
 */

const { onnx } = onnxProto;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkGraph(bytes: Uint8Array) {
  const model = onnx.ModelProto.decode(bytes);
  // Decoded messages type every field as optional; a well-formed graph has them all (a missing one fails here).
  type Present<T> = { [K in keyof T]-?: NonNullable<T[K]> };
  const graph = model.graph as Present<onnxProto.onnx.IGraphProto> & { node: Present<onnxProto.onnx.INodeProto>[]; initializer: Present<onnxProto.onnx.ITensorProto>[] };
  expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
  expect(Number(model.irVersion)).toBe(8);
  const defined = new Set<string>([...graph.input.map((v) => v.name!), ...graph.initializer.map((t) => t.name!)]);
  expect(defined.size).toBe(graph.input.length + graph.initializer.length);
  const read = new Set<string>();
  const nodeNames = new Set<string>();
  for (const node of graph.node) {
    for (const input of node.input) {
      expect(defined.has(input), `${node.opType} ${node.name} reads ${input} before it is made`).toBe(true);
      read.add(input);
    }
    for (const output of node.output) {
      expect(defined.has(output), `${output} is made twice`).toBe(false);
      expect(output).toMatch(IDENTIFIER);
      defined.add(output);
    }
    expect(nodeNames.has(node.name!)).toBe(false);
    nodeNames.add(node.name!);
  }
  for (const t of graph.initializer) {
    expect(t.name).toMatch(IDENTIFIER);
    expect(read.has(t.name!), `initialiser ${t.name} is not used`).toBe(true);
    const count = t.dims.reduce((a: number, d) => a * Number(d), 1);
    expect(t.rawData.length).toBe(count * (t.dataType === onnx.TensorProto.DataType.INT64 ? 8 : 4));
  }
  expect(graph.output.map((o) => o.name)).toEqual(['probabilities']);
  expect(defined.has('probabilities')).toBe(true);
  const dims = (v: onnxProto.onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
  return { model, inputDims: dims(graph.input[0]), outputDims: dims(graph.output[0]), ops: new Set(graph.node.map((n) => n.opType)) };
}

describe('exported ONNX graphs', () => {
  it('of a CNN with every layer kind: well formed, float32 [N, 1, 28, 28] in, [N, 10] out', async () => {
    const model = modelWithEveryTensorSet(parseCnnSpec('c8k3p1-bn-relu-res(c8k3p1-bn-relu-c8k3p1-bn)-relu-res(c16k3s2p1-bn-relu-c16k3p1-bn)-relu-mp2-ap2-do0.2-c16k3p1-relu-gap-fc16-bn-relu-fc10'), 1);
    const { inputDims, outputDims, ops } = checkGraph(exportOnnx(model));
    expect(inputDims).toEqual(['N', 1, 28, 28]);
    expect(outputDims).toEqual(['N', 10]);
    expect([...ops].sort()).toEqual(['Add', 'AveragePool', 'BatchNormalization', 'Conv', 'Flatten', 'Gemm', 'GlobalAveragePool', 'MaxPool', 'Relu', 'Softmax']);
    expect(await describeOnnx(exportOnnx(model))).toEqual({ inputs: ['x'], outputs: ['probabilities'] });
  });

  it('of an MLP, an ensemble with TTA and squared-error outputs: well formed, with what they are in their metadata', () => {
    const sigmoid = modelWithEveryTensorSet(makeSpec([784, 30, 10], { kind: 'sigmoid', slope: 2 }, 'squared-error'), 2);
    const relu = modelWithEveryTensorSet(makeSpec([784, 20, 10], { kind: 'relu' }, 'cross-entropy'), 3);
    const single = checkGraph(exportOnnx(sigmoid));
    expect([...single.ops].sort()).toEqual(['Div', 'Equal', 'Flatten', 'Gemm', 'Mul', 'ReduceSum', 'Relu', 'Sigmoid', 'Where']);
    const meta = Object.fromEntries(single.model.metadataProps.map((p) => [p.key, p.value]));
    expect(meta.spec).toBe('mlp 784-30-10 sigmoid:2 → sigmoid:2, squared-error');
    expect(JSON.parse(meta.spec_json)).toEqual(sigmoid.spec);
    expect(Object.keys(meta)).toEqual(expect.arrayContaining(['mnist_dp_version', 'recipe', 'data_set', 'test_accuracy']));
    expect(single.model.docString).toMatch(/float32 \[N, 1, 28, 28\], pixel intensities scaled to 0-1/);

    const ensemble = checkGraph(exportOnnx([sigmoid, relu], { tta: true }));
    for (const op of ['Pad', 'Slice', 'Concat', 'Reshape', 'ReduceMean', 'Mean', 'Softmax']) expect(ensemble.ops.has(op), op).toBe(true);
    const keys = ensemble.model.metadataProps.map((p) => p.key);
    expect(keys).toEqual(expect.arrayContaining(['members', 'tta', 'member1.spec', 'member2.spec']));
  });

  it('are not made of models that cannot be exported: one clear error', () => {
    const mlp = modelWithEveryTensorSet(makeSpec([784, 20, 10], { kind: 'relu' }, 'cross-entropy'), 4);
    const other = modelWithEveryTensorSet(makeSpec([784, 20, 5], { kind: 'relu' }, 'cross-entropy'), 5);
    expect(() => exportOnnx([mlp, other])).toThrow(/member 2 has 5 classes, but member 1 has 10/);
    const notSquare = modelWithEveryTensorSet(makeSpec([780, 20, 10], { kind: 'relu' }, 'cross-entropy'), 6);
    expect(checkGraph(exportOnnx(notSquare)).inputDims).toEqual(['N', 780]);
    expect(() => exportOnnx(notSquare, { tta: true })).toThrow(/ONNX export with TTA needs square images/);
    // A layer kind without an ONNX form (as a new kind would be until it has one).
    const cnn = modelWithEveryTensorSet(parseCnnSpec('c4k3-relu-fc10'), 7);
    const node = cnn.net.nodes[0] as { layer: unknown };
    node.layer = { ...(node.layer as object), onnx: undefined };
    const refused = (() => {
      try {
        exportOnnx(cnn);
      } catch (err) {
        return err;
      }
    })() as MnistDpError;
    expect(refused).toBeInstanceOf(MnistDpError);
    expect(refused.exitCode).toBe(1);
    expect(refused.message).toBe('the model: its layer 1 (conv) has no ONNX form; this mnist-dp cannot export it');
    expect(new Model(cnn.spec, cnn.params).predict(new Float32Array(784)).length).toBe(10);
  });
});
