// IDX (MNIST, Fashion-MNIST) from bytes already in memory: the parser and a
// Dataset built from the four arrays. No file system here, so the browser demo
// (which fetches the files over HTTP) and Node's datasets/mnist.ts share it.

import { DatasetError } from './errors.ts';
import { limitSplit } from './limits.ts';
import { channelMeanStd } from './stats.ts';
import type { ArraySplit, Dataset } from './types.ts';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** True when `bytes` starts with the gzip magic (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Parses an unsigned-byte IDX array with `ndim` dimensions; `path` is for messages. */
export function parseIdx(bytes: Uint8Array, ndim: number, path: string): IdxArray {
  const headerLength = 4 + 4 * ndim;
  if (bytes.length < 4) throw new DatasetError(`${path}: truncated: ${bytes.length} bytes, shorter than the 4-byte IDX magic`);
  const magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
  if (magic[0] !== 0 || magic[1] !== 0 || magic[2] !== 0x08 || magic[3] !== ndim) {
    const hex = magic.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DatasetError(`${path}: bad magic ${hex}, expected 00 00 08 0${ndim} (IDX unsigned bytes, ${ndim} dimensions)`);
  }
  if (bytes.length < headerLength)
    throw new DatasetError(`${path}: truncated: ${bytes.length} bytes, shorter than the ${headerLength}-byte IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerLength;
  if (found < expected)
    throw new DatasetError(`${path}: truncated: the header says ${dims.join('×')} = ${expected} bytes of data, found ${found}`);
  if (found > expected) throw new DatasetError(`${path}: ${found - expected} bytes after the ${dims.join('×')} data the header declares`);
  return { dims, data: bytes.subarray(headerLength) };
}

/** One images/labels pair as a split, checking that the counts agree and labels are below classCount. */
export function idxSplit(
  images: IdxArray,
  labels: IdxArray,
  classCount: number,
  names: { images: string; labels: string },
): { split: ArraySplit; rows: number; cols: number } {
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count)
    throw new DatasetError(`${names.labels}: ${labels.dims[0]} labels, but ${names.images} holds ${count} images; the counts must agree`);
  if (count === 0) throw new DatasetError(`${names.images}: holds no images`);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels.data[i];
    if (label >= classCount)
      throw new DatasetError(`${names.labels}: label ${label} at index ${i} is outside the ${classCount} classes (0..${classCount - 1})`);
    out[i] = label;
  }
  return { split: { kind: 'array', length: count, labels: out, images: images.data }, rows, cols };
}

/** The four IDX files' bytes (ungzipped) and the names messages use for them, in IDX_FILES order. */
export interface IdxFiles {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
}

export const IDX_FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
] as const;

export const DIGIT_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export type IdxName = 'fashion-mnist' | 'mnist';

/**
 * MNIST or Fashion-MNIST as a Dataset from its four files' bytes. `paths`
 * name the files in messages (IDX_FILES order); `root` is Dataset.root.
 */
export function idxDataset(
  name: IdxName,
  files: IdxFiles,
  root: string,
  paths: readonly string[],
  limits: { train?: number; test?: number } = {},
): Dataset {
  const classes = name === 'fashion-mnist' ? FASHION_MNIST_CLASSES : DIGIT_CLASSES;
  const trainNames = { images: paths[0], labels: paths[1] };
  const testNames = { images: paths[2], labels: paths[3] };
  const split = (images: Uint8Array, labels: Uint8Array, names: { images: string; labels: string }) =>
    idxSplit(parseIdx(images, 3, names.images), parseIdx(labels, 1, names.labels), classes.length, names);
  const train = split(files.trainImages, files.trainLabels, trainNames);
  const test = split(files.testImages, files.testLabels, testNames);
  if (train.rows !== test.rows || train.cols !== test.cols)
    throw new DatasetError(
      `${testNames.images}: images are ${test.rows}×${test.cols}, but the training images (${trainNames.images}) are ${train.rows}×${train.cols}`,
    );
  const trainSplit = limitSplit(train.split, limits.train, '--limit-train', root);
  const testSplit = limitSplit(test.split, limits.test, '--limit-test', root);
  const { mean, std } = channelMeanStd(trainSplit.images, trainSplit.length, 1, train.rows * train.cols);
  return {
    name,
    root,
    classes: [...classes],
    channels: 1,
    imageSize: [train.rows, train.cols],
    mean,
    std,
    augment: 'none',
    train: trainSplit,
    test: testSplit,
  };
}

/** Fashion-MNIST from its four files' bytes, named under `root` (the browser demo's fetched files). */
export function fashionMnistFromBytes(files: IdxFiles, root: string, limits: { train?: number; test?: number } = {}): Dataset {
  return idxDataset(
    'fashion-mnist',
    files,
    root,
    IDX_FILES.map((f) => `${root}/${f}`),
    limits,
  );
}
