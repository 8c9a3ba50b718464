// buildReport: run folders in, one self-contained report.html out, with every
// figure also written as SVG and PNG under figures/ beside it (for papers).
// Reads config.json and metrics.jsonl only; never the engine.

import fs from 'node:fs';
import path from 'node:path';
import { parseHTML } from 'linkedom';
import sharp from 'sharp';
import { configRows } from './config-table.ts';
import { alignmentFigure, errorFigure, lossFigure, meanAngleFigure, normRatioFigure } from './figures.ts';
import { renderPage, type FigureEntry, type RunPanel } from './html.ts';
import { readRuns } from './node-runs.ts';
import { summarizeRun } from './summary.ts';
import type { Run } from './types.ts';

export { ReportError, expandRunDirs, readRuns } from './node-runs.ts';

export interface ReportResult {
  html: string;
  /** Every figure file written (SVG and PNG). */
  figures: string[];
}

/** PNGs at twice the SVG's size: sharp renders the SVG at 72 dpi × 2. */
const PNG_DENSITY = 144;

/** A label as a file-name stem. */
function stem(label: string): string {
  return label.replace(/[^A-Za-z0-9._-]+/g, '-');
}

function uniqueText(values: string[]): string[] {
  return [...new Set(values.filter((v) => v !== ''))];
}

function adapterText(config: Record<string, unknown>): string {
  const a = config.adapter;
  if (typeof a !== 'object' || a === null) return '';
  const { description, vendor, architecture, backend } = a as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const name = str(description) || [str(vendor), str(architecture)].filter(Boolean).join(' ');
  return [name, str(backend) && `(${str(backend)})`].filter(Boolean).join(' ');
}

function title(runs: Run[]): string {
  const models = uniqueText(runs.map((r) => String(r.config.model ?? '')));
  const datasets = uniqueText(runs.map((r) => String(r.config.dataset ?? '')));
  const what = [models.join(', '), datasets.length ? `on ${datasets.join(', ')}` : ''].filter(Boolean).join(' ');
  return `nowt report${what ? `: ${what}` : ''}`;
}

type Made = { name: string; el: SVGSVGElement | null };

/** The figures that had something to draw, serialised. */
function entries(made: Made[]): FigureEntry[] {
  return made.flatMap((m) => (m.el ? [{ name: m.name, svg: m.el.outerHTML }] : []));
}

/** Builds the report of `dirs` (run folders) into `outFile`; figures go to `<dir of outFile>/figures/`. */
export async function buildReport(dirs: string[], outFile: string): Promise<ReportResult> {
  const runs = readRuns(dirs);
  const { document } = parseHTML('<!doctype html><html><body></body></html>');
  const doc = document as unknown as Document;

  const training = entries([
    { name: 'loss', el: lossFigure(runs, doc) },
    { name: 'test-error', el: errorFigure(runs, doc) },
  ]);
  const alignmentSummary = entries([
    { name: 'mean-weight-angle', el: meanAngleFigure(runs, 'weight', doc) },
    { name: 'mean-delta-angle', el: meanAngleFigure(runs, 'delta', doc) },
  ]);
  const alignmentRuns: RunPanel[] = runs.map((r) => {
    const s = stem(r.label);
    const figs = entries([
      { name: `${s}-weight-angle`, el: alignmentFigure(r, 'weight', doc) },
      { name: `${s}-delta-angle`, el: alignmentFigure(r, 'delta', doc) },
      { name: `${s}-norm-ratio`, el: normRatioFigure(r, doc) },
    ]);
    return { label: r.label, figures: figs, ...(r.alignment.length === 0 ? { note: 'No alignment records yet.' } : {}) };
  });

  const html = renderPage({
    title: title(runs),
    adapters: uniqueText(runs.map((r) => adapterText(r.config))),
    versions: uniqueText(runs.map((r) => String(r.config.nowt_version ?? ''))),
    generated: `Generated ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC`,
    training,
    alignmentSummary,
    alignmentRuns,
    summaries: runs.map(summarizeRun),
    labels: runs.map((r) => r.label),
    config: configRows(runs.map((r) => r.config)),
  });

  const outDir = path.dirname(path.resolve(outFile));
  const figDir = path.join(outDir, 'figures');
  fs.mkdirSync(figDir, { recursive: true });
  const all = [...training, ...alignmentSummary, ...alignmentRuns.flatMap((r) => r.figures)];
  const written: string[] = [];
  await Promise.all(
    all.map(async (f) => {
      const svgFile = path.join(figDir, `${f.name}.svg`);
      const pngFile = path.join(figDir, `${f.name}.png`);
      const svg = `<?xml version="1.0" encoding="UTF-8"?>\n${f.svg}\n`;
      fs.writeFileSync(svgFile, svg);
      await sharp(Buffer.from(svg), { density: PNG_DENSITY }).flatten({ background: '#ffffff' }).png().toFile(pngFile);
      written.push(svgFile, pngFile);
    }),
  );
  fs.writeFileSync(outFile, html);
  return { html: path.resolve(outFile), figures: written.sort() };
}
