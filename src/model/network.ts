import { batchNormScratchWords, sparseScratchWords, type Kernels } from '../kernels/kernels.js';
import { hash4, sampleKey, Stream } from '../rng.js';
import type { ConvLayer, DenseLayer, Net, NormLayer } from './layout.js';

/**
 * The network as a script (llm.c's gpt2_forward / gpt2_backward): forward is the list of layers,
 * backward the same list reversed. Buffers are passed in explicitly and sized once by the caller
 * (bufferSizes); nothing is allocated here.
 *
 * Shapes: x (M, inputs); outs[l] (M, outSize_l), the output of layer l after its activation, except the
 * last, which holds pre-activations (logits) for the loss kernel to turn into outputs.
 */
export interface NetBuffers {
  x: Float32Array;
  outs: Float32Array[];
  /** Per layer: batch norm's x̂ and dropout's mask (M, size); max pooling's argmax lives in auxInt. */
  aux: Float32Array[];
  auxInt: Int32Array[];
  /** Per layer: batch norm's per-micro-shard [mean, var, invstd] (3C each), or its folded scale and shift (2C) at inference. */
  stats: Float32Array[];
  /** im2col scratch, and a convolution weight gradient of one chunk. */
  cols: Float32Array;
  tmpW: Float32Array;
  /** (M, width) each: the gradient flowing back, and its spare. */
  dz: Float32Array;
  spare: Float32Array;
  /** Scratch of the sparse kernels (the MLP's first layer, and convolution gradients) and of batch norm's per-channel sums. */
  sparse: Int32Array;
}

/** Words (4 bytes) each buffer needs for `rows` rows in micro-shards of `micro` rows. */
export interface BufferSizes {
  x: number;
  outs: number[];
  aux: number[];
  stats: number[];
  cols: number;
  tmpW: number;
  dz: number;
  sparse: number;
}

export function bufferSizes(net: Net, rows: number, micro: number): BufferSizes {
  const shards = Math.ceil(rows / Math.max(1, micro));
  return {
    x: rows * net.inputs,
    outs: net.layers.map((l) => rows * l.outSize),
    aux: net.layers.map((l) => (l.kind === 'batchnorm' || l.kind === 'dropout' || l.kind === 'maxpool' ? rows * l.outSize : 0)),
    stats: net.layers.map((l) => (l.kind === 'batchnorm' ? Math.max(shards * 3, 2) * l.channels : 0)),
    cols: net.colFloats,
    tmpW: net.convWeightFloats,
    dz: rows * net.width,
    sparse: Math.max(
      net.layers[0].kind === 'dense' && net.layers[0].inputMajor ? sparseScratchWords(net.inputs, micro) : 0,
      ...net.layers.map((l) => (l.kind === 'conv' ? sparseScratchWords(l.filters, l.chunk * l.g.OH * l.g.OW) : 0)),
      ...net.layers.map((l) => (l.kind === 'batchnorm' ? batchNormScratchWords(l.channels) : 0)),
    ),
  };
}

/** Plain (non-shared) buffers, for inference on the calling thread and for tests. */
export function localBuffers(net: Net, rows: number, micro = rows): NetBuffers {
  const s = bufferSizes(net, rows, micro);
  const aux = s.aux.map((n) => new Float32Array(n));
  return {
    x: new Float32Array(s.x),
    outs: s.outs.map((n) => new Float32Array(n)),
    aux,
    auxInt: aux.map((a) => new Int32Array(a.buffer, a.byteOffset, a.length)),
    stats: s.stats.map((n) => new Float32Array(n)),
    cols: new Float32Array(s.cols),
    tmpW: new Float32Array(s.tmpW),
    dz: new Float32Array(s.dz),
    spare: new Float32Array(s.dz),
    sparse: new Int32Array(s.sparse),
  };
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

/** Batch norm's ε, as PyTorch's. */
export const BN_EPS = 1e-5;

const view = (a: Float32Array, from: number, n: number) => a.subarray(from, from + n);

/**
 * Forward over M rows of buf.x; returns the logits (M, classes). With `train` null this is inference:
 * batch norm uses its running statistics and dropout passes everything through.
 */
export function forward(k: Kernels, net: Net, params: Float32Array, buf: NetBuffers, M: number, train: TrainPass | null): Float32Array {
  let input = buf.x;
  net.layers.forEach((layer, l) => {
    const out = buf.outs[l];
    const n = M * layer.outSize;
    const relu = layer.act?.kind === 'relu';
    switch (layer.kind) {
      case 'dense': {
        const W = view(params, layer.w.offset, layer.w.size); // (OUT, IN), or Wᵀ (IN, OUT) when inputMajor
        const b = view(params, layer.b.offset, layer.b.size); // (OUT)
        if (layer.inputMajor) {
          if (l !== 0) throw new Error(`forward: only the first layer may be input-major (layer ${l} is)`);
          k.sparseForward(out, input, W, b, M, layer.outSize, layer.inSize, relu, buf.sparse);
        } else if (relu) k.gemmABtRelu(out, input, W, b, M, layer.outSize, layer.inSize);
        else k.gemmABt(out, input, W, b, M, layer.outSize, layer.inSize);
        break;
      }
      case 'conv':
        convForward(k, layer, params, input, out, buf.cols, M, relu);
        break;
      case 'maxpool':
        k.maxPoolForward(out, buf.auxInt[l], input, M, layer.input.h, layer.input.w, layer.input.c, layer.size);
        break;
      case 'batchnorm':
        if (train) normForwardTrain(k, layer, params, input, out, buf.aux[l], buf.stats[l], buf.sparse, M, train);
        else normForwardInference(k, layer, params, input, out, buf.stats[l], M);
        break;
      case 'dropout':
        if (train) {
          dropoutMask(buf.aux[l], layer.outSize, layer.rate, layer.ordinal, M, train);
          k.multiply(out, input, buf.aux[l], n);
        } else out.set(input.subarray(0, n));
        break;
    }
    const fused = relu && (layer.kind === 'dense' || layer.kind === 'conv'); // the GEMM applied the ReLU
    if (layer.act && !fused) k.activationForward(out, n, layer.act);
    input = out;
  });
  return buf.outs[net.layers.length - 1];
}

/** out (M·OH·OW, F) = im2col(x) · Wᵀ + b, chunk by chunk. */
function convForward(k: Kernels, c: ConvLayer, params: Float32Array, x: Float32Array, out: Float32Array, cols: Float32Array, M: number, relu: boolean): void {
  const { g } = c;
  const W = view(params, c.w.offset, c.w.size); // (F, k·k·C)
  const b = view(params, c.b.offset, c.b.size); // (F)
  const kkC = g.k * g.k * g.C;
  const pixels = g.OH * g.OW;
  for (let n0 = 0; n0 < M; n0 += c.chunk) {
    const rows = Math.min(c.chunk, M - n0);
    k.im2col(cols, x.subarray(n0 * c.inSize), rows, g);
    const y = out.subarray(n0 * c.outSize);
    if (relu) k.gemmABtRelu(y, cols, W, b, rows * pixels, c.filters, kkC);
    else k.gemmABt(y, cols, W, b, rows * pixels, c.filters, kkC);
  }
}

/** Batch norm in training: statistics per micro-shard, recorded in the shard's slot for the running averages. */
function normForwardTrain(k: Kernels, bn: NormLayer, params: Float32Array, x: Float32Array, y: Float32Array, xhat: Float32Array, stats: Float32Array,
  scratch: Int32Array, M: number, t: TrainPass): void {
  const C = bn.channels;
  const pixels = bn.inSize / C;
  const gamma = view(params, bn.gamma.offset, C);
  const beta = view(params, bn.beta.offset, C);
  for (let r = 0, s = 0; r < M; r += t.micro, s++) {
    const rows = Math.min(t.micro, M - r);
    const R = rows * pixels;
    const st = view(stats, s * 3 * C, 3 * C);
    const at = r * bn.inSize;
    k.batchNormForward(view(y, at, R * C), view(xhat, at, R * C), st, view(x, at, R * C), gamma, beta, R, C, BN_EPS, scratch);
    const slot = t.slot(t.firstShard + s);
    const unbias = R > 1 ? R / (R - 1) : 1; // the running variance estimates the population's, as PyTorch's
    for (let c = 0; c < C; c++) {
      slot[bn.mean.offset + c] = rows * st[c];
      slot[bn.variance.offset + c] = rows * st[C + c] * unbias;
    }
  }
}

/** Batch norm at inference: y = γ(x − mean)/√(var + ε) + β, folded into one scale and shift per channel. */
function normForwardInference(k: Kernels, bn: NormLayer, params: Float32Array, x: Float32Array, y: Float32Array, stats: Float32Array, M: number): void {
  const C = bn.channels;
  const scale = view(stats, 0, C);
  const shift = view(stats, C, C);
  for (let c = 0; c < C; c++) {
    const s = params[bn.gamma.offset + c] / Math.sqrt(params[bn.variance.offset + c] + BN_EPS);
    scale[c] = s;
    shift[c] = params[bn.beta.offset + c] - params[bn.mean.offset + c] * s;
  }
  k.scaleShift(y, x, scale, shift, (M * bn.inSize) / C, C);
}

/** mask (M, size): 0 with probability `rate`, else 1/(1 − rate); element i of a row from hash(seed, stream, (epoch, sample), i). */
function dropoutMask(mask: Float32Array, size: number, rate: number, ordinal: number, M: number, t: TrainPass): void {
  const keep = 1 / (1 - rate);
  const threshold = rate * 4294967296;
  const stream = Stream.dropout + 256 * ordinal;
  for (let r = 0; r < M; r++) {
    const key = sampleKey(t.epoch, t.samples[r]);
    const row = r * size;
    for (let i = 0; i < size; i++) mask[row + i] = hash4(t.seed, stream, key, i) < threshold ? 0 : keep;
  }
}

/**
 * Backpropagation over M rows whose forward pass (in training mode, with the same `train`) is in buf and
 * whose loss gradient ∂loss/∂logits is in buf.dz (M, classes). buf.dz and buf.spare are overwritten.
 */
export function backward(k: Kernels, net: Net, params: Float32Array, buf: NetBuffers, M: number, train: TrainPass): void {
  let dZ = buf.dz;
  let dA = buf.spare;
  for (let l = net.layers.length - 1; l >= 0; l--) {
    const layer = net.layers[l];
    const input = l > 0 ? buf.outs[l - 1] : buf.x; // (M, inSize)
    if (layer.act) k.activationBackward(dZ, buf.outs[l], M * layer.outSize, layer.act);
    const needInputGrad = l > 0;
    switch (layer.kind) {
      case 'dense':
        denseBackward(k, layer, params, input, dZ, dA, buf.sparse, M, train, needInputGrad);
        break;
      case 'conv':
        convBackward(k, layer, params, input, dZ, dA, buf, M, train, needInputGrad);
        break;
      case 'maxpool':
        if (needInputGrad) k.maxPoolBackward(dA, dZ, buf.auxInt[l], M * layer.outSize, M * layer.inSize);
        break;
      case 'batchnorm': {
        const C = layer.channels;
        const pixels = layer.inSize / C;
        const gamma = view(params, layer.gamma.offset, C);
        for (let r = 0, s = 0; r < M; r += train.micro, s++) {
          const R = Math.min(train.micro, M - r) * pixels;
          const at = r * layer.inSize;
          const slot = train.slot(train.firstShard + s);
          k.batchNormBackward(view(dA, at, R * C), view(slot, layer.gamma.offset, C), view(slot, layer.beta.offset, C), view(dZ, at, R * C),
            view(buf.aux[l], at, R * C), gamma, view(buf.stats[l], s * 3 * C + 2 * C, C), R, C, buf.sparse);
        }
        break;
      }
      case 'dropout':
        if (needInputGrad) k.multiply(dA, dZ, buf.aux[l], M * layer.outSize);
        break;
    }
    if (!needInputGrad) break;
    [dZ, dA] = [dA, dZ];
  }
}

function denseBackward(k: Kernels, d: DenseLayer, params: Float32Array, input: Float32Array, dZ: Float32Array, dA: Float32Array, sparse: Int32Array,
  M: number, t: TrainPass, needInputGrad: boolean): void {
  for (let r = 0, s = t.firstShard; r < M; r += t.micro, s++) {
    const rows = Math.min(t.micro, M - r);
    const slot = t.slot(s);
    const dZs = dZ.subarray(r * d.outSize, (r + rows) * d.outSize);
    const dW = view(slot, d.w.offset, d.w.size);
    if (d.inputMajor) k.sparseWeightGrad(dW, input.subarray(r * d.inSize), dZs, rows, d.inSize, d.outSize, sparse); // dWᵀ = Xᵀ · dZ
    else k.gemmAtB(dW, dZs, input.subarray(r * d.inSize), d.outSize, d.inSize, rows); // dW = dZᵀ · X
    k.colSum(view(slot, d.b.offset, d.b.size), dZs, rows, d.outSize);
  }
  if (!needInputGrad) return;
  if (d.inputMajor) throw new Error('backward: only the first layer may be input-major');
  k.gemmAB(dA, dZ, view(params, d.w.offset, d.w.size), M, d.inSize, d.outSize); // dX (M, IN) = dZ (M, OUT) · W (OUT, IN)
}

/**
 * Per micro-shard, chunk by chunk: dW += dOutᵀ · im2col(x) (the first chunk written, later ones added in
 * order, so the sum is fixed by the shard alone), db = Σ dOut; and dX = col2im(dOut · W).
 */
function convBackward(k: Kernels, c: ConvLayer, params: Float32Array, x: Float32Array, dZ: Float32Array, dA: Float32Array, buf: NetBuffers, M: number,
  t: TrainPass, needInputGrad: boolean): void {
  const { g } = c;
  const kkC = g.k * g.k * g.C;
  const pixels = g.OH * g.OW;
  const W = view(params, c.w.offset, c.w.size);
  for (let r = 0, s = t.firstShard; r < M; r += t.micro, s++) {
    const rows = Math.min(t.micro, M - r);
    const slot = t.slot(s);
    const dW = view(slot, c.w.offset, c.w.size);
    for (let n0 = r; n0 < r + rows; n0 += c.chunk) {
      const n = Math.min(c.chunk, r + rows - n0);
      const dOut = dZ.subarray(n0 * c.outSize); // (n·OH·OW, F)
      k.im2col(buf.cols, x.subarray(n0 * c.inSize), n, g);
      // When dOut is mostly zeros (c.sparseGrad: a ReLU, or max pooling, which passes one gradient in
      // four), the sparse kernels skip them, as the MLP's first layer skips blank pixels.
      const target = n0 === r ? dW : buf.tmpW;
      if (c.sparseGrad) k.sparseWeightGrad(target, dOut, buf.cols, n * pixels, c.filters, kkC, buf.sparse); // dW (F, k·k·C) = dOutᵀ · cols
      else k.gemmAtB(target, dOut, buf.cols, c.filters, kkC, n * pixels);
      if (target !== dW) k.addTo(dW, buf.tmpW, c.w.size);
      if (needInputGrad) {
        if (c.sparseGrad) k.sparseForward(buf.cols, dOut, W, null, n * pixels, kkC, c.filters, false, buf.sparse); // dcols (n·OH·OW, k·k·C) = dOut · W
        else k.gemmAB(buf.cols, dOut, W, n * pixels, kkC, c.filters);
        k.col2im(dA.subarray(n0 * c.inSize), buf.cols, n, g);
      }
    }
    k.colSum(view(slot, c.b.offset, c.b.size), dZ.subarray(r * c.outSize), rows * pixels, c.filters);
  }
}

/**
 * Label smoothing for softmax cross-entropy, applied after the loss kernel: the target becomes
 * q = (1 − ε)·onehot + ε/C, so ∂loss/∂z = p − q = (p − onehot) + ε·(onehot − 1/C), and the loss
 * (1 − ε)·CE + (ε/C)·Σ_j −log p_j. p (rows, C) holds the probabilities the kernel wrote, dz its gradient,
 * ce its summed cross-entropy; returns the smoothed loss. (−log p_j is capped at 69 where p_j underflows.)
 */
export function smoothLabels(p: Float32Array, dz: Float32Array, y: Int32Array, rows: number, C: number, eps: number, ce: number): number {
  let uniform = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    for (let j = 0; j < C; j++) {
      uniform -= Math.log(Math.max(p[o + j], 1e-30));
      dz[o + j] += eps * ((j === y[r] ? 1 : 0) - 1 / C);
    }
  }
  return (1 - eps) * ce + (eps / C) * uniform;
}
