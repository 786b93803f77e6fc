/**
 * The hot loops of training, behind one interface so that implementations can be swapped (TypeScript
 * reference now; WebAssembly SIMD next). Every buffer is a typed-array view; a WebAssembly implementation
 * reads the views' byteOffset into the shared memory they all live in.
 *
 * Legend: M rows (samples), N columns, K the summed dimension. Matrices are row-major.
 *
 * Determinism contract: the order in which a GEMM sums an output element's K products is fixed by K (and
 * the implementation) alone, so the element's value depends only on its own row and column of the inputs,
 * never on M or on which rows are computed in the same call. (The TypeScript kernels use one accumulator
 * in ascending k; the WebAssembly gemmABt keeps four partial sums along k and adds them in a fixed order.)
 * The sparse first-layer kernels (sparseForward, sparseWeightGrad) sum over the nonzero inputs only, in
 * ascending input index / row, so their elements too depend on their own row (or micro-shard) alone.
 * That is what lets any worker count produce bit-identical results.
 */
export interface Kernels {
  readonly name: string;
  /** C (M, N) = A (M, K) · B (N, K)ᵀ + bias (N) (bias may be null). The dense forward pass. */
  gemmABt(C: Float32Array, A: Float32Array, B: Float32Array, bias: Float32Array | null, M: number, N: number, K: number): void;
  /** C = max(A · Bᵀ + bias, 0): gemmABt and a ReLU fused, bit for bit the two in sequence. */
  gemmABtRelu(C: Float32Array, A: Float32Array, B: Float32Array, bias: Float32Array | null, M: number, N: number, K: number): void;
  /** C (M, N) = A (M, K) · B (K, N). The gradient flowing to a layer's inputs: dX = dZ · W. */
  gemmAB(C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number): void;
  /** C (M, N) = A (K, M)ᵀ · B (K, N). The weight gradient: dW = dZᵀ · X. */
  gemmAtB(C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number): void;
  /**
   * C (M, N) += A (K, M)ᵀ · B (K, N), each element carrying on its sum in ascending k from the value in C:
   * gemmAtB over rows [0, K₁) then gemmAtBAcc over rows [K₁, K₁ + K₂) is gemmAtB over all K₁ + K₂ rows, bit for bit.
   */
  gemmAtBAcc(C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number): void;
  /** `count` gemmABs of matrices laid one after another: C_b = A_b · B_b, C_b at C[b·M·N], A_b at A[b·M·K], B_b at B[b·K·N]. */
  gemmABBatch(C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number, count: number): void;
  /** `count` gemmAtBs (gemmAtBAccs when `acc`) of matrices laid one after another: C_b (+)= A_bᵀ · B_b, A_b at A[b·K·M]. */
  gemmAtBBatch(C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number, count: number, acc: boolean): void;
  /**
   * Y (M, OUT) = act(X (M, IN) · WT (IN, OUT) + bias (OUT)), act ReLU when `relu`, else identity (bias
   * may be null). The first layer's forward pass, its weight stored input-major: row r of Y accumulates
   * the rows WT[i] scaled by the row's nonzero inputs X[r, i], i ascending; zero inputs are skipped.
   * Element (r, j) is Σ_{i: X[r,i] ≠ 0} X[r,i]·WT[i,j] in ascending i (one accumulator, from 0), then +
   * bias[j], then the ReLU: a function of row r of X and column j of WT alone. `scratch` holds at least
   * sparseScratchWords(IN, ·) words; an implementation may overwrite it (the WebAssembly kernels list
   * the row's nonzeros there).
   */
  sparseForward(Y: Float32Array, X: Float32Array, WT: Float32Array, bias: Float32Array | null, M: number, OUT: number, IN: number, relu: boolean,
    scratch: Int32Array): void;
  /**
   * dWT (IN, OUT) = X (K, IN)ᵀ · dZ (K, OUT): the first layer's (input-major) weight gradient over K rows.
   * Element (i, j) is Σ_{r: X[r,i] ≠ 0} X[r,i]·dZ[r,j] in ascending r (one accumulator, from 0); every
   * element is written (0 where no row has input i set). `scratch`: at least sparseScratchWords(·, K)
   * words, overwritten.
   */
  sparseWeightGrad(dWT: Float32Array, X: Float32Array, dZ: Float32Array, K: number, IN: number, OUT: number, scratch: Int32Array): void;
  /** out (N) = Σ over rows of A (M, N). The bias gradient. */
  colSum(out: Float32Array, A: Float32Array, M: number, N: number): void;
  /** x (n) ← φ(x), in place. */
  activationForward(x: Float32Array, n: number, act: Activation): void;
  /** dz (n) ← dz ⊙ φ'(z), with φ' written in terms of the activation's output a = φ(z). */
  activationBackward(dz: Float32Array, a: Float32Array, n: number, act: Activation): void;
  /**
   * X (M, D) = pixels[index[r]·D + k] / 255 and y (M) = labels[index[r]]: turns a shard's uint8 images
   * into floats in [0, 1].
   */
  gather(X: Float32Array, y: Int32Array, pixels: Uint8Array, labels: Uint8Array, index: Int32Array, M: number, D: number): void;
  /**
   * Output activation, loss and its gradient for M rows of C classes: z (M, C) holds the output layer's
   * pre-activations and becomes its outputs ŷ; dz (M, C) ← ∂loss/∂z per row. Returns the summed loss.
   */
  lossForwardBackward(z: Float32Array, dz: Float32Array, y: Int32Array, M: number, C: number, out: OutputActivation, loss: LossKind): number;
  /** grad [begin, end) = scale · Σ_s slots[s·stride + p], slots summed in ascending s. */
  reduceSlots(grad: Float32Array, slots: Float32Array, count: number, stride: number, begin: number, end: number, scale: number): void;
  /**
   * SGD on [begin, end): g ← grad + λθ; v ← μv + g; θ ← θ − α·(nesterov ? g + μv : v).
   * With μ = 0 and λ = 0 this is exactly the notes' θ ← θ − α∇C.
   */
  sgdStep(params: Float32Array, grad: Float32Array, velocity: Float32Array, begin: number, end: number, hp: SgdHyper): void;

  // ── Convolutional networks. Images are NHWC: (M, H, W, C), channels fastest. ──

  /**
   * cols (M·OH·OW, k·k·C) = the k×k patches of x (M, H, W, C): row (n, oy, ox) holds, in (ky, kx, c)
   * order, x[n, oy·stride − pad + ky, ox·stride − pad + kx, c], 0 outside the image. A convolution is then
   * gemmABt(out, cols, W (F, k·k·C), bias): out (M·OH·OW, F) is the NHWC output.
   */
  im2col(cols: Float32Array, x: Float32Array, M: number, g: ConvGeometry): void;
  /** dx (M, H, W, C) = the sum of every patch row of dcols (M·OH·OW, k·k·C) put back where im2col took it from: the adjoint of im2col. dx is overwritten. */
  col2im(dx: Float32Array, dcols: Float32Array, M: number, g: ConvGeometry): void;
  // Winograd F(m×m, r×r) for stride-1 layers, F(2×2, 3×3), F(4×4, 3×3) or F(2×2, 5×5), α = m + r − 1, r = g.k
  // (src/kernels/winograd.ts has the maths and the layouts; P = M·⌈OH/m⌉·⌈OW/m⌉ tiles). Each output is a fixed sum of its own tile's and
  // channel's values (no FMA), so every implementation gives the TypeScript reference's bits.

  /**
   * U (α², F, C) = G w Gᵀ for the filters w (F, r, r, C), or, when `cf`, the same numbers as (α², C, F)
   * (the forward's GEMMs take U_ξ as (C, F), the input gradient's as (F, C)).
   */
  winogradFilter(U: Float32Array, w: Float32Array, F: number, C: number, m: number, r: number, cf: boolean): void;
  /** dw (F, r, r, C) = Gᵀ dU G, the adjoint of winogradFilter (written). */
  winogradFilterGrad(dw: Float32Array, dU: Float32Array, F: number, C: number, m: number, r: number): void;
  /** V (α², P, C) = Bᵀ d B for the α×α input patch d of each tile of x (M, H, W, C) and channel, 0 outside the image. */
  winogradInput(V: Float32Array, x: Float32Array, M: number, g: ConvGeometry, m: number): void;
  /** dx (M, H, W, C) = Σ over tiles, ascending, of B dV Bᵀ inside the image: the adjoint of winogradInput (dx overwritten). */
  winogradInputGrad(dx: Float32Array, dV: Float32Array, M: number, g: ConvGeometry, m: number): void;
  /** out (M, OH, OW, F) = Aᵀ M A (+ bias, may be null; then ReLU when `relu`, as gemmABtRelu's) for each tile's outputs inside the image. */
  winogradOutput(out: Float32Array, Mt: Float32Array, bias: Float32Array | null, M: number, g: ConvGeometry, F: number, m: number, relu: boolean): void;
  /** dM (α², P, F) = A dY Aᵀ for each tile's m×m output gradient of dout (M, OH, OW, F), 0 outside the image. */
  winogradOutputGrad(dMt: Float32Array, dout: Float32Array, M: number, g: ConvGeometry, F: number, m: number): void;
  /**
   * Max pooling over size×size windows, stride size (the last rows and columns that do not fill a window are
   * dropped): y (M, H/size, W/size, C), and argmax (same shape) the index into x of each maximum (the
   * first in (dy, dx) order on ties).
   */
  maxPoolForward(y: Float32Array, argmax: Int32Array, x: Float32Array, M: number, H: number, W: number, C: number, size: number): void;
  /** dx (M, H, W, C) = 0, then dx[argmax[i]] += dy[i]: the gradient flows to each window's maximum. n = dy's length. */
  maxPoolBackward(dx: Float32Array, dy: Float32Array, argmax: Int32Array, n: number, dxLength: number): void;
  /**
   * Average pooling over size×size windows, stride size (the last rows and columns that do not fill a
   * window are dropped): y (M, H/size, W/size, C) = the window's sum, in (dy, dx) order, / size².
   */
  avgPoolForward(y: Float32Array, x: Float32Array, M: number, H: number, W: number, C: number, size: number): void;
  /** dx (M, H, W, C) = dy / size² at each element of its window, 0 in the dropped rows and columns (every element written). */
  avgPoolBackward(dx: Float32Array, dy: Float32Array, M: number, H: number, W: number, C: number, size: number): void;
  /** Global average pooling: y (M, C) = the sum over the P pixels of x (M, P, C), in ascending pixel, / P. */
  globalAvgPoolForward(y: Float32Array, x: Float32Array, M: number, P: number, C: number): void;
  /** dx (M, P, C) = dy (M, C) / P at every pixel. */
  globalAvgPoolBackward(dx: Float32Array, dy: Float32Array, M: number, P: number, C: number): void;
  /**
   * Batch normalisation over R rows of C channels (x (R, C); a micro-shard's pixels): per channel the mean
   * and the biased variance over the R rows (sums in ascending row), invstd = 1/√(var + eps),
   * xhat = (x − mean)·invstd, y = gamma·xhat + beta. stats (3C) ← [mean, var, invstd]. y may be x.
   * `scratch`: at least batchNormScratchWords(C) words, overwritten, overlapping no other argument (the
   * WebAssembly kernels keep their per-channel sums there, so that they can sweep x row by row).
   */
  batchNormForward(y: Float32Array, xhat: Float32Array, stats: Float32Array, x: Float32Array, gamma: Float32Array, beta: Float32Array, R: number, C: number,
    eps: number, scratch: Int32Array): void;
  /**
   * Its gradient: dbeta = Σ dy, dgamma = Σ dy·xhat (written, not added), and
   * dx = gamma·invstd·(dy − dbeta/R − xhat·dgamma/R). dx may be dy. `scratch` as batchNormForward's.
   */
  batchNormBackward(dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, dy: Float32Array, xhat: Float32Array, gamma: Float32Array,
    invstd: Float32Array, R: number, C: number, scratch: Int32Array): void;
  /** y (R, C) = x·scale[c] + shift[c]: batch normalisation at inference, with the folded running statistics. y may be x. */
  scaleShift(y: Float32Array, x: Float32Array, scale: Float32Array, shift: Float32Array, R: number, C: number): void;
  /** y (n) = x ⊙ mask: dropout forward (mask holds 0 or 1/(1−rate)) and backward. y may be x. */
  multiply(y: Float32Array, x: Float32Array, mask: Float32Array, n: number): void;
  /** dst (n) += src. */
  addTo(dst: Float32Array, src: Float32Array, n: number): void;
  /**
   * Adam on [begin, end), step t ≥ 1: g ← grad (+ λθ unless decoupled); m ← β₁m + (1−β₁)g;
   * v ← β₂v + (1−β₂)g²; θ ← θ − α·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε), and for AdamW (decoupled)
   * also θ ← θ − αλθ (from θ before the step).
   */
  adamStep(params: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, begin: number, end: number, hp: AdamHyper): void;
  /** avg [begin, end) ← decay·avg + (1 − decay)·x: the weights' moving average, and batch norm's running statistics. */
  emaUpdate(avg: Float32Array, x: Float32Array, begin: number, end: number, decay: number): void;

  // ── Per-tensor work of the update (gradient clipping, LAMB; see src/engine/update.ts) ──

  /**
   * Σ x[p]² over [begin, end), each square and the sum in float64, p ascending from 0: a function of those
   * elements alone, so a norm summed from fixed blocks does not depend on who computed them.
   */
  sumSquares(x: Float32Array, begin: number, end: number): number;
  /** x [begin, end) ← x·factor (one float32 multiply per element when factor is a float32). Gradient clipping. */
  scale(x: Float32Array, begin: number, end: number, factor: number): void;
  /** y [begin, end) ← y + a·x. LAMB's update θ ← θ − α·ratio·r. */
  axpy(y: Float32Array, x: Float32Array, begin: number, end: number, a: number): void;
  /**
   * LAMB's direction on [begin, end), step t ≥ 1: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
   * grad ← r = (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε) + λθ. Overwrites the gradient with r; θ is not changed.
   */
  lambDirection(params: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, begin: number, end: number, hp: LambHyper): void;
}

/** Hidden-layer activations from the notes: sigmoid S_a(x) = 1/(1+e^(-a x)), identity, ReLU. */
export type Activation = { kind: 'relu' } | { kind: 'sigmoid'; slope: number } | { kind: 'identity' };

/** What the output layer applies before the loss. */
export type OutputActivation = Activation | { kind: 'softmax' };

/** `cross-entropy` (with softmax) or the notes' squared error C = Σ(ŷ − y)² per sample. */
export type LossKind = 'cross-entropy' | 'squared-error';

/** The shape numbers of a convolution, its input (H, W, C), its k×k window, and its output (OH, OW). */
export interface ConvGeometry {
  H: number;
  W: number;
  C: number;
  k: number;
  stride: number;
  pad: number;
  OH: number;
  OW: number;
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: weight decay applied to θ directly, not added to the gradient. */
  decoupled: boolean;
  /** The step number t, from 1 (bias correction). */
  step: number;
}

/** LAMB's direction: Adam's moments and bias correction, and weight decay λ in the direction. */
export interface LambHyper {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** The step number t, from 1 (bias correction). */
  step: number;
}

/** Words of scratch sparseForward (IN inputs) and sparseWeightGrad (K rows) need: two per listed nonzero. */
export function sparseScratchWords(IN: number, K: number): number {
  return 2 * Math.max(IN, K);
}

/** Words of scratch the batch-norm kernels need for C channels (two float64 sums and three float32 per channel, rounded up). */
export function batchNormScratchWords(C: number): number {
  return 8 * C;
}

export interface SgdHyper {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}
