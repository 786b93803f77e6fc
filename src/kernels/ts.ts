import { winogradFilter, winogradFilterGrad, winogradInput, winogradInputGrad, winogradOutput, winogradOutputGrad } from './winograd.js';
import type { Activation, AdamHyper, ConvGeometry, Kernels, LambHyper, LossKind, OutputActivation, SgdHyper } from './kernels.js';

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
  C.fill(0, 0, M * N);
  gemmAtBAcc(C, A, B, M, N, K);
}

/** C (M, N) += A (K, M)ᵀ · B (K, N): gemmAtB's loop, from the sums in C. */
function gemmAtBAcc(C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number): void {
  for (let i = 0; i < M; i++) {
    const c = i * N;
    for (let k = 0; k < K; k++) {
      const x = A[k * M + i];
      if (x === 0) continue;
      const b = k * N;
      for (let j = 0; j < N; j++) C[c + j] += x * B[b + j];
    }
  }
}

/** `count` gemmABs of consecutive matrices. */
function gemmABBatch(C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number, count: number): void {
  for (let b = 0; b < count; b++) gemmAB(C.subarray(b * M * N), A.subarray(b * M * K), B.subarray(b * K * N), M, N, K);
}

/** `count` gemmAtBs (gemmAtBAccs when `acc`) of consecutive matrices. */
function gemmAtBBatch(C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number, count: number, acc: boolean): void {
  for (let b = 0; b < count; b++) (acc ? gemmAtBAcc : gemmAtB)(C.subarray(b * M * N), A.subarray(b * K * M), B.subarray(b * K * N), M, N, K);
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

function im2col(cols: Float32Array, x: Float32Array, M: number, g: ConvGeometry): void {
  const { H, W, C, k, stride, pad, OH, OW } = g;
  const width = k * k * C;
  let row = 0;
  for (let n = 0; n < M; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++, row++) {
        let o = row * width;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * stride - pad + ky;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * stride - pad + kx;
            const inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
            const src = ((n * H + iy) * W + ix) * C;
            for (let c = 0; c < C; c++) cols[o++] = inside ? x[src + c] : 0;
          }
        }
      }
    }
  }
}

function col2im(dx: Float32Array, dcols: Float32Array, M: number, g: ConvGeometry): void {
  const { H, W, C, k, stride, pad, OH, OW } = g;
  dx.fill(0, 0, M * H * W * C);
  let o = 0;
  for (let n = 0; n < M; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * stride - pad + ky;
          for (let kx = 0; kx < k; kx++, o += C) {
            const ix = ox * stride - pad + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const dst = ((n * H + iy) * W + ix) * C;
            for (let c = 0; c < C; c++) dx[dst + c] += dcols[o + c];
          }
        }
      }
    }
  }
}

function maxPoolForward(y: Float32Array, argmax: Int32Array, x: Float32Array, M: number, H: number, W: number, C: number, size: number): void {
  const OH = Math.floor(H / size);
  const OW = Math.floor(W / size);
  let o = 0;
  for (let n = 0; n < M; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let c = 0; c < C; c++, o++) {
          let best = -Infinity;
          let at = -1;
          for (let dy = 0; dy < size; dy++) {
            for (let dx = 0; dx < size; dx++) {
              const i = ((n * H + oy * size + dy) * W + ox * size + dx) * C + c;
              if (x[i] > best || at < 0) {
                best = x[i];
                at = i;
              }
            }
          }
          y[o] = best;
          argmax[o] = at;
        }
      }
    }
  }
}

function maxPoolBackward(dx: Float32Array, dy: Float32Array, argmax: Int32Array, n: number, dxLength: number): void {
  dx.fill(0, 0, dxLength);
  for (let i = 0; i < n; i++) dx[argmax[i]] += dy[i];
}

function avgPoolForward(y: Float32Array, x: Float32Array, M: number, H: number, W: number, C: number, size: number): void {
  const OH = Math.floor(H / size);
  const OW = Math.floor(W / size);
  const area = size * size;
  let o = 0;
  for (let n = 0; n < M; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let c = 0; c < C; c++, o++) {
          let sum = 0;
          for (let dy = 0; dy < size; dy++) for (let dx = 0; dx < size; dx++) sum += x[((n * H + oy * size + dy) * W + ox * size + dx) * C + c];
          y[o] = sum / area;
        }
      }
    }
  }
}

function avgPoolBackward(dx: Float32Array, dy: Float32Array, M: number, H: number, W: number, C: number, size: number): void {
  const OH = Math.floor(H / size);
  const OW = Math.floor(W / size);
  const area = size * size;
  dx.fill(0, 0, M * H * W * C);
  let o = 0;
  for (let n = 0; n < M; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let c = 0; c < C; c++, o++) {
          const g = dy[o] / area;
          for (let wy = 0; wy < size; wy++) for (let wx = 0; wx < size; wx++) dx[((n * H + oy * size + wy) * W + ox * size + wx) * C + c] = g;
        }
      }
    }
  }
}

function globalAvgPoolForward(y: Float32Array, x: Float32Array, M: number, P: number, C: number): void {
  for (let n = 0; n < M; n++) {
    for (let c = 0; c < C; c++) {
      let sum = 0;
      for (let p = 0; p < P; p++) sum += x[(n * P + p) * C + c];
      y[n * C + c] = sum / P;
    }
  }
}

function globalAvgPoolBackward(dx: Float32Array, dy: Float32Array, M: number, P: number, C: number): void {
  for (let n = 0; n < M; n++) {
    for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) dx[(n * P + p) * C + c] = dy[n * C + c] / P;
  }
}

function batchNormForward(y: Float32Array, xhat: Float32Array, stats: Float32Array, x: Float32Array, gamma: Float32Array, beta: Float32Array, R: number,
  C: number, eps: number, _scratch: Int32Array): void {
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let r = 0; r < R; r++) sum += x[r * C + c];
    const mean = sum / R;
    let sq = 0;
    for (let r = 0; r < R; r++) {
      const d = x[r * C + c] - mean;
      sq += d * d;
    }
    const variance = sq / R;
    const invstd = 1 / Math.sqrt(variance + eps);
    stats[c] = mean;
    stats[C + c] = variance;
    stats[2 * C + c] = invstd;
    for (let r = 0; r < R; r++) {
      const i = r * C + c;
      const h = (x[i] - mean) * invstd;
      xhat[i] = h;
      y[i] = gamma[c] * h + beta[c];
    }
  }
}

function batchNormBackward(dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, dy: Float32Array, xhat: Float32Array, gamma: Float32Array,
  invstd: Float32Array, R: number, C: number, _scratch: Int32Array): void {
  for (let c = 0; c < C; c++) {
    let sb = 0;
    let sg = 0;
    for (let r = 0; r < R; r++) {
      sb += dy[r * C + c];
      sg += dy[r * C + c] * xhat[r * C + c];
    }
    dbeta[c] = sb;
    dgamma[c] = sg;
    const scale = gamma[c] * invstd[c];
    for (let r = 0; r < R; r++) {
      const i = r * C + c;
      dx[i] = scale * (dy[i] - sb / R - xhat[i] * (sg / R));
    }
  }
}

function scaleShift(y: Float32Array, x: Float32Array, scale: Float32Array, shift: Float32Array, R: number, C: number): void {
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * scale[c] + shift[c];
}

function multiply(y: Float32Array, x: Float32Array, mask: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] = x[i] * mask[i];
}

function addTo(dst: Float32Array, src: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] += src[i];
}

function adamStep(params: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, begin: number, end: number, hp: AdamHyper): void {
  const { lr, beta1, beta2, eps, weightDecay, decoupled, step } = hp;
  const c1 = 1 / (1 - beta1 ** step);
  const c2 = 1 / (1 - beta2 ** step);
  for (let p = begin; p < end; p++) {
    const theta = params[p];
    const g = decoupled ? grad[p] : grad[p] + weightDecay * theta;
    const mp = beta1 * m[p] + (1 - beta1) * g;
    const vp = beta2 * v[p] + (1 - beta2) * g * g;
    m[p] = mp;
    v[p] = vp;
    params[p] = theta - lr * ((mp * c1) / (Math.sqrt(vp * c2) + eps) + (decoupled ? weightDecay * theta : 0));
  }
}

function emaUpdate(avg: Float32Array, x: Float32Array, begin: number, end: number, decay: number): void {
  for (let p = begin; p < end; p++) avg[p] = decay * avg[p] + (1 - decay) * x[p];
}

function sumSquares(x: Float32Array, begin: number, end: number): number {
  let s = 0;
  for (let p = begin; p < end; p++) s += x[p] * x[p]; // float32 × float32 is exact in float64
  return s;
}

function scale(x: Float32Array, begin: number, end: number, factor: number): void {
  for (let p = begin; p < end; p++) x[p] *= factor;
}

function axpy(y: Float32Array, x: Float32Array, begin: number, end: number, a: number): void {
  for (let p = begin; p < end; p++) y[p] += a * x[p];
}

function lambDirection(params: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, begin: number, end: number, hp: LambHyper): void {
  const { beta1, beta2, eps, weightDecay, step } = hp;
  const c1 = 1 / (1 - beta1 ** step);
  const c2 = 1 / (1 - beta2 ** step);
  for (let p = begin; p < end; p++) {
    const g = grad[p];
    const mp = beta1 * m[p] + (1 - beta1) * g;
    const vp = beta2 * v[p] + (1 - beta2) * g * g;
    m[p] = mp;
    v[p] = vp;
    grad[p] = (mp * c1) / (Math.sqrt(vp * c2) + eps) + weightDecay * params[p];
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
  gemmAtBAcc,
  gemmABBatch,
  gemmAtBBatch,
  sparseForward,
  sparseWeightGrad,
  colSum,
  activationForward,
  activationBackward,
  gather,
  lossForwardBackward,
  reduceSlots,
  sgdStep,
  im2col,
  col2im,
  winogradFilter,
  winogradFilterGrad,
  winogradInput,
  winogradInputGrad,
  winogradOutput,
  winogradOutputGrad,
  maxPoolForward,
  maxPoolBackward,
  avgPoolForward,
  avgPoolBackward,
  globalAvgPoolForward,
  globalAvgPoolBackward,
  batchNormForward,
  batchNormBackward,
  scaleShift,
  multiply,
  addTo,
  adamStep,
  emaUpdate,
  sumSquares,
  scale,
  axpy,
  lambDirection,
};
