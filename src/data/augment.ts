import { badOption } from '../errors.js';
import { CounterRng, Stream, sampleKey } from '../rng.js';

/**
 * On-the-fly augmentation of single-channel H×W images in [0, 1], applied inside the training workers to
 * the rows of a gathered batch. Each image is resampled once: every output pixel is mapped back to a
 * source position (a random rotation, zoom and shift, plus an optional elastic displacement) and the
 * source is read there by bilinear interpolation, with 0 outside the image.
 *
 * A sample's random numbers come only from the counter-based stream keyed by (seed, epoch, sample), so an
 * augmented image is the same whatever worker, batch or row processed it: runs stay a function of their
 * seed and options, for any worker count.
 */

/** How strongly to distort each training image; every range is symmetric about "unchanged". */
export interface AugmentOptions {
  /** Largest rotation in degrees: the angle is uniform in [-rotate, rotate]. */
  rotate: number;
  /** Largest shift in pixels: x and y shifts are each uniform in [-shift, shift]. */
  shift: number;
  /** Largest relative zoom: the factor is uniform in [1 - scale, 1 + scale]; must be < 1. */
  scale: number;
  /** Elastic distortion strength alpha: the RMS displacement in pixels of each axis (0 = off). */
  elastic: number;
  /** Smoothing sigma in pixels of the elastic displacement field: larger is smoother. */
  elasticSigma: number;
}

/** No augmentation (the sigma only matters once `elastic` is set). */
export const NO_AUGMENT: Readonly<AugmentOptions> = Object.freeze({ rotate: 0, shift: 0, scale: 0, elastic: 0, elasticSigma: 4 });

/**
 * The usual MNIST CNN recipe: ±10°, ±2 px, ±10 % zoom. These keep a digit readable and, because MNIST
 * digits sit in the central 20×20 box of the 28×28 frame, almost always inside the frame.
 */
export const DEFAULT_AUGMENT: Readonly<AugmentOptions> = Object.freeze({ rotate: 10, shift: 2, scale: 0.1, elastic: 0, elasticSigma: 4 });

/** True when `o` leaves every image unchanged. */
export function isNoAugment(o: AugmentOptions): boolean {
  return o.rotate === 0 && o.shift === 0 && o.scale === 0 && o.elastic === 0;
}

const FLAG_HELP =
  'use none, default (rotate=10,shift=2,scale=0.1) or a list such as rotate=12,shift=2.5,scale=0.1,elastic=2,sigma=4 ' +
  '(rotate: degrees 0-180, shift: pixels, scale: 0 to <1, elastic: pixels, sigma: pixels >0 to 100)';

/** The list keys of `--augment` and the option each sets. */
const KEYS: Record<string, keyof AugmentOptions> = {
  rotate: 'rotate', shift: 'shift', scale: 'scale', elastic: 'elastic', sigma: 'elasticSigma',
};

/**
 * Parses the `--augment` flag: `none`/`off` → null (no augmentation), `default`/`on` → DEFAULT_AUGMENT,
 * or a comma-separated list of key=value from rotate, shift, scale, elastic, sigma; keys left out are off
 * (sigma defaults to 4). Throws BAD_OPTION naming the flag and what it accepts.
 */
export function parseAugment(text: string): AugmentOptions | null {
  const t = text.trim().toLowerCase();
  if (t === 'none' || t === 'off') return null;
  if (t === 'default' || t === 'on') return { ...DEFAULT_AUGMENT };
  const o: AugmentOptions = { ...NO_AUGMENT };
  const seen = new Set<string>();
  for (const item of t.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*(\d+(?:\.\d*)?|\.\d+)\s*$/.exec(item);
    if (!m) throw badOption(`--augment "${text}": "${item.trim()}" is not key=value with a non-negative number; ${FLAG_HELP}`);
    const key = KEYS[m[1]];
    if (key === undefined) throw badOption(`--augment "${text}": unknown key "${m[1]}"; ${FLAG_HELP}`);
    if (seen.has(m[1])) throw badOption(`--augment "${text}": "${m[1]}" is given twice; ${FLAG_HELP}`);
    seen.add(m[1]);
    o[key] = Number(m[2]);
  }
  if (o.rotate > 180) throw badOption(`--augment "${text}": rotate=${o.rotate} is over 180 degrees; ${FLAG_HELP}`);
  if (o.scale >= 1) throw badOption(`--augment "${text}": scale=${o.scale} would zoom by ${1 - o.scale} or less; it must be below 1; ${FLAG_HELP}`);
  if (!(o.elasticSigma > 0 && o.elasticSigma <= 100)) throw badOption(`--augment "${text}": sigma=${o.elasticSigma} must be above 0 and at most 100; ${FLAG_HELP}`);
  return o;
}

/** One line for logs, in the syntax parseAugment accepts: `none`, or `rotate=10,shift=2,scale=0.1[,elastic=…,sigma=…]`. */
export function formatAugment(o: AugmentOptions | null): string {
  if (o === null || isNoAugment(o)) return 'none';
  const affine = `rotate=${o.rotate},shift=${o.shift},scale=${o.scale}`;
  return o.elastic > 0 ? `${affine},elastic=${o.elastic},sigma=${o.elasticSigma}` : affine;
}

/**
 * A map from an output pixel (x, y) to the source position it reads:
 *   sx = xx·x + xy·y + x0,   sy = yx·x + yy·y + y0.
 * Pixel (x, y) is the centre of column x, row y; y grows downwards.
 */
export interface Affine {
  xx: number;
  xy: number;
  x0: number;
  yx: number;
  yy: number;
  y0: number;
}

/** The identity map (every pixel reads itself). */
export function identityAffine(): Affine {
  return { xx: 1, xy: 0, x0: 0, yx: 0, yy: 1, y0: 0 };
}

/**
 * The sampling map of "rotate by `degrees` (counter-clockwise on screen) and zoom by `scale` about the
 * image centre c = ((W-1)/2, (H-1)/2), then shift by (dx, dy) pixels". The forward map is
 *   p' = c + s·R(θ)·(p − c) + t,   R(θ) = [cos θ, sin θ; −sin θ, cos θ]   (y down),
 * and sampling needs its inverse, p = c + (1/s)·R(−θ)·(p' − c − t), written out as an Affine. With no
 * rotation and integer shifts every coefficient is exact, so such maps move pixels exactly.
 * Writes into `out` when given (so a hot loop allocates nothing).
 */
export function affineTransform(
  H: number, W: number, degrees: number, scale: number, dx: number, dy: number, out: Affine = identityAffine(),
): Affine {
  const theta = (degrees * Math.PI) / 180;
  const c = Math.cos(theta) / scale;
  const s = Math.sin(theta) / scale;
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  out.xx = c;
  out.xy = -s;
  out.yx = s;
  out.yy = c;
  // p = A·(p' − c − t) + c  ⇒  offset = c − A·(c + t).
  out.x0 = cx - (c * (cx + dx) - s * (cy + dy));
  out.y0 = cy - (s * (cx + dx) + c * (cy + dy));
  return out;
}

/**
 * Draws a sample's affine parameters (always four draws, in the order angle, zoom, x shift, y shift, so
 * that turning one kind of augmentation off does not change the others) and writes its sampling map.
 */
function drawAffine(rng: CounterRng, H: number, W: number, o: AugmentOptions, out: Affine): Affine {
  const degrees = o.rotate * (2 * rng.uniform() - 1);
  const scale = 1 + o.scale * (2 * rng.uniform() - 1);
  const dx = o.shift * (2 * rng.uniform() - 1);
  const dy = o.shift * (2 * rng.uniform() - 1);
  return affineTransform(H, W, degrees, scale, dx, dy, out);
}

/** The random stream of one sample's augmentation in one epoch: the only source of its draws. */
function sampleRng(seed: number, epoch: number, sample: number): CounterRng {
  return new CounterRng(seed, Stream.augment, sampleKey(epoch, sample));
}

/**
 * The affine part of the augmentation augmentBatch applies to `sample` in `epoch` (the elastic field, if
 * any, is added on top). Its determinant is 1/zoom², so an image's ink (sum of intensities) after
 * augmentation should be its ink before divided by the determinant, when nothing leaves the frame.
 */
export function sampleAffine(seed: number, epoch: number, sample: number, H: number, W: number, o: AugmentOptions): Affine {
  return drawAffine(sampleRng(seed, epoch, sample), H, W, o, identityAffine());
}

/** The truncation radius of the elastic smoothing kernel: 3 sigma, where exp(−r²/2σ²) < 1.2 %. */
function elasticRadius(sigma: number): number {
  return Math.max(1, Math.ceil(3 * sigma));
}

/**
 * The spacing of the grid on which the smoothed elastic field is computed exactly, bilinear in between:
 * ⌊sigma/2⌋ pixels (1, i.e. every pixel, below sigma 4). Why: the smoothing is most of the cost, and a
 * field smoothed with sigma is nearly linear over sigma/2 pixels, so interpolating it there is off by
 * about (h²/8)·|f''|: 2.6 % of alpha RMS, 13 % at the worst pixel, against the full-resolution field
 * (test/augment-elastic-field.test.ts), invisible in a random distortion. At sigma 4 it takes a 28×28
 * image from 65 to 44 µs.
 */
function elasticStep(sigma: number): number {
  return Math.max(1, Math.floor(sigma / 2));
}

/** Floats of the zero-bordered copy of one image that the sampler reads: (H+2)×(W+2). */
function paddedFloats(H: number, W: number): number {
  return (H + 2) * (W + 2);
}

/**
 * How many floats augmentBatch needs in `tmp` for H×W images: a zero-bordered copy of the image being
 * resampled and, with elastic distortion, six H×W fields, the R+1 smoothing weights and the interpolation
 * tables (3 per column and per row).
 */
export function augmentScratchFloats(H: number, W: number, o: AugmentOptions): number {
  const padded = paddedFloats(H, W);
  return o.elastic > 0 ? padded + 6 * H * W + elasticRadius(o.elasticSigma) + 1 + 3 * (W + H) : padded;
}

/** Copies image `img` (at `imgOff`) into the interior of the zero-bordered (H+2)×(W+2) image at pad[padOff…]. */
function copyPadded(pad: Float32Array, padOff: number, img: Float32Array, imgOff: number, H: number, W: number): void {
  const PW = W + 2;
  for (let y = 0; y < H; y++) {
    const to = padOff + (y + 1) * PW + 1;
    const from = imgOff + y * W;
    for (let x = 0; x < W; x++) pad[to + x] = img[from + x];
  }
}

/** Zeroes the one-pixel border of the (H+2)×(W+2) image at pad[padOff…] (its interior is rewritten per image). */
function zeroBorder(pad: Float32Array, padOff: number, H: number, W: number): void {
  const PW = W + 2;
  pad.fill(0, padOff, padOff + PW);
  pad.fill(0, padOff + (H + 1) * PW, padOff + (H + 2) * PW);
  for (let y = 1; y <= H; y++) {
    pad[padOff + y * PW] = 0;
    pad[padOff + y * PW + W + 1] = 0;
  }
}

/**
 * Resamples an image into `out` at `outOff` (H×W): out(x, y) is the bilinear interpolation of the source
 * at m(x, y), plus the displacement (field[fieldX + i], field[fieldY + i]) of pixel i when `field` is given.
 * The source is read from its zero-bordered copy pad[padOff…] ((H+2)×(W+2), image at (1, 1)), so one
 * range test per pixel replaces four neighbour tests: a position within a pixel of the image reads the
 * zero border, anything further out is 0.
 * Bilinear weights are non-negative and sum to one, so values in [0, 1] stay in [0, 1]; at an integer
 * position the interpolation is a + 0·(b − a), so the pixel is copied bit for bit.
 */
function warp(
  out: Float32Array, outOff: number, pad: Float32Array, padOff: number, H: number, W: number, m: Affine,
  field: Float32Array | null, fieldX: number, fieldY: number,
): void {
  const PW = W + 2;
  const { xx, xy, yx, yy } = m;
  for (let y = 0; y < H; y++) {
    // +1: from image to padded coordinates.
    const rowX = xy * y + m.x0 + 1;
    const rowY = yy * y + m.y0 + 1;
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      let sx = xx * x + rowX;
      let sy = yx * x + rowY;
      if (field !== null) {
        sx += field[fieldX + i];
        sy += field[fieldY + i];
      }
      let v = 0;
      if (sx > 0 && sy > 0 && sx < W + 1 && sy < H + 1) {
        const ix = sx | 0; // floor, as sx > 0
        const iy = sy | 0;
        const fx = sx - ix;
        const fy = sy - iy;
        const j = padOff + iy * PW + ix;
        const a = pad[j];
        const c = pad[j + PW];
        const top = a + fx * (pad[j + 1] - a);
        const bottom = c + fx * (pad[j + PW + 1] - c);
        v = top + fy * (bottom - top);
      }
      out[outOff + i] = v;
    }
  }
}

/**
 * Resamples one H×W image through an explicit map: out(x, y) = img at t(x, y), bilinear, 0 outside.
 * The geometric core of augmentBatch, exported to test it directly; allocates its padded copy, so it is
 * for tests and one-off use, not for loops.
 */
export function warpImage(out: Float32Array, img: Float32Array, H: number, W: number, t: Affine): void {
  const pad = new Float32Array(paddedFloats(H, W));
  copyPadded(pad, 0, img, 0, H, W);
  warp(out, 0, pad, 0, H, W, t, null, 0, 0);
}

/**
 * Writes the one-sided weights w₀…w_R of the elastic smoothing kernel at tmp[k…]: a Gaussian of `sigma`
 * truncated at R = 3σ, scaled so that two passes (rows, then columns) over uniform [-1, 1] noise give a
 * field whose RMS away from the borders is `alpha` pixels. Returns R.
 *
 * Why that scaling: with unit-sum weights w, a smoothed value Σᵢⱼ wᵢwⱼ·uᵢⱼ of independent u with
 * variance 1/3 has standard deviation (Σᵢ wᵢ²)/√3, which is tiny for large sigma (0.04 at σ = 4). Simard
 * et al. (2003) compensate with α = 34 at σ = 4; here each pass is multiplied by √(α·√3 / Σwᵢ²) instead,
 * so `elastic` reads directly in pixels (Simard's α = 34, σ = 4 is about elastic=1.4).
 */
function writeElasticKernel(tmp: Float32Array, k: number, sigma: number, alpha: number): number {
  const R = elasticRadius(sigma);
  const g = (j: number) => Math.exp((-j * j) / (2 * sigma * sigma));
  let sum = 0;
  let sumSq = 0;
  for (let j = -R; j <= R; j++) {
    sum += g(j);
    sumSq += g(j) * g(j);
  }
  sumSq /= sum * sum;
  const gain = Math.sqrt((alpha * Math.sqrt(3)) / sumSq);
  for (let j = 0; j <= R; j++) tmp[k + j] = (gain * g(j)) / sum;
  return R;
}

/** Nodes of the field grid along an axis of L pixels: 0, h, 2h, … and always the last pixel, L − 1. */
function gridNodes(L: number, h: number): number {
  return Math.floor((L - 1) / h) + 1 + ((L - 1) % h === 0 ? 0 : 1);
}

/** Pixel position of grid node i. */
function gridPos(i: number, L: number, h: number): number {
  return Math.min(i * h, L - 1);
}

/**
 * Writes, for each pixel p of an axis of L pixels, the grid nodes around it and its weight on the second:
 * tmp[t + 3p…] = (i, i + 1, (p − pos(i)) / (pos(i + 1) − pos(i))), clamped to one node if there is one.
 */
function writeGridTable(tmp: Float32Array, t: number, L: number, h: number): void {
  const n = gridNodes(L, h);
  for (let p = 0; p < L; p++) {
    const i = Math.min(Math.floor(p / h), Math.max(0, n - 2));
    const i1 = Math.min(i + 1, n - 1);
    const span = gridPos(i1, L, h) - gridPos(i, L, h);
    tmp[t + 3 * p] = i;
    tmp[t + 3 * p + 1] = i1;
    tmp[t + 3 * p + 2] = span > 0 ? (p - gridPos(i, L, h)) / span : 0;
  }
}

/** Where the elastic buffers sit in tmp after the padded image, in units of H×W floats (see augmentBatch). */
const Slot = { noiseX: 0, noiseY: 1, rowsX: 2, rowsY: 3, gridX: 4, gridY: 5, weights: 6 } as const;

/**
 * Draws the elastic displacement fields of one sample from `rng` into tmp at e + Slot.gridX·HW,
 * Slot.gridY·HW (step 1) or e + Slot.noiseX·HW, Slot.noiseY·HW (interpolated, step > 1); returns that
 * x-field offset (the y field follows at + HW).
 * The field is uniform [-1, 1] noise at every pixel, smoothed separably with the symmetric kernel w₀…w_R
 * (values outside the image count as 0, so the field fades a little near the borders), evaluated on the
 * grid of spacing `step` and bilinear in between.
 * Each 32-bit draw gives the noise of two pixels, both axes, one byte each (pixel i: x from bits 31-24,
 * y from 23-16; pixel i+1: x from 15-8, y from 7-0; a byte b is b/127.5 − 1). Why: one draw per noise
 * value would cost as much as the whole affine warp, and 256 levels lose nothing once smoothed: each
 * field value averages ~4πσ² noise values, and their variance is only 0.8 % above the continuous 1/3.
 */
function drawElasticField(rng: CounterRng, tmp: Float32Array, H: number, W: number, e: number, R: number, step: number): number {
  const HW = H * W;
  const noiseX = e + Slot.noiseX * HW, noiseY = e + Slot.noiseY * HW;
  const rowsX = e + Slot.rowsX * HW, rowsY = e + Slot.rowsY * HW;
  const gridX = e + Slot.gridX * HW, gridY = e + Slot.gridY * HW;
  const k = e + Slot.weights * HW;
  const toUnit = 1 / 127.5; // byte 0…255 → [0, 2]
  for (let i = 0; i < HW; i += 2) {
    const bits = rng.uniform() * 4294967296; // the draw's 32 bits, exactly
    tmp[noiseX + i] = (bits >>> 24) * toUnit - 1;
    tmp[noiseY + i] = ((bits >>> 16) & 0xff) * toUnit - 1;
    if (i + 1 < HW) {
      tmp[noiseX + i + 1] = ((bits >>> 8) & 0xff) * toUnit - 1;
      tmp[noiseY + i + 1] = (bits & 0xff) * toUnit - 1;
    }
  }
  const nx = gridNodes(W, step);
  const ny = gridNodes(H, step);
  smoothRows(tmp, H, W, step, nx, noiseX, noiseY, rowsX, rowsY, k, R);
  smoothColumns(tmp, H, W, step, nx, ny, rowsX, rowsY, gridX, gridY, k, R);
  if (step === 1) return gridX;
  // Interpolate the grid back onto every pixel, over the noise (no longer needed).
  const tableX = k + R + 1;
  const tableY = tableX + 3 * W;
  for (let y = 0; y < H; y++) {
    const r0 = tmp[tableY + 3 * y] * nx, r1 = tmp[tableY + 3 * y + 1] * nx, fy = tmp[tableY + 3 * y + 2];
    for (let x = 0; x < W; x++) {
      const c0 = tmp[tableX + 3 * x], c1 = tmp[tableX + 3 * x + 1], fx = tmp[tableX + 3 * x + 2];
      let top = tmp[gridX + r0 + c0] + fx * (tmp[gridX + r0 + c1] - tmp[gridX + r0 + c0]);
      let bottom = tmp[gridX + r1 + c0] + fx * (tmp[gridX + r1 + c1] - tmp[gridX + r1 + c0]);
      tmp[noiseX + y * W + x] = top + fy * (bottom - top);
      top = tmp[gridY + r0 + c0] + fx * (tmp[gridY + r0 + c1] - tmp[gridY + r0 + c0]);
      bottom = tmp[gridY + r1 + c0] + fx * (tmp[gridY + r1 + c1] - tmp[gridY + r1 + c0]);
      tmp[noiseY + y * W + x] = top + fy * (bottom - top);
    }
  }
  return noiseX;
}

/**
 * The row pass of the smoothing, for both fields at once, at the nx grid columns of every row:
 * out(y, i) = w₀·in(y, x) + Σⱼ wⱼ·(in(y, x − j) + in(y, x + j)) with x = pos(i), the taps that fall
 * outside the row dropped. Pairing the taps that have both sides inside halves the multiplications.
 * `in` is H×W, `out` H×nx.
 */
function smoothRows(
  tmp: Float32Array, H: number, W: number, step: number, nx: number,
  inX: number, inY: number, outX: number, outY: number, k: number, R: number,
): void {
  const w0 = tmp[k];
  for (let y = 0; y < H; y++) {
    const Fx = inX + y * W;
    const Fy = inY + y * W;
    for (let i = 0; i < nx; i++) {
      const x = gridPos(i, W, step);
      const left = Math.min(R, x);
      const right = Math.min(R, W - 1 - x);
      const both = Math.min(left, right);
      let a = w0 * tmp[Fx + x];
      let b = w0 * tmp[Fy + x];
      for (let j = 1; j <= both; j++) {
        const w = tmp[k + j];
        a += w * (tmp[Fx + x - j] + tmp[Fx + x + j]);
        b += w * (tmp[Fy + x - j] + tmp[Fy + x + j]);
      }
      for (let j = both + 1; j <= left; j++) {
        const w = tmp[k + j];
        a += w * tmp[Fx + x - j];
        b += w * tmp[Fy + x - j];
      }
      for (let j = both + 1; j <= right; j++) {
        const w = tmp[k + j];
        a += w * tmp[Fx + x + j];
        b += w * tmp[Fy + x + j];
      }
      tmp[outX + y * nx + i] = a;
      tmp[outY + y * nx + i] = b;
    }
  }
}

/**
 * The column pass: the same along y (a stride of nx), at the ny grid rows; `in` is H×nx, `out` ny×nx.
 * Kept apart from smoothRows: one pass with the strides as arguments measured 6 % slower over all.
 */
function smoothColumns(
  tmp: Float32Array, H: number, W: number, step: number, nx: number, ny: number,
  inX: number, inY: number, outX: number, outY: number, k: number, R: number,
): void {
  const w0 = tmp[k];
  for (let m = 0; m < ny; m++) {
    const y = gridPos(m, H, step);
    const up = Math.min(R, y);
    const down = Math.min(R, H - 1 - y);
    const both = Math.min(up, down);
    for (let i = 0; i < nx; i++) {
      const Sx = inX + y * nx + i;
      const Sy = inY + y * nx + i;
      let a = w0 * tmp[Sx];
      let b = w0 * tmp[Sy];
      for (let j = 1; j <= both; j++) {
        const w = tmp[k + j];
        const d = j * nx;
        a += w * (tmp[Sx - d] + tmp[Sx + d]);
        b += w * (tmp[Sy - d] + tmp[Sy + d]);
      }
      for (let j = both + 1; j <= up; j++) {
        const w = tmp[k + j];
        a += w * tmp[Sx - j * nx];
        b += w * tmp[Sy - j * nx];
      }
      for (let j = both + 1; j <= down; j++) {
        const w = tmp[k + j];
        a += w * tmp[Sx + j * nx];
        b += w * tmp[Sy + j * nx];
      }
      tmp[outX + m * nx + i] = a;
      tmp[outY + m * nx + i] = b;
    }
  }
}

/** Reused by augmentBatch so that it allocates nothing; it holds nothing between rows or calls. */
const rowAffine: Affine = identityAffine();

/**
 * Augments the M images in X (row r: H·W floats in [0, 1], sample index[r]) in place. Row r draws only
 * from the stream keyed by (seed, epoch, index[r]): first the affine map (rotation, zoom, shift; see
 * affineTransform), then, with `elastic` on, a smooth random displacement field (Simard et al. 2003)
 * added to the affine sampling positions, so that each image is interpolated once.
 * `tmp` is scratch of at least augmentScratchFloats(H, W, o) floats; nothing is allocated but the
 * per-row stream.
 */
export function augmentBatch(
  X: Float32Array, tmp: Float32Array, index: Int32Array, M: number, H: number, W: number,
  seed: number, epoch: number, o: AugmentOptions,
): void {
  if (isNoAugment(o)) return;
  const HW = H * W;
  const need = augmentScratchFloats(H, W, o);
  if (tmp.length < need) throw new Error(`augmentBatch: tmp has ${tmp.length} floats, needs ${need} (augmentScratchFloats)`);
  if (X.length < M * HW || index.length < M) throw new Error(`augmentBatch: X or index is shorter than ${M} rows of ${H}×${W}`);
  // tmp: [padded source (H+2)×(W+2) | with elastic only: noise x, noise y, row pass x, y, grid x, y
  // (H×W each, see Slot) | weights w₀…w_R | column table 3W | row table 3H].
  const elastic = o.elastic > 0;
  const e = paddedFloats(H, W);
  const step = elasticStep(o.elasticSigma);
  const R = elastic ? writeElasticKernel(tmp, e + Slot.weights * HW, o.elasticSigma, o.elastic) : 0;
  if (elastic) {
    writeGridTable(tmp, e + Slot.weights * HW + R + 1, W, step);
    writeGridTable(tmp, e + Slot.weights * HW + R + 1 + 3 * W, H, step);
  }
  zeroBorder(tmp, 0, H, W);
  for (let r = 0; r < M; r++) {
    const rng = sampleRng(seed, epoch, index[r]);
    drawAffine(rng, H, W, o, rowAffine);
    const field = elastic ? drawElasticField(rng, tmp, H, W, e, R, step) : 0;
    copyPadded(tmp, 0, X, r * HW, H, W);
    warp(X, r * HW, tmp, 0, H, W, rowAffine, elastic ? tmp : null, field, field + HW);
  }
}
