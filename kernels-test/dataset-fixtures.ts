// Fixtures for the dataset tests: a temp folder, seeded bytes, IDX and CIFAR
// files written from arrays, a small ImageFolder tree made with sharp, and an
// assertThrows that needs no GPU.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { CounterRandom } from '../datasets/index.ts';

/** A fresh temp folder and a function that removes it. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nowt-ds-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `n` seeded bytes, each below `bound`. */
export function seededBytes(n: number, seed: number, bound = 256): Uint8Array {
  const rng = new CounterRandom(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.below(bound);
  return out;
}

export function writeFile(path: string, bytes: Uint8Array): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

/** An IDX file's bytes: magic 00 00 08 <ndim>, big-endian sizes, data. */
export function idxBytes(dims: number[], data: Uint8Array): Uint8Array {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint8(2, 0x08);
  header.setUint8(3, dims.length);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d, false));
  return Buffer.concat([new Uint8Array(header.buffer), data]);
}

export interface IdxFixture {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
}

/** Seeded MNIST-shaped arrays: `train` and `test` 28×28 images with labels 0..9. */
export function idxFixture(train: number, test: number, seed: number): IdxFixture {
  return {
    trainImages: seededBytes(train * 784, seed),
    trainLabels: seededBytes(train, seed + 1, 10),
    testImages: seededBytes(test * 784, seed + 2),
    testLabels: seededBytes(test, seed + 3, 10),
  };
}

/** Writes the four IDX files into `dir`, gzipped when `gzip`. Returns their paths (with any .gz) keyed by the plain IDX name. */
export function writeIdxFiles(dir: string, f: IdxFixture, gzip: boolean): Record<string, string> {
  const files: [string, Uint8Array][] = [
    ['train-images-idx3-ubyte', idxBytes([f.trainLabels.length, 28, 28], f.trainImages)],
    ['train-labels-idx1-ubyte', idxBytes([f.trainLabels.length], f.trainLabels)],
    ['t10k-images-idx3-ubyte', idxBytes([f.testLabels.length, 28, 28], f.testImages)],
    ['t10k-labels-idx1-ubyte', idxBytes([f.testLabels.length], f.testLabels)],
  ];
  const paths: Record<string, string> = {};
  for (const [name, bytes] of files) paths[name] = writeFile(join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(bytes) : bytes);
  return paths;
}

/** CIFAR binary records: `labelBytes` label bytes (the last is the class) then the 3072 image bytes. */
export function cifarRecords(images: Uint8Array, labels: Uint8Array, labelBytes: 1 | 2): Uint8Array {
  const record = labelBytes + 3072;
  const out = new Uint8Array(labels.length * record);
  for (let n = 0; n < labels.length; n++) {
    if (labelBytes === 2) out[n * record] = labels[n] % 20; // coarse
    out[n * record + labelBytes - 1] = labels[n];
    out.set(images.subarray(n * 3072, (n + 1) * 3072), n * record + labelBytes);
  }
  return out;
}

/** A seeded-noise grey, RGB or RGBA image encoded as PNG or JPEG (JPEG drops alpha). */
export async function encodeImage(
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  format: 'png' | 'jpeg',
  seed: number,
): Promise<Buffer> {
  const raw = Buffer.from(seededBytes(width * height * channels, seed));
  const image = sharp(raw, { raw: { width, height, channels } });
  return format === 'png' ? image.png().toBuffer() : image.jpeg().toBuffer();
}

/** Expects `fn` to throw (or reject) with a message matching every pattern. */
export async function assertThrows(fn: () => unknown, ...patterns: RegExp[]): Promise<void> {
  let error: unknown = null;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  if (error === null) throw new Error(`did not throw; expected ${patterns.join(' and ')}`);
  const message = (error as Error).message;
  for (const pattern of patterns) {
    if (!pattern.test(message)) throw new Error(`threw "${message}", expected ${pattern}`, { cause: error });
  }
}

/** Escapes a path for use inside a RegExp. */
export const re = (s: string): RegExp => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
