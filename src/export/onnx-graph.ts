import onnxProto from 'onnx-proto';
import { badCheckpoint } from '../errors.js';
import { activation } from '../model/layers/activation.js';
import type { Node } from '../model/layers/layer.js';
import { portableValues, type OnnxAttribute, type OnnxGraph, type PortableTensor } from '../model/layers/portable.js';

const { onnx } = onnxProto;

/**
 * Builds an ONNX graph: the operators the layers emit (OnnxGraph, src/model/layers/portable.ts), their
 * initialisers and constants, and fresh value names. Names are C identifiers (as ONNX's IR asks): an
 * operator's output is `<prefix><Op>_<n>`, a parameter tensor `<prefix><tensor name, . as _>`. Several
 * models (an ensemble's members) build into one graph, each through its own `member(params, prefix)`.
 */
export class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly taken = new Set<string>();
  private count = 0;

  /** A fresh value name from `base`. */
  fresh(base: string): string {
    const clean = /^[A-Za-z_]/.test(base) ? base.replace(/[^A-Za-z0-9_]/g, '_') : `_${base.replace(/[^A-Za-z0-9_]/g, '_')}`;
    let name = clean;
    for (let n = 1; this.taken.has(name); n++) name = `${clean}_${n}`;
    this.taken.add(name);
    return name;
  }

  /** The graph of one model whose parameters are `params`, its names prefixed by `prefix`. */
  member(params: Float32Array, prefix: string, describe: string): OnnxGraph & { rename(value: string, name: string): void } {
    const op = (opType: string, inputs: readonly string[], attributes: Record<string, OnnxAttribute> = {}): string => {
      const output = this.fresh(`${prefix}${opType}_${this.count++}`);
      this.nodes.push({ name: output, opType, input: [...inputs], output: [output], attribute: Object.entries(attributes).map(([name, v]) => attribute(name, v)) });
      return output;
    };
    const g = {
      op,
      weight: (t: PortableTensor) => this.tensor(`${prefix}${t.tensor.name}`, t.shape, portableValues(params, t)),
      constant: (values: readonly number[], dims: readonly number[], type: 'float' | 'int64' = 'float') =>
        this.tensor(`${prefix}const`, dims, type === 'float' ? Float32Array.from(values) : BigInt64Array.from(values, (v) => BigInt(v))),
      chain: (nodes: readonly Node[], x: string): string => {
        let y = x;
        for (const node of nodes) {
          if (!node.layer.onnx) throw badCheckpoint(describe, `its layer ${node.index + 1} (${node.layer.kind}) has no ONNX form; this mnist-dp cannot export it`);
          y = node.layer.onnx(node, g, y);
          y = activation.onnx!(node, g, y);
        }
        return y;
      },
      /** Renames a value an operator of this graph made (the graph's output). */
      rename: (value: string, name: string) => {
        const node = this.nodes.find((n) => n.output?.[0] === value);
        if (!node) throw new Error(`no operator makes ${value}`);
        this.taken.add(name);
        node.output = [name];
        node.name = name;
      },
    };
    return g;
  }

  /** An initialiser (its little-endian bytes as raw data); returns its name. */
  private tensor(base: string, dims: readonly number[], values: Float32Array | BigInt64Array): string {
    const name = this.fresh(base);
    const dataType = values instanceof Float32Array ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64;
    this.initializers.push({ name, dataType, dims: [...dims], rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
    return name;
  }
}

function attribute(name: string, v: OnnxAttribute): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.INTS, ints: [...v] };
}

/** A float32 value of this shape (a string is a named, dynamic dimension). */
export function floatValue(name: string, dims: readonly (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

/** The ONNX opset the graphs use (Softmax's meaning changed at 13; ReduceSum takes its axes as an input from 13). */
export const ONNX_OPSET = 13;
/** IR version 8 (ONNX 1.10), which opset 13 needs at least 7 of. */
const IR_VERSION = 8;

/** The model's bytes: the graph, opset and IR version, the producer, a doc string and metadata properties. */
export function encodeModel(
  b: GraphBuilder,
  graph: { name: string; input: onnxProto.onnx.IValueInfoProto; output: onnxProto.onnx.IValueInfoProto; docString: string },
  producerVersion: string,
  metadata: Record<string, string>,
): Uint8Array {
  const model: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'mnist-dp',
    producerVersion,
    docString: graph.docString,
    graph: { name: graph.name, node: b.nodes, initializer: b.initializers, input: [graph.input], output: [graph.output], docString: graph.docString },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
  const problem = onnx.ModelProto.verify(model);
  if (problem) throw new Error(`ONNX model: ${problem}`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
