// The report page: one self-contained HTML file (styles inline, figures as
// inline SVG, no scripts, and a Content-Security-Policy that forbids every
// fetch), so it opens offline and can be mailed or archived as one file.
// Everything but the "Generated …" line is a function of the run files.

import type { ConfigRow } from './config-table.ts';
import { fmtAngle, fmtDuration, fmtPercent, fmtRate, MISSING } from './format.ts';
import type { RunSummary } from './summary.ts';

export interface FigureEntry {
  /** File stem under figures/ (e.g. `loss`, `fa-weight-angle`). */
  name: string;
  svg: string;
}

export interface RunPanel {
  label: string;
  figures: FigureEntry[];
  /** Said instead of, or beside, the figures (e.g. "no alignment records yet"). */
  note?: string;
}

export interface ReportModel {
  title: string;
  adapters: string[];
  versions: string[];
  /** The generation date line's text; the one part of the page that changes between builds. */
  generated: string;
  training: FigureEntry[];
  alignmentSummary: FigureEntry[];
  alignmentRuns: RunPanel[];
  summaries: RunSummary[];
  labels: string[];
  config: ConfigRow[];
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; color: #222; max-width: 1360px; margin: 0 auto; padding: 1em 1.5em 3em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { margin: 1.2em 0 0.3em; }
.meta { color: #555; margin: 0.1em 0; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
svg.figure { max-width: 100%; height: auto; border: 1px solid #eee; }
table { border-collapse: collapse; margin: 0.6em 0; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e4e4e4; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #999; vertical-align: bottom; white-space: normal; }
.config td, .config th { text-align: left; font-family: ui-monospace, monospace; font-size: 12.5px; }
.config tr.diff td { background: #fff3bf; }
.note, .footnote { color: #555; font-size: 0.92em; }
`;

function figures(list: FigureEntry[]): string {
  return `<div class="figures">\n${list.map((f) => `<!-- figure ${esc(f.name)} -->\n${f.svg}`).join('\n')}\n</div>`;
}

const SUMMARY_COLUMNS: [string, (s: RunSummary) => string][] = [
  ['test top-1', (s) => fmtPercent(s.top1)],
  ['test top-5', (s) => fmtPercent(s.top5)],
  ['best top-1', (s) => fmtPercent(s.bestTop1)],
  ['∠(B, W) mean', (s) => fmtAngle(s.weightMean)],
  ['∠(B, W) worst layer*', (s) => fmtAngle(s.weightWorst)],
  ['∠(δ, δ_BP) mean', (s) => fmtAngle(s.deltaMean)],
  ['∠(δ, δ_BP) worst layer*', (s) => fmtAngle(s.deltaWorst)],
  ['images/s (median)', (s) => fmtRate(s.imagesPerS)],
  ['wall time', (s) => fmtDuration(s.wallS)],
  ['epoch', (s) => (s.epoch === null ? MISSING : String(s.epoch))],
  ['step', (s) => (s.step === null ? MISSING : String(s.step))],
  ['last event', (s) => s.status ?? MISSING],
];

/** The final table; each row carries `data-run` so a test (or a script) can find a run's row. */
export function summaryTable(summaries: RunSummary[]): string {
  const head = `<tr><th>run</th>${SUMMARY_COLUMNS.map(([h]) => `<th>${esc(h)}</th>`).join('')}</tr>`;
  const rows = summaries.map(
    (s) =>
      `<tr data-run="${esc(s.label)}"><td>${esc(s.label)}</td>${SUMMARY_COLUMNS.map(([, f]) => `<td>${esc(f(s))}</td>`).join('')}</tr>`,
  );
  return `<table class="summary">\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`;
}

function summaryFootnote(summaries: RunSummary[]): string {
  // Grouped by layer ("conv1.weight in fa, ss, wm, kp"): usually the same first layer in every run.
  const runsOf = new Map<string, string[]>();
  for (const s of summaries) for (const name of s.unused) runsOf.set(name, [...(runsOf.get(name) ?? []), s.label]);
  const unused = [...runsOf].map(([name, labels]) => `${name} in ${labels.join(', ')}`);
  const left =
    unused.length > 0
      ? ` Layers flagged unused — their feedback B is never read by any pass, so their weight angle says nothing about learning — are left out of the weight-angle numbers (their delta angle counts): ${unused.join('; ')}.`
      : '';
  return (
    `<p class="footnote">* Mean and worst-layer angles are over the layers of each run's last alignment record; ` +
    `layers where δ is not measured are left out of the δ columns.${esc(left)} ` +
    `Errors are from the last test record; images/s is the median over training log windows; ${MISSING} means not recorded yet.</p>`
  );
}

function configTable(labels: string[], rows: ConfigRow[]): string {
  const head = `<tr><th>key</th>${labels.map((l) => `<th>${esc(l)}</th>`).join('')}</tr>`;
  const body = rows.map(
    (r) => `<tr${r.differs ? ' class="diff"' : ''}><td>${esc(r.key)}</td>${r.values.map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`,
  );
  return `<table class="config">\n<thead>${head}</thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

export function renderPage(m: ReportModel): string {
  const perRun = m.alignmentRuns
    .map(
      (r) =>
        `<h3>${esc(r.label)}</h3>\n${r.note ? `<p class="note">${esc(r.note)}</p>\n` : ''}${r.figures.length ? figures(r.figures) : ''}`,
    )
    .join('\n');
  const noData = (list: FigureEntry[], what: string) => (list.length ? figures(list) : `<p class="note">No ${what} recorded yet.</p>`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${esc(m.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${esc(m.title)}</h1>
<p class="meta">Adapter: ${esc(m.adapters.join('; ') || MISSING)}</p>
<p class="meta">nowt ${esc(m.versions.join(', ') || MISSING)} · runs: ${esc(m.labels.join(', '))}</p>
<p class="meta generated">${esc(m.generated)}</p>

<h2>Training</h2>
${noData(m.training, 'training or test records')}

<h2>Alignment with backprop</h2>
<p>How close each rule's feedback is to what backprop would use: the weight angle ∠(B, W) between the feedback and forward weights,
and the delta angle ∠(δ, δ_BP) between the rule's teaching signal and backprop's on the same batch (0° = backprop).
The summary plots the mean over layers; below, every layer per rule, coloured by depth.</p>
${noData(m.alignmentSummary, 'alignment records')}
${perRun}

<h2>Results</h2>
${summaryTable(m.summaries)}
${summaryFootnote(m.summaries)}

<h2>Configuration</h2>
<p class="note">Every key of each run's config.json (nested keys dotted); highlighted rows differ between runs.</p>
${configTable(m.labels, m.config)}

<h2>Watch it live</h2>
<p>The same comparison can be watched live, while it trains, in the browser demo: run <code>npm run demo</code>.</p>
<p class="footnote">Figures are also in <code>figures/</code> beside this file as SVG and PNG. Long series are thinned to evenly spaced points for drawing; the table uses every record.</p>
</body>
</html>
`;
}
