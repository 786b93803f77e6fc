import type { ConvGeometry } from '../../src/kernels/kernels.js';

/**
 * Naive float64 references for the kernels: the slowest, most obvious loops, against which every
 * implementation (TypeScript now, WebAssembly next) is checked.
 */
export function refGemmABt(A: ArrayLike<number>, B: ArrayLike<number>, bias: ArrayLike<number> | null, M: number, N: number, K: number): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = bias ? bias[j] : 0;
      for (let k = 0; k < K; k++) s += A[i * K + k] * B[j * K + k];
      C[i * N + j] = s;
    }
  return C;
}

export function refGemmAB(A: ArrayLike<number>, B: ArrayLike<number>, M: number, N: number, K: number): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
      C[i * N + j] = s;
    }
  return C;
}

export function refGemmAtB(A: ArrayLike<number>, B: ArrayLike<number>, M: number, N: number, K: number): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[k * M + i] * B[k * N + j];
      C[i * N + j] = s;
    }
  return C;
}

/** Seeded uniform floats in [lo, hi) (a small LCG: tests need repeatable, not good, randomness). */
export function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 4294967296;
  }
  return out;
}

/**
 * Normwise relative error max|a − b| / max|b|: the usual measure for float32 GEMMs, whose per-element
 * error scales with the size of the sum, not of its (possibly cancelled) result. A NaN in `a` (an
 * element the kernel never wrote) makes it NaN, which fails any `toBeLessThan`.
 */
export function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (Number.isNaN(e)) return Number.NaN;
    err = Math.max(err, e);
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / (scale || 1);
}

/** A Float32Array filled with NaN, so that any element a kernel fails to write shows up. */
export function poisoned(n: number): Float32Array {
  return new Float32Array(n).fill(Number.NaN);
}

// ── Convolutional networks: NHWC images (M, H, W, C), channels fastest ───────────────────────────────

/** The geometry of a k×k convolution with the given stride and padding: OH = ⌊(H + 2·pad − k)/stride⌋ + 1. */
export function convGeometry(H: number, W: number, C: number, k: number, stride: number, pad: number): ConvGeometry {
  return { H, W, C, k, stride, pad, OH: Math.floor((H + 2 * pad - k) / stride) + 1, OW: Math.floor((W + 2 * pad - k) / stride) + 1 };
}

/** im2col by its indexing formula: each element of cols decoded into (n, oy, ox, ky, kx, c) and looked up. */
export function refIm2col(x: ArrayLike<number>, M: number, g: ConvGeometry): Float64Array {
  const { H, W, C, k, stride, pad, OH, OW } = g;
  const width = k * k * C;
  const cols = new Float64Array(M * OH * OW * width);
  for (let q = 0; q < cols.length; q++) {
    const row = Math.floor(q / width), e = q % width;
    const n = Math.floor(row / (OH * OW)), oy = Math.floor(row / OW) % OH, ox = row % OW;
    const ky = Math.floor(e / (k * C)), kx = Math.floor(e / C) % k, c = e % C;
    const iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
    cols[q] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[((n * H + iy) * W + ix) * C + c] : 0;
  }
  return cols;
}

/**
 * col2im as a gather: dx[n, iy, ix, c] = Σ over the patch positions (ky, kx) and output pixels (oy, ox)
 * with oy·stride − pad + ky = iy and ox·stride − pad + kx = ix of dcols[(n, oy, ox), (ky, kx, c)].
 */
export function refCol2im(dcols: ArrayLike<number>, M: number, g: ConvGeometry): Float64Array {
  const { H, W, C, k, stride, pad, OH, OW } = g;
  const dx = new Float64Array(M * H * W * C);
  for (let n = 0; n < M; n++)
    for (let iy = 0; iy < H; iy++)
      for (let ix = 0; ix < W; ix++)
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const ty = iy + pad - ky, tx = ix + pad - kx;
              if (ty % stride !== 0 || tx % stride !== 0) continue;
              const oy = ty / stride, ox = tx / stride;
              if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
              s += dcols[((n * OH + oy) * OW + ox) * k * k * C + (ky * k + kx) * C + c];
            }
          dx[((n * H + iy) * W + ix) * C + c] = s;
        }
  return dx;
}

/** A direct convolution: out (M, OH, OW, F) = bias[f] + Σ_{ky, kx, c} x[n, iy, ix, c] · w[f, ky, kx, c], zero padding. */
export function refConv(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number>, M: number, F: number, g: ConvGeometry): Float64Array {
  const { H, W, C, k, stride, pad, OH, OW } = g;
  const out = new Float64Array(M * OH * OW * F);
  for (let n = 0; n < M; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let f = 0; f < F; f++) {
          let s = bias[f];
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              for (let c = 0; c < C; c++) s += x[((n * H + iy) * W + ix) * C + c] * w[((f * k + ky) * k + kx) * C + c];
            }
          out[((n * OH + oy) * OW + ox) * F + f] = s;
        }
  return out;
}

/**
 * Max pooling, size×size windows at stride size: each window's values listed in (dy, dx) order, the
 * first maximum taken (NaN never beats a number, and a NaN first stays: the kernels' `x > best` rule).
 */
export function refMaxPool(x: ArrayLike<number>, M: number, H: number, W: number, C: number, size: number): { y: Float64Array; argmax: Int32Array } {
  const OH = Math.floor(H / size), OW = Math.floor(W / size);
  const y = new Float64Array(M * OH * OW * C), argmax = new Int32Array(M * OH * OW * C);
  for (let q = 0; q < y.length; q++) {
    const c = q % C, ox = Math.floor(q / C) % OW, oy = Math.floor(q / (C * OW)) % OH, n = Math.floor(q / (C * OW * OH));
    const where: number[] = [];
    for (let dy = 0; dy < size; dy++) for (let dx = 0; dx < size; dx++) where.push(((n * H + oy * size + dy) * W + ox * size + dx) * C + c);
    const best = where.reduce((b, i) => (x[i] > x[b] ? i : b));
    y[q] = x[best];
    argmax[q] = best;
  }
  return { y, argmax };
}

/** dx (len) = Σ over i with argmax[i] = p of dy[i]: the gradient of max pooling. */
export function refMaxPoolBackward(dy: ArrayLike<number>, argmax: ArrayLike<number>, len: number): Float64Array {
  const dx = new Float64Array(len);
  for (let i = 0; i < dy.length; i++) dx[argmax[i]] += dy[i];
  return dx;
}

/** Batch normalisation over the R rows of each of C channels, in float64: variance as E[x²] − mean². */
export function refBatchNorm(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, R: number, C: number, eps: number) {
  const y = new Float64Array(R * C), xhat = new Float64Array(R * C);
  const mean = new Float64Array(C), variance = new Float64Array(C), invstd = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const column = Array.from({ length: R }, (_, r) => x[r * C + c]);
    mean[c] = column.reduce((s, v) => s + v, 0) / R;
    variance[c] = column.reduce((s, v) => s + v * v, 0) / R - mean[c] * mean[c];
    invstd[c] = 1 / Math.sqrt(variance[c] + eps);
    column.forEach((v, r) => {
      xhat[r * C + c] = (v - mean[c]) * invstd[c];
      y[r * C + c] = gamma[c] * xhat[r * C + c] + beta[c];
    });
  }
  return { y, xhat, mean, variance, invstd };
}

/**
 * Batch normalisation's gradient through its Jacobian, in float64: with y = gamma·xhat + beta and
 * xhat = (x − mean)·invstd, ∂xhat_i/∂x_j = invstd·(δ_ij − 1/R − xhat_i·xhat_j/R) (per channel), so
 * dx_j = Σ_i dy_i·gamma·invstd·(δ_ij − 1/R − xhat_i·xhat_j/R); dgamma = Σ dy·xhat, dbeta = Σ dy.
 */
export function refBatchNormBackward(dy: ArrayLike<number>, xhat: ArrayLike<number>, gamma: ArrayLike<number>, invstd: ArrayLike<number>, R: number, C: number) {
  const dx = new Float64Array(R * C), dgamma = new Float64Array(C), dbeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < R; i++) {
      dbeta[c] += dy[i * C + c];
      dgamma[c] += dy[i * C + c] * xhat[i * C + c];
    }
    for (let j = 0; j < R; j++) {
      let s = 0;
      for (let i = 0; i < R; i++) s += dy[i * C + c] * ((i === j ? 1 : 0) - 1 / R - (xhat[i * C + c] * xhat[j * C + c]) / R);
      dx[j * C + c] = gamma[c] * invstd[c] * s;
    }
  }
  return { dx, dgamma, dbeta };
}

/** One Adam (or AdamW, `decoupled`) step on float64 copies of θ, m, v, per the formulas of kernels.ts. */
export function refAdamStep(theta: Float64Array, grad: ArrayLike<number>, m: Float64Array, v: Float64Array,
  hp: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean; step: number }): void {
  for (let p = 0; p < theta.length; p++) {
    const g = hp.decoupled ? grad[p] : grad[p] + hp.weightDecay * theta[p];
    m[p] = hp.beta1 * m[p] + (1 - hp.beta1) * g;
    v[p] = hp.beta2 * v[p] + (1 - hp.beta2) * g * g;
    const mHat = m[p] / (1 - Math.pow(hp.beta1, hp.step)), vHat = v[p] / (1 - Math.pow(hp.beta2, hp.step));
    theta[p] -= hp.lr * (mHat / (Math.sqrt(vHat) + hp.eps)) + (hp.decoupled ? hp.lr * hp.weightDecay * theta[p] : 0);
  }
}

/** Average pooling in float64: each output is the mean of its size×size window (stride size; leftover rows and columns dropped). */
export function refAvgPool(x: ArrayLike<number>, M: number, H: number, W: number, C: number, size: number): Float64Array {
  const OH = Math.floor(H / size), OW = Math.floor(W / size);
  const y = new Float64Array(M * OH * OW * C);
  for (let q = 0; q < y.length; q++) {
    const c = q % C, ox = Math.floor(q / C) % OW, oy = Math.floor(q / (C * OW)) % OH, n = Math.floor(q / (C * OW * OH));
    let s = 0;
    for (let dy = 0; dy < size; dy++) for (let dx = 0; dx < size; dx++) s += x[((n * H + oy * size + dy) * W + ox * size + dx) * C + c];
    y[q] = s / (size * size);
  }
  return y;
}

/** Its adjoint: dx (M, H, W, C) = Σ over the windows holding an element of dy / size² (0 for dropped rows and columns). */
export function refAvgPoolBackward(dy: ArrayLike<number>, M: number, H: number, W: number, C: number, size: number): Float64Array {
  const OH = Math.floor(H / size), OW = Math.floor(W / size);
  const dx = new Float64Array(M * H * W * C);
  for (let q = 0; q < M * OH * OW * C; q++) {
    const c = q % C, ox = Math.floor(q / C) % OW, oy = Math.floor(q / (C * OW)) % OH, n = Math.floor(q / (C * OW * OH));
    for (let dy_ = 0; dy_ < size; dy_++) for (let dx_ = 0; dx_ < size; dx_++) dx[((n * H + oy * size + dy_) * W + ox * size + dx_) * C + c] += dy[q] / (size * size);
  }
  return dx;
}

/** Global average pooling in float64: y (M, C) = the mean over the P pixels of x (M, P, C). */
export function refGlobalAvgPool(x: ArrayLike<number>, M: number, P: number, C: number): Float64Array {
  const y = new Float64Array(M * C);
  for (let n = 0; n < M; n++) for (let c = 0; c < C; c++) {
    let s = 0;
    for (let p = 0; p < P; p++) s += x[(n * P + p) * C + c];
    y[n * C + c] = s / P;
  }
  return y;
}
