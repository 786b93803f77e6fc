import type { Activation, LossKind, OutputActivation } from '../model/spec.js';
import type { Kernels, SgdHyper } from './kernels.js';

/**
 * The TypeScript kernels: the reference every faster implementation is tested against, and the fallback.
 * Loops are register-tiled where it pays in plain JavaScript (four output columns at a time); see
 * kernels.ts for the summation-order contract each GEMM keeps.
 */

/** C (M, N) = A (M, K) · B (N, K)ᵀ + bias: four dot products at a time share each load of A's row. */
function gemmABt(C: Float32Array, A: Float32Array, B: Float32Array, bias: Float32Array | null, M: number, N: number, K: number): void {
  for (let i = 0; i < M; i++) {
    const a = i * K;
    const c = i * N;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const x = A[a + k];
        s0 += x * B[b0 + k];
        s1 += x * B[b1 + k];
        s2 += x * B[b2 + k];
        s3 += x * B[b3 + k];
      }
      if (bias) {
        s0 += bias[j]; s1 += bias[j + 1]; s2 += bias[j + 2]; s3 += bias[j + 3];
      }
      C[c + j] = s0; C[c + j + 1] = s1; C[c + j + 2] = s2; C[c + j + 3] = s3;
    }
    for (; j < N; j++) {
      const b0 = j * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[a + k] * B[b0 + k];
      C[c + j] = bias ? s + bias[j] : s;
    }
  }
}

/** C (M, N) = A (M, K) · B (K, N): each row of C accumulates rows of B, scaled, in ascending k. */
function gemmAB(C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number): void {
  for (let i = 0; i < M; i++) {
    const c = i * N;
    C.fill(0, c, c + N);
    for (let k = 0; k < K; k++) {
      const x = A[i * K + k];
      if (x === 0) continue; // ReLU zeros a large share of dZ; skipping them changes no sum
      const b = k * N;
      for (let j = 0; j < N; j++) C[c + j] += x * B[b + j];
    }
  }
}

/** C (M, N) = A (K, M)ᵀ · B (K, N): row i of C accumulates B's rows scaled by column i of A. */
function gemmAtB(C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number): void {
  for (let i = 0; i < M; i++) {
    const c = i * N;
    C.fill(0, c, c + N);
    for (let k = 0; k < K; k++) {
      const x = A[k * M + i];
      if (x === 0) continue;
      const b = k * N;
      for (let j = 0; j < N; j++) C[c + j] += x * B[b + j];
    }
  }
}

/**
 * Y (M, OUT) = act(X · WT + bias): gemmAB already sums each element over the row's nonzero inputs only,
 * i ascending, from 0, so the sparse forward pass is gemmAB then bias and ReLU. (The scratch, which the
 * WebAssembly kernels use to list nonzeros, is not needed here.)
 */
function sparseForward(Y: Float32Array, X: Float32Array, WT: Float32Array, bias: Float32Array | null, M: number, OUT: number, IN: number, relu: boolean,
  _scratch: Int32Array): void {
  gemmAB(Y, X, WT, M, OUT, IN);
  for (let r = 0; r < M; r++) {
    const y = r * OUT;
    for (let j = 0; j < OUT; j++) {
      if (bias) Y[y + j] += bias[j];
      if (relu && Y[y + j] < 0) Y[y + j] = 0;
    }
  }
}

/** dWT (IN, OUT) = X (K, IN)ᵀ · dZ (K, OUT): gemmAtB, which skips zero inputs and sums rows in ascending r. */
function sparseWeightGrad(dWT: Float32Array, X: Float32Array, dZ: Float32Array, K: number, IN: number, OUT: number, _scratch: Int32Array): void {
  gemmAtB(dWT, X, dZ, IN, OUT, K);
}

function colSum(out: Float32Array, A: Float32Array, M: number, N: number): void {
  out.fill(0, 0, N);
  for (let i = 0; i < M; i++) {
    const a = i * N;
    for (let j = 0; j < N; j++) out[j] += A[a + j];
  }
}

function activationForward(x: Float32Array, n: number, act: Activation): void {
  if (act.kind === 'relu') {
    for (let i = 0; i < n; i++) if (x[i] < 0) x[i] = 0;
  } else if (act.kind === 'sigmoid') {
    const a = act.slope;
    for (let i = 0; i < n; i++) x[i] = 1 / (1 + Math.exp(-a * x[i]));
  }
}

function activationBackward(dz: Float32Array, out: Float32Array, n: number, act: Activation): void {
  if (act.kind === 'relu') {
    for (let i = 0; i < n; i++) if (out[i] <= 0) dz[i] = 0;
  } else if (act.kind === 'sigmoid') {
    // S_a'(x) = a · S_a(x) · (1 − S_a(x))
    const a = act.slope;
    for (let i = 0; i < n; i++) dz[i] *= a * out[i] * (1 - out[i]);
  }
}

function gather(X: Float32Array, y: Int32Array, pixels: Uint8Array, labels: Uint8Array, index: Int32Array, M: number, D: number): void {
  const inv = 1 / 255;
  for (let r = 0; r < M; r++) {
    const src = index[r] * D;
    const dst = r * D;
    for (let k = 0; k < D; k++) X[dst + k] = pixels[src + k] * inv;
    y[r] = labels[index[r]];
  }
}

function lossForwardBackward(z: Float32Array, dz: Float32Array, y: Int32Array, M: number, C: number, out: OutputActivation, loss: LossKind): number {
  let total = 0;
  for (let r = 0; r < M; r++) {
    const o = r * C;
    const label = y[r];
    if (out.kind === 'softmax') {
      // softmax with the max subtracted; log p_y = z_y − max − log Σ e^(z − max)
      let max = -Infinity;
      for (let j = 0; j < C; j++) max = Math.max(max, z[o + j]);
      let sum = 0;
      for (let j = 0; j < C; j++) sum += Math.exp(z[o + j] - max);
      const logSum = Math.log(sum);
      const logPy = z[o + label] - max - logSum;
      for (let j = 0; j < C; j++) z[o + j] = Math.exp(z[o + j] - max - logSum);
      if (loss === 'cross-entropy') {
        total -= logPy;
        for (let j = 0; j < C; j++) dz[o + j] = z[o + j] - (j === label ? 1 : 0);
        continue;
      }
      // squared error through softmax: dz_j = p_j (g_j − Σ_k g_k p_k), g = 2(p − y)
      let dot = 0;
      for (let j = 0; j < C; j++) {
        const e = z[o + j] - (j === label ? 1 : 0);
        total += e * e;
        dot += 2 * e * z[o + j];
      }
      for (let j = 0; j < C; j++) dz[o + j] = z[o + j] * (2 * (z[o + j] - (j === label ? 1 : 0)) - dot);
      continue;
    }
    // squared error C = Σ_j (ŷ_j − y_j)², ŷ = φ(z): dz = 2(ŷ − y) ⊙ φ'(z)
    const row = z.subarray(o, o + C);
    const drow = dz.subarray(o, o + C);
    activationForward(row, C, out);
    for (let j = 0; j < C; j++) {
      const e = row[j] - (j === label ? 1 : 0);
      total += e * e;
      drow[j] = 2 * e;
    }
    activationBackward(drow, row, C, out);
  }
  return total;
}

function reduceSlots(grad: Float32Array, slots: Float32Array, count: number, stride: number, begin: number, end: number, scale: number): void {
  for (let p = begin; p < end; p++) {
    let s = 0;
    for (let k = 0; k < count; k++) s += slots[k * stride + p];
    grad[p] = s * scale;
  }
}

function sgdStep(params: Float32Array, grad: Float32Array, velocity: Float32Array, begin: number, end: number, hp: SgdHyper): void {
  const { lr, momentum, nesterov, weightDecay } = hp;
  for (let p = begin; p < end; p++) {
    const g = grad[p] + weightDecay * params[p];
    const v = momentum * velocity[p] + g;
    velocity[p] = v;
    params[p] -= lr * (nesterov ? g + momentum * v : v);
  }
}

function gemmABtRelu(C: Float32Array, A: Float32Array, B: Float32Array, bias: Float32Array | null, M: number, N: number, K: number): void {
  gemmABt(C, A, B, bias, M, N, K);
  activationForward(C, M * N, { kind: 'relu' });
}

export const tsKernels: Kernels = {
  name: 'ts',
  gemmABt,
  gemmABtRelu,
  gemmAB,
  gemmAtB,
  sparseForward,
  sparseWeightGrad,
  colSum,
  activationForward,
  activationBackward,
  gather,
  lossForwardBackward,
  reduceSlots,
  sgdStep,
};
