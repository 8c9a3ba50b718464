#!/usr/bin/env node
// Writes the first N examples of an IDX dataset (MNIST, Fashion-MNIST) as a
// new gzipped IDX folder nowt reads like the original: a Fashion-MNIST small
// enough to carry to a lent GPU beside gpu-pack/ (the full one is 30 MiB).
//
//   node tools/trim-idx.js [--in DIR] [--out DIR] [--train N] [--test N]
//   defaults: --in /usr/share/datasets/fashion-mnist --out .gpu/fashion-mnist --train 20000 --test 10000

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';

const { values } = parseArgs({
  options: { in: { type: 'string' }, out: { type: 'string' }, train: { type: 'string' }, test: { type: 'string' } },
});
const src = values.in ?? '/usr/share/datasets/fashion-mnist';
const out = values.out ?? '.gpu/fashion-mnist';
const keep = { train: Number(values.train ?? 20000), t10k: Number(values.test ?? 10000) };
for (const [k, n] of Object.entries(keep)) {
  if (!Number.isInteger(n) || n < 1) {
    console.error(`trim-idx: --${k === 't10k' ? 'test' : k} must be a whole number ≥ 1 (got ${n})`);
    process.exit(2);
  }
}

function read(name) {
  for (const f of [name, `${name}.gz`]) {
    const p = path.join(src, f);
    if (fs.existsSync(p)) {
      const raw = fs.readFileSync(p);
      return raw[0] === 0x1f && raw[1] === 0x8b ? zlib.gunzipSync(raw) : raw;
    }
  }
  console.error(`trim-idx: ${path.join(src, name)}[.gz] not found`);
  process.exit(2);
}

/** The first n items of an IDX array: its header with the count replaced, then n items' bytes. */
function trim(bytes, n) {
  const ndim = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndim }, (_, d) => view.getUint32(4 + 4 * d, false));
  const count = Math.min(n, dims[0]);
  const item = dims.slice(1).reduce((a, b) => a * b, 1);
  const header = Buffer.from(bytes.subarray(0, 4 + 4 * ndim));
  header.writeUInt32BE(count, 4);
  return Buffer.concat([header, Buffer.from(bytes.subarray(4 + 4 * ndim, 4 + 4 * ndim + count * item))]);
}

fs.mkdirSync(out, { recursive: true });
let total = 0;
for (const split of ['train', 't10k']) {
  for (const kind of ['images-idx3-ubyte', 'labels-idx1-ubyte']) {
    const name = `${split}-${kind}`;
    const gz = zlib.gzipSync(trim(read(name), keep[split]), { level: 9 });
    fs.writeFileSync(path.join(out, `${name}.gz`), gz);
    total += gz.length;
  }
}
console.log(`trim-idx: ${out}: ${keep.train} training and ${keep.t10k} test examples, ${(total / 2 ** 20).toFixed(1)} MiB`);
