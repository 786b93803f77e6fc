import { describe, expect, it } from 'vitest';
import { affineTransform, identityAffine, warpImage, type Affine } from '../src/data/augment.js';

// The resampler on its own, through explicit maps whose result is known exactly.
const H = 28, W = 28;

/** A pattern with no symmetry: every pixel a different value in (0, 1]. */
const pattern = Float32Array.from({ length: H * W }, (_, i) => (((i * 37) % (H * W)) + 1) / (H * W));
const at = (img: Float32Array, x: number, y: number) => (x >= 0 && y >= 0 && x < W && y < H ? img[y * W + x] : 0);

function warped(t: Affine, img = pattern): Float32Array {
  const out = new Float32Array(H * W).fill(NaN);
  warpImage(out, img, H, W, t);
  return out;
}

describe('resampling an image through an affine map', () => {
  it('copies the image exactly through the identity', () => {
    expect(warped(identityAffine())).toEqual(pattern);
    expect(warped(affineTransform(H, W, 0, 1, 0, 0))).toEqual(pattern);
  });

  it('moves the image exactly by whole-pixel shifts, filling with 0', () => {
    for (const [dx, dy] of [[1, 0], [0, 1], [-2, 3], [5, -4]]) {
      const out = warped(affineTransform(H, W, 0, 1, dx, dy));
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) expect(out[y * W + x], `(${x},${y}) shifted by (${dx},${dy})`).toBe(at(pattern, x - dx, y - dy));
    }
  });

  it('rotates by 90° counter-clockwise (on screen) and by 180° about the centre', () => {
    // Counter-clockwise with y down: the pixel right of centre moves above it, so out(x, y) = in(W-1-y, x).
    const r90 = warped(affineTransform(H, W, 90, 1, 0, 0));
    const r180 = warped(affineTransform(H, W, 180, 1, 0, 0));
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        // cos 90° is 6e-17, not 0, so the positions are off by ~1e-15 pixel.
        expect(r90[y * W + x]).toBeCloseTo(at(pattern, W - 1 - y, x), 6);
        expect(r180[y * W + x]).toBeCloseTo(at(pattern, W - 1 - x, H - 1 - y), 6);
      }
  });

  it('reproduces a linear ramp at the mapped position for any rotation and zoom (bilinear is exact on linear images)', () => {
    const ramp = Float32Array.from({ length: H * W }, (_, i) => (0.5 * (i % W) + 0.3 * Math.floor(i / W)) / 25);
    for (const [deg, s, dx, dy] of [[17, 1.1, 0.4, -1.3], [-33, 0.8, 2.5, 0.25], [0, 2, 0, 0]]) {
      const t = affineTransform(H, W, deg, s, dx, dy);
      const out = warped(t, ramp);
      let checked = 0;
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const sx = t.xx * x + t.xy * y + t.x0, sy = t.yx * x + t.yy * y + t.y0;
          if (sx < 0 || sy < 0 || sx > W - 1 || sy > H - 1) continue; // sampled (partly) outside
          expect(out[y * W + x]).toBeCloseTo((0.5 * sx + 0.3 * sy) / 25, 6);
          checked++;
        }
      expect(checked).toBeGreaterThan(100);
    }
  });

  it('maps the forward transform: a dot at p lands at c + s·R(θ)(p − c) + t', () => {
    const dot = new Float32Array(H * W);
    dot[10 * W + 20] = 1; // (x, y) = (20, 10)
    const [c, p] = [(W - 1) / 2, { x: 20, y: 10 }];
    const s = 1.25, t = { x: -1.5, y: 2 }, th = (30 * Math.PI) / 180;
    const out = warped(affineTransform(H, W, 30, s, t.x, t.y), dot);
    // y down, counter-clockwise on screen: R(θ) = [cos θ, sin θ; −sin θ, cos θ].
    const qx = c + s * (Math.cos(th) * (p.x - c) + Math.sin(th) * (p.y - c)) + t.x;
    const qy = c + s * (-Math.sin(th) * (p.x - c) + Math.cos(th) * (p.y - c)) + t.y;
    let sum = 0, mx = 0, my = 0;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const v = out[y * W + x];
        sum += v; mx += v * x; my += v * y;
      }
    // The dot's centre of mass lands on q (to within the blur of bilinear resampling).
    expect(mx / sum).toBeCloseTo(qx, 1);
    expect(my / sum).toBeCloseTo(qy, 1);
  });
});
