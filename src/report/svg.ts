// Turns a Plot-made <svg> into one standalone figure: a white background, a
// title row, a legend drawn as SVG (Plot's own legends are HTML, which neither
// an .svg file nor sharp can show), then the plot itself as a nested <svg>.
// Only `doc.createElementNS` is used, so linkedom in Node and the browser's
// real document both work.

const SVG_NS = 'http://www.w3.org/2000/svg';

export interface SwatchItem {
  label: string;
  color: string;
  /** Drawn dashed (as the line it stands for). */
  dashed?: boolean;
}

/** A legend row: a title and one swatch per item, wrapping onto more rows as needed. */
export interface SwatchLegend {
  kind: 'swatches';
  title?: string;
  items: SwatchItem[];
}

/** A continuous colour bar from `min` to `max`, drawn as `steps` rects (no gradient ids to clash when many figures share a page). */
export interface RampLegend {
  kind: 'ramp';
  title: string;
  min: number;
  max: number;
  color: (t: number) => string;
}

export type Legend = SwatchLegend | RampLegend;

const PAD = 10;
const TITLE_H = 24;
const ROW_H = 18;
/** Rough width of one character of 11px sans-serif; used only to wrap legend rows. */
const CHAR_W = 5.6;

type Attrs = Record<string, string | number>;

function el(doc: Document, tag: string, attrs: Attrs = {}, text?: string): SVGElement {
  const e = doc.createElementNS(SVG_NS, tag) as SVGElement;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Lays out swatches left to right, wrapping at `width`; returns the group and its height. */
function swatchRows(doc: Document, legend: SwatchLegend, width: number): { g: SVGElement; height: number } {
  const g = el(doc, 'g', { 'font-size': 11 });
  let x = PAD;
  let row = 0;
  const place = (w: number) => {
    if (x + w > width - PAD && x > PAD) {
      row++;
      x = PAD;
    }
    const at = { x, y: row * ROW_H + ROW_H / 2 };
    x += w;
    return at;
  };
  if (legend.title) {
    const at = place(legend.title.length * CHAR_W * 1.15 + 12); // bold runs wider
    g.appendChild(el(doc, 'text', { x: at.x, y: at.y, dy: '0.35em', 'font-weight': 'bold' }, legend.title));
  }
  for (const item of legend.items) {
    const at = place(26 + item.label.length * CHAR_W + 12);
    const line: Attrs = { x1: at.x, x2: at.x + 20, y1: at.y, y2: at.y, stroke: item.color, 'stroke-width': 2.5 };
    if (item.dashed) line['stroke-dasharray'] = '4,3';
    g.appendChild(el(doc, 'line', line));
    g.appendChild(el(doc, 'text', { x: at.x + 26, y: at.y, dy: '0.35em' }, item.label));
  }
  return { g, height: (row + 1) * ROW_H };
}

function ramp(doc: Document, legend: RampLegend): { g: SVGElement; height: number } {
  const g = el(doc, 'g', { 'font-size': 11 });
  const x0 = PAD + legend.title.length * CHAR_W + 14;
  const w = 240;
  const steps = 48;
  g.appendChild(el(doc, 'text', { x: PAD, y: 8, dy: '0.35em', 'font-weight': 'bold' }, legend.title));
  for (let i = 0; i < steps; i++) {
    const attrs = { x: (x0 + (i * w) / steps).toFixed(1), y: 0, width: (w / steps + 0.5).toFixed(1), height: 10 };
    g.appendChild(el(doc, 'rect', { ...attrs, fill: legend.color((i + 0.5) / steps) }));
  }
  g.appendChild(el(doc, 'text', { x: x0, y: 22, 'text-anchor': 'start' }, fmtTick(legend.min)));
  g.appendChild(el(doc, 'text', { x: x0 + w, y: 22, 'text-anchor': 'end' }, fmtTick(legend.max)));
  return { g, height: 28 };
}

function fmtTick(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(3);
}

/** Attributes holding coordinates; Plot writes them at full float precision (17 digits). */
const GEOMETRY = ['x', 'y', 'x1', 'x2', 'y1', 'y2', 'cx', 'cy', 'r', 'width', 'height', 'd', 'transform', 'points'];
const DECIMAL = /-?\d*\.\d{3,}(?:e[-+]?\d+)?/g;

/** Rounds coordinates to 0.01 px, invisible at any print size and about half the bytes of a long line or heat map. */
function roundGeometry(root: Element): void {
  for (const e of [root, ...Array.from(root.querySelectorAll('*'))])
    for (const a of GEOMETRY) {
      const v = e.getAttribute(a);
      if (v !== null && v.includes('.'))
        e.setAttribute(
          a,
          v.replace(DECIMAL, (n) => String(Math.round(Number(n) * 100) / 100)),
        );
    }
}

/**
 * Wraps `plot` (an <svg> returned by Plot.plot without a legend) into a
 * standalone <svg> with xmlns, width and height, so the same element is
 * valid inline in HTML, as an .svg file and as input to sharp.
 */
export function standaloneFigure(doc: Document, plot: Element, title: string, legend?: Legend): SVGSVGElement {
  const width = Number(plot.getAttribute('width'));
  const plotH = Number(plot.getAttribute('height'));
  // Plot's <style> sizes its root <svg> with CSS (height: auto, max-width); nested, that would fight the
  // layout, so the page styles the outer <svg> instead.
  for (const s of Array.from(plot.querySelectorAll('style'))) s.remove();
  plot.removeAttribute('class');
  roundGeometry(plot);

  const legendPart = legend ? (legend.kind === 'ramp' ? ramp(doc, legend) : swatchRows(doc, legend, width)) : undefined;
  const legendH = legendPart ? legendPart.height + 6 : 0;
  const height = TITLE_H + legendH + plotH;

  const root = el(doc, 'svg', {
    xmlns: SVG_NS,
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    'font-family': 'system-ui, sans-serif',
    class: 'figure',
  }) as SVGSVGElement;
  root.appendChild(el(doc, 'rect', { width, height, fill: 'white' }));
  root.appendChild(el(doc, 'text', { x: PAD, y: 16, 'font-size': 13, 'font-weight': 'bold' }, title));
  if (legendPart) {
    legendPart.g.setAttribute('transform', `translate(0,${TITLE_H})`);
    root.appendChild(legendPart.g);
  }
  plot.setAttribute('x', '0');
  plot.setAttribute('y', String(TITLE_H + legendH));
  root.appendChild(plot);
  return root;
}
