import type { ConvGeometry } from './kernels.js';

/**
 * Winograd's minimal filtering F(m×m, r×r) (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural
 * Networks"): a stride-1 r×r convolution computed tile by tile. The output is cut into m×m tiles; tile t
 * reads the α×α input patch d (α = m + r − 1) at (m·ty − pad, m·tx − pad), zero outside the image, and
 *
 *   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A        per channel pair, summed over the input channels,
 *
 * so with U = G g Gᵀ (the filter transform, α² × (F, C)) and V = Bᵀ d B (the input transform, α² × (P, C)
 * over P tiles) the sum over channels is α² GEMMs M_ξ (P, F) = V_ξ · U_ξᵀ, and the output transform
 * Aᵀ M A gives the m×m outputs (cropped at the image's edge). F(2×2, 3×3) does 16 multiplications per
 * tile and channel pair where im2col does 36 (2.25× fewer); F(4×4, 3×3) 36 where im2col does 144 (4×);
 * F(2×2, 5×5) 36 where im2col does 100 (2.8×).
 *
 * The three variants built share their points: F(2×2, 3×3) interpolates at 0, ±1 and ∞; F(4×4, 3×3) and
 * F(2×2, 5×5) (α = 6 both) at 0, ±1, ±2 and ∞, so their Bᵀ is one matrix; Aᵀ holds the points' powers
 * (Aᵀ[i][j] = p_jⁱ, ∞'s column the last unit vector) and G the filter's (G[j][k] = s_j·p_jᵏ, with s_j =
 * 1/∏_{l≠j}(p_j − p_l) over the finite points, ∞'s row the last unit vector).
 *
 * Gradients are the adjoints of the same linear maps: dM_ξ = A dY Aᵀ, dV_ξ = dM_ξ · U_ξ, dx = Σ over
 * tiles of B dV Bᵀ (tiles overlap by r − 1 pixels), dU_ξ = dM_ξᵀ · V_ξ summed over tiles, dw = Gᵀ dU G.
 *
 * Layouts (channels fastest, as everywhere): U (α², F, C), V and dV (α², P, C), M and dM (α², P, F); tile
 * p = (n·TY + ty)·TX + tx. Each transform is one 1-D transform T applied down the columns, then along the
 * rows (T X Tᵀ), each output a sum of its row's nonzero terms in ascending order (±1 as an add or
 * subtract, other coefficients as a float32 multiply then add; no fused multiply-add), so the
 * WebAssembly kernels (src/kernels/wasm/winograd.mjs, from the same matrices) give these bits exactly.
 */

/** The transforms of F(m×m, r×r): Bᵀ (α × α), G (α × r), Aᵀ (m × α). Coefficients rounded to float32 where inexact (the sixths, thirds). */
export interface WinogradMatrices {
  BT: number[][];
  G: number[][];
  AT: number[][];
}

/** Output tile sizes built: F(2×2, ·) and F(4×4, ·). */
export type WinogradTile = 2 | 4;
/** A variant's key, `${m}x${r}`. (The same numbers are in src/kernels/wasm/winograd.mjs; a test compares them.) */
export type WinogradVariant = '2x3' | '4x3' | '2x5';

/** Bᵀ of the points 0, ±1, ±2, ∞ (α = 6): F(4×4, 3×3)'s and F(2×2, 5×5)'s. */
const BT6 = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]];

export const WINOGRAD: Record<WinogradVariant, WinogradMatrices> = {
  '2x3': {
    BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
    G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
    AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
  },
  '4x3': {
    BT: BT6,
    G: [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
    AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
  },
  '2x5': {
    BT: BT6,
    G: [[1 / 4, 0, 0, 0, 0], [-1 / 6, -1 / 6, -1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3], [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3], [0, 0, 0, 0, 1]],
    AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]],
  },
};

/** Whether F(m×m, r×r) is built. */
export const winogradBuilt = (m: number, r: number): boolean => `${m}x${r}` in WINOGRAD;

/** The matrices of F(m×m, r×r) (a variant that is built). */
export function winogradMatrices(m: number, r: number): WinogradMatrices {
  const t = WINOGRAD[`${m}x${r}` as WinogradVariant];
  if (!t) throw new Error(`Winograd F(${m}×${m}, ${r}×${r}) is not built; use F(2×2, 3×3), F(4×4, 3×3) or F(2×2, 5×5)`);
  return t;
}

/** The transpose of a matrix. */
export const transpose = (T: number[][]): number[][] => T[0].map((_, j) => T.map((row) => row[j]));

/** Tiles of a layer: TY × TX per image, α = m + k − 1. */
export function winogradTiles(g: ConvGeometry, m: number): { TY: number; TX: number; alpha: number } {
  return { TY: Math.ceil(g.OH / m), TX: Math.ceil(g.OW / m), alpha: m + g.k - 1 };
}

/** Whether a layer can run as Winograd: a 3×3 or 5×5 window at stride 1 (any padding). */
export const winogradApplies = (g: ConvGeometry): boolean => (g.k === 3 || g.k === 5) && g.stride === 1;

// ── The TypeScript reference ───────────────────────────────────────────────────────────────────────────

const f32 = Math.fround;

/** Σ_j row[j]·x[at + j·stride] over the nonzero coefficients, ascending j, each step rounded to float32. */
function lin(row: number[], x: Float32Array, at: number, stride: number): number {
  let acc: number | undefined;
  for (let j = 0; j < row.length; j++) {
    const c = f32(row[j]);
    if (c === 0) continue;
    const v = x[at + j * stride];
    if (acc === undefined) acc = c === 1 ? v : c === -1 ? -v : f32(c * v);
    else acc = c === 1 ? f32(acc + v) : c === -1 ? f32(acc - v) : f32(acc + f32(c * v));
  }
  return acc ?? 0;
}

/** out (a × a) = T X Tᵀ for X (r × r) row-major, T (a × r): down the columns first (tmp = T X), then along the rows. */
function transform2d(out: Float32Array, T: number[][], X: Float32Array, tmp: Float32Array): void {
  const a = T.length, r = T[0].length;
  for (let i = 0; i < a; i++) for (let j = 0; j < r; j++) tmp[i * r + j] = lin(T[i], X, j, r);
  for (let i = 0; i < a; i++) for (let k = 0; k < a; k++) out[i * a + k] = lin(T[k], tmp, i * r, 1);
}

/** Scratch of the reference transforms (at most 6 × 6: α ≤ 6, r ≤ 5). */
const X36 = new Float32Array(36), T36 = new Float32Array(36), O36 = new Float32Array(36);

/** U (α², F, C) = G w Gᵀ for every filter f and channel c of w (F, r, r, C); with `cf` laid out (α², C, F). */
export function winogradFilter(U: Float32Array, w: Float32Array, F: number, C: number, m: number, r: number, cf: boolean): void {
  const { G } = winogradMatrices(m, r);
  const a2 = (m + r - 1) ** 2, taps = r * r;
  for (let f = 0; f < F; f++) {
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < taps; t++) X36[t] = w[(f * taps + t) * C + c];
      transform2d(O36, G, X36, T36);
      for (let xi = 0; xi < a2; xi++) U[cf ? (xi * C + c) * F + f : (xi * F + f) * C + c] = O36[xi];
    }
  }
}

/** dw (F, r, r, C) = Gᵀ dU G: the adjoint of winogradFilter (dw written). */
export function winogradFilterGrad(dw: Float32Array, dU: Float32Array, F: number, C: number, m: number, r: number): void {
  const GT = transpose(winogradMatrices(m, r).G);
  const a2 = (m + r - 1) ** 2, taps = r * r;
  for (let f = 0; f < F; f++) {
    for (let c = 0; c < C; c++) {
      for (let xi = 0; xi < a2; xi++) X36[xi] = dU[(xi * F + f) * C + c];
      transform2d(O36, GT, X36, T36);
      for (let t = 0; t < taps; t++) dw[(f * taps + t) * C + c] = O36[t];
    }
  }
}

/** Visits the tiles of M images in order: f(p, n, y0, x0) with the tile's index and its patch's top-left input pixel. */
function eachTile(M: number, g: ConvGeometry, m: number, f: (p: number, n: number, y0: number, x0: number) => void): void {
  const { TY, TX } = winogradTiles(g, m);
  let p = 0;
  for (let n = 0; n < M; n++) for (let ty = 0; ty < TY; ty++) for (let tx = 0; tx < TX; tx++) f(p++, n, ty * m - g.pad, tx * m - g.pad);
}

/** V (α², P, C) = Bᵀ d B for the α×α patch d of every tile and channel of x (M, H, W, C), 0 outside the image. */
export function winogradInput(V: Float32Array, x: Float32Array, M: number, g: ConvGeometry, m: number): void {
  const { BT } = winogradMatrices(m, g.k);
  const { TY, TX, alpha: a } = winogradTiles(g, m);
  const P = M * TY * TX, C = g.C;
  eachTile(M, g, m, (p, n, y0, x0) => {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < a; i++) {
        for (let j = 0; j < a; j++) {
          const iy = y0 + i, ix = x0 + j;
          X36[i * a + j] = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W ? x[((n * g.H + iy) * g.W + ix) * C + c] : 0;
        }
      }
      transform2d(O36, BT, X36, T36);
      for (let xi = 0; xi < a * a; xi++) V[(xi * P + p) * C + c] = O36[xi];
    }
  });
}

/** dx (M, H, W, C) = Σ over tiles, in ascending tile, of B dV Bᵀ where the patch is inside the image: the adjoint of winogradInput (dx overwritten). */
export function winogradInputGrad(dx: Float32Array, dV: Float32Array, M: number, g: ConvGeometry, m: number): void {
  const B = transpose(winogradMatrices(m, g.k).BT);
  const { TY, TX, alpha: a } = winogradTiles(g, m);
  const P = M * TY * TX, C = g.C;
  dx.fill(0, 0, M * g.H * g.W * C);
  eachTile(M, g, m, (p, n, y0, x0) => {
    for (let c = 0; c < C; c++) {
      for (let xi = 0; xi < a * a; xi++) X36[xi] = dV[(xi * P + p) * C + c];
      transform2d(O36, B, X36, T36);
      for (let i = 0; i < a; i++) {
        for (let j = 0; j < a; j++) {
          const iy = y0 + i, ix = x0 + j;
          if (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W) {
            const q = ((n * g.H + iy) * g.W + ix) * C + c;
            dx[q] = f32(dx[q] + O36[i * a + j]);
          }
        }
      }
    }
  });
}

/**
 * out (M, OH, OW, F) = Aᵀ M A (+ bias, then a ReLU when `relu`) for every tile and filter, the m×m
 * outputs that fall inside the output image.
 */
export function winogradOutput(out: Float32Array, Mt: Float32Array, bias: Float32Array | null, M: number, g: ConvGeometry, F: number, m: number,
  relu: boolean): void {
  const { AT } = winogradMatrices(m, g.k);
  const { TY, TX, alpha: a } = winogradTiles(g, m);
  const P = M * TY * TX;
  eachTile(M, g, m, (p, n, y0, x0) => {
    const oy0 = y0 + g.pad, ox0 = x0 + g.pad;
    for (let f = 0; f < F; f++) {
      for (let xi = 0; xi < a * a; xi++) X36[xi] = Mt[(xi * P + p) * F + f];
      transform2d(O36, AT, X36, T36);
      for (let i = 0; i < m && oy0 + i < g.OH; i++) {
        for (let j = 0; j < m && ox0 + j < g.OW; j++) {
          let v = bias ? f32(O36[i * m + j] + bias[f]) : O36[i * m + j];
          if (relu && v < 0) v = 0; // (as the GEMMs' fused ReLU: NaN and −0 pass)
          out[((n * g.OH + oy0 + i) * g.OW + ox0 + j) * F + f] = v;
        }
      }
    }
  });
}

/** dM (α², P, F) = A dY Aᵀ for the m×m output gradient of every tile (0 outside the output image): the adjoint of winogradOutput's transform. */
export function winogradOutputGrad(dMt: Float32Array, dout: Float32Array, M: number, g: ConvGeometry, F: number, m: number): void {
  const A = transpose(winogradMatrices(m, g.k).AT);
  const { TY, TX, alpha: a } = winogradTiles(g, m);
  const P = M * TY * TX;
  eachTile(M, g, m, (p, n, y0, x0) => {
    const oy0 = y0 + g.pad, ox0 = x0 + g.pad;
    for (let f = 0; f < F; f++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          const oy = oy0 + i, ox = ox0 + j;
          X36[i * m + j] = oy < g.OH && ox < g.OW ? dout[((n * g.OH + oy) * g.OW + ox) * F + f] : 0;
        }
      }
      transform2d(O36, A, X36, T36);
      for (let xi = 0; xi < a * a; xi++) dMt[(xi * P + p) * F + f] = O36[xi];
    }
  });
}
