// `npm run demo [-- --port N] [--data DIR]`: builds the demo page
// (tools/demo-build.js) and serves it on http://127.0.0.1:PORT/ (8765, or
// --port, or $PORT). It shows nothing else: the built folder's files, and
// under data/ the four Fashion-MNIST files found by `nowt train`'s search
// (--data, then $NOWT_DATA, then /usr/share/datasets/fashion-mnist) plus
// data/index.json saying what was found. Any other path — `..`, an absolute
// path, an encoded separator or dot segment, a symlink that leads out of those
// folders — gets a 404 (kernels-test/demo-server.test.ts).
//
// Exported for the tests: createDemoServer, findFashionMnist, resolveRequest.

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { candidateDirs, findMaybeGzipped, isDirectory } from '../datasets/locate.ts';
import { FASHION_MNIST_DIR, IDX_FILES } from '../datasets/mnist.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_PORT = 8765;
/** data/index.json's keys for IDX_FILES, in order (src/web/dataset.ts reads them). */
const IDX_KEYS = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

// The page needs its own origin only; uPlot sets style attributes, the favicon is a data: URL.
const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
};

export type Found = { dir: string; source: string; files: string[] } | { dir: null; source: string };

/** Fashion-MNIST's four files by the same search as `nowt train` (--data, $NOWT_DATA, the default folder), or why none was found. */
export function findFashionMnist(data?: string): Found {
  const misses: string[] = [];
  for (const { dir, source } of candidateDirs(data, FASHION_MNIST_DIR)) {
    if (!isDirectory(dir)) {
      misses.push(`${dir} (${source}) is not a folder`);
      continue;
    }
    const files = IDX_FILES.map((f) => findMaybeGzipped(dir, f));
    if (files.every((f) => f !== null)) return { dir, source: `${dir}, ${source}`, files: files as string[] };
    misses.push(`${dir} (${source}) lacks ${IDX_FILES.filter((_, i) => files[i] === null).join(', ')}`);
  }
  return { dir: null, source: misses.join('; ') || 'no folder to look in' };
}

/** Is `p` (a real path) `dir` itself or inside it? */
function inside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The request path's segments, decoded, or null when any is unsafe: empty
 * (`//`, an absolute path after the first slash), `.` or `..` (raw or
 * percent-encoded), or holding a separator, a backslash or NUL once decoded.
 * Parsed by hand: WHATWG URL parsing would resolve `..` and `%2e%2e` first.
 */
export function requestSegments(rawUrl: string | undefined): string[] | null {
  if (typeof rawUrl !== 'string' || !rawUrl.startsWith('/')) return null;
  const pathname = rawUrl.split(/[?#]/, 1)[0];
  if (pathname === '/') return [];
  const parts = pathname.slice(1).split('/');
  const out: string[] = [];
  for (const [i, raw] of parts.entries()) {
    if (raw === '' && i === parts.length - 1) return null; // a folder: nothing to list
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (seg === '' || seg === '.' || seg === '..' || /[/\\\0]/.test(seg) || seg.includes(':')) return null;
    out.push(seg);
  }
  return out;
}

interface Site {
  rootReal: string;
  dataDirReal: string | null;
  /** Served name under data/ → the file. */
  dataFiles: Map<string, string>;
  dataIndex: object;
}

type Route = { file: string; type: string; body?: undefined } | { body: string; type: string; file?: undefined };

/**
 * What a request path maps to: a file inside the page folder or one of the
 * dataset's files, data/index.json's text, or null (404).
 */
export function resolveRequest(rawUrl: string | undefined, site: Site): Route | null {
  const segs = requestSegments(rawUrl);
  if (segs === null) return null;
  if (segs.length === 0) segs.push('index.html');
  if (segs[0] === 'data') {
    if (segs.length !== 2) return null;
    if (segs[1] === 'index.json') return { body: JSON.stringify(site.dataIndex), type: TYPES['.json'] };
    const file = site.dataFiles.get(segs[1]);
    if (!file) return null;
    const real = realpathOrNull(file);
    return real && site.dataDirReal && inside(site.dataDirReal, real) ? { file: real, type: 'application/octet-stream' } : null;
  }
  const real = realpathOrNull(path.join(site.rootReal, ...segs));
  if (!real || !inside(site.rootReal, real)) return null;
  const type = TYPES[path.extname(real)];
  return type ? { file: real, type } : null;
}

function realpathOrNull(p: string): string | null {
  try {
    const real = fs.realpathSync(p);
    return fs.statSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}

/** The server (not yet listening) for the built page in `root` and the dataset `found` (findFashionMnist's answer). */
export function createDemoServer({ root, found }: { root: string; found: Found }): http.Server {
  const site: Site = {
    rootReal: fs.realpathSync(root),
    dataDirReal: found.dir ? fs.realpathSync(found.dir) : null,
    dataFiles: new Map(found.dir ? found.files.map((f) => [path.basename(f), f]) : []),
    dataIndex: found.dir
      ? {
          dataset: 'fashion-mnist',
          files: Object.fromEntries(IDX_KEYS.map((k, i) => [k, `data/${encodeURIComponent(path.basename(found.files[i]))}`])),
          source: found.source,
        }
      : { dataset: null, source: found.source },
  };
  return http.createServer((req, res) => {
    const route = req.method === 'GET' || req.method === 'HEAD' ? resolveRequest(req.url, site) : null;
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...HEADERS }).end('not found\n');
      return;
    }
    const head = { 'content-type': route.type, ...HEADERS };
    if (route.body !== undefined) {
      res.writeHead(200, head).end(req.method === 'HEAD' ? undefined : route.body);
      return;
    }
    const stream = fs.createReadStream(route.file);
    stream.once('error', () => (res.headersSent ? res.destroy() : res.writeHead(404, HEADERS).end()));
    stream.once('open', (fd) => {
      res.writeHead(200, { ...head, 'content-length': fs.fstatSync(fd).size });
      if (req.method === 'HEAD') {
        stream.destroy();
        res.end();
      } else stream.pipe(res);
    });
  });
}

/** Listens on 127.0.0.1 only; resolves with the server once it listens. */
export function listen(server: http.Server, port: number): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

interface Args {
  port: number;
  data: string | undefined;
  build: boolean;
  help?: boolean;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { port: process.env.PORT ? Number(process.env.PORT) : DEFAULT_PORT, data: undefined, build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--port') out.port = Number(value());
    else if (a.startsWith('--port=')) out.port = Number(a.slice(7));
    else if (a === '--data') out.data = value();
    else if (a.startsWith('--data=')) out.data = a.slice(7);
    else if (a === '--no-build') out.build = false;
    else if (a === '--help' || a === '-h') out.help = true;
    else throw new Error(`unknown option ${a} (known: --port N, --data DIR, --no-build)`);
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) throw new Error(`--port must be 0..65535 (got ${out.port})`);
  return out;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log('npm run demo -- [--port N] [--data DIR] [--no-build]\nBuilds the demo page and serves it on http://127.0.0.1:N/.');
    return 0;
  }
  // Loaded here, not at the top: the build imports esbuild, which the server tests need not load.
  const { buildDemo, DEMO_OUT } = await import('./demo-build.js');
  if (args.build) {
    const { files } = await buildDemo();
    const js = files.find((f) => f.name === 'demo.js')!;
    console.log(
      `built ${path.relative(ROOT, DEMO_OUT)}/ (demo.js ${(js.bytes / 1024).toFixed(0)} KiB, gzip ${(js.gzip / 1024).toFixed(0)} KiB)`,
    );
  } else if (!fs.existsSync(path.join(DEMO_OUT, 'index.html'))) {
    throw new Error(`${path.relative(ROOT, DEMO_OUT)}/index.html is missing: run without --no-build`);
  }
  const found = findFashionMnist(args.data);
  console.log(found.dir ? `data: Fashion-MNIST from ${found.source}` : `data: the synthetic set (no Fashion-MNIST: ${found.source})`);
  const server = createDemoServer({ root: DEMO_OUT, found });
  try {
    await listen(server, args.port);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`cannot listen on 127.0.0.1:${args.port}: ${err.message}${err.code === 'EADDRINUSE' ? ' (try --port N)' : ''}`, {
      cause: e,
    });
  }
  console.log(`demo: http://127.0.0.1:${(server.address() as AddressInfo).port}/   (Chrome with WebGPU; Ctrl-C stops)`);
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  server.close();
  return 0;
}

// No top-level await: the server tests load this file through tsx's CommonJS hook.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(fileURLToPath(import.meta.url))) {
  main().then(
    (code) => (process.exitCode = code),
    (e: Error) => {
      console.error(`demo: ${e.message}`);
      process.exitCode = 1;
    },
  );
}
