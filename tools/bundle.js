#!/usr/bin/env node
// The browser bundle (`npm run bundle`): src/web/index.ts → dist/nowt.web.js
// (ESM). Shaders reach it as text through the virtual module `nowt:shaders`,
// which this file resolves to every shaders/*.wgsl read at bundle time, so
// Node and the browser compile the same files and nothing generated is kept.
//
// Also exported for tools/browser-test.js:
//   bundle({ testPage: true })  adds dist/browser-test-page.js, the test page's
//                               entry, which loads ./nowt.web.js (the real
//                               artifact) instead of a second copy of the engine.
//   checkBrowserSafe()          bundles every shared file under src/ (all but
//                               node-*.ts and src/cli/) for platform 'browser'
//                               with no externals: a `node:` import, or a Node
//                               file pulled in from shared code, fails it.
//   COMMON, build(opts, what)   the browser build settings and esbuild with its
//                               messages formatted (tools/demo-build.js).

import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(ROOT, 'dist');
const SHADER_DIR = path.join(ROOT, 'shaders');
const WEB_ENTRY = path.join(ROOT, 'src/web/index.ts');
const TEST_PAGE_ENTRY = path.join(ROOT, 'tools/browser-test-page.ts');

/**
 * Resolves `import shaders from 'nowt:shaders'` to { name: wgslText } for every
 * shaders/*.wgsl and shaders/lib/*.wgsl (named lib/<name>): the browser's
 * ShaderSource composes //#include lines from the same map Node reads from disk.
 */
export function shadersPlugin(dir = SHADER_DIR) {
  return {
    name: 'nowt-shaders',
    setup(build) {
      build.onResolve({ filter: /^nowt:shaders$/ }, () => ({ path: dir, namespace: 'nowt-shaders' }));
      build.onLoad({ filter: /.*/, namespace: 'nowt-shaders' }, () => {
        const lib = path.join(dir, 'lib');
        const libFiles = fs.existsSync(lib) ? fs.readdirSync(lib).map((f) => `lib/${f}`) : [];
        const files = [...fs.readdirSync(dir), ...libFiles].filter((f) => f.endsWith('.wgsl')).sort();
        const shaders = Object.fromEntries(files.map((f) => [f.slice(0, -'.wgsl'.length), fs.readFileSync(path.join(dir, f), 'utf8')]));
        return {
          contents: `export default ${JSON.stringify(shaders)};`,
          loader: 'js',
          watchFiles: files.map((f) => path.join(dir, f)),
          watchDirs: [dir, lib],
        };
      });
    },
  };
}

/** The test page imports the engine as the page does: from ./nowt.web.js, loaded separately. */
const engineAsExternal = {
  name: 'nowt-engine-external',
  setup(build) {
    build.onResolve({ filter: /\/src\/web\/index\.ts$/ }, () => ({ path: './nowt.web.js', external: true }));
  },
};

export const COMMON = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  logLevel: 'silent',
  legalComments: 'none',
};

/**
 * Builds dist/nowt.web.js (and dist/browser-test-page.js with testPage).
 * Throws an Error listing esbuild's messages when a build fails.
 * @param {{ testPage?: boolean, minify?: boolean, outdir?: string }} [opts]
 * @returns {Promise<string[]>} the files written
 */
export async function bundle({ testPage = false, minify = false, outdir = DIST } = {}) {
  const written = [];
  const builds = [{ ...COMMON, minify, entryPoints: { 'nowt.web': WEB_ENTRY }, outdir, plugins: [shadersPlugin()] }];
  if (testPage) {
    builds.push({ ...COMMON, entryPoints: { 'browser-test-page': TEST_PAGE_ENTRY }, outdir, plugins: [engineAsExternal] });
  }
  for (const opts of builds) {
    const result = await build(opts, 'bundle');
    written.push(...Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js')));
  }
  return written.map((f) => path.resolve(ROOT, f));
}

/** Shared code under src/: every .ts file except Node entry points (node-*.ts, src/cli/) and declarations. */
export function sharedSources(dir = path.join(ROOT, 'src')) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path.relative(ROOT, p) !== path.join('src', 'cli')) out.push(...sharedSources(p));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !entry.name.startsWith('node-')) {
      out.push(p);
    }
  }
  return out.sort();
}

/**
 * Bundles every shared source for the browser without writing anything.
 * Throws with esbuild's messages (file:line of each offending import) on failure.
 * @returns {Promise<number>} how many files were checked
 */
export async function checkBrowserSafe() {
  const entryPoints = sharedSources();
  await build(
    { ...COMMON, sourcemap: false, entryPoints, outdir: path.join(DIST, '.browser-safe'), write: false, plugins: [shadersPlugin()] },
    'browser-safe check',
  );
  return entryPoints.length;
}

/** esbuild.build with a metafile; throws an Error listing esbuild's messages (`what` names the build). */
export async function build(opts, what) {
  try {
    return await esbuild.build({ ...opts, metafile: true });
  } catch (e) {
    const errors = e.errors ?? [];
    if (errors.length === 0) throw e;
    const lines = await esbuild.formatMessages(errors, { kind: 'error', color: false });
    throw new Error(`${what} failed:\n${lines.join('')}`, { cause: e });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const minify = process.argv.includes('--minify');
    for (const f of await bundle({ minify })) console.log(`${path.relative(ROOT, f)}  ${(fs.statSync(f).size / 1024).toFixed(1)} KiB`);
    console.log(`browser-safe: ${await checkBrowserSafe()} shared files under src/ bundle for the browser`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
