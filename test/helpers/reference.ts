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
