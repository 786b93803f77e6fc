import type { TensorInfo } from '../layout.js';
import type { Node } from './layer.js';

/**
 * What a layer kind says about itself for other runtimes (src/export/ writes the files): its ONNX
 * operators, and the PyTorch modules it is in an equivalent `nn.Sequential`. Both read its parameter
 * tensors in PyTorch's layouts, which are also ONNX's (conv OIHW, linear [out, in]); a PortableTensor
 * says how to get there from mnist-dp's layout (OHWI convolutions, an input-major first layer, the NHWC
 * flatten before a dense layer) by reordering axes, so the same description reads them back.
 */

/** A parameter tensor in the layout PyTorch and ONNX use: `tensor` read as `view`, its axes reordered by `perm`, then shaped `shape`. */
export interface PortableTensor {
  tensor: TensorInfo;
  view: readonly number[];
  perm: readonly number[];
  shape: readonly number[];
}

/** A tensor whose layout is already PyTorch's. */
export const asIs = (t: TensorInfo): PortableTensor => ({ tensor: t, view: t.shape, perm: t.shape.map((_, i) => i), shape: t.shape });

/** A tensor read as `view` with its axes reordered by `perm` (output axis i is view axis perm[i]), then shaped `shape`. */
export function permuted(t: TensorInfo, view: readonly number[], perm: readonly number[], shape = perm.map((i) => view[i])): PortableTensor {
  return { tensor: t, view, perm, shape };
}

/**
 * Visits the elements of a portable tensor: f(i, j) for element i of the tensor in mnist-dp's layout and
 * its position j in the portable layout. Copying one way exports, the other way imports.
 */
export function eachElement(p: PortableTensor, f: (from: number, to: number) => void): void {
  const { view, perm } = p;
  const n = view.length;
  const strides = new Array<number>(n);
  for (let a = n - 1, s = 1; a >= 0; a--) {
    strides[a] = s;
    s *= view[a];
  }
  // Walk the output in order; `index` is the position in the output's axes (each from view[perm[i]]).
  const outDims = perm.map((a) => view[a]);
  const index = new Array<number>(n).fill(0);
  const size = p.tensor.size;
  for (let j = 0; j < size; j++) {
    let i = 0;
    for (let a = 0; a < n; a++) i += index[a] * strides[perm[a]];
    f(i, j);
    for (let a = n - 1; a >= 0; a--) {
      if (++index[a] < outDims[a]) break;
      index[a] = 0;
    }
  }
}

/** The tensor's values in the portable layout, from a full parameter array. */
export function portableValues(params: Float32Array, p: PortableTensor): Float32Array {
  const out = new Float32Array(p.tensor.size);
  const src = params.subarray(p.tensor.offset, p.tensor.offset + p.tensor.size);
  eachElement(p, (i, j) => (out[j] = src[i]));
  return out;
}

/** Writes values in the portable layout back into a full parameter array (the inverse of portableValues). */
export function setFromPortable(params: Float32Array, p: PortableTensor, values: Float32Array): void {
  const dst = params.subarray(p.tensor.offset, p.tensor.offset + p.tensor.size);
  eachElement(p, (i, j) => (dst[i] = values[j]));
}

/** An ONNX attribute: an int, a list of ints, or a float (`{ float: 1e-5 }`). */
export type OnnxAttribute = number | readonly number[] | { float: number };

/** The ONNX graph a layer emits its operators into (built by src/export/onnx-graph.ts). Values are named by strings. */
export interface OnnxGraph {
  /** Emits one operator on `inputs`; returns the name of its output. */
  op(opType: string, inputs: readonly string[], attributes?: Record<string, OnnxAttribute>): string;
  /** A parameter tensor of the model, in its portable layout, as an initialiser; returns its name. */
  weight(t: PortableTensor): string;
  /** A constant tensor (float32, or int64 for shapes and axes); returns its name. */
  constant(values: readonly number[], dims: readonly number[], type?: 'float' | 'int64'): string;
  /** Emits a chain of nodes on `x` (each node's operators, then its activation); returns its output. */
  chain(nodes: readonly Node[], x: string): string;
}

/** A PyTorch module of the equivalent network (the README's loader builds it from this, in the safetensors' metadata). */
export interface TorchModule {
  /** A torch.nn class (Conv2d, Linear, BatchNorm2d, ReLU, …), or the README's own Residual, Scale and Normalize. */
  type: string;
  /** Its constructor's keyword arguments. */
  args?: Record<string, number | boolean>;
  /** Its parameters and buffers, by their state_dict names (weight, bias, running_mean, running_var). */
  tensors?: Record<string, PortableTensor>;
  /** A Residual's two chains (an empty shortcut is the identity). */
  branch?: TorchModule[];
  shortcut?: TorchModule[];
}

/** Builds the modules of a chain of nodes (a residual block asks for its branch and shortcut). */
export type TorchChain = (nodes: readonly Node[]) => TorchModule[];
