// MNIST and Fashion-MNIST from their four IDX files (raw or gzipped): checks
// magic numbers, sizes, that image and label counts agree and labels are 0..9,
// then holds the images in memory as bytes.

import { DatasetError } from './errors.ts';
import { readMaybeGzipped } from './idx.ts';
import { IDX_FILES, idxDataset, type IdxName } from './idx-bytes.ts';
import { candidateDirs, findMaybeGzipped, isDirectory, type Candidate } from './locate.ts';
import type { Dataset, DatasetOptions } from './types.ts';

export { IDX_FILES };

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

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

export function openIdxDataset(name: IdxName, opts: DatasetOptions): Dataset {
  const fallback = name === 'fashion-mnist' ? FASHION_MNIST_DIR : null;
  const { dir, paths } = locateIdxFiles(name, candidateDirs(opts.data, fallback));
  const [trainImages, trainLabels, testImages, testLabels] = paths.map(readMaybeGzipped);
  return idxDataset(name, { trainImages, trainLabels, testImages, testLabels }, dir, paths, {
    train: opts.limitTrain,
    test: opts.limitTest,
  });
}
