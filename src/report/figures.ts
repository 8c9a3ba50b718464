// The report's figures, made with Observable Plot from plain run data.
// Each function takes the data and a `document` (linkedom's in Node, the real
// one in a browser) and returns a standalone <svg> (see svg.ts), or null when
// there is nothing to draw. Series are thinned to ≤ MAX_POINTS per line
// (downsample.ts); heat maps to ≤ HEAT_COLUMNS columns.

import * as Plot from '@observablehq/plot';
import { depthColor, heatColor, HEAT_SCHEME, labelColors } from './colors.ts';
import { downsample } from './downsample.ts';
import { angleOf, meanAngle, median } from './summary.ts';
import { standaloneFigure, type SwatchItem } from './svg.ts';
import type { AlignmentRecord, AngleKind, Run } from './types.ts';

/** Lines per layer up to this many layers; a layer × step heat map beyond (lines would be unreadable). */
export const MAX_LAYER_LINES = 12;
/** Most columns (alignment records) in a heat map: keeps the SVG to a few thousand rects. */
export const HEAT_COLUMNS = 100;

const WIDTH = 640;
const HEIGHT = 300;

/** What the multi-run figures need of a run. */
export type RunSeries = Pick<Run, 'label' | 'rule' | 'train' | 'test' | 'alignment'>;
/** What the per-run alignment figures need. */
export type RunAlignment = Pick<Run, 'label' | 'alignment'>;

export const ANGLE_TEXT: Record<AngleKind, { name: string; symbol: string }> = {
  weight: { name: 'weight angle', symbol: '∠(B, W)' },
  delta: { name: 'delta angle', symbol: '∠(δ, δ_BP)' },
};

function plot(doc: Document, options: Plot.PlotOptions): Element {
  return Plot.plot({ document: doc, width: WIDTH, height: HEIGHT, marginLeft: 56, marginRight: 20, ...options }) as Element;
}

function ruleLegend(runs: readonly { label: string; rule: string }[]) {
  const colors = labelColors(runs);
  const items: SwatchItem[] = runs.map((r) => ({ label: r.label, color: colors.get(r.label) ?? 'black' }));
  return { colors, legend: { kind: 'swatches' as const, items } };
}

interface Point {
  x: number;
  y: number;
}

/** One line (plus optional dots) per run, coloured by rule. */
function perRunLines(
  runs: readonly RunSeries[],
  series: (r: RunSeries) => Point[],
  doc: Document,
  title: string,
  axes: { x: Plot.ScaleOptions; y: Plot.ScaleOptions },
  dots = false,
): SVGSVGElement | null {
  const { colors, legend } = ruleLegend(runs);
  const marks: Plot.Markish[] = [];
  let any = false;
  for (const r of runs) {
    const pts = downsample(series(r));
    if (pts.length === 0) continue;
    any = true;
    const stroke = colors.get(r.label) ?? 'black';
    marks.push(Plot.line(pts, { x: 'x', y: 'y', stroke, strokeWidth: 1.6 }));
    if (dots) marks.push(Plot.dot(pts, { x: 'x', y: 'y', fill: stroke, r: 2.5 }));
  }
  if (!any) return null;
  return standaloneFigure(doc, plot(doc, { x: axes.x, y: { grid: true, ...axes.y }, marks }), title, legend);
}

/** Training loss against step, one line per run. */
export function lossFigure(runs: readonly RunSeries[], doc: Document): SVGSVGElement | null {
  return perRunLines(
    runs,
    (r) => r.train.filter((t) => t.loss !== undefined).map((t) => ({ x: t.step, y: t.loss as number })),
    doc,
    'Training loss',
    { x: { label: 'step' }, y: { label: 'train loss' } },
  );
}

/** Whole-number ticks when every x is a whole number and there are few of them (epochs), else Plot's own. */
function integerTicks(xs: number[]): Plot.ScaleOptions {
  if (xs.length === 0 || !xs.every(Number.isInteger)) return {};
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  if (hi - lo > 12) return { tickFormat: 'd' };
  return { ticks: Array.from({ length: hi - lo + 1 }, (_, i) => lo + i), tickFormat: 'd' };
}

/** Test top-1 error against epoch, one line (with a dot per evaluation) per run; the axis starts at 0%. */
export function errorFigure(runs: readonly RunSeries[], doc: Document): SVGSVGElement | null {
  const series = (r: RunSeries) => r.test.filter((t) => t.top1_error !== undefined).map((t) => ({ x: t.epoch, y: t.top1_error as number }));
  const epochs = runs.flatMap((r) => series(r).map((p) => p.x));
  return perRunLines(
    runs,
    series,
    doc,
    'Test top-1 error',
    { x: { label: 'epoch', ...integerTicks(epochs) }, y: { label: 'test top-1 error (%)', percent: true, zero: true } },
    true,
  );
}

/** Mean angle over layers (unmeasured angles and unused layers' weight angles left out) against step, one line per run: the poster's lower panel at a glance. */
export function meanAngleFigure(runs: readonly RunSeries[], kind: AngleKind, doc: Document): SVGSVGElement | null {
  const t = ANGLE_TEXT[kind];
  const series = new Map<string, Point[]>();
  let top = 90; // the usual range; angles past 90° (anti-aligned feedback) widen it rather than get clipped
  for (const r of runs) {
    const pts: Point[] = [];
    for (const rec of r.alignment) {
      const m = meanAngle(rec, kind);
      if (m !== null) pts.push({ x: rec.step, y: m });
      if (m !== null && m > top) top = Math.ceil(m);
    }
    series.set(r.label, pts);
  }
  return perRunLines(runs, (r) => series.get(r.label) ?? [], doc, `Mean ${t.name} ${t.symbol} over layers`, {
    x: { label: 'step' },
    y: { label: `mean ${t.symbol} (°)`, domain: [0, top] },
  });
}

interface LayerInfo {
  name: string;
  unused: boolean;
}

/** Layers in first-seen order across records (depth order as written), and whether any record flags them unused. */
export function layersOf(records: readonly AlignmentRecord[]): LayerInfo[] {
  const index = new Map<string, LayerInfo>();
  for (const rec of records)
    for (const l of rec.layers) {
      const info = index.get(l.name) ?? { name: l.name, unused: false };
      if (l.unused) info.unused = true;
      index.set(l.name, info);
    }
  return [...index.values()];
}

/** Legend label of a layer: its depth and its name without the `.weight` suffix. */
function layerLabel(i: number, info: LayerInfo): string {
  return `${i + 1} ${info.name.replace(/\.weight$/, '')}${info.unused ? ' (unused)' : ''}`;
}

/** `drawn[i]` false: layer i has no value to draw (no δ measured there), which its legend entry says. */
function depthLegend(layers: LayerInfo[], drawn: boolean[]) {
  const items = layers.map((l, i) => ({
    label: layerLabel(i, l) + (drawn[i] ? '' : ' (not measured)'),
    color: depthColor(i, layers.length),
    dashed: l.unused,
  }));
  return { kind: 'swatches' as const, title: 'layer depth', items };
}

/** One line per layer, coloured by depth; `value` picks the plotted number (null = not drawn). */
function layerLines(
  run: RunAlignment,
  layers: LayerInfo[],
  value: (l: AlignmentRecord['layers'][number]) => number | null,
  doc: Document,
  title: string,
  y: Plot.ScaleOptions,
): SVGSVGElement | null {
  const recs = downsample(run.alignment);
  const marks: Plot.Markish[] = [];
  const drawn = layers.map(() => false);
  layers.forEach((info, i) => {
    const pts: Point[] = [];
    for (const rec of recs) {
      const l = rec.layers.find((x) => x.name === info.name);
      const v = l ? value(l) : null;
      if (v !== null) pts.push({ x: rec.step, y: v });
    }
    if (pts.length === 0) return;
    drawn[i] = true;
    const stroke = depthColor(i, layers.length);
    marks.push(Plot.line(pts, { x: 'x', y: 'y', stroke, strokeWidth: 1.5, ...(info.unused ? { strokeDasharray: '4,3' } : {}) }));
  });
  if (marks.length === 0) return null;
  return standaloneFigure(doc, plot(doc, { x: { label: 'step' }, y: { grid: true, ...y }, marks }), title, depthLegend(layers, drawn));
}

/** Layer × step heat map of an angle (layer 1 at the top); empty where the angle was not measured. */
function angleHeatMap(run: RunAlignment, layers: LayerInfo[], kind: AngleKind, doc: Document, title: string, top: number) {
  const recs = downsample(run.alignment, HEAT_COLUMNS);
  const depth = new Map(layers.map((l, i) => [l.name, i + 1]));
  const cells: { x1: number; x2: number; y1: number; y2: number; v: number }[] = [];
  recs.forEach((rec, k) => {
    // A column spans from its record to the next one; the last takes the width of the one before.
    const next = recs[k + 1]?.step ?? rec.step + (k > 0 ? rec.step - recs[k - 1].step : 1);
    for (const l of rec.layers) {
      const v = angleOf(l, kind);
      const d = depth.get(l.name);
      if (v !== null && d !== undefined) cells.push({ x1: rec.step, x2: next, y1: d - 0.5, y2: d + 0.5, v });
    }
  });
  if (cells.length === 0) return null;
  const p = plot(doc, {
    height: Math.max(HEIGHT, 14 * layers.length + 60),
    x: { label: 'step' },
    y: { label: 'layer depth', reverse: true, domain: [0.5, layers.length + 0.5], ticks: Math.min(layers.length, 10), tickFormat: 'd' },
    color: { type: 'linear', scheme: HEAT_SCHEME, domain: [0, top] },
    // crispEdges: without it anti-aliasing leaves hairlines between neighbouring cells.
    marks: [Plot.rect(cells, { x1: 'x1', x2: 'x2', y1: 'y1', y2: 'y2', fill: 'v', inset: 0, shapeRendering: 'crispEdges' })],
  });
  return standaloneFigure(doc, p, title, { kind: 'ramp', title: `${ANGLE_TEXT[kind].symbol} (°)`, min: 0, max: top, color: heatColor });
}

/** The poster's alignment panel for one run: an angle of every layer over training (lines by depth, or a heat map past MAX_LAYER_LINES layers). */
export function alignmentFigure(run: RunAlignment, kind: AngleKind, doc: Document): SVGSVGElement | null {
  // "Unused" is about B: a layer's delta angle is made by the B of the layers above it, so it is drawn as any other.
  const layers = layersOf(run.alignment).map((l) => (kind === 'delta' ? { ...l, unused: false } : l));
  if (layers.length === 0) return null;
  const t = ANGLE_TEXT[kind];
  let top = 90;
  for (const rec of run.alignment) for (const l of rec.layers) top = Math.max(top, angleOf(l, kind) ?? 0);
  top = Math.ceil(top);
  const title = `${run.label}: ${t.name} ${t.symbol}`;
  if (layers.length > MAX_LAYER_LINES) return angleHeatMap(run, layers, kind, doc, title, top);
  return layerLines(run, layers, (l) => angleOf(l, kind), doc, title, { label: `${t.symbol} (°)`, domain: [0, top] });
}

/** ‖B‖/‖W‖ over training: a line per layer, or past MAX_LAYER_LINES layers the median and the range over layers. */
export function normRatioFigure(run: RunAlignment, doc: Document): SVGSVGElement | null {
  const layers = layersOf(run.alignment);
  const all = run.alignment.flatMap((r) => r.layers.map((l) => l.norm_ratio)).filter((x): x is number => x !== null);
  if (all.length === 0) return null;
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  // A log axis only when the ratios span orders of magnitude (WM's B can grow well past W).
  const y: Plot.ScaleOptions = { label: '‖B‖ / ‖W‖', ...(lo > 0 && hi / lo > 100 ? { type: 'log' } : {}) };
  const title = `${run.label}: norm ratio ‖B‖ / ‖W‖`;
  if (layers.length <= MAX_LAYER_LINES) return layerLines(run, layers, (l) => l.norm_ratio, doc, title, y);

  const band: { x: number; lo: number; hi: number; mid: number }[] = [];
  for (const rec of downsample(run.alignment)) {
    const v = rec.layers.map((l) => l.norm_ratio).filter((x): x is number => x !== null);
    if (v.length) band.push({ x: rec.step, lo: Math.min(...v), hi: Math.max(...v), mid: median(v) as number });
  }
  const color = depthColor(0, 1);
  const p = plot(doc, {
    x: { label: 'step' },
    y: { grid: true, ...y },
    marks: [
      Plot.areaY(band, { x: 'x', y1: 'lo', y2: 'hi', fill: color, fillOpacity: 0.2 }),
      Plot.line(band, { x: 'x', y: 'mid', stroke: color, strokeWidth: 1.8 }),
    ],
  });
  const legend = {
    kind: 'swatches' as const,
    items: [
      { label: `median over ${layers.length} layers`, color },
      { label: 'range (min–max)', color: 'rgba(68,1,84,0.3)' },
    ],
  };
  return standaloneFigure(doc, p, title, legend);
}
