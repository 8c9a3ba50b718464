#!/usr/bin/env node
// The demo's static build (`npm run demo:build [-- --out DIR]`): demo/ and
// src/web/demo/main.ts → dist/demo/ (index.html, demo.js, demo.css, their
// source maps, data/index.json saying "no dataset"). The folder can be hosted
// as it is; `npm run demo` serves it with the Fashion-MNIST files it finds.
//
// The bundle is built for platform 'browser' with no externals, so a `node:`
// import fails it, and every shared file under src/ must bundle the same way
// (tools/bundle.js's checkBrowserSafe). The build then lists the bundle's
// inputs and refuses any Node-only one (node-*.ts, src/cli/, a Node package).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, checkBrowserSafe, COMMON, DIST, shadersPlugin } from './bundle.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEMO_OUT = path.join(DIST, 'demo');
const PAGE_DIR = path.join(ROOT, 'demo');
const ENTRY = path.join(ROOT, 'src/web/demo/main.ts');

/** Packages that only run in Node (native addons, file-system readers): none may reach the page. */
const NODE_ONLY_PACKAGES = ['webgpu', 'sharp', 'tar', 'linkedom', 'cli-progress', 'tsx'];

/** What a static host serves at data/index.json when no server found a dataset. */
export const STATIC_DATA_INDEX = { dataset: null, source: 'this is a static build; `npm run demo` serves the local Fashion-MNIST files' };

/** Throws naming the first input of a metafile that only runs in Node. */
export function checkInputs(metafile) {
  const bad = Object.keys(metafile.inputs).filter((input) => {
    if (input.startsWith('node:')) return true;
    const rel = input.replace(/\\/g, '/');
    if (/(^|\/)node-[^/]*\.ts$/.test(rel) || rel.startsWith('src/cli/')) return true;
    return NODE_ONLY_PACKAGES.some((p) => rel.includes(`node_modules/${p}/`));
  });
  if (bad.length > 0) throw new Error(`demo bundle: Node-only modules reached the page: ${bad.join(', ')}`);
  return Object.keys(metafile.inputs).length;
}

/**
 * Builds the page into `outdir` (emptied first). Returns the files written with their sizes.
 * @param {{ outdir?: string, minify?: boolean }} [opts]
 */
export async function buildDemo({ outdir = DEMO_OUT, minify = true } = {}) {
  fs.rmSync(outdir, { recursive: true, force: true });
  fs.mkdirSync(path.join(outdir, 'data'), { recursive: true });
  const js = await build(
    {
      ...COMMON,
      minify,
      entryPoints: { demo: ENTRY },
      outdir,
      plugins: [shadersPlugin()],
    },
    'demo bundle',
  );
  const inputs = checkInputs(js.metafile);
  await build({ ...COMMON, minify, entryPoints: { demo: path.join(PAGE_DIR, 'demo.css') }, outdir }, 'demo stylesheet');
  fs.copyFileSync(path.join(PAGE_DIR, 'index.html'), path.join(outdir, 'index.html'));
  fs.writeFileSync(path.join(outdir, 'data', 'index.json'), `${JSON.stringify(STATIC_DATA_INDEX)}\n`);
  const files = ['index.html', 'demo.js', 'demo.css', 'data/index.json'].map((name) => {
    const bytes = fs.readFileSync(path.join(outdir, name));
    return { name, bytes: bytes.length, gzip: gzipSync(bytes).length };
  });
  return { outdir, files, inputs };
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const at = process.argv.indexOf('--out');
    const outdir = at >= 0 ? path.resolve(process.argv[at + 1] ?? '') : DEMO_OUT;
    console.log(`browser-safe: ${await checkBrowserSafe()} shared files under src/ bundle for the browser with no Node modules`);
    const { files, inputs } = await buildDemo({ outdir, minify: !process.argv.includes('--no-minify') });
    for (const f of files) console.log(`${path.relative(ROOT, path.join(outdir, f.name))}  ${kib(f.bytes)} (gzip ${kib(f.gzip)})`);
    console.log(`demo.js bundles ${inputs} modules, none Node-only. Host ${path.relative(ROOT, outdir)}/ as it is, or \`npm run demo\`.`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
