#!/usr/bin/env node
// The demo's browser test (`npm run test:demo`): builds the page into
// .tmp/demo-test/site, serves it with tools/demo-server.ts and drives Debian's
// Chromium headless (playwright-core, never a downloaded browser; WebGPU on
// SwiftShader). Cases:
//
//   1. bp and fa side by side for 40 steps on the synthetic set, started with
//      the Start button: each rule's loss fell, the loss, test-error and angle
//      figures received points, each rule shows its images/s, the console
//      holds nothing, no request left 127.0.0.1; a screenshot goes to
//      .tmp/demo-test/demo.png;
//   2. Fashion-MNIST from the server's files (skipped when it found none);
//   3. ?debug=validate trains; ?debug=<unknown> shows a message naming it;
//   4. Chromium with WebGPU off: the page says so and offers a restart.
//
// Prints one line per case and `demo: N passed, M failed`; exit status non-zero on any failure.
//
// Environment: NOWT_CHROMIUM (default /usr/bin/chromium), NOWT_DEMO_TIMEOUT_MS (per case, default 120000).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, CHROMIUM_ARGS, WEBGPU_OFF, WEBGPU_ON } from './chromium.js';
import { buildDemo } from './demo-build.js';
import { createDemoServer, findFashionMnist, listen } from './demo-server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, '.tmp/demo-test');
const TIMEOUT_MS = Number(process.env.NOWT_DEMO_TIMEOUT_MS ?? 120_000);

/** A page that records everything the test asserts on: console lines, uncaught errors, requests. */
async function openPage(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1100 } });
  const seen = { console: [], requests: [] };
  page.on('console', (m) => seen.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => seen.console.push(`uncaught: ${e.message}`));
  page.on('request', (r) => seen.requests.push(r.url()));
  await page.goto(url);
  return { page, seen };
}

async function waitState(page, states) {
  await page.waitForFunction((s) => s.includes(globalThis.nowtDemo?.state), states, { timeout: TIMEOUT_MS });
  return page.evaluate(() => ({ ...globalThis.nowtDemo, points: globalThis.nowtDemo.chartPoints() }));
}

function check(cond, what, problems) {
  if (!cond) problems.push(what);
}

function offsite(seen, origin) {
  return seen.requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:'));
}

async function trainsTwoRules(browser, origin) {
  const { page, seen } = await openPage(browser, `${origin}/?dataset=synthetic&model=mlp&hidden=64&batch=32&lr=0.05&rules=bp,fa&steps=40`);
  await waitState(page, ['idle']);
  await page.click('#start');
  const h = await waitState(page, ['done', 'error']);
  const problems = [];
  check(h.state === 'done', `state ${h.state}${h.error ? `: ${h.error}` : ''}`, problems);
  const lines = [`adapter: ${h.adapter}`];
  for (const rule of ['bp', 'fa']) {
    const train = h.records.filter((r) => r.rule === rule && r.kind === 'train');
    const first = train[0]?.loss;
    const last = train.at(-1)?.loss;
    check(train.length >= 2 && last < first, `${rule}: loss did not fall (${train.map((r) => r.loss.toFixed(3)).join(' → ')})`, problems);
    const rate = await page.locator(`#lanes tr[data-rule="${rule}"] td`).nth(4).innerText();
    check(Number(rate) > 0, `${rule}: images/s shows "${rate}"`, problems);
    lines.push(`${rule}: loss ${first?.toFixed(3)} → ${last?.toFixed(3)}, ${rate} images/s`);
  }
  check(h.points.loss >= 8, `loss figure got ${h.points.loss} points`, problems);
  check(h.points.error >= 2, `test-error figure got ${h.points.error} points`, problems);
  check(h.points.angles > 0, `angle figures got ${h.points.angles} points`, problems);
  check((await page.locator('#angles figure').count()) === 2, 'fa has no weight and delta angle panels', problems);
  check(seen.console.length === 0, `console: ${seen.console.join(' | ')}`, problems);
  const away = offsite(seen, origin);
  check(away.length === 0, `requests left 127.0.0.1: ${away.join(', ')}`, problems);
  await page.screenshot({ path: path.join(OUT, 'demo.png'), fullPage: true });
  lines.push(`screenshot ${path.relative(ROOT, path.join(OUT, 'demo.png'))}`);
  await page.close();
  return { problems, lines };
}

async function fashionMnist(browser, origin) {
  const { page, seen } = await openPage(
    browser,
    `${origin}/?dataset=fashion-mnist&model=mlp&hidden=64&batch=32&rules=fa&steps=20&test=256&autostart=1`,
  );
  const h = await waitState(page, ['done', 'error']);
  const problems = [];
  check(h.state === 'done', `state ${h.state}${h.error ? `: ${h.error}` : ''}`, problems);
  check(/^Fashion-MNIST from the server's local files/.test(h.notice), `notice: ${h.notice}`, problems);
  check(seen.console.length === 0, `console: ${seen.console.join(' | ')}`, problems);
  check(offsite(seen, origin).length === 0, 'a request left 127.0.0.1', problems);
  await page.close();
  return { problems, lines: [h.notice] };
}

async function debugSwitches(browser, origin) {
  const problems = [];
  const ok = await openPage(browser, `${origin}/?debug=validate&dataset=synthetic&hidden=32&batch=16&rules=ss&steps=10&autostart=1`);
  const h = await waitState(ok.page, ['done', 'error']);
  check(h.state === 'done', `?debug=validate: state ${h.state}${h.error ? `: ${h.error}` : ''}`, problems);
  check(ok.seen.console.length === 0, `?debug=validate: console: ${ok.seen.console.join(' | ')}`, problems);
  await ok.page.close();
  const bad = await openPage(browser, `${origin}/?debug=no-such-switch`);
  const b = await waitState(bad.page, ['error', 'idle']);
  const text = await bad.page.locator('#fatal').innerText();
  check(
    b.state === 'error' && /unknown switch "no-such-switch"/.test(text),
    `?debug=no-such-switch: state ${b.state}, message "${text}"`,
    problems,
  );
  await bad.page.close();
  return { problems, lines: [] };
}

async function webgpuOff(browser, origin) {
  const { page, seen } = await openPage(browser, `${origin}/`);
  const h = await waitState(page, ['error', 'idle']);
  const problems = [];
  const fatal = page.locator('#fatal');
  check(h.state === 'error', `state ${h.state}: the page trained without WebGPU?`, problems);
  check(await fatal.isVisible(), 'no message shown', problems);
  const title = await page.locator('#fatal-title').innerText();
  check(title === 'No WebGPU here', `message title "${title}"`, problems);
  check(await page.locator('#restart').isVisible(), 'no restart button', problems);
  // Chromium's own warning when requestAdapter() finds nothing: the page's message explains it.
  const unexplained = seen.console.filter((l) => !/^warning: No available adapters\.$/.test(l));
  check(unexplained.length === 0, `console: ${unexplained.join(' | ')}`, problems);
  await page.screenshot({ path: path.join(OUT, 'no-webgpu.png') });
  await page.close();
  return { problems, lines: [h.error ?? ''] };
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`✗ no Chromium at ${CHROMIUM}: run \`npm run setup\` (installs Debian's chromium) or set NOWT_CHROMIUM`);
    return 1;
  }
  fs.mkdirSync(OUT, { recursive: true });
  const site = path.join(OUT, 'site');
  const built = await buildDemo({ outdir: site });
  console.log(
    `  built ${path.relative(ROOT, site)}/: demo.js ${(built.files.find((f) => f.name === 'demo.js').bytes / 1024).toFixed(0)} KiB`,
  );
  const found = findFashionMnist();
  const server = await listen(createDemoServer({ root: site, found }), 0);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const { chromium } = await import('playwright-core');
  const cases = [
    ['bp and fa train side by side on the synthetic set', trainsTwoRules, WEBGPU_ON],
    ...(found.dir ? [['Fashion-MNIST from the local files', fashionMnist, WEBGPU_ON]] : []),
    ['?debug= switches', debugSwitches, WEBGPU_ON],
    ['WebGPU off: a message and a restart button', webgpuOff, WEBGPU_OFF],
  ];
  if (!found.dir) console.log(`  - Fashion-MNIST case skipped: ${found.source}`);
  let passed = 0;
  let failed = 0;
  try {
    for (const [name, run, flags] of cases) {
      const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...flags] });
      const t0 = performance.now();
      let result;
      try {
        result = await run(browser, origin);
      } catch (e) {
        result = { problems: [e.message.split('\n')[0]], lines: [] };
      } finally {
        await browser.close().catch(() => {});
      }
      const ok = result.problems.length === 0;
      if (ok) passed++;
      else failed++;
      console.log(`${ok ? '✓' : '✗'} ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      for (const l of result.lines) console.log(`    ${l}`);
      for (const p of result.problems) console.log(`    ✗ ${p}`);
    }
  } finally {
    server.close();
  }
  console.log(`demo: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
