// ImageFolder datasets: <root>/train/<class>/*.{jpg,jpeg,png} and
// <root>/val/<class>/… (or test/). Classes are the train folder names in plain
// string order (as torchvision sorts them); val's classes must be among them.
// Only the tree is read at open time; images are decoded at batch time.

import { readdirSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import sharp from 'sharp';
import type { Metadata } from 'sharp';
import { decodeCentreCrop, decodeRandomResizedCrop } from './decode.ts';
import { DatasetError } from './errors.ts';
import { limitSplit } from './limits.ts';
import { isDirectory } from './locate.ts';
import type { Dataset, DatasetOptions, FileSplit, ImageDecoder } from './types.ts';

/** sharp on libuv's thread pool: decoding stays off the main thread. */
const SHARP_DECODER: ImageDecoder = { randomResizedCrop: decodeRandomResizedCrop, centreCrop: decodeCentreCrop };

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
export const DEFAULT_IMAGE_SIZE = 224;

// Plain code-unit order, as Python's sorted() on str (not localeCompare).
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Image files under `dir`, recursively, sorted; refuses other files (dot files aside). */
function listImages(dir: string): string[] {
  const found: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => byCodeUnit(a.name, b.name));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listImages(path));
    else if (IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) found.push(path);
    else throw new DatasetError(`${path}: not an image file (expected ${IMAGE_EXTENSIONS.join(', ')})`);
  }
  return found;
}

/** Sorted class folder names of a split folder. */
function classFolders(splitDir: string): string[] {
  const names = readdirSync(splitDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort(byCodeUnit);
  if (names.length === 0) throw new DatasetError(`${splitDir}: no class folders (expected ${splitDir}/<class>/*.jpg|png)`);
  return names;
}

/** The files and labels of one split, class indices taken from `classes`. */
function scanSplit(splitDir: string, classes: string[]): FileSplit {
  const files: string[] = [];
  const labels: number[] = [];
  for (const name of classFolders(splitDir)) {
    const label = classes.indexOf(name);
    if (label < 0)
      throw new DatasetError(`${join(splitDir, name)}: class "${name}" is not among the training classes (${classes.join(', ')})`);
    const images = listImages(join(splitDir, name));
    if (images.length === 0) throw new DatasetError(`${join(splitDir, name)}: empty class folder (no ${IMAGE_EXTENSIONS.join('/')} files)`);
    for (const file of images) {
      files.push(file);
      labels.push(label);
    }
  }
  return { kind: 'files', length: files.length, labels: Int32Array.from(labels), files, decoder: SHARP_DECODER };
}

export function openImageFolder(opts: DatasetOptions): Dataset {
  if (opts.data === undefined)
    throw new DatasetError('(no --data): imagefolder needs --data pointing at a folder with train/<class>/ and val/<class>/');
  const root = resolve(opts.data);
  const trainDir = join(root, 'train');
  const testDir = [join(root, 'val'), join(root, 'test')].find(isDirectory);
  if (!isDirectory(trainDir) || testDir === undefined) {
    throw new DatasetError(`${root}: expected the folders train/<class>/ and val/<class>/ (images ${IMAGE_EXTENSIONS.join(', ')})`);
  }
  const size = opts.imageSize ?? DEFAULT_IMAGE_SIZE;
  if (!Number.isInteger(size) || size < 1) throw new DatasetError(`${root}: image size must be a whole number ≥ 1, got ${size}`);
  const classes = classFolders(trainDir);
  const train = limitSplit(scanSplit(trainDir, classes), opts.limitTrain, '--limit-train', root);
  const test = limitSplit(scanSplit(testDir, classes), opts.limitTest, '--limit-test', root);
  return {
    name: 'imagefolder',
    root,
    classes,
    channels: 3,
    imageSize: [size, size],
    mean: [...IMAGENET_MEAN],
    std: [...IMAGENET_STD],
    augment: 'rrc-flip',
    train,
    test,
  };
}

/**
 * Reads every image's header (sharp metadata, no pixel decode) and throws a
 * DatasetError naming the first file that is not a decodable image, so a CLI
 * can refuse a bad folder before training. `concurrency` files at a time.
 */
export async function validateImages(dataset: Dataset, concurrency = 8): Promise<void> {
  const files = [dataset.train, dataset.test].flatMap((s) => (s.kind === 'files' ? s.files : []));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const file = files[next++];
      let meta: Metadata;
      try {
        meta = await sharp(file).metadata();
      } catch (e) {
        throw new DatasetError(`${file}: not a decodable image (${(e as Error).message})`);
      }
      if (!meta.width || !meta.height) throw new DatasetError(`${file}: image has no width or height`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
}
