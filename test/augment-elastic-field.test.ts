import { describe, expect, it } from 'vitest';
import { augmentBatch, augmentScratchFloats, NO_AUGMENT } from '../src/data/augment.js';
import { CounterRng, sampleKey, Stream } from '../src/rng.js';

// The elastic displacement field, read back through linear ramps: bilinear sampling reproduces a linear
// image exactly, so out(x, y) of the ramp (x + 1)/29 tells the x position that pixel (x, y) sampled.
const H = 28, W = 28, HW = H * W, N = 200;

/** Ramps in x and y, rising and falling; the two of one axis agree only where the sample was inside. */
const RAMPS = [
  (x: number) => (x + 1) / 29, // linear on [-1, 27]: the zero outside continues it on the left
  (x: number) => (28 - x) / 29, // linear on [0, 28]
];

/** The displacement (dx, dy) of pixel (x, y) for samples 0…N-1 (epoch 0, seed 1), or null where it sampled outside. */
function displacements(elastic: number, elasticSigma: number): (s: number, x: number, y: number) => [number, number] | null {
  const o = { ...NO_AUGMENT, elastic, elasticSigma };
  const X = new Float32Array(4 * N * HW);
  const index = new Int32Array(4 * N);
  for (let s = 0; s < N; s++)
    for (let c = 0; c < 4; c++) {
      index[4 * s + c] = s; // the four ramps of sample s get the same field
      const ramp = RAMPS[c % 2];
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) X[(4 * s + c) * HW + y * W + x] = ramp(c < 2 ? x : y);
    }
  augmentBatch(X, new Float32Array(augmentScratchFloats(H, W, o)), index, 4 * N, H, W, 1, 0, o);
  return (s, x, y) => {
    const v = (c: number) => X[(4 * s + c) * HW + y * W + x];
    const [sx, sx2, sy, sy2] = [29 * v(0) - 1, 28 - 29 * v(1), 29 * v(2) - 1, 28 - 29 * v(3)];
    return Math.abs(sx - sx2) < 1e-4 && Math.abs(sy - sy2) < 1e-4 ? [sx - x, sy - y] : null;
  };
}

/** RMS displacement, and RMS change from one pixel to the next, over the central 8×8 pixels. */
function centreStats(elastic: number, sigma: number): { rms: number; step: number } {
  const d = displacements(elastic, sigma);
  let sq = 0, n = 0, steps = 0, m = 0;
  for (let s = 0; s < N; s++)
    for (let y = 10; y < 18; y++)
      for (let x = 10; x < 18; x++) {
        const p = d(s, x, y), q = d(s, x + 1, y);
        expect(p, 'the centre never samples outside').not.toBeNull();
        sq += p![0] ** 2 + p![1] ** 2;
        n += 2;
        if (q) {
          steps += (q[0] - p![0]) ** 2 + (q[1] - p![1]) ** 2;
          m += 2;
        }
      }
  return { rms: Math.sqrt(sq / n), step: Math.sqrt(steps / m) };
}

describe('the elastic displacement field', () => {
  it.each([
    [2, 4],
    [1, 2],
    [1, 8],
  ])('with elastic=%d, sigma=%d moves the centre pixels by elastic pixels RMS, smoothly (RMS gradient elastic/(sigma·√2))', (elastic, sigma) => {
    // Reference: a Gaussian-smoothed white field of RMS α has an RMS gradient of α/(σ√2) per axis.
    // Measured: RMS 1.95, 0.99, 0.96 and steps 0.340, 0.349, 0.076 against 0.354, 0.354, 0.088 (at sigma 8
    // the field is interpolated over 4 pixels, which smooths it a little more).
    const { rms, step } = centreStats(elastic, sigma);
    expect(rms / elastic).toBeGreaterThan(0.9);
    expect(rms / elastic).toBeLessThan(1.1);
    expect(step / (elastic / (sigma * Math.SQRT2))).toBeGreaterThan(0.8);
    expect(step / (elastic / (sigma * Math.SQRT2))).toBeLessThan(1.2);
  });
});

/**
 * The documented field, naively in float64 at every pixel: after the 4 affine draws, each draw gives two
 * pixels' noise as bytes (x, y of pixel i, then of i+1; b → b/127.5 − 1); the field is that noise convolved
 * in 2-D with w(j)·w(k), w the unit-sum Gaussian truncated at R = ⌈3σ⌉ (0 outside the image), times
 * α·√3 / Σw².
 */
function referenceField(sample: number, alpha: number, sigma: number): [Float64Array, Float64Array] {
  const rng = new CounterRng(1, Stream.augment, sampleKey(0, sample));
  for (let i = 0; i < 4; i++) rng.uniform();
  const noise = [new Float64Array(HW), new Float64Array(HW)];
  for (let i = 0; i < HW; i += 2) {
    const b = rng.uniform() * 2 ** 32;
    const bytes = [Math.floor(b / 2 ** 24), Math.floor(b / 2 ** 16) % 256, Math.floor(b / 2 ** 8) % 256, b % 256];
    noise[0][i] = bytes[0] / 127.5 - 1;
    noise[1][i] = bytes[1] / 127.5 - 1;
    if (i + 1 < HW) [noise[0][i + 1], noise[1][i + 1]] = [bytes[2] / 127.5 - 1, bytes[3] / 127.5 - 1];
  }
  const R = Math.ceil(3 * sigma);
  const g = Array.from({ length: 2 * R + 1 }, (_, j) => Math.exp(-((j - R) ** 2) / (2 * sigma * sigma)));
  const sum = g.reduce((a, v) => a + v, 0);
  const w = g.map((v) => v / sum);
  const gain = (alpha * Math.sqrt(3)) / w.reduce((a, v) => a + v * v, 0);
  return noise.map((n) => {
    const f = new Float64Array(HW);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        let acc = 0;
        for (let t = Math.max(0, y - R); t <= Math.min(H - 1, y + R); t++)
          for (let s = Math.max(0, x - R); s <= Math.min(W - 1, x + R); s++) acc += w[s - x + R] * w[t - y + R] * n[t * W + s];
        f[y * W + x] = gain * acc;
      }
    return f;
  }) as [Float64Array, Float64Array];
}

describe('the elastic field against a naive reference', () => {
  it.each([
    [1.5, 2, 1e-5], // every pixel smoothed exactly: only float32 rounding differs
    [2, 4, 0.05], // smoothed exactly on every 2nd pixel, bilinear between
    [1, 8, 0.05], // every 4th pixel
  ])('with elastic=%d, sigma=%d, it matches to within %d of elastic (RMS over the pixels)', (alpha, sigma, tolerance) => {
    // Reference: measured RMS errors 3e-7, 0.026 and 0.025 of elastic; the worst pixel 1.2e-6, 0.13, 0.11.
    const d = displacements(alpha, sigma);
    let sq = 0, n = 0, worst = 0;
    for (let s = 0; s < 20; s++) {
      const [fx, fy] = referenceField(s, alpha, sigma);
      for (let i = 0; i < HW; i++) {
        const p = d(s, i % W, Math.floor(i / W));
        if (!p) continue;
        for (const e of [p[0] - fx[i], p[1] - fy[i]]) {
          sq += e * e;
          n++;
          worst = Math.max(worst, Math.abs(e));
        }
      }
    }
    expect(n).toBeGreaterThan(20 * HW);
    expect(Math.sqrt(sq / n) / alpha).toBeLessThan(tolerance);
    expect(worst / alpha).toBeLessThan(4 * tolerance);
  });
});
