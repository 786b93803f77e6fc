import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMnistDir, loadIdxDataset, type Dataset } from '../src/data/dataset.js';
import { loadModel } from '../src/checkpoint.js';
import { shippedModelFile } from '../src/model/model.js';
import { startServer, type DigitServer } from '../src/serve/server.js';
import { launchChromium, SCREENSHOTS, watchPage } from './helpers/browser.js';

/**
 * The draw page in a real Chromium: ten MNIST test digits are drawn onto the canvas with the mouse, their
 * ink traced as pen paths (each row's runs of ink chained into zig-zag strokes), and the
 * digit the page shows is read back. The included model must read at least 9 of the 10.
 */

let server: DigitServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
let test: Dataset;
let watched: ReturnType<typeof watchPage>;

beforeAll(async () => {
  test = (await loadIdxDataset(defaultMnistDir())).test;
  server = await startServer({ model: await loadModel(shippedModelFile()), modelFile: shippedModelFile(), port: 0 });
  browser = await launchChromium();
  page = await browser.context.newPage();
  watched = watchPage(page, (url) => url.startsWith(server.url));
  await page.goto(server.url);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

interface Run { y: number; x0: number; x1: number; done?: boolean }

/**
 * The pen paths that trace test digit n, in 28×28 cells: the runs of ink (pixels ≥ 128) of each row,
 * chained into zig-zag paths (along a run, down to an overlapping run of the next row, back along it),
 * so that a digit takes a few strokes, as a hand would draw it.
 */
function inkPaths(n: number): { x: number; y: number }[][] {
  const runs: Run[] = [];
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      if (test.images[n * 784 + y * 28 + x] < 128) continue;
      const x0 = x;
      while (x + 1 < 28 && test.images[n * 784 + y * 28 + x + 1] >= 128) x++;
      runs.push({ y, x0, x1: x });
    }
  }
  const paths = [];
  for (const first of runs) {
    if (first.done) continue;
    const path = [];
    let run: Run | undefined = first, rightward = true;
    while (run) {
      run.done = true;
      path.push(rightward ? { x: run.x0, y: run.y } : { x: run.x1, y: run.y }, rightward ? { x: run.x1, y: run.y } : { x: run.x0, y: run.y });
      const r: Run = run;
      run = runs.find((o) => !o.done && o.y === r.y + 1 && o.x0 <= r.x1 + 1 && o.x1 >= r.x0 - 1);
      rightward = !rightward;
    }
    paths.push(path);
  }
  return paths;
}

/** Draws digit n on the pad with the mouse and returns the digit the page shows once the last stroke is answered. */
async function drawAndRead(n: number): Promise<string> {
  await page.click('#clear');
  const box = (await page.locator('#pad').boundingBox())!;
  const cell = box.width / 28;
  const at = (p: { x: number; y: number }) => [box.x + (p.x + 0.5) * cell, box.y + (p.y + 0.5) * cell] as const;
  for (const path of inkPaths(n)) {
    await page.mouse.move(...at(path[0]));
    await page.mouse.down();
    // One pointer event per corner of the path: the page interpolates between events, as it must for a fast hand.
    for (const p of path.slice(1)) await page.mouse.move(...at(p));
    await page.mouse.up();
  }
  await page.waitForFunction(() => document.body.dataset.sent === document.body.dataset.answered);
  return (await page.textContent('#digit'))!.trim();
}

describe('the draw page', () => {
  it('says what to do on an empty canvas', async () => {
    await expect(page.textContent('#message')).resolves.toBe('Draw a digit in the box.');
    expect(await page.textContent('#digit')).toBe('–');
  });

  it('reads at least 9 of 10 MNIST test digits drawn with the mouse, showing the 28×28 image and ten bars', async () => {
    const read: string[] = [];
    for (let n = 0; n < 10; n++) read.push(await drawAndRead(n));
    const labels = Array.from(test.labels.subarray(0, 10), String);
    const right = read.filter((d, i) => d === labels[i]).length;
    expect(right, `read ${read.join('')}, drawn ${labels.join('')}`).toBeGreaterThanOrEqual(9);

    // The last answer's bars: ten, the widest the digit shown; and the preview holds ink.
    const widths = await page.$$eval('#bars .bar > div', (bars) => bars.map((b) => parseFloat((b as HTMLElement).style.width)));
    expect(widths).toHaveLength(10);
    expect(widths.indexOf(Math.max(...widths))).toBe(Number(read[9]));
    const previewInk = await page.$eval('#preview', (c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data;
      let sum = 0;
      for (let i = 0; i < d.length; i += 4) sum += d[i];
      return sum / 255;
    });
    expect(previewInk).toBeGreaterThan(40);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'serve-page.png') });
    expect(watched.problems).toEqual([]);
  });

  it('the clear button empties the canvas and the answer', async () => {
    await page.click('#clear');
    expect(await page.textContent('#digit')).toBe('–');
    const ink = await page.$eval('#pad', (c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 280, 280).data;
      let dark = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++;
      return dark;
    });
    expect(ink).toBe(0);
  });
});
