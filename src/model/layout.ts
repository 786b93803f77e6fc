import { badOption } from '../errors.js';
import { compileDense } from './layers/dense.js';
import { layerKind } from './layers/index.js';
import { sizeOf, type Compiler, type ConvAlgorithm, type Dims, type Node, type ParamInit } from './layers/layer.js';
import { specInputs, type CnnSpec, type LayerSpec, type MlpSpec, type ModelSpec } from './spec.js';

/**
 * A spec compiled into what training needs: the chain of nodes with their shapes (each run by its layer
 * kind's record, src/model/layers/), and the table of
 * parameter tensors. All parameters live in one flat Float32Array; the table names the views into it
 * (llm.c's fill_in_parameter_sizes). Gradients and optimiser state reuse the same layout, so zeroing,
 * reducing and updating are single loops over [0, size), and a worker can own any contiguous range.
 *
 * Images flow in NHWC order (channels fastest); a dense layer sees its input flattened in that order.
 */
export interface TensorInfo {
  name: string;
  shape: number[];
  /** In floats, from the start of the parameter array; a multiple of 4 (16 bytes) for SIMD kernels. */
  offset: number;
  size: number;
  /**
   * false for batch norm's running statistics: they live in the parameter array (so checkpoints,
   * workers and the weight average carry them for free) but the optimiser does not touch them; the step
   * moves them towards the batch's statistics instead (see Segment).
   */
  trainable: boolean;
}

/** A run of the parameter array that the optimiser updates (trainable) or that follows batch statistics. */
export interface Segment {
  begin: number;
  end: number;
  trainable: boolean;
}

export interface ParamLayout {
  tensors: TensorInfo[];
  /** [0, size) cut into runs of trainable and statistics tensors, padding included. */
  segments: Segment[];
  /** Total floats, padding included. */
  size: number;
}

export interface Net {
  spec: ModelSpec;
  /** The chain forward runs (a residual block's node holds its own chains). */
  nodes: Node[];
  /** Every node, residual blocks' insides included, by index (Node.index: its entry in NetBuffers.nodes). */
  all: Node[];
  layout: ParamLayout;
  /** How each tensor of the layout starts (init.ts), in the order of layout.tensors. */
  inits: ParamInit[];
  /** Floats per input sample, and classes. */
  inputs: number;
  classes: number;
  /** The largest per-sample size of any node's input or output: the width of the gradient buffers. */
  width: number;
}

const ALIGN = 4;
const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;
/** Hands out 16-byte aligned offsets in order, then cuts [0, size) into segments. */
class LayoutBuilder {
  tensors: TensorInfo[] = [];
  offset = 0;
  add(name: string, shape: number[], trainable = true): TensorInfo {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = { name, shape, offset: this.offset, size, trainable };
    this.offset = roundUp(this.offset + size, ALIGN);
    this.tensors.push(t);
    return t;
  }
  finish(): ParamLayout {
    const segments: Segment[] = [];
    for (const t of this.tensors) {
      const last = segments[segments.length - 1];
      if (last && last.trainable === t.trainable) last.end = roundUp(t.offset + t.size, ALIGN);
      else {
        if (last) last.end = t.offset;
        segments.push({ begin: last ? t.offset : 0, end: roundUp(t.offset + t.size, ALIGN), trainable: t.trainable });
      }
    }
    return { tensors: this.tensors, segments, size: this.offset };
  }
}

/**
 * Compiles chains of layer specs into nodes: the Compiler each layer kind's compile gets, the layout of
 * the parameters in declaration order, and the list of every node.
 */
class NetCompiler {
  readonly params = new LayoutBuilder();
  readonly inits: ParamInit[] = [];
  readonly all: Node[] = [];
  private readonly counts: Record<string, number> = {};
  private dropouts = 0;

  constructor(private readonly conv: ConvAlgorithm) {}

  /** The Compiler for one layer whose data comes in as `input`. */
  context(input: Dims, after: LayerSpec | undefined, previous: Node | undefined, where: string): Compiler {
    return {
      conv: this.conv,
      input,
      after,
      previous,
      fail: (why) => {
        throw badOption(`${where}: ${why}`);
      },
      id: (group) => (this.counts[group] = (this.counts[group] ?? 0) + 1),
      dropoutOrdinal: () => this.dropouts++,
      param: (name, shape, init, trainable = true) => {
        this.inits.push(init);
        return this.params.add(name, shape, trainable);
      },
      node: (layer, output) => ({ layer, index: -1, input, output, inSize: sizeOf(input), outSize: sizeOf(output), act: null }),
      chain: (specs, from, inner) => this.chain(specs, from, `${where}, ${inner}, `),
    };
  }

  /** Gives a compiled node its index. */
  register<N extends Node>(node: N): N {
    node.index = this.all.length;
    this.all.push(node);
    return node;
  }

  chain(specs: readonly LayerSpec[], input: Dims, where: string): Node[] {
    const nodes: Node[] = [];
    let dims = input;
    specs.forEach((spec, i) => {
      const c = this.context(dims, specs[i + 1], nodes[nodes.length - 1], `${where}layer ${i + 1} (${describe(spec)})`);
      const node = layerKind(spec).compile(spec, c);
      if (node) {
        nodes.push(this.register(node));
        dims = node.output;
      }
    });
    return nodes;
  }

  finish(spec: ModelSpec, nodes: Node[]): Net {
    const inputs = specInputs(spec);
    const width = Math.max(inputs, ...this.all.map((n) => n.outSize));
    return { spec, nodes, all: this.all, layout: this.params.finish(), inits: this.inits, inputs, classes: nodes[nodes.length - 1].outSize, width };
  }
}

/** The MLP's dense layers, the first stored input-major (see DenseNode). */
function compileMlp(spec: MlpSpec): Net {
  const n = new NetCompiler('im2col');
  const nodes: Node[] = [];
  for (let l = 1; l < spec.layers.length; l++) {
    const c = n.context({ h: 1, w: 1, c: spec.layers[l - 1], flat: true }, undefined, nodes[l - 2], `--layers: layer ${l}`);
    const node = n.register(compileDense(c, spec.layers[l], l === 1));
    node.act = l < spec.layers.length - 1 ? spec.activation : null;
    nodes.push(node);
  }
  return n.finish(spec, nodes);
}

function compileCnn(spec: CnnSpec, conv: ConvAlgorithm): Net {
  const n = new NetCompiler(conv);
  const { height: h, width: w, channels: c } = spec.input;
  return n.finish(spec, n.chain(spec.layers, { h, w, c, flat: false }, '--model: '));
}

function describe(l: LayerSpec): string {
  return l.kind === 'activation' ? l.activation.kind : l.kind === 'residual' ? 'res' : l.kind;
}

/**
 * Compiles a spec; throws a BAD_OPTION error naming the layer when shapes do not fit. `conv` picks how
 * convolutions run (--conv; a checkpoint records the training's, and one without it trained im2col). It
 * changes no parameter or shape, only the kernels and the scratch.
 */
export function compileNet(spec: ModelSpec, conv: ConvAlgorithm = 'im2col'): Net {
  return spec.kind === 'mlp' ? compileMlp(spec) : compileCnn(spec, conv);
}

export function paramLayout(spec: ModelSpec): ParamLayout {
  return compileNet(spec).layout;
}

/** Number of real (non-padding) parameters, running statistics included. */
export function parameterCount(layout: ParamLayout): number {
  return layout.tensors.reduce((n, t) => n + t.size, 0);
}
