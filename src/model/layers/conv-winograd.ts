import type { ConvGeometry } from '../../kernels/kernels.js';
import { winogradApplies, winogradTiles, type WinogradTile } from '../../kernels/winograd.js';
import type { ConvNode } from './conv.js';
import { eachShard, tensorOf, training, view, type ConvAlgorithm, type Pass } from './layer.js';

/**
 * A 3×3 or 5×5 stride-1 convolution as Winograd F(m×m, r×r) (the maths: src/kernels/winograd.ts): per chunk of
 * samples, the input transform of its tiles, α² GEMMs over the tiles (the same SIMD GEMMs as im2col's),
 * and the output transform; backward the adjoints. U (α², F, C) is the filter transform of the weights.
 */
export interface WinogradPlan {
  m: WinogradTile;
  alpha: number;
  /** Tiles per image. */
  tiles: number;
  /**
   * Samples per call. Fixed by the layer's shape alone (as im2col's chunk): the weight gradient of a
   * micro-shard is summed chunk by chunk, so the chunk must not depend on the worker count (determinism).
   */
  chunk: number;
  /**
   * Samples per pass (≤ chunk): the transforms and GEMMs walk a chunk in parts of this many samples, so
   * that a part's transformed tiles (α²·P·C floats for V, dV and M) stay in L2. Bits do not depend on it:
   * forward and input gradient are per tile, and the weight gradient carries each chunk's sum on from
   * part to part (gemmAtBAcc), so the sums are the chunk's.
   */
  part: number;
  /**
   * Whether backward runs through Winograd too. Not for a 5×5 layer under `--conv auto` whose output
   * gradient is mostly zeros (a ReLU or max pooling follows, ConvNode.sparseGrad): there im2col's sparse
   * backward, whose K = 25·C is long, beats Winograd's (cnn's 12×12×32 → 64 layer, bench:kernels), and the
   * forward alone runs as Winograd.
   */
  backward: boolean;
}

/** Tiles a chunk's weight-gradient sum runs over (fixed: it sets the bits of dW). */
const CHUNK_TILES = 256;
/**
 * Tiles a part aims at: one 26×26 image (36 tiles of F(4×4)) for cnn-wide's second layer, whose part's V,
 * dV and M then take 0.5 MB instead of 3.5 MB for the chunk's 7 images. The part's image count is kept
 * odd: a plane of the part is P·C·4 bytes apart from the next, and the more factors of two that has, the
 * fewer L1 sets the α² planes a tile writes and reads fall in (cnn-wide's 10×10×64 layer, 4 tiles of 256
 * bytes an image: 16 images put all 36 planes 16 KiB apart, in one set; parts of 16 images ran 12 %
 * slower there than parts of 9, interleaved, medians of 60; elsewhere the part's size was within
 * the noise, measured on a 2-core EPYC with 32 KiB of L1 and 512 KiB of L2 a core).
 */
const PART_TILES = 36;

/** Images per part: as many as fit PART_TILES (at least one, at most a chunk), odd (see PART_TILES). */
function partImages(tiles: number, chunk: number): number {
  const n = Math.min(chunk, Math.max(1, Math.floor(PART_TILES / tiles)));
  return n > 1 && n % 2 === 0 ? n - 1 : n;
}

/**
 * The rule of `--conv auto`, on the layer's shape only (so a recipe trains the same bits on any machine):
 * Winograd for a 3×3 or 5×5 stride-1 layer with at least 16 input channels. With fewer, each of the α²
 * GEMMs sums over so few channels (K = C) that the transforms cost more than the GEMM work they save: the
 * first layer of a network (C = 1) stays im2col + GEMM (K = 9 or 25). Measured by `npm run bench:kernels`
 * (BENCHMARKS.md; the 5×5 layers of cnn-small-bn and cnn in the session of 2026-12-03 18:48).
 */
export function winogradWins(g: ConvGeometry): boolean {
  return winogradApplies(g) && g.C >= 16;
}

/**
 * The tile, by the output's shape: for a 5×5 window F(2×2, 5×5), the one built; for 3×3 F(4×4, 3×3) (36
 * multiplications per 16 outputs, against F(2×2)'s 16 per 4: 0.56× the GEMM work per output) unless its
 * tiles overhang the output by 25 % more area than F(2×2)'s do (a 10×10 output: 12×12 in F(4×4) tiles,
 * 10×10 in F(2×2) ones).
 */
export function winogradTile(g: ConvGeometry): WinogradTile {
  if (g.k === 5) return 2;
  const area = (m: number) => Math.ceil(g.OH / m) * Math.ceil(g.OW / m) * m * m;
  return area(4) <= 1.25 * area(2) ? 4 : 2;
}

/**
 * The plan of a layer, or null for im2col + GEMM (another window or stride, `--conv im2col`, or auto's rule
 * says no); `sparseGrad`: the layer's output gradient is mostly zeros (see WinogradPlan.backward).
 */
export function compileWinograd(conv: ConvAlgorithm, g: ConvGeometry, sparseGrad: boolean): WinogradPlan | null {
  if (conv === 'im2col' || !winogradApplies(g) || (conv === 'auto' && !winogradWins(g))) return null;
  const m = winogradTile(g);
  const { TY, TX, alpha } = winogradTiles(g, m);
  const tiles = TY * TX, chunk = Math.max(1, Math.floor(CHUNK_TILES / tiles));
  return { m, alpha, tiles, chunk, part: partImages(tiles, chunk), backward: !(conv === 'auto' && g.k === 5 && sparseGrad) };
}

/** The named views of the Winograd scratch (buf.wino): U, dU, tmpU (α², F, C) · V, dV (α², P, C) · Mt (α², P, F) for one part's P tiles. */
function scratchViews(wino: Float32Array, w: WinogradPlan, C: number, F: number) {
  const a2 = w.alpha * w.alpha, P = w.part * w.tiles;
  const sizes = { U: a2 * F * C, dU: a2 * F * C, tmpU: a2 * F * C, V: a2 * P * C, dV: a2 * P * C, Mt: a2 * P * F };
  let at = 0;
  const out = {} as Record<keyof typeof sizes, Float32Array>;
  for (const [name, n] of Object.entries(sizes) as [keyof typeof sizes, number][]) {
    out[name] = view(wino, at, n);
    at += n;
  }
  return out;
}

/** Floats of scratch a layer needs (scratchViews' total). */
export function winogradScratch(w: WinogradPlan, g: ConvGeometry, F: number): number {
  const a2 = w.alpha * w.alpha, P = w.part * w.tiles;
  return a2 * (3 * F * g.C + 2 * P * g.C + P * F);
}

/** out (M·OH·OW, F) = conv(x, W) + b, part by part, the ReLU fused into the output transform. */
export function winogradForward({ k, params, buf, M }: Pass, c: ConvNode, w: WinogradPlan, out: Float32Array, x: Float32Array): void {
  const { g, filters: F } = c;
  const C = g.C, a2 = w.alpha * w.alpha;
  const { U, V, Mt } = scratchViews(buf.wino, w, C, F);
  k.winogradFilter(U, tensorOf(params, c.w), F, C, w.m, g.k, true); // U_ξ (C, F)
  const b = tensorOf(params, c.b);
  for (let n0 = 0; n0 < M; n0 += w.part) {
    const n = Math.min(w.part, M - n0), P = n * w.tiles;
    k.winogradInput(V, x.subarray(n0 * c.inSize), n, g, w.m);
    k.gemmABBatch(Mt, V, U, P, F, C, a2); // M_ξ (P, F) = V_ξ · U_ξ
    k.winogradOutput(out.subarray(n0 * c.outSize), Mt, b, n, g, F, w.m, c.act?.kind === 'relu');
  }
}

/**
 * Per micro-shard, chunk by chunk: dU += dMᵀ · V in the transformed domain (the first chunk written,
 * later ones added in order, so the sum is fixed by the shard alone), then dW = Gᵀ dU G and db = Σ dOut;
 * and dX = the input transform's adjoint of dM · U. A chunk runs part by part, its sum carried on
 * (gemmAtB on the first part, gemmAtBAcc on the next), the same sums as over the whole chunk at once.
 */
export function winogradBackward(p: Pass, c: ConvNode, w: WinogradPlan, dx: Float32Array | null, dout: Float32Array, x: Float32Array): void {
  const { k, params, buf, M } = p;
  const t = training(p);
  const { g, filters: F } = c;
  const C = g.C, a2 = w.alpha * w.alpha;
  const { U, dU, tmpU, V, dV, Mt } = scratchViews(buf.wino, w, C, F);
  if (dx) k.winogradFilter(U, tensorOf(params, c.w), F, C, w.m, g.k, false); // U_ξ (F, C)
  eachShard(t, M, (r, rows, s) => {
    const slot = t.slot(t.firstShard + s);
    for (let c0 = r; c0 < r + rows; c0 += w.chunk) {
      const cEnd = Math.min(c0 + w.chunk, r + rows);
      const target = c0 === r ? dU : tmpU;
      for (let n0 = c0; n0 < cEnd; n0 += w.part) {
        const n = Math.min(w.part, cEnd - n0), P = n * w.tiles;
        const dOut = dout.subarray(n0 * c.outSize); // (n·OH·OW, F)
        k.winogradInput(V, x.subarray(n0 * c.inSize), n, g, w.m);
        k.winogradOutputGrad(Mt, dOut, n, g, F, w.m); // dM (α², P, F)
        k.gemmAtBBatch(target, Mt, V, F, C, P, a2, n0 !== c0); // dU_ξ (F, C) = dM_ξᵀ · V_ξ, summed over the chunk
        if (dx) {
          k.gemmABBatch(dV, Mt, U, P, C, F, a2); // dV_ξ (P, C) = dM_ξ · U_ξ
          k.winogradInputGrad(dx.subarray(n0 * c.inSize), dV, n, g, w.m);
        }
      }
      if (target !== dU) k.addTo(dU, tmpU, a2 * F * C);
    }
    k.winogradFilterGrad(tensorOf(slot, c.w), dU, F, C, w.m, g.k);
    k.colSum(tensorOf(slot, c.b), dout.subarray(r * c.outSize), rows * g.OH * g.OW, F);
  });
}
