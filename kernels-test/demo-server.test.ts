// tools/demo-server.ts shows nothing but the built page and the dataset files
// it found: raw, encoded and absolute traversals, symlinks out of either
// folder, folders and other methods get a 404 (requests sent with their raw
// path, as a client that does not normalise would); the page's files, a
// symlink that stays inside, data/index.json and the dataset files are served.
// No GPU.

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDemoServer, findFashionMnist, listen } from '../tools/demo-server.ts';

const IDX = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

interface Reply {
  status: number;
  body: string;
  type: string;
}

function request(port: number, rawPath: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** tmp/site (the page), tmp/data (the dataset), tmp/secret.txt and tmp/outside/ (must never be served). */
function makeTree(): { tmp: string; site: string; data: string; secret: string } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nowt-demo-server-'));
  const site = path.join(tmp, 'site');
  const data = path.join(tmp, 'data');
  fs.mkdirSync(path.join(site, 'sub'), { recursive: true });
  fs.mkdirSync(data);
  fs.mkdirSync(path.join(tmp, 'outside'));
  fs.writeFileSync(path.join(site, 'index.html'), '<!doctype html><title>page</title>');
  fs.writeFileSync(path.join(site, 'demo.js'), 'export {};');
  fs.writeFileSync(path.join(site, 'sub', 'ok.css'), 'body{}');
  fs.writeFileSync(path.join(site, 'notes.txt'), 'no type: not served');
  const secret = path.join(tmp, 'secret.txt');
  fs.writeFileSync(secret, 'SECRET');
  fs.writeFileSync(path.join(tmp, 'outside', 'secret.js'), 'SECRET');
  fs.symlinkSync(secret, path.join(site, 'leak.js'));
  fs.symlinkSync(path.join(tmp, 'outside'), path.join(site, 'linkdir'));
  fs.symlinkSync('demo.js', path.join(site, 'alias.js'));
  for (const name of IDX.slice(1)) fs.writeFileSync(path.join(data, `${name}.gz`), `bytes of ${name}`);
  fs.symlinkSync(secret, path.join(data, `${IDX[0]}.gz`));
  return { tmp, site, data, secret };
}

const tree = makeTree();
let server: http.Server;
let port = 0;

test.before(async () => {
  server = await listen(createDemoServer({ root: tree.site, found: findFashionMnist(tree.data) }), 0);
  port = (server.address() as AddressInfo).port;
});

test.after(() => {
  server.close();
  fs.rmSync(tree.tmp, { recursive: true, force: true });
});

test('listens on 127.0.0.1 only', () => {
  assert.is((server.address() as AddressInfo).address, '127.0.0.1');
});

test('finds the dataset as `nowt train` does (--data), and says why when it does not', () => {
  const found = findFashionMnist(tree.data);
  assert.is(found.dir, path.resolve(tree.data));
  assert.match(found.source, '--data');
  const none = findFashionMnist(path.join(tree.tmp, 'nowhere'));
  assert.is(none.dir, null);
  assert.match(none.source, 'is not a folder');
});

for (const [what, p, type] of [
  ['the page at /', '/', 'text/html'],
  ['the page by name', '/index.html?x=1', 'text/html'],
  ['the bundle', '/demo.js', 'text/javascript'],
  ['a file in a subfolder', '/sub/ok.css', 'text/css'],
  ['a symlink that stays inside', '/alias.js', 'text/javascript'],
  ['a dataset file', `/data/${IDX[3]}.gz`, 'application/octet-stream'],
  ['an encoded name of a real file', '/%64emo.js', 'text/javascript'],
] as const) {
  test(`serves ${what}: ${p}`, async () => {
    const r = await request(port, p);
    assert.is(r.status, 200, `${p} → ${r.status}`);
    assert.match(r.type, type);
    assert.not.match(r.body, 'SECRET');
  });
}

test('data/index.json names the files it serves', async () => {
  const r = await request(port, '/data/index.json');
  assert.is(r.status, 200);
  const index = JSON.parse(r.body);
  assert.is(index.dataset, 'fashion-mnist');
  assert.equal(Object.keys(index.files), ['trainImages', 'trainLabels', 'testImages', 'testLabels']);
  assert.is(index.files.testLabels, `data/${IDX[3]}.gz`);
  const labels = await request(port, `/${index.files.testLabels}`);
  assert.is(labels.body, `bytes of ${IDX[3]}`);
});

const REFUSED: [string, string][] = [
  ['dot-dot', '/../secret.txt'],
  ['dot-dot after a folder', '/sub/../../secret.txt'],
  ['dot-dot to a served file', '/sub/../demo.js'],
  ['a dot segment', '/./demo.js'],
  ['encoded dot-dot', '/%2e%2e/secret.txt'],
  ['encoded dot-dot, upper case', '/%2E%2E/secret.txt'],
  ['encoded slash', '/%2e%2e%2fsecret.txt'],
  ['encoded slashes in a segment', '/sub%2f..%2f..%2fsecret.txt'],
  ['encoded backslash', '/..%5csecret.txt'],
  ['double-encoded dot-dot', '/%252e%252e/secret.txt'],
  ['an encoded NUL', '/demo.js%00.html'],
  ['malformed percent-encoding', '/%e0%a4%a.js'],
  ['an absolute path', `/${tree.secret}`],
  ['a doubled leading slash', `/${path.dirname(tree.secret)}/secret.txt`],
  ['an encoded absolute path', `/${encodeURIComponent(tree.secret)}`],
  ['/etc/passwd', '/etc/passwd'],
  ['an absolute-form request target', 'http://127.0.0.1/../secret.txt'],
  ['a symlink to a file outside', '/leak.js'],
  ['a file through a symlinked folder outside', '/linkdir/secret.js'],
  ['a folder', '/sub/'],
  ['a folder without its slash', '/sub'],
  ['a file of a type the page does not use', '/notes.txt'],
  ['a missing file', '/nope.js'],
  ['dot-dot out of data/', '/data/../secret.txt'],
  ['a dataset file that is a symlink outside', `/data/${IDX[0]}.gz`],
  ['a name in data/ that is not a dataset file', '/data/secret.txt'],
  ['a subfolder of data/', `/data/x/${IDX[3]}.gz`],
];

for (const [what, p] of REFUSED) {
  test(`404: ${what} (${p})`, async () => {
    const r = await request(port, p);
    assert.is(r.status, 404, `${p} → ${r.status}: ${r.body.slice(0, 60)}`);
    assert.not.match(r.body, 'SECRET');
  });
}

test('404: methods other than GET and HEAD', async () => {
  assert.is((await request(port, '/', 'POST')).status, 404);
  assert.is((await request(port, '/demo.js', 'PUT')).status, 404);
  assert.is((await request(port, '/demo.js', 'HEAD')).status, 200);
});

test('no dataset found: data/index.json says so and data/ serves nothing', async () => {
  const none = await listen(createDemoServer({ root: tree.site, found: findFashionMnist(path.join(tree.tmp, 'nowhere')) }), 0);
  try {
    const p = (none.address() as AddressInfo).port;
    const index = JSON.parse((await request(p, '/data/index.json')).body);
    assert.is(index.dataset, null);
    assert.match(index.source, 'nowhere');
    assert.is((await request(p, `/data/${IDX[3]}.gz`)).status, 404);
  } finally {
    none.close();
  }
});

test.run();
