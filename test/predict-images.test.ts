import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { defaultMnistDir, loadIdxDataset, type Dataset } from '../src/data/dataset.js';
import { inkFromLight, readInkPng, resampleArea, toDigitImage } from '../src/data/digit-image.js';
import { MnistDpError } from '../src/errors.js';
import { loadModel } from '../src/checkpoint.js';
import { shippedModelFile } from '../src/model/model.js';
import { runCli } from './helpers/cli.js';

/**
 * Pictures of digits → MNIST-style images (src/data/digit-image.ts) → the shipped model. The real test:
 * MNIST test digits drawn into PNG files the way a person would hand them over (bigger, off-centre, dark
 * ink on white, or strokes on a transparent background) are read back and classified.
 */

let dir: string;
let test: Dataset;
const COUNT = 300;

/** Test digit n drawn `scale`× larger at (left, top) of a w×h canvas: black on white, or black strokes on transparency. */
function drawDigit(n: number, scale: number, w: number, h: number, left: number, top: number, transparent: boolean): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) png.data.set(transparent ? [0, 0, 0, 0] : [255, 255, 255, 255], 4 * i);
  for (let y = 0; y < 28 * scale; y++) {
    for (let x = 0; x < 28 * scale; x++) {
      const ink = test.images[n * 784 + Math.floor(y / scale) * 28 + Math.floor(x / scale)];
      const i = 4 * ((top + y) * w + left + x);
      if (transparent) png.data.set([0, 0, 0, ink], i);
      else png.data.set([255 - ink, 255 - ink, 255 - ink, 255], i);
    }
  }
  return PNG.sync.write(png);
}

const blankPng = () => {
  const png = new PNG({ width: 40, height: 40 });
  png.data.fill(255);
  return PNG.sync.write(png);
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mnist-dp-predict-'));
  test = (await loadIdxDataset(defaultMnistDir())).test;
  for (let n = 0; n < COUNT; n++) {
    const scale = 2 + (n % 3); // 56 to 112 pixels
    await writeFile(join(dir, `${n}.png`), drawDigit(n, scale, 130, 120, 3 + (n % 13), 1 + (n % 7), n % 2 === 1));
  }
  await writeFile(join(dir, 'blank.png'), blankPng());
  await writeFile(join(dir, 'not-a-png.png'), 'hello');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resampleArea', () => {
  it('shrinking by a whole factor gives the block means', () => {
    const src = Float32Array.from({ length: 6 * 4 }, (_, i) => (i * 7) % 5);
    const out = resampleArea(src, 6, 4, 3, 2);
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 3; x++) {
        const at = (yy: number, xx: number) => src[(2 * y + yy) * 6 + 2 * x + xx];
        expect(out[y * 3 + x]).toBeCloseTo((at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4, 6);
      }
    }
  });

  it('keeps the mean ink at any ratio, up or down', () => {
    const src = Float32Array.from({ length: 13 * 7 }, (_, i) => Math.abs(Math.sin(i)));
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    for (const [dw, dh] of [[5, 3], [20, 11], [13, 7], [1, 1]]) {
      expect(mean(resampleArea(src, 13, 7, dw, dh))).toBeCloseTo(mean(src), 5);
    }
  });
});

describe('toDigitImage', () => {
  it('scales the ink to a 20-pixel box and centres its mass in the 28×28 field', () => {
    // A solid bar 30 wide and 10 high, off-centre in a 100×60 image.
    const W = 100, H = 60;
    const ink = new Float32Array(W * H);
    for (let y = 5; y < 15; y++) for (let x = 60; x < 90; x++) ink[y * W + x] = 0.8;
    const out = toDigitImage({ width: W, height: H, ink });
    let x0 = 28, x1 = -1, y0 = 28, y1 = -1, mass = 0, mx = 0, my = 0, max = 0;
    out.forEach((v, i) => {
      if (v <= 0) return;
      const x = i % 28, y = Math.floor(i / 28);
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      mass += v; mx += v * x; my += v * y; max = Math.max(max, v);
    });
    expect([x1 - x0 + 1, y1 - y0 + 1]).toEqual([20, 7]); // 30×10 → 20×6.67, rounded
    expect(Math.abs(mx / mass - 13.5)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(my / mass - 13.5)).toBeLessThanOrEqual(0.5);
    expect(max).toBeCloseTo(1, 6); // the strongest ink becomes 1
  });

  it('refuses a blank image, naming it', () => {
    expect(() => toDigitImage({ width: 5, height: 5, ink: new Float32Array(25) }, undefined, 'empty.png')).toThrow(/empty\.png: has no ink/);
  });

  it('reads dark ink on a light background, and light ink on a dark one, as the same ink', () => {
    const light = Float32Array.from({ length: 25 }, (_, i) => (i === 12 ? 0.1 : 0.9));
    expect(inkFromLight(light, 5, 5)[12]).toBeCloseTo(0.9, 6);
    expect(inkFromLight(light.map((v) => 1 - v), 5, 5)[12]).toBeCloseTo(0.9, 6);
  });
});

describe('pictures of real digits', () => {
  it('MNIST test digits drawn into PNG files, larger and off-centre, are classified as well as the originals', async () => {
    // Reference: 299/300 when this test was written, as for the original 28×28 images.
    const model = await loadModel(shippedModelFile());
    let right = 0;
    for (let n = 0; n < COUNT; n++) {
      const pixels = toDigitImage(await readInkPng(join(dir, `${n}.png`)));
      if (model.classify(pixels)[0] === test.labels[n]) right++;
    }
    expect(right / COUNT).toBeGreaterThanOrEqual(0.98);
  });

  it('mnist-dp predict prints the digit of each file, by default with the shipped model', () => {
    const r = runCli(dir, ['predict', '0.png', '1.png', '2.png', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; digit: number; probabilities: number[] });
    expect(lines.map((l) => l.file)).toEqual(['0.png', '1.png', '2.png']);
    expect(lines.map((l) => l.digit)).toEqual([test.labels[0], test.labels[1], test.labels[2]]);
    for (const l of lines) expect(l.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    const shown = runCli(dir, ['predict', '3.png', '--show', '--tta']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout.split('\n')[0]).toMatch(new RegExp(`^3\\.png  ${test.labels[3]}  `));
    expect(shown.stdout.split('\n').filter((l) => l.startsWith('  |'))).toHaveLength(28);
  });

  it('a blank picture, a file that is not a PNG, a missing file and no file at all each get a clear error', async () => {
    const blank = runCli(dir, ['predict', 'blank.png']);
    expect([blank.code, blank.stderr]).toEqual([1, 'mnist-dp: error: blank.png: has no ink: it is blank (or all one shade)\n']);
    const notPng = runCli(dir, ['predict', 'not-a-png.png']);
    expect(notPng.code).toBe(1);
    expect(notPng.stderr).toMatch(/^mnist-dp: error: not-a-png\.png: is not a readable PNG image .*save the digit as PNG\n$/);
    const missing = runCli(dir, ['predict', 'missing.png']);
    expect([missing.code, missing.stderr]).toEqual([1, 'mnist-dp: error: missing.png: no such file\n']);
    expect(runCli(dir, ['predict']).code).toBe(2);
    await expect(readInkPng(join(dir, 'missing.png'))).rejects.toBeInstanceOf(MnistDpError);
  });
});
