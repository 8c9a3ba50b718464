// Live line charts on uPlot: points arrive keyed by step, one series per rule
// (loss, test error) or per layer (the angle panels), and the chart redraws at
// most once per animation frame however many arrive.

import uPlot from 'uplot';

/** The report's rule colours (src/report/colors.ts; that module pulls in Observable Plot, so they are repeated here). */
export const RULE_COLORS: Record<string, string> = { bp: '#222222', fa: '#e15759', ss: '#f28e2b', wm: '#4e79a7', kp: '#59a14f' };

// Viridis from dark purple to green (stopped short of its pale yellow end, as the report does).
const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b'];

/** Colour of layer `i` of `n` (0 = nearest the input). */
export function depthColor(i: number, n: number): string {
  const t = n <= 1 ? 0 : i / (n - 1);
  return VIRIDIS[Math.round(t * (VIRIDIS.length - 1))];
}

export interface SeriesSpec {
  label: string;
  color: string;
  dash?: number[];
}

export interface ChartSpec {
  title: string;
  yLabel: string;
  series: SeriesSpec[];
  /** Format of the y axis and legend values. */
  format?: (v: number) => string;
  /** The y axis starts at this and reaches at least the second value (angles: 0 to 90°, further when a value does). */
  yRange?: [number, number];
  height?: number;
  /** Mark every point (sparse series: test error). */
  points?: boolean;
}

export class LiveChart {
  readonly element: HTMLElement;
  private readonly plot: uPlot;
  private readonly rows = new Map<number, (number | null)[]>();
  private scheduled = false;
  /** Points received (the demo test checks this). */
  points = 0;

  constructor(
    parent: HTMLElement,
    private readonly spec: ChartSpec,
  ) {
    this.element = document.createElement('figure');
    this.element.className = 'chart';
    parent.append(this.element);
    const fmt = spec.format ?? ((v: number) => v.toPrecision(3));
    const yRange = spec.yRange;
    const opts: uPlot.Options = {
      title: spec.title,
      width: Math.max(280, this.element.clientWidth || 400),
      height: spec.height ?? 220,
      scales: { x: { time: false }, ...(yRange ? { y: { range: (_u, _min, max) => [yRange[0], Math.max(yRange[1], max ?? 0)] } } : {}) },
      axes: [
        { label: 'step', size: 40 },
        { label: spec.yLabel, size: 60, values: (_u, ticks) => ticks.map(fmt) },
      ],
      series: [
        { label: 'step' },
        ...spec.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          dash: s.dash,
          spanGaps: true,
          points: { show: spec.points ?? false, size: 6 },
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '–' : fmt(v)),
        })),
      ],
      legend: { live: true },
    };
    this.plot = new uPlot(opts, [[], ...spec.series.map(() => [])], this.element);
    new ResizeObserver(() => {
      const w = this.element.clientWidth;
      if (w > 0 && Math.abs(w - this.plot.width) > 2) this.plot.setSize({ width: w, height: this.plot.height });
    }).observe(this.element);
  }

  /** Adds series `i`'s value at `step` (NaN or ±Infinity: a gap). */
  add(i: number, step: number, value: number): void {
    let row = this.rows.get(step);
    if (!row) {
      row = this.spec.series.map(() => null);
      this.rows.set(step, row);
    }
    row[i] = Number.isFinite(value) ? value : null;
    this.points++;
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => this.redraw());
    }
  }

  private redraw(): void {
    this.scheduled = false;
    const steps = [...this.rows.keys()].sort((a, b) => a - b);
    const data: uPlot.AlignedData = [steps, ...this.spec.series.map((_, i) => steps.map((s) => this.rows.get(s)![i]))];
    this.plot.setData(data);
  }

  destroy(): void {
    this.plot.destroy();
    this.element.remove();
  }
}
