import type { Kernels } from '../../kernels/kernels.js';
import type { Activation, LayerSpec } from '../spec.js';
import type { TensorInfo } from '../layout.js';
import type { OnnxGraph, TorchChain, TorchModule } from './portable.js';

/**
 * What every layer kind provides, in one record per file (src/model/layers/<kind>.ts): how its token of
 * the layer string is parsed and printed, how it compiles (its output shape, its parameter tensors with
 * their initialisation, the buffers it needs), and its forward and backward, side by side (llm.c's
 * layernorm_forward / layernorm_backward: outputs first, then inputs, weights and saved values).
 *
 * A compiled network is a chain of nodes (network.ts runs it forward, and backward in reverse); a
 * residual block's node holds chains of its own. Activations are not nodes: `relu` after a conv, dense,
 * bn or res layer attaches to that node (`act`), and the dense and conv GEMMs fuse a ReLU.
 *
 * Adding a layer kind: a file here exporting its record (with its ONNX and PyTorch forms, portable.ts),
 * one line in index.ts (LAYER_KINDS), its spec in spec.ts's LayerSpec union, its kernels in src/kernels
 * if it needs new ones, and its tests.
 */
export interface LayerKind<S extends LayerSpec = LayerSpec, N extends Node = Node> {
  /** The spec's `kind` field. */
  readonly kind: S['kind'];
  /** Its token in the help text of --model, with an example: `mp2 (max pool)`. */
  readonly help: string;
  /**
   * The spec a token (such as `c32k5s2`) stands for, or null when the token belongs to another kind;
   * `fail` throws the one-line badOption error for a token of this kind that is malformed.
   */
  parse(token: string, p: ParseContext): S | null;
  /** The canonical token (what parse reads back); `chain` prints the layers inside a block. */
  format(spec: S, chain: (layers: readonly LayerSpec[]) => string): string;
  /** The node: its shapes, parameters and buffers (null for a kind that attaches to the previous node). */
  compile(spec: S, c: Compiler): N | null;
  /** Buffers the node keeps from forward to backward, in words per name; rows and micro-shard rows given. */
  saved?(node: N, rows: number, micro: number): SavedSizes;
  /** Scratch shared by all nodes (the largest need of any node wins). */
  scratch?(node: N, micro: number): Partial<SharedScratch>;
  /** out (M, outSize) from x (M, inSize); in training `p.train` is set. */
  forward(p: Pass, node: N, out: Float32Array, x: Float32Array): void;
  /**
   * The parameter gradients of each micro-shard into its slot (written, not added), and, unless dx is
   * null, dx (M, inSize) = ∂loss/∂x from dout (M, outSize), which the node may overwrite. x and out are
   * the node's input and output of the forward pass.
   */
  backward(p: Pass, node: N, dx: Float32Array | null, dout: Float32Array, x: Float32Array, out: Float32Array): void;
  /** True when forward applies a ReLU itself (fused into its GEMM), so that the chain does not apply it again. */
  readonly fusesRelu?: boolean;
  /**
   * Its ONNX operators (portable.ts): emits them on `x`, the name of its input (images NCHW, as ONNX has
   * them), and returns the name of its output. A kind without it cannot be exported.
   */
  onnx?(node: N, g: OnnxGraph, x: string): string;
  /** The PyTorch modules it is in an equivalent nn.Sequential, with its tensors in their layouts; `chain` builds a block's insides. */
  torch?(node: N, chain: TorchChain): TorchModule[];
}

/**
 * Some layer kind, whichever: each record is typed by its own spec and node (its forward takes its own
 * node type), so a table of all of them, or a node's link to its record, can only say "some kind".
 */
export type AnyLayerKind = LayerKind<any, any>;

/** The data between layers, per sample: an image (h, w, c) in NHWC order, or a flat vector of c values (h = w = 1). */
export interface Dims {
  h: number;
  w: number;
  c: number;
  flat: boolean;
}

export const sizeOf = (d: Dims): number => d.h * d.w * d.c;

/** What all compiled nodes have. */
export interface NodeBase {
  /** The record that runs this node. */
  readonly layer: AnyLayerKind;
  /** This node's entry in NetBuffers.nodes (nodes of residual blocks included, in the order they compile). */
  index: number;
  input: Dims;
  output: Dims;
  /** Floats per sample in and out. */
  inSize: number;
  outSize: number;
  /** Applied to the output in place (fused into the GEMM for ReLU); null for none. */
  act: Activation | null;
}

export type Node = NodeBase;

/** How a parameter tensor starts: N(0, gain/fanIn) (the gain is the network's, see init.ts), or a constant. */
export type ParamInit =
  | { kind: 'normal'; fanIn: number; /** Stored (IN, OUT) but drawn in (OUT, IN) order. */ transposed?: { rows: number; cols: number } }
  | { kind: 'constant'; value: number };

/**
 * `im2col`: every convolution as im2col + GEMM; `winograd`: every 3×3 and 5×5 stride-1 one as Winograd
 * (F(4×4, 3×3), F(2×2, 3×3), F(2×2, 5×5)), forward and backward; `auto`: Winograd where a rule on the
 * layer's shape says it is faster (conv-winograd.ts, winogradWins and WinogradPlan.backward), so that the
 * choice, and so the bits a recipe trains, are the same on every machine.
 */
export type ConvAlgorithm = 'im2col' | 'winograd' | 'auto';
export const CONV_ALGORITHMS: readonly ConvAlgorithm[] = ['im2col', 'winograd', 'auto'];

/** What compile gets: the data flowing in, and the tools to declare parameters and name the node in errors. */
export interface Compiler {
  readonly input: Dims;
  /** How 3×3 and 5×5 stride-1 convolutions are computed (--conv): conv-winograd.ts's rule picks per layer. */
  readonly conv: ConvAlgorithm;
  /** The spec that follows this layer in its chain (undefined at the chain's end). */
  readonly after: LayerSpec | undefined;
  /** The node compiled just before in this chain (an activation attaches to it). */
  readonly previous: Node | undefined;
  /** Throws badOption naming this layer: `--model "…": layer 3 (conv): <why>`. */
  fail(why: string): never;
  /** The next number of a kind of tensor group, from 1: conv1, conv2, … */
  id(group: string): number;
  /** The next dropout ordinal, from 0 (each dropout layer draws its masks from its own stream). */
  dropoutOrdinal(): number;
  /** A parameter tensor, 16-byte aligned, in the order of declaration. */
  param(name: string, shape: number[], init: ParamInit, trainable?: boolean): TensorInfo;
  /** The base of a node: its index, shapes, no activation. */
  node(layer: AnyLayerKind, output: Dims): NodeBase;
  /** Compiles a chain of specs from `input` (a residual block's branch), named in errors under `where`. */
  chain(specs: readonly LayerSpec[], input: Dims, where: string): Node[];
}

export interface ParseContext {
  /** Throws the one-line badOption error about this token. */
  fail(why: string): never;
  /** Parses a chain of tokens (a residual block's inside). */
  chain(text: string): LayerSpec[];
}

/** Words each saved buffer of a node needs, by name; `int` ones are Int32Array. */
export interface SavedSizes {
  f32?: Record<string, number>;
  i32?: Record<string, number>;
}

/** Scratch every node shares, sized by the largest need. */
export interface SharedScratch {
  /** im2col columns of one convolution chunk. */
  cols: number;
  /** A convolution weight gradient of one chunk. */
  tmpW: number;
  /** Int32 scratch of the sparse kernels and batch norm. */
  sparse: number;
  /** A Winograd convolution's transformed filters, tiles and their gradients for one chunk (conv.ts, winogradScratch). */
  wino: number;
}

/** A node's buffers: its output and what its forward saves for its backward. */
export interface NodeBuffers {
  /** (M, outSize): the output after the activation (the last node's: the logits). */
  out: Float32Array;
  f32: Record<string, Float32Array>;
  i32: Record<string, Int32Array>;
}

/**
 * The buffers of a network for a number of rows, made once (allocateNetBuffers, buffers.ts).
 * Shapes: x (M, inputs); nodes[i].out (M, outSize_i); dz and spare (M, width) each: the gradient flowing
 * back and its spare.
 */
export interface NetBuffers {
  x: Float32Array;
  nodes: NodeBuffers[];
  cols: Float32Array;
  tmpW: Float32Array;
  dz: Float32Array;
  spare: Float32Array;
  sparse: Int32Array;
  wino: Float32Array;
}

/**
 * What a training pass needs beyond the buffers. Backward writes each micro-shard's parameter gradients
 * (not adds) to its own slot, a full parameter-layout array, so the sum over shards, taken later in a
 * fixed order, does not depend on which worker computed which rows. Batch norm computes its statistics
 * per micro-shard for the same reason, and writes them, times the shard's rows, into the slot's
 * running-statistics tensors: the reduction then yields the batch's mean statistics.
 */
export interface TrainPass {
  /** Rows per micro-shard. */
  micro: number;
  /** Index of the micro-shard that starts at local row 0. */
  firstShard: number;
  /** The slot of micro-shard s. */
  slot(s: number): Float32Array;
  /** Dropout masks are keyed by (seed, epoch, sample index of the row). */
  seed: number;
  epoch: number;
  samples: Int32Array;
}

/** One forward or backward pass over M rows: the kernels, the weights, the buffers, and in training the TrainPass. */
export interface Pass {
  k: Kernels;
  params: Float32Array;
  buf: NetBuffers;
  M: number;
  train: TrainPass | null;
}

/** The training pass of a backward (backward runs in training only). */
export function training(p: Pass): TrainPass {
  if (!p.train) throw new Error('backward needs a training pass');
  return p.train;
}

/** A view of a tensor of the parameter layout in a full-layout array (the weights, or a gradient slot). */
export const tensorOf = (a: Float32Array, t: TensorInfo): Float32Array => a.subarray(t.offset, t.offset + t.size);

/** `n` floats of `a` from `from`. */
export const view = (a: Float32Array, from: number, n: number): Float32Array => a.subarray(from, from + n);

/** The micro-shards of M rows in order: f(first row, rows, s), s counting from 0 (its slot is t.slot(t.firstShard + s)). */
export function eachShard(t: TrainPass, M: number, f: (r: number, rows: number, s: number) => void): void {
  for (let r = 0, s = 0; r < M; r += t.micro, s++) f(r, Math.min(t.micro, M - r), s);
}
