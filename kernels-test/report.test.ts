// The report (src/report, `nowt report`): from fixture run folders (seeded,
// written to a temp dir) it writes report.html and every figure as SVG and
// PNG; the final table's numbers match ones computed here from the fixture
// records; a comparison folder gives the same page as its run folders listed;
// bad input names the folder or file:line; and the page opens in headless
// Chromium with no console error and no request but its own file.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { reportCommand } from '../src/cli/report.ts';
import { downsample, MAX_POINTS } from '../src/report/downsample.ts';
import { fmtAngle, fmtDuration, fmtPercent, fmtRate, MISSING } from '../src/report/format.ts';
import { buildReport, ReportError } from '../src/report/node-report.ts';
import { FIXTURE_RULES, writeComparison, writeRun } from './report-fixtures.ts';

import { CHROMIUM, CHROMIUM_ARGS } from '../tools/chromium.js';
/** Figures of a comparison: loss, test error, two mean-angle summaries, then weight, delta and norm ratio per run. */
const FIGURES_PER_COMPARISON = (runs: number) => 4 + 3 * runs;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nowt-report-test-'));
const cmp = path.join(tmp, 'cmp');
const fixtures = writeComparison(cmp);

type Rec = Record<string, unknown>;
type Layer = { weight_angle_deg: number; delta_angle_deg: number | null; unused?: boolean };

/** The HTML without its one line that changes between builds. */
function stable(html: string): string {
  return html.replace(/<p class="meta generated">[^<]*<\/p>/, '');
}

function figureCount(html: string): number {
  return (html.match(/<svg [^>]*class="figure"/g) ?? []).length;
}

function tableRow(html: string, label: string): string[] {
  const row = new RegExp(`<tr data-run="${label}">(.*?)</tr>`).exec(html);
  assert.ok(row, `no table row for ${label}`);
  return [...row[1].matchAll(/<td>(.*?)<\/td>/g)].map((m) => m[1]).slice(1);
}

/** The table's numbers, computed independently from the fixture records. */
function expectedRow(records: Rec[]): string[] {
  const tests = records.filter((r) => r.kind === 'test');
  const lastTest = tests[tests.length - 1];
  const aligns = records.filter((r) => r.kind === 'alignment');
  // An unused layer's weight angle is left out; its delta angle counts.
  const all = aligns[aligns.length - 1].layers as Layer[];
  const w = all.filter((l) => !l.unused).map((l) => l.weight_angle_deg);
  const d = all.map((l) => l.delta_angle_deg).filter((x): x is number => x !== null);
  const rates = records
    .filter((r) => r.kind === 'train')
    .map((r) => r.images_per_s as number)
    .sort((a, b) => a - b);
  const mid = rates.length >> 1;
  const med = rates.length % 2 ? rates[mid] : (rates[mid - 1] + rates[mid]) / 2;
  const events = records.filter((r) => r.kind === 'event');
  const finished = events.find((e) => e.what === 'finished');
  const wall = finished
    ? (finished.wall_s as number)
    : (Date.parse(events[events.length - 1].time as string) - Date.parse(events[0].time as string)) / 1000;
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return [
    lastTest ? fmtPercent(lastTest.top1_error as number) : MISSING,
    lastTest ? fmtPercent(lastTest.top5_error as number) : MISSING,
    tests.length ? fmtPercent(Math.min(...tests.map((t) => t.top1_error as number))) : MISSING,
    fmtAngle(mean(w)),
    fmtAngle(Math.max(...w)),
    fmtAngle(mean(d)),
    fmtAngle(Math.max(...d)),
    fmtRate(med),
    fmtDuration(wall),
  ];
}

test('buildReport writes report.html and every figure as SVG and PNG; the table matches the records', async () => {
  const out = path.join(cmp, 'report.html');
  const result = await buildReport(
    FIXTURE_RULES.map((r) => path.join(cmp, r)),
    out,
  );
  assert.is(result.html, path.resolve(out));
  const html = fs.readFileSync(out, 'utf8');
  const n = FIGURES_PER_COMPARISON(FIXTURE_RULES.length);
  assert.is(figureCount(html), n, 'figures in the HTML');
  assert.is(result.figures.length, 2 * n, 'SVG + PNG per figure');
  for (const name of ['loss', 'test-error', 'mean-weight-angle', 'mean-delta-angle', ...FIXTURE_RULES.map((r) => `${r}-delta-angle`)]) {
    const svg = fs.readFileSync(path.join(cmp, 'figures', `${name}.svg`), 'utf8');
    const root = /<svg [^>]*>/.exec(svg)?.[0] ?? '';
    for (const attr of [/ xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, / width="\d+"/, / height="\d+"/])
      assert.match(root, attr, `${name}.svg is standalone: ${root}`);
    const png = fs.readFileSync(path.join(cmp, 'figures', `${name}.png`));
    assert.equal([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `${name}.png is a PNG`);
  }
  // Self-contained: nothing is fetched, no script at all.
  assert.not.match(html, /<script|<link rel="stylesheet"|src="http|href="http/);
  // Some runs' first layer is flagged unused: the footnote says it was left out.
  assert.match(html, /left out of the weight-angle numbers \(their delta angle counts\): conv1\.weight in fa/);
  for (const rule of FIXTURE_RULES) {
    const records = fixtures.get(rule)?.records ?? [];
    assert.equal(tableRow(html, rule).slice(0, 9), expectedRow(records), `table row of ${rule}`);
  }
  // Configuration: nested keys dotted; the rule differs between runs, the batch size does not.
  assert.match(html, /<tr class="diff"><td>rule<\/td><td>bp<\/td><td>fa<\/td>/);
  assert.match(html, /<tr><td>optimizer\.momentum<\/td><td>0\.9<\/td>/);
  assert.match(html, /Watch it live[\s\S]*npm run demo/);
});

test('downsample keeps long series to MAX_POINTS evenly spaced points, both ends included', () => {
  const xs = Array.from({ length: 10_000 }, (_, i) => i);
  const d = downsample(xs);
  assert.is(d.length, MAX_POINTS);
  assert.is(d[0], 0);
  assert.is(d[d.length - 1], 9_999);
  assert.ok(d.every((x, i) => i === 0 || x > d[i - 1]));
  assert.equal(downsample([1, 2, 3]), [1, 2, 3]);
});

test('a comparison folder gives the same report as its run folders listed, in any order', async () => {
  const fromFolder = await reportCommand({ dirs: [cmp], out: path.join(tmp, 'a', 'report.html') });
  assert.is(fromFolder, path.join(tmp, 'a', 'report.html'));
  const shuffled = ['kp', 'bp', 'wm', 'fa', 'ss'].map((r) => path.join(cmp, r));
  const fromList = await reportCommand({ dirs: shuffled, out: path.join(tmp, 'b', 'report.html') });
  const a = fs.readFileSync(fromFolder, 'utf8');
  const b = fs.readFileSync(fromList, 'utf8');
  assert.ok(a.length > 10_000);
  assert.ok(stable(a) === stable(b), 'same HTML apart from the date line');
  // Default output: <first dir>/report.html.
  const single = path.join(tmp, 'single');
  writeRun(single, { rule: 'wm', steps: 40 });
  assert.is(await reportCommand({ dirs: [single] }), path.resolve(single, 'report.html'));
});

test('more than 12 layers: heat maps and a median/range norm ratio; a run with no test record shows —', async () => {
  const deep = path.join(tmp, 'deep');
  const records = writeRun(deep, { rule: 'kp', layers: 20, noTest: true, unfinished: true }).records;
  const out = path.join(deep, 'report.html');
  await buildReport([deep], out);
  const html = fs.readFileSync(out, 'utf8');
  assert.is(figureCount(html), FIGURES_PER_COMPARISON(1) - 1, 'no test-error figure without test records');
  const weight = fs.readFileSync(path.join(deep, 'figures', 'kp-weight-angle.svg'), 'utf8');
  assert.match(weight, /layer depth/);
  assert.ok((weight.match(/<rect/g) ?? []).length >= 20 * 20, 'a cell per layer and alignment record');
  assert.match(fs.readFileSync(path.join(deep, 'figures', 'kp-norm-ratio.svg'), 'utf8'), /median over 20 layers/);
  assert.equal(tableRow(html, 'kp').slice(0, 9), expectedRow(records));
  assert.is(tableRow(html, 'kp')[0], MISSING);
});

test('bad input: missing config.json, a line that is not JSON, a record without step', async () => {
  const bad = (name: string) => path.join(tmp, 'bad', name);
  const rejects = async (dirs: string[], pattern: RegExp) => {
    try {
      await buildReport(dirs, path.join(tmp, 'bad', 'report.html'));
    } catch (e) {
      assert.instance(e, ReportError);
      assert.match((e as Error).message, pattern);
      return;
    }
    assert.unreachable(`no error for ${dirs.join(' ')}`);
  };

  writeRun(bad('noconfig'), { rule: 'fa', steps: 20 });
  fs.rmSync(path.join(bad('noconfig'), 'config.json'));
  await rejects([bad('noconfig')], /noconfig: no config\.json/);

  writeRun(bad('nometrics'), { rule: 'fa', steps: 20 });
  fs.rmSync(path.join(bad('nometrics'), 'metrics.jsonl'));
  await rejects([bad('nometrics')], /nometrics: no metrics\.jsonl/);

  writeRun(bad('json'), { rule: 'fa', steps: 20 });
  const metrics = path.join(bad('json'), 'metrics.jsonl');
  const lines = fs.readFileSync(metrics, 'utf8').split('\n');
  lines[2] = '{"kind": "train", "step": 3,';
  fs.writeFileSync(metrics, lines.join('\n'));
  await rejects([bad('json')], /json[/\\]metrics\.jsonl:3: not valid JSON/);

  writeRun(bad('nostep'), { rule: 'fa', steps: 20 });
  const m2 = path.join(bad('nostep'), 'metrics.jsonl');
  const l2 = fs.readFileSync(m2, 'utf8').split('\n');
  l2[1] = JSON.stringify({ kind: 'train', epoch: 0, loss: 1 });
  fs.writeFileSync(m2, l2.join('\n'));
  await rejects([bad('nostep')], /nostep[/\\]metrics\.jsonl:2: record has no "step"/);
});

test('the page opens in headless Chromium with no console error and no request but its own file', async () => {
  if (!fs.existsSync(CHROMIUM))
    assert.unreachable(`${CHROMIUM} is missing: install Debian's chromium (npm run setup) or set NOWT_CHROMIUM`);
  const { chromium } = await import('playwright-core');
  const file = path.join(cmp, 'report.html');
  const url = pathToFileURL(file).href;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load' });
    const figures = await page.locator('svg.figure').count();
    assert.is(figures, FIGURES_PER_COMPARISON(FIXTURE_RULES.length));
    // Figures are laid out with a real size (an SVG that failed to parse would have none).
    const box = await page.locator('svg.figure').first().boundingBox();
    assert.ok(box && box.width > 300 && box.height > 150, `first figure is ${JSON.stringify(box)}`);
    const shot = path.join(tmp, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(fs.statSync(shot).size > 50_000, 'screenshot has content');
    assert.equal(problems, [], 'console');
    assert.equal(requests, [], 'requests besides the page itself');
  } finally {
    await browser.close();
  }
});

test.after(() => {
  if (process.env.NOWT_KEEP_REPORT_TEST) console.log(`report test files kept in ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
});

test.run();
