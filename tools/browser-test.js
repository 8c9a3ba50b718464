#!/usr/bin/env node
// The browser test (`npm run test:browser`): the engine's bundle in real
// Chromium (Debian's, headless, WebGPU on SwiftShader), checked against the
// float64 references inside the page.
//
//   1. shared code under src/ must bundle for the browser (no `node:` imports);
//   2. bundle dist/nowt.web.js and the test page's script (tools/bundle.js);
//   3. serve them from 127.0.0.1 (localhost is a secure context, so the page
//      gets navigator.gpu) and drive Chromium with playwright-core;
//   4. print the adapter, one line per case, and `browser: N passed, M failed`.
//
// Exit status is non-zero on any failure, when there is no adapter, or when
// Chromium is missing (`npm run setup` installs it). Never downloads a browser.
//
// Environment:
//   NOWT_CHROMIUM   the Chromium binary (default /usr/bin/chromium)
//   NOWT_BROWSER_TIMEOUT_MS   limit for the whole page run (default 120000)

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { bundle, checkBrowserSafe, DIST } from './bundle.js';
import { CHROMIUM, CHROMIUM_ARGS, WEBGPU_ON } from './chromium.js';

const TIMEOUT_MS = Number(process.env.NOWT_BROWSER_TIMEOUT_MS ?? 120_000);
const CHROMIUM_FLAGS = [...CHROMIUM_ARGS, ...WEBGPU_ON];

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>nowt browser test</title>
<link rel="icon" href="data:,">
<script type="module" src="./browser-test-page.js"></script>
`;

/** What the server hands out: the page and the two bundles (with source maps). */
function routes() {
  const files = { '/': { type: 'text/html; charset=utf-8', body: PAGE } };
  for (const name of ['nowt.web.js', 'browser-test-page.js']) {
    files[`/${name}`] = { type: 'text/javascript; charset=utf-8', file: path.join(DIST, name) };
    files[`/${name}.map`] = { type: 'application/json', file: path.join(DIST, `${name}.map`) };
  }
  return files;
}

function serve() {
  const files = routes();
  const server = http.createServer((req, res) => {
    const route = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!route || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    const send = (body) => res.writeHead(200, { 'content-type': route.type, 'cache-control': 'no-store' }).end(body);
    if (route.body !== undefined) send(route.body);
    else fs.readFile(route.file, (err, data) => (err ? res.writeHead(404).end() : send(data)));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`✗ no Chromium at ${CHROMIUM}: run \`npm run setup\` (installs Debian's chromium) or set NOWT_CHROMIUM`);
    return 1;
  }

  try {
    console.log(`✓ browser-safe: ${await checkBrowserSafe()} shared files under src/ bundle for the browser with no Node modules`);
    await bundle({ testPage: true });
  } catch (e) {
    console.error(`✗ ${e.message}`);
    console.log('browser: 0 passed, 1 failed');
    return 1;
  }

  const { chromium } = await import('playwright-core');
  const server = await serve();
  const url = `http://127.0.0.1:${server.address().port}/`;
  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    const page = await browser.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') console.log(`  page ${m.type()}: ${m.text()}`);
    });
    await page.goto(url);
    await page
      .waitForFunction(() => 'runNowtBrowserTests' in globalThis, null, { timeout: 30_000 })
      .catch(() => {
        throw new Error(`the test page never loaded its script${pageErrors.length ? `: ${pageErrors.join('; ')}` : ''}`);
      });
    const report = await withTimeout(
      page.evaluate(() => globalThis.runNowtBrowserTests()),
      TIMEOUT_MS,
      'the page run',
    );

    console.log(`  ${report.userAgent}`);
    if (report.fatal) {
      console.error(`✗ no WebGPU runtime in Chromium: ${report.fatal}`);
      console.log('browser: 0 passed, 1 failed');
      return 1;
    }
    const a = report.adapter;
    console.log(`  adapter: ${a.vendor} / ${a.architecture} / ${a.device} / ${a.description} (backend ${a.backend})`);
    let passed = 0;
    let failed = 0;
    for (const c of report.cases) {
      if (c.ok) passed++;
      else failed++;
      console.log(`${c.ok ? '✓' : '✗'} ${c.name}`);
      if (!c.ok) console.log(c.detail.replace(/^/gm, '    '));
    }
    for (const e of pageErrors) {
      failed++;
      console.log(`✗ uncaught in page: ${e}`);
    }
    console.log(`browser: ${passed} passed, ${failed} failed`);
    return failed === 0 && passed > 0 ? 0 : 1;
  } catch (e) {
    console.error(`✗ ${e.message}`);
    console.log('browser: 0 passed, 1 failed');
    return 1;
  } finally {
    await browser?.close().catch(() => {});
    server.close();
  }
}

process.exitCode = await main();
