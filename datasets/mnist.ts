// MNIST and Fashion-MNIST from their four IDX files (raw or gzipped): checks
// magic numbers, sizes, that image and label counts agree and labels are 0..9,
// then holds the images in memory as bytes.

import { DatasetError } from './errors.ts';
import { parseIdx, readMaybeGzipped } from './idx.ts';
import { limitSplit } from './limits.ts';
import { candidateDirs, findMaybeGzipped, isDirectory, type Candidate } from './locate.ts';
import { channelMeanStd } from './stats.ts';
import type { ArraySplit, Dataset, DatasetOptions } from './types.ts';

export const IDX_FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
] as const;

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const DIGIT_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

type IdxName = 'fashion-mnist' | 'mnist';

function howToGet(name: IdxName): string {
  return name === 'fashion-mnist'
    ? 'Get Fashion-MNIST with `npm run setup` (it installs the Debian package dataset-fashion-mnist into ' +
        `${FASHION_MNIST_DIR}), or point --data at a folder with the four IDX files`
    : 'Point --data at a folder with the four MNIST IDX files';
}

/** The four file paths in the first candidate folder holding all of them, or a DatasetError saying what was missing where. */
function locateIdxFiles(name: IdxName, candidates: Candidate[]): { dir: string; paths: string[] } {
  const misses: string[] = [];
  for (const { dir, source } of candidates) {
    if (!isDirectory(dir)) {
      misses.push(`${dir} (${source}) is not a folder`);
      continue;
    }
    const paths = IDX_FILES.map((f) => findMaybeGzipped(dir, f));
    if (paths.every((p) => p !== null)) return { dir, paths: paths as string[] };
    const missing = IDX_FILES.filter((_, i) => paths[i] === null);
    misses.push(`${dir} (${source}) lacks ${missing.join(', ')}`);
  }
  const where = candidates.length > 0 ? candidates[0].dir : '(nowhere)';
  const expected = IDX_FILES.map((f) => `${f}[.gz]`).join(', ');
  throw new DatasetError(`${where}: ${name} not found. Expected ${expected}. Looked in: ${misses.join('; ')}. ${howToGet(name)}.`);
}

/** Parses one images/labels pair into a split, checking that they agree. */
function readIdxSplit(imagesPath: string, labelsPath: string, classCount: number): { split: ArraySplit; rows: number; cols: number } {
  const images = parseIdx(readMaybeGzipped(imagesPath), 3, imagesPath);
  const labels = parseIdx(readMaybeGzipped(labelsPath), 1, labelsPath);
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DatasetError(`${labelsPath}: ${labels.dims[0]} labels, but ${imagesPath} holds ${count} images; the counts must agree`);
  }
  if (count === 0) throw new DatasetError(`${imagesPath}: holds no images`);
  const labelArray = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels.data[i];
    if (label >= classCount)
      throw new DatasetError(`${labelsPath}: label ${label} at index ${i} is outside the ${classCount} classes (0..${classCount - 1})`);
    labelArray[i] = label;
  }
  return { split: { kind: 'array', length: count, labels: labelArray, images: images.data }, rows, cols };
}

export function openIdxDataset(name: IdxName, opts: DatasetOptions): Dataset {
  const fallback = name === 'fashion-mnist' ? FASHION_MNIST_DIR : null;
  const { dir, paths } = locateIdxFiles(name, candidateDirs(opts.data, fallback));
  const classes = name === 'fashion-mnist' ? FASHION_CLASSES : DIGIT_CLASSES;
  const train = readIdxSplit(paths[0], paths[1], classes.length);
  const test = readIdxSplit(paths[2], paths[3], classes.length);
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new DatasetError(
      `${paths[2]}: images are ${test.rows}×${test.cols}, but the training images (${paths[0]}) are ${train.rows}×${train.cols}`,
    );
  }
  const trainSplit = limitSplit(train.split, opts.limitTrain, '--limit-train', dir);
  const testSplit = limitSplit(test.split, opts.limitTest, '--limit-test', dir);
  const { mean, std } = channelMeanStd(trainSplit.images, trainSplit.length, 1, train.rows * train.cols);
  return {
    name,
    root: dir,
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
