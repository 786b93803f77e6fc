import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, SCREENSHOTS, watchPage } from './helpers/browser.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { twoShortRuns } from './helpers/report-runs.js';

/**
 * Reports opened from file:// in a real Chromium: every chart is an SVG of real size, every digit image
 * decodes, nothing is logged as an error and nothing is requested but the file itself. Both a report made
 * here and the committed report of the included model (models/mnist-best.report.html).
 */

const dir = cliTempDir('mnist-dp-browser-report-');
let browser: Awaited<ReturnType<typeof launchChromium>>;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

async function openReport(file: string, screenshot: string) {
  const url = pathToFileURL(resolve(file)).href;
  const page = await browser.context.newPage();
  const watched = watchPage(page, (u) => u === url || u.startsWith('data:'));
  await page.goto(url, { waitUntil: 'load' });
  const charts = await page.$$eval('figure.chart', (figures) => figures.map((f) => {
    const svg = f.querySelector('svg');
    const box = svg?.getBoundingClientRect();
    return { name: (f as HTMLElement).dataset.chart, width: box?.width ?? 0, height: box?.height ?? 0, marks: svg?.querySelectorAll('.role-mark > *').length ?? 0 };
  }));
  const digits = await page.$$eval('figure.digit img', (imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth));
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, screenshot), fullPage: true });
  await page.close();
  return { charts, digits, watched };
}

describe('the report in a browser', () => {
  it('a report made now renders every chart as a sized SVG, with no console error and no request', async () => {
    const [a, b] = await twoShortRuns(dir());
    const out = join(dir(), 'both.html');
    expect(runCli(dir(), ['report', a, b, '--out', out]).code).toBe(0);
    const { charts, digits, watched } = await openReport(out, 'report-short-runs.png');
    expect(charts.map((c) => c.name)).toEqual(['loss', 'validation-accuracy', 'samples-per-second', 'learning-rate', 'step-split-1', 'step-split-2', 'per-class-accuracy', 'confusion']);
    for (const c of charts) {
      expect(c.width, c.name).toBeGreaterThan(300);
      expect(c.height, c.name).toBeGreaterThan(150);
      expect(c.marks, c.name).toBeGreaterThan(0);
    }
    expect(digits.length).toBeGreaterThan(0);
    expect(digits.every((w) => w === 28)).toBe(true);
    expect(watched.problems).toEqual([]);
    expect(watched.requests).toEqual([pathToFileURL(resolve(out)).href]);
  });

  it('the committed report of the included model renders the same way', async () => {
    const file = 'models/mnist-best.report.html';
    const { charts, digits, watched } = await openReport(file, 'report-mnist-best.png');
    // Trained on all 60,000 images: no validation curve; its checkpoint keeps step timings: a step split.
    expect(charts.map((c) => c.name)).toEqual(['loss', 'samples-per-second', 'learning-rate', 'step-split', 'per-class-accuracy', 'confusion']);
    for (const c of charts) {
      expect(c.width, c.name).toBeGreaterThan(300);
      expect(c.height, c.name).toBeGreaterThan(150);
    }
    // Every test image the model gets wrong, as its record counts them (99.75 %: 25 of 10,000).
    const record = JSON.parse(readFileSync('models/mnist-best.ckpt.json', 'utf8')) as { testAccuracy: number };
    expect(digits).toHaveLength(Math.round((1 - record.testAccuracy) * 10_000));
    expect(watched.problems).toEqual([]);
    expect(watched.requests).toEqual([pathToFileURL(resolve(file)).href]);
  });
});
