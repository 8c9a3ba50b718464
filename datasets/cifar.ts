// CIFAR-10 and CIFAR-100, binary version, from the extracted folder or the
// .tar.gz as distributed (read in memory). Records are a label byte (CIFAR-100:
// coarse then fine; we use fine) followed by 3×32×32 bytes, CHW.

import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DatasetError } from './errors.ts';
import { limitSplit } from './limits.ts';
import { candidateDirs, isDirectory, isFile } from './locate.ts';
import { channelMeanStd } from './stats.ts';
import { readTarEntries } from './tar-reader.ts';
import type { ArraySplit, Dataset, DatasetOptions } from './types.ts';

const IMAGE_BYTES = 3 * 32 * 32;

interface CifarLayout {
  name: 'cifar10' | 'cifar100';
  folder: string;
  archive: string;
  url: string;
  train: string[];
  test: string[];
  namesFile: string;
  /** Bytes before the image; the label used is the last of them. */
  labelBytes: number;
  classCount: number;
  defaultClasses: string[];
}

const CIFAR10: CifarLayout = {
  name: 'cifar10',
  folder: 'cifar-10-batches-bin',
  archive: 'cifar-10-binary.tar.gz',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
  train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  test: ['test_batch.bin'],
  namesFile: 'batches.meta.txt',
  labelBytes: 1,
  classCount: 10,
  defaultClasses: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
};

const CIFAR100: CifarLayout = {
  name: 'cifar100',
  folder: 'cifar-100-binary',
  archive: 'cifar-100-binary.tar.gz',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
  train: ['train.bin'],
  test: ['test.bin'],
  namesFile: 'fine_label_names.txt',
  labelBytes: 2,
  classCount: 100,
  defaultClasses: Array.from({ length: 100 }, (_, i) => String(i)),
};

/** Where the files are: a folder holding them, or an archive. */
type CifarSource = { kind: 'folder'; path: string } | { kind: 'archive'; path: string };

function holdsBatches(dir: string, layout: CifarLayout): boolean {
  return [...layout.train, ...layout.test].every((f) => isFile(join(dir, f)));
}

/** Resolves `data` (the folder, its parent, or the archive) or $NOWT_DATA to a source. */
function locateCifar(layout: CifarLayout, data: string | undefined): CifarSource {
  const candidates = candidateDirs(data, null);
  const expected = `${layout.folder}/ (${[...layout.train, ...layout.test].join(', ')}) or ${layout.archive}`;
  const advice = `Download ${layout.url} and point --data at it, at the folder it extracts to, or at that folder's parent`;
  if (candidates.length === 0) throw new DatasetError(`(no --data): ${layout.name} needs --data. Expected ${expected}. ${advice}.`);
  for (const { dir } of candidates) {
    if (isFile(dir)) return { kind: 'archive', path: dir };
    if (!isDirectory(dir)) continue;
    if (holdsBatches(dir, layout)) return { kind: 'folder', path: dir };
    const sub = join(dir, layout.folder);
    if (isDirectory(sub) && holdsBatches(sub, layout)) return { kind: 'folder', path: sub };
    const archive = join(dir, layout.archive);
    if (isFile(archive)) return { kind: 'archive', path: archive };
  }
  const looked = candidates.map((c) => `${c.dir} (${c.source})`).join('; ');
  throw new DatasetError(`${candidates[0].dir}: ${layout.name} not found. Expected ${expected}. Looked in: ${looked}. ${advice}.`);
}

/** The needed files' bytes by base name, with the path to name in messages. */
async function readFiles(source: CifarSource, layout: CifarLayout): Promise<Map<string, { bytes: Uint8Array; path: string }>> {
  const wanted = [...layout.train, ...layout.test, layout.namesFile];
  const files = new Map<string, { bytes: Uint8Array; path: string }>();
  if (source.kind === 'folder') {
    for (const name of wanted) {
      const path = join(source.path, name);
      if (name === layout.namesFile && !isFile(path)) continue;
      files.set(name, { bytes: readFileSync(path), path });
    }
    return files;
  }
  const entries = await readTarEntries(source.path, (entryPath) => wanted.includes(basename(entryPath)));
  for (const [entryPath, bytes] of entries) files.set(basename(entryPath), { bytes, path: `${source.path}:${entryPath}` });
  const missing = [...layout.train, ...layout.test].filter((f) => !files.has(f));
  if (missing.length > 0)
    throw new DatasetError(`${source.path}: the archive lacks ${missing.join(', ')} (expected ${layout.folder}/… inside)`);
  return files;
}

/** Concatenates the records of several batch files into one split, checking lengths and labels. */
function parseRecords(parts: { bytes: Uint8Array; path: string }[], layout: CifarLayout): ArraySplit {
  const recordBytes = layout.labelBytes + IMAGE_BYTES;
  let total = 0;
  for (const { bytes, path } of parts) {
    if (bytes.length === 0 || bytes.length % recordBytes !== 0) {
      throw new DatasetError(
        `${path}: length ${bytes.length} is not a whole number of ${recordBytes}-byte records (truncated or not ${layout.name} binary)`,
      );
    }
    total += bytes.length / recordBytes;
  }
  const images = new Uint8Array(total * IMAGE_BYTES);
  const labels = new Int32Array(total);
  let n = 0;
  for (const { bytes, path } of parts) {
    const count = bytes.length / recordBytes;
    for (let r = 0; r < count; r++, n++) {
      const at = r * recordBytes;
      if (layout.labelBytes === 2 && bytes[at] >= 20)
        throw new DatasetError(`${path}: record ${r} has coarse label ${bytes[at]}, outside 0..19`);
      const label = bytes[at + layout.labelBytes - 1];
      if (label >= layout.classCount) {
        throw new DatasetError(
          `${path}: record ${r} has label ${label}, outside the ${layout.classCount} classes (0..${layout.classCount - 1})`,
        );
      }
      labels[n] = label;
      images.set(bytes.subarray(at + layout.labelBytes, at + recordBytes), n * IMAGE_BYTES);
    }
  }
  return { kind: 'array', length: total, labels, images };
}

function classNames(file: { bytes: Uint8Array; path: string } | undefined, layout: CifarLayout): string[] {
  if (file === undefined) return [...layout.defaultClasses];
  const names = Buffer.from(file.bytes)
    .toString('utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length !== layout.classCount)
    throw new DatasetError(`${file.path}: ${names.length} class names, expected ${layout.classCount}`);
  return names;
}

export async function openCifarDataset(name: 'cifar10' | 'cifar100', opts: DatasetOptions): Promise<Dataset> {
  const layout = name === 'cifar10' ? CIFAR10 : CIFAR100;
  const source = locateCifar(layout, opts.data);
  const files = await readFiles(source, layout);
  const pick = (names: string[]) => names.map((f) => files.get(f)!);
  const train = limitSplit(parseRecords(pick(layout.train), layout), opts.limitTrain, '--limit-train', source.path);
  const test = limitSplit(parseRecords(pick(layout.test), layout), opts.limitTest, '--limit-test', source.path);
  const { mean, std } = channelMeanStd(train.images, train.length, 3, 32 * 32);
  return {
    name,
    root: source.path,
    classes: classNames(files.get(layout.namesFile), layout),
    channels: 3,
    imageSize: [32, 32],
    mean,
    std,
    augment: 'crop-flip',
    train,
    test,
  };
}
