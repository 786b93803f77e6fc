import type { TopLevelSpec } from 'vega-lite';

/**
 * Charts as vega-lite specs, rendered to SVG in Node by vega's headless renderer (renderer 'none': no
 * canvas, no browser) and to PNG by resvg. The report, the live view of `serve` and `npm run
 * bench:scaling` all draw through here, so every chart of mnist-dp looks alike. The renderers are loaded
 * on first use (about half a second), so commands that draw nothing do not pay for them.
 */

/** A row of a chart's data: field name → value. */
export type Datum = Record<string, number | string | null>;

/** A chart: the file name it gets (`loss` → loss.svg, loss.png), its heading, and its vega-lite spec. */
export interface Chart {
  name: string;
  title: string;
  spec: TopLevelSpec;
}

const WIDTH = 380;
const HEIGHT = 220;
const FONT = 'DejaVu Sans, Verdana, sans-serif';

/** The look every chart shares: fonts, sizes, no border. */
const CONFIG = {
  font: FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const, gridColor: '#e8e8e8' },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const },
  title: { fontSize: 13, fontWeight: 'normal' as const, anchor: 'start' as const },
};

export interface LineChartOptions {
  x: { field: string; title: string; integer?: boolean };
  y: { field: string; title: string; log?: boolean; percent?: boolean; zero?: boolean };
  /** A field whose values get one colour each (runs, models). */
  color?: { field: string; title: string };
  /** A field whose values get one dash pattern each (train / validation). */
  dash?: { field: string; title: string };
  /** Draw a dot at each value (epochs), not only the line (a schedule sampled within epochs). */
  points?: boolean;
  /** A dashed grey reference line through these points (e.g. ideal speedup). */
  reference?: { values: Datum[] };
}

/** A line chart of `values`, one line per colour × dash. */
export function lineChart(values: Datum[], o: LineChartOptions): TopLevelSpec {
  const y = {
    field: o.y.field, type: 'quantitative' as const, title: o.y.title,
    scale: o.y.log ? { type: 'log' as const } : { zero: o.y.zero ?? false },
    axis: o.y.percent ? { format: '.1%' } : {},
  };
  const x = { field: o.x.field, type: 'quantitative' as const, title: o.x.title, axis: o.x.integer ? { tickMinStep: 1, format: 'd' } : {} };
  const line = {
    mark: { type: 'line' as const, point: o.points ? { size: 28 } : false, strokeWidth: 1.8 },
    encoding: {
      x, y,
      ...(o.color ? { color: { field: o.color.field, type: 'nominal' as const, title: o.color.title, scale: { scheme: 'tableau10' } } } : {}),
      ...(o.dash ? { strokeDash: { field: o.dash.field, type: 'nominal' as const, title: o.dash.title } } : {}),
      tooltip: [x, y],
    },
  };
  const layers: object[] = [{ data: { values }, ...line }];
  if (o.reference) {
    layers.unshift({
      data: { values: o.reference.values },
      mark: { type: 'line', color: '#999', strokeDash: [4, 4], strokeWidth: 1 },
      encoding: { x: { field: o.x.field, type: 'quantitative' }, y: { field: o.y.field, type: 'quantitative' } },
    });
  }
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: WIDTH, height: HEIGHT, config: CONFIG, layer: layers } as TopLevelSpec;
}

/** Bars stacked per x value: `values` rows of {x, part, value}, parts in the order given. */
export function stackedBars(values: Datum[], o: { x: { field: string; title: string }; part: { field: string; title: string; order: string[] }; y: { field: string; title: string } }): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: WIDTH, height: HEIGHT, config: CONFIG,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: { field: o.x.field, type: 'ordinal', title: o.x.title, axis: { labelAngle: 0, labelOverlap: 'parity' } },
      y: { field: o.y.field, type: 'quantitative', title: o.y.title, stack: 'zero' },
      color: { field: o.part.field, type: 'nominal', title: o.part.title, sort: o.part.order, scale: { domain: o.part.order, scheme: 'tableau10' } },
      order: { field: 'order', type: 'quantitative' },
      tooltip: [{ field: o.x.field }, { field: o.part.field }, { field: o.y.field, format: '.0f' }],
    },
  } as TopLevelSpec;
}

/** One bar per class, its value a share in [0, 1], labelled with the percentage; the axis starts at `floor`. */
export function shareBars(values: Datum[], o: { x: { field: string; title: string }; y: { field: string; title: string }; floor: number }): TopLevelSpec {
  const y = { field: o.y.field, type: 'quantitative', title: o.y.title, scale: { domain: [o.floor, 1], clamp: true }, axis: { format: '.1%' } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: WIDTH, height: HEIGHT, config: CONFIG,
    data: { values },
    encoding: { x: { field: o.x.field, type: 'ordinal', title: o.x.title, axis: { labelAngle: 0 } }, y },
    layer: [
      { mark: { type: 'bar', color: '#4c78a8' } },
      { mark: { type: 'text', dy: -6, fontSize: 10 }, encoding: { text: { field: o.y.field, format: '.2%' } } },
    ],
  } as TopLevelSpec;
}

/** A heat map of counts on a grid (rows × columns), each cell labelled with its count; zeros left blank. */
export function heatmap(values: Datum[], o: { row: { field: string; title: string }; column: { field: string; title: string }; count: string }): TopLevelSpec {
  const size = 32;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG,
    width: { step: size }, height: { step: size },
    data: { values },
    encoding: {
      x: { field: o.column.field, type: 'ordinal', title: o.column.title, axis: { labelAngle: 0, orient: 'top' } },
      y: { field: o.row.field, type: 'ordinal', title: o.row.title },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: { color: { field: 'shade', type: 'quantitative', title: 'share of the row', scale: { domain: [0, 1], range: ['#f5f9fd', '#08519c'] }, legend: { format: '.0%' } } },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        transform: [{ filter: `datum.${o.count} > 0` }],
        encoding: {
          text: { field: o.count, type: 'quantitative' },
          color: { condition: { test: 'datum.shade > 0.5', value: 'white' }, value: 'black' },
        },
      },
    ],
  } as TopLevelSpec;
}

/** The chart as SVG text (vega's headless renderer: text is measured by estimate, not by a font). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** An SVG (a chart) as PNG bytes, at `scale` times its size, with the system's fonts. */
export async function renderPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render();
  return png.asPng();
}
