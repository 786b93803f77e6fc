import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GALLERY_LIMIT } from '../src/report/report.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { twoShortRuns } from './helpers/report-runs.js';

/**
 * `mnist-dp report`: one HTML file holding every chart as SVG and every digit as a data URI, with nothing
 * to fetch; --png writes the same charts as PNG; the evaluated model's numbers agree with `eval`.
 */

const dir = cliTempDir('mnist-dp-report-');
let runs: [string, string];

beforeAll(async () => {
  runs = await twoShortRuns(dir());
});

/** Every URL the HTML refers to (src, href, url(…)), other than SVG's namespace names. */
function references(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="([^"]*)"|url\(([^)]*)\)/g)].map((m) => m[1] ?? m[2]);
}

describe('mnist-dp report', () => {
  it('writes one self-contained HTML file beside the run: every chart inline, the misclassified digits as data URIs, nothing to fetch', () => {
    const out = join(dir(), 'run-a.report.html');
    const r = runCli(dir(), ['report', runs[0]]);
    expect(r.stdout).toBe(`${out}\n`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const html = readFileSync(out, 'utf8');
    const charts = [...html.matchAll(/<figure class="chart" data-chart="([\w-]+)">/g)].map((m) => m[1]);
    expect(charts).toEqual(['loss', 'validation-accuracy', 'samples-per-second', 'learning-rate', 'step-split', 'per-class-accuracy', 'confusion']);
    expect(html.match(/<svg /g)).toHaveLength(charts.length);
    for (const ref of references(html)) expect(ref).toMatch(/^(data:image\/png;base64,|#[\w-]+$)/); // a data URI, or a gradient of the same SVG
    expect(html).not.toMatch(/<script|<link|@import|https?:\/\/(?!www\.w3\.org\/)/);

    // The test evaluation is eval's: the same accuracy and mistakes.
    const ev = JSON.parse(runCli(dir(), ['eval', '--model', runs[0], '--json']).stdout);
    const wrong = ev.misclassified.length;
    expect(html).toContain(`Test accuracy <strong>${(ev.testAccuracy * 100).toFixed(2)} %</strong>`);
    expect(html).toContain(`${wrong.toLocaleString('en-US')} test digits read wrong`);
    expect(html.match(/<figure class="digit"/g)).toHaveLength(Math.min(wrong, GALLERY_LIMIT));
    expect(html).toContain(`title="test image ${ev.misclassified[0]}: true `);
    expect(html).toContain('<th>machine</th><td>');
    expect(html).not.toContain('<th>machine</th><td>not recorded');
  });

  it('overlays several runs and evaluates an ensemble given by --model; --png writes every chart and the mistakes as PNG', () => {
    const out = join(dir(), 'two.html');
    const png = join(dir(), 'png');
    const r = runCli(dir(), ['report', ...runs, '--model', runs[0], '--model', runs[1], '--out', out, '--png', png]);
    expect(r.code).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<h2>Test set: ensemble of 2 models</h2>');
    expect(html).toMatch(/The mean of the members' probabilities; alone: .*run-a\.ckpt \d+\.\d\d %, .*run-b\.ckpt \d+\.\d\d %/);
    expect(html.match(/<table class="run">/g)).toHaveLength(2);
    const ev = JSON.parse(runCli(dir(), ['eval', '--model', runs[0], '--model', runs[1], '--json']).stdout);
    expect(html).toContain(`Test accuracy <strong>${(ev.testAccuracy * 100).toFixed(2)} %</strong>`);
    // The members' mistakes in common, as eval counts them.
    const [[a, ab], [ba, b]] = ev.sharedMistakes as number[][];
    expect(html).toContain(` ${ev.wrongByAll.toLocaleString('en-US')} every member reads wrong:</p>`);
    expect(html).toContain(`<tr><th title="${runs[0]}">1</th><td>${a.toLocaleString('en-US')}</td><td>${ab.toLocaleString('en-US')}</td></tr>`);
    expect(html).toContain(`<tr><th title="${runs[1]}">2</th><td>${ba.toLocaleString('en-US')}</td><td>${b.toLocaleString('en-US')}</td></tr>`);
    expect(a).toBeGreaterThan(ab); // the diagonal is each member's own, more than the two share
    const names = ['loss', 'validation-accuracy', 'samples-per-second', 'learning-rate', 'step-split-1', 'step-split-2', 'per-class-accuracy', 'confusion', 'mistakes'];
    expect(r.stdout.trim().split('\n')).toEqual([out, ...names.map((n) => join(png, `${n}.png`))]);
    for (const n of names) {
      const image = PNG.sync.read(readFileSync(join(png, `${n}.png`)));
      expect(image.width, n).toBeGreaterThan(200);
      expect(image.height, n).toBeGreaterThan(100);
    }
  });

  it('no checkpoint and a missing one each get one line', () => {
    const none = runCli(dir(), ['report']);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('mnist-dp: error: give one or more checkpoints, e.g. mnist-dp report mnist-dp.ckpt\n');
    const missing = runCli(dir(), ['report', 'no-such.ckpt']);
    expect(missing.code).toBe(1);
    expect(missing.lines).toHaveLength(1);
    expect(missing.stderr).toMatch(/^mnist-dp: error: no-such\.ckpt: cannot be read \(ENOENT\); check the path and its permissions\n$/);
  });
});
