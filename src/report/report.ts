import { PNG } from 'pngjs';
import { paramLayout, parameterCount } from '../model/layout.js';
import { describeSpec } from '../model/spec.js';
import { describeRecipe, type ResolvedTrainOptions } from '../options.js';
import { renderSvg, type Chart } from './charts.js';
import { testCharts, trainingCharts, type ReportRun } from './report-charts.js';

/**
 * `mnist-dp report`: one self-contained HTML file (every chart inline as SVG, the digits as PNG data
 * URIs, the style inline, no script): it opens from file:// and asks nothing of the network.
 */

/** What the test set says of the evaluated model or ensemble (see evaluateModels). */
export interface ReportEvaluation {
  /** The checkpoints evaluated: one model, or several as their ensemble. */
  files: string[];
  tta: boolean;
  confusion: number[][];
  misclassified: { index: number; label: number; predicted: number; probability: number }[];
  testAccuracy: number;
  /** Each member's accuracy alone, for an ensemble. */
  memberAccuracies: number[] | null;
  /** For an ensemble: the members' mistakes in common (`shared[a][b]`, the diagonal each one's own) and the images every member gets wrong (see mistakeOverlap). */
  overlap?: { shared: number[][]; wrongByAll: number } | null;
  /** The test images (uint8, count × rows × cols), for the gallery of mistakes. */
  test: { images: Uint8Array; rows: number; cols: number; count: number };
}

/** What a run's own record beside its checkpoint (`<file>.json`, as `npm run best` writes) adds. */
export interface RunRecord {
  machine?: string;
  started?: string;
  seconds?: number;
  command?: string;
}

/** The most misclassified digits the gallery shows (a weak model gets thousands wrong). */
export const GALLERY_LIMIT = 200;

/** A chart rendered for the report: its spec and its SVG. */
export interface RenderedChart extends Chart {
  svg: string;
}

export interface Report {
  html: string;
  charts: RenderedChart[];
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (p: number | null | undefined) => (p === null || p === undefined ? '–' : `${(p * 100).toFixed(2)} %`);
const duration = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

/** The report of `runs` (curves overlaid) and of `evaluation` (per-class accuracy, confusion, mistakes). */
export async function buildReport(runs: readonly (ReportRun & { record: RunRecord | null })[], evaluation: ReportEvaluation | null): Promise<Report> {
  const evaluated = evaluation && (evaluation.files.length > 1 ? `ensemble of ${evaluation.files.length} models` : evaluation.files[0]);
  const training = trainingCharts(runs);
  const charts: RenderedChart[] = [];
  for (const chart of [...training.charts, ...(evaluation ? testCharts(evaluation, evaluated!) : [])]) charts.push({ ...chart, svg: await renderSvg(chart.spec) });

  const figure = (c: RenderedChart) => `<figure class="chart" data-chart="${c.name}"><figcaption>${escapeHtml(c.title)}</figcaption>${c.svg}</figure>`;
  const trainingFigures = charts.slice(0, training.charts.length).map(figure).join('\n');
  const testFigures = charts.slice(training.charts.length).map(figure).join('\n');
  const title = `mnist-dp report: ${runs.map((r) => r.label).join(', ')}`;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="when">Written ${escapeHtml(new Date().toISOString())} by mnist-dp report.</p>
<h2>Runs</h2>
${runsTable(runs)}
<h2>Training</h2>
${training.notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('\n')}
<div class="charts">
${trainingFigures}
</div>
${evaluation ? `<h2>Test set: ${escapeHtml(evaluated!)}</h2>
${evaluationSummary(evaluation)}
<div class="charts">
${testFigures}
</div>
<h2>Misclassified test digits</h2>
${gallery(evaluation)}` : '<p class="note">The test set was not evaluated (a search: its finalists are tested once, later).</p>'}
</body>
</html>
`;
  return { html, charts };
}

function runsTable(runs: readonly (ReportRun & { record: RunRecord | null })[]): string {
  const rows = runs.map((r) => {
    const c = r.checkpoint;
    const o = c.options;
    const trained = c.metrics.reduce((s, m) => s + m.seconds, 0);
    const machine = c.written?.machine ?? r.record?.machine ?? 'not recorded';
    const when = c.written?.at ?? r.record?.started ?? null;
    // describeRecipe reads only the training recipe, which a checkpoint keeps whole.
    const recipe = describeRecipe({ ...o, workers: 0, out: null, resume: null, data: null, mpi: 'off', force: false, test: true } satisfies ResolvedTrainOptions);
    const cells = [
      ['run', r.file],
      ['model', describeSpec(c.spec)],
      ['parameters', parameterCount(paramLayout(c.spec)).toLocaleString('en-US')],
      ['recipe', `${recipe} · ${o.epochs} epochs · seed ${o.seed} · kernels ${o.kernels}`],
      ['data', `${o.trainSize > 0 ? `${o.trainSize.toLocaleString('en-US')} training images` : 'all training images'}, ${o.valSize.toLocaleString('en-US')} held out for validation`],
      ['trained', `${c.position.epoch} of ${o.epochs} epochs in ${duration(trained)}${r.record?.seconds ? ` (${duration(r.record.seconds)} start to finish)` : ''}`],
      ['machine', machine],
      ['written', when ?? 'not recorded'],
      ['test accuracy', c.testAccuracy === null ? 'not measured (the run did not finish)' : pct(c.testAccuracy)],
    ];
    return `<table class="run">${cells.map(([k, v]) => `<tr><th>${k}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
  });
  return rows.join('\n');
}

function evaluationSummary(e: ReportEvaluation): string {
  const wrong = e.misclassified.length;
  const lines = [`Test accuracy <strong>${pct(e.testAccuracy)}</strong> (${(e.test.count - wrong).toLocaleString('en-US')} of ${e.test.count.toLocaleString('en-US')})` +
    `${e.tta ? ', with test-time augmentation (the image and its one-pixel shifts)' : ''}.`];
  if (e.memberAccuracies) {
    lines.push(`The mean of the members' probabilities; alone: ${e.files.map((f, i) => `${escapeHtml(f)} ${pct(e.memberAccuracies![i])}`).join(', ')}.`);
  }
  const pairs = e.confusion.flatMap((row, t) => row.map((n, p) => ({ t, p, n }))).filter((x) => x.n > 0 && x.t !== x.p)
    .sort((a, b) => b.n - a.n || a.t - b.t || a.p - b.p).slice(0, 8);
  if (pairs.length > 0) lines.push(`Most frequent mistakes (true → predicted): ${pairs.map((x) => `${x.t} → ${x.p} (${x.n})`).join(', ')}.`);
  return [...lines.map((l) => `<p>${l}</p>`), ...(e.overlap ? [overlapTable(e.overlap, e.files)] : [])].join('\n');
}

/** An ensemble's mistakes in common: a caption and the members × members table. */
function overlapTable({ shared, wrongByAll }: NonNullable<ReportEvaluation['overlap']>, files: readonly string[]): string {
  const head = `<tr><th></th>${shared.map((_, j) => `<th>${j + 1}</th>`).join('')}</tr>`;
  const rows = shared.map((row, i) => `<tr><th title="${escapeHtml(files[i])}">${i + 1}</th>${row.map((n) => `<td>${n.toLocaleString('en-US')}</td>`).join('')}</tr>`);
  return `<p>Test digits both of two members read wrong (rows and columns: the members in the order above; the diagonal: each member alone);` +
    ` ${wrongByAll.toLocaleString('en-US')} every member reads wrong:</p>\n<table class="overlap">${head}${rows.join('')}</table>`;
}

/** A 28×28 test digit as a PNG data URI: dark ink on white, as it would look on paper. */
export function digitDataUri(pixels: Uint8Array, rows: number, cols: number): string {
  const png = new PNG({ width: cols, height: rows });
  for (let i = 0; i < rows * cols; i++) {
    const v = 255 - pixels[i];
    png.data[4 * i] = v;
    png.data[4 * i + 1] = v;
    png.data[4 * i + 2] = v;
    png.data[4 * i + 3] = 255;
  }
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;
}

/**
 * The first GALLERY_LIMIT misclassified digits in one PNG (20 to a row, dark on white, 2× size), for a
 * README or a slide; null when there are none.
 */
export function digitGalleryPng(mistakes: ReportEvaluation['misclassified'], test: ReportEvaluation['test']): Buffer | null {
  const shown = mistakes.slice(0, GALLERY_LIMIT);
  if (shown.length === 0) return null;
  const { rows, cols } = test;
  const zoom = 2, gap = 4, perRow = 20;
  const cell = { w: cols * zoom + gap, h: rows * zoom + gap };
  const png = new PNG({ width: Math.min(perRow, shown.length) * cell.w + gap, height: Math.ceil(shown.length / perRow) * cell.h + gap });
  png.data.fill(255);
  shown.forEach((m, k) => {
    const left = gap + (k % perRow) * cell.w, top = gap + Math.floor(k / perRow) * cell.h;
    for (let y = 0; y < rows * zoom; y++) {
      for (let x = 0; x < cols * zoom; x++) {
        const v = 255 - test.images[m.index * rows * cols + Math.floor(y / zoom) * cols + Math.floor(x / zoom)];
        const at = 4 * ((top + y) * png.width + left + x);
        png.data[at] = png.data[at + 1] = png.data[at + 2] = v;
      }
    }
  });
  return PNG.sync.write(png);
}

function gallery(e: ReportEvaluation): string {
  const { rows, cols } = e.test;
  const shown = e.misclassified.slice(0, GALLERY_LIMIT);
  if (shown.length === 0) return '<p>None: every test digit is read right.</p>';
  const more = e.misclassified.length > shown.length ? ` (the first ${shown.length}, by test index)` : '';
  const items = shown.map((m) => {
    const uri = digitDataUri(e.test.images.subarray(m.index * rows * cols, (m.index + 1) * rows * cols), rows, cols);
    const label = `test image ${m.index}: true ${m.label}, predicted ${m.predicted} at ${pct(m.probability)}`;
    return `<figure class="digit" title="${label}"><img src="${uri}" width="${2 * cols}" height="${2 * rows}" alt="${label}">` +
      `<figcaption>${m.label} → ${m.predicted}<br>${(m.probability * 100).toFixed(0)} %</figcaption></figure>`;
  });
  return `<p>${e.misclassified.length.toLocaleString('en-US')} test digits read wrong${more}: true → predicted, and the probability given to the prediction.</p>\n` +
    `<div class="gallery">${items.join('')}</div>`;
}

const STYLE = `
body { font: 14px/1.45 "DejaVu Sans", Verdana, sans-serif; color: #222; margin: 24px auto; max-width: 1280px; padding: 0 16px; }
h1 { font-size: 20px; font-weight: normal; } h2 { font-size: 17px; font-weight: normal; border-bottom: 1px solid #ddd; margin-top: 28px; }
.when, .note { color: #666; }
table.run { border-collapse: collapse; margin: 8px 0 16px; } table.run th { text-align: left; font-weight: normal; color: #666; padding: 2px 16px 2px 0; vertical-align: top; }
table.run td { padding: 2px 0; }
table.overlap { border-collapse: collapse; margin: 6px 0; } table.overlap th, table.overlap td { padding: 1px 8px; text-align: right; } table.overlap th { font-weight: normal; color: #666; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure.chart { margin: 0; } figure.chart figcaption { color: #444; margin-bottom: 4px; max-width: 560px; }
.gallery { display: flex; flex-wrap: wrap; gap: 6px; }
figure.digit { margin: 0; text-align: center; font-size: 11px; color: #444; }
figure.digit img { display: block; image-rendering: pixelated; border: 1px solid #ddd; }
`;
