// Dataset parsers (no GPU): IDX raw and gzipped, the real Fashion-MNIST, CIFAR-10/100 folders and archives, ImageFolder trees, the synthetic set, limits, and every malformed input refused with its path and fault.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import {
  BatchLoader,
  DatasetError,
  FASHION_MNIST_DIR,
  openDataset,
  validateImages,
  type ArraySplit,
  type Dataset,
} from '../datasets/index.ts';
import {
  assertThrows,
  cifarRecords,
  encodeImage,
  idxFixture,
  re,
  seededBytes,
  tempDir,
  writeFile,
  writeIdxFiles,
} from './dataset-fixtures.ts';

const arrays = (d: Dataset): { train: ArraySplit; test: ArraySplit } => {
  if (d.train.kind !== 'array' || d.test.kind !== 'array') throw new Error('expected in-memory splits');
  return { train: d.train, test: d.test };
};

// ---- IDX ---------------------------------------------------------------------

test('IDX: raw and gzipped files parse to the same bytes; limits take the first N', async () => {
  const { dir, remove } = tempDir();
  try {
    const f = idxFixture(12, 5, 7);
    writeIdxFiles(join(dir, 'raw'), f, false);
    writeIdxFiles(join(dir, 'gz'), f, true);
    const raw = await openDataset({ name: 'mnist', data: join(dir, 'raw') });
    const gz = await openDataset({ name: 'fashion-mnist', data: join(dir, 'gz') });
    for (const d of [raw, gz]) {
      const { train, test: testSplit } = arrays(d);
      assert.equal([train.length, testSplit.length, d.channels, d.imageSize], [12, 5, 1, [28, 28]]);
      assert.ok(Buffer.from(train.images).equals(Buffer.from(f.trainImages)));
      assert.ok(Buffer.from(testSplit.images).equals(Buffer.from(f.testImages)));
      assert.equal(Array.from(train.labels), Array.from(f.trainLabels));
      assert.equal(Array.from(testSplit.labels), Array.from(f.testLabels));
      assert.equal(d.classes.length, 10);
      assert.is(d.augment, 'none');
    }
    assert.is(gz.classes[9], 'Ankle boot');
    let sum = 0;
    for (const v of f.trainImages) sum += v;
    assert.ok(Math.abs(raw.mean[0] - sum / f.trainImages.length / 255) < 1e-12, 'mean from the training split');

    const limited = arrays(await openDataset({ name: 'mnist', data: join(dir, 'raw'), limitTrain: 4, limitTest: 2 }));
    assert.equal([limited.train.length, limited.test.length], [4, 2]);
    assert.ok(Buffer.from(limited.train.images).equals(Buffer.from(f.trainImages.subarray(0, 4 * 784))));
    assert.equal(Array.from(limited.test.labels), Array.from(f.testLabels.subarray(0, 2)));
    await assertThrows(
      () => openDataset({ name: 'mnist', data: join(dir, 'raw'), limitTrain: 0 }),
      /--limit-train must be a whole number ≥ 1, got 0/,
    );
  } finally {
    remove();
  }
});

test('IDX: bad magic, disagreeing counts, truncated files, bad labels and missing files are refused with the path', async () => {
  const { dir, remove } = tempDir();
  try {
    const f = idxFixture(6, 3, 11);
    const fresh = (name: string, gzip = false): Record<string, string> => writeIdxFiles(join(dir, name), f, gzip);

    let p = fresh('magic');
    const magic = readFileSync(p['train-images-idx3-ubyte']);
    magic[3] = 1;
    writeFileSync(p['train-images-idx3-ubyte'], magic);
    await assertThrows(
      () => openDataset({ name: 'mnist', data: join(dir, 'magic') }),
      re(p['train-images-idx3-ubyte']),
      /bad magic 00 00 08 01/,
    );

    p = fresh('counts');
    writeFile(p['t10k-labels-idx1-ubyte'], Buffer.concat([Buffer.from([0, 0, 8, 1, 0, 0, 0, 2]), f.testLabels.subarray(0, 2)]));
    await assertThrows(
      () => openDataset({ name: 'mnist', data: join(dir, 'counts') }),
      re(p['t10k-labels-idx1-ubyte']),
      /2 labels, but .* holds 3 images/,
    );

    p = fresh('short');
    const full = readFileSync(p['t10k-images-idx3-ubyte']);
    writeFileSync(p['t10k-images-idx3-ubyte'], full.subarray(0, full.length - 100));
    await assertThrows(() => openDataset({ name: 'mnist', data: join(dir, 'short') }), re(p['t10k-images-idx3-ubyte']), /truncated/);

    p = fresh('shortgz', true);
    const gz = readFileSync(p['train-labels-idx1-ubyte']);
    writeFileSync(p['train-labels-idx1-ubyte'], gz.subarray(0, gz.length - 10));
    await assertThrows(
      () => openDataset({ name: 'mnist', data: join(dir, 'shortgz') }),
      re(p['train-labels-idx1-ubyte']),
      /truncated or corrupt gzip/,
    );

    p = fresh('label');
    writeFile(p['train-labels-idx1-ubyte'], Buffer.from([0, 0, 8, 1, 0, 0, 0, 6, 1, 2, 3, 10, 4, 5]));
    await assertThrows(
      () => openDataset({ name: 'mnist', data: join(dir, 'label') }),
      re(p['train-labels-idx1-ubyte']),
      /label 10 at index 3/,
    );

    p = fresh('missing');
    rmSync(p['t10k-images-idx3-ubyte']);
    const missingDir = join(dir, 'missing');
    await assertThrows(
      () => openDataset({ name: 'fashion-mnist', data: missingDir }),
      new RegExp(`^${re(missingDir).source}: fashion-mnist not found`),
      /lacks t10k-images-idx3-ubyte\b/,
      /train-images-idx3-ubyte\[\.gz\]/,
      /npm run setup/,
      /dataset-fashion-mnist/,
    );
    await assertThrows(
      () => openDataset({ name: 'mnist', data: join(dir, 'nowhere') }),
      /nowhere: mnist not found/,
      /nowhere \(--data\) is not a folder/,
      /--data at a folder with the four/,
    );

    try {
      await openDataset({ name: 'mnist', data: join(dir, 'nowhere') });
    } catch (e) {
      assert.instance(e, DatasetError);
    }
  } finally {
    remove();
  }
});

test('Fashion-MNIST: the installed copy opens with 60000/10000 images and 10 classes', async () => {
  if (!existsSync(FASHION_MNIST_DIR)) {
    console.log(`  (skipped: ${FASHION_MNIST_DIR} is absent; \`npm run setup\` installs it)`);
    return;
  }
  const saved = [process.env.NOWT_DATA, process.env.NOWT_DATA_DIR];
  delete process.env.NOWT_DATA;
  delete process.env.NOWT_DATA_DIR;
  try {
    const d = await openDataset({ name: 'fashion-mnist' });
    assert.equal([d.root, d.train.length, d.test.length, d.classes.length], [FASHION_MNIST_DIR, 60000, 10000, 10]);
    assert.ok(Math.abs(d.mean[0] - 0.286) < 1e-3 && Math.abs(d.std[0] - 0.353) < 1e-3, `mean ${d.mean} std ${d.std}`);
  } finally {
    if (saved[0] !== undefined) process.env.NOWT_DATA = saved[0];
    if (saved[1] !== undefined) process.env.NOWT_DATA_DIR = saved[1];
  }
});

// ---- CIFAR -------------------------------------------------------------------

const CIFAR10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Writes cifar-10-batches-bin/ (5 batches of `perBatch` + a test batch of `testCount`) under `parent`. */
function writeCifar10(parent: string, perBatch: number, testCount: number, seed: number) {
  const folder = join(parent, 'cifar-10-batches-bin');
  const trainImages = seededBytes(5 * perBatch * 3072, seed);
  const trainLabels = seededBytes(5 * perBatch, seed + 1, 10);
  const testImages = seededBytes(testCount * 3072, seed + 2);
  const testLabels = seededBytes(testCount, seed + 3, 10);
  for (let b = 0; b < 5; b++) {
    const range = [b * perBatch, (b + 1) * perBatch];
    const records = cifarRecords(trainImages.subarray(range[0] * 3072, range[1] * 3072), trainLabels.subarray(range[0], range[1]), 1);
    writeFile(join(folder, `data_batch_${b + 1}.bin`), records);
  }
  writeFile(join(folder, 'test_batch.bin'), cifarRecords(testImages, testLabels, 1));
  writeFile(join(folder, 'batches.meta.txt'), Buffer.from(CIFAR10_NAMES.join('\n') + '\n\n'));
  return { folder, trainImages, trainLabels, testImages, testLabels };
}

test('CIFAR-10: the folder, its parent and the .tar.gz all give the same data', async () => {
  const { dir, remove } = tempDir();
  try {
    const c = writeCifar10(dir, 3, 4, 21);
    const archive = join(dir, 'archive', 'cifar-10-binary.tar.gz');
    mkdirSync(join(dir, 'archive'));
    await createTar({ gzip: true, file: archive, cwd: dir }, ['cifar-10-batches-bin']);
    for (const data of [c.folder, dir, archive, join(dir, 'archive')]) {
      const d = await openDataset({ name: 'cifar10', data });
      const { train, test: testSplit } = arrays(d);
      assert.is(d.root, data === dir ? c.folder : data === c.folder ? c.folder : archive, data);
      assert.equal([train.length, testSplit.length, d.channels, d.imageSize, d.augment], [15, 4, 3, [32, 32], 'crop-flip']);
      assert.ok(Buffer.from(train.images).equals(Buffer.from(c.trainImages)), `${data}: train images`);
      assert.ok(Buffer.from(testSplit.images).equals(Buffer.from(c.testImages)), `${data}: test images`);
      assert.equal(Array.from(train.labels), Array.from(c.trainLabels));
      assert.equal(Array.from(testSplit.labels), Array.from(c.testLabels));
      assert.equal(d.classes, CIFAR10_NAMES);
      assert.is(d.mean.length, 3);
    }
  } finally {
    remove();
  }
});

test('CIFAR-100: the fine label is used and the names come from fine_label_names.txt', async () => {
  const { dir, remove } = tempDir();
  try {
    const folder = join(dir, 'cifar-100-binary');
    const images = seededBytes(6 * 3072, 31);
    const labels = seededBytes(6, 32, 100);
    writeFile(join(folder, 'train.bin'), cifarRecords(images, labels, 2));
    writeFile(join(folder, 'test.bin'), cifarRecords(images.subarray(0, 2 * 3072), labels.subarray(0, 2), 2));
    writeFile(join(folder, 'fine_label_names.txt'), Buffer.from(Array.from({ length: 100 }, (_, i) => `name${i}`).join('\n')));
    const d = await openDataset({ name: 'cifar100', data: dir });
    const { train, test: testSplit } = arrays(d);
    assert.equal(Array.from(train.labels), Array.from(labels));
    assert.ok(Buffer.from(train.images).equals(Buffer.from(images)));
    assert.is(testSplit.length, 2);
    assert.equal([d.classes.length, d.classes[42]], [100, 'name42']);
  } finally {
    remove();
  }
});

test('CIFAR: a batch of the wrong length, a label ≥ 10, and a missing folder are refused', async () => {
  const { dir, remove } = tempDir();
  try {
    const c = writeCifar10(dir, 2, 2, 41);
    const batch3 = join(c.folder, 'data_batch_3.bin');
    const good = readFileSync(batch3);
    writeFileSync(batch3, good.subarray(0, good.length - 1));
    await assertThrows(
      () => openDataset({ name: 'cifar10', data: c.folder }),
      re(batch3),
      /length 6145 is not a whole number of 3073-byte records/,
    );
    const bad = Buffer.from(good);
    bad[3073] = 10;
    writeFileSync(batch3, bad);
    await assertThrows(() => openDataset({ name: 'cifar10', data: c.folder }), re(batch3), /record 1 has label 10/);
    await assertThrows(
      () => openDataset({ name: 'cifar10', data: join(dir, 'elsewhere') }),
      /elsewhere: cifar10 not found/,
      /cifar-10-binary\.tar\.gz/,
      /data_batch_1\.bin/,
    );
    const truncated = join(dir, 'cut.tar.gz');
    await createTar({ gzip: true, file: join(dir, 'whole.tar.gz'), cwd: dir }, ['cifar-10-batches-bin']);
    const whole = readFileSync(join(dir, 'whole.tar.gz'));
    writeFileSync(truncated, whole.subarray(0, whole.length >> 1));
    await assertThrows(() => openDataset({ name: 'cifar10', data: truncated }), re(truncated), /truncated/);
  } finally {
    remove();
  }
});

// ---- ImageFolder -------------------------------------------------------------

/** train/{Zebra,a_cat,b_dog} and val/{Zebra,a_cat}: PNG and JPEG, odd sizes, one grey, one with alpha. */
async function writeImageTree(root: string): Promise<void> {
  const specs: [string, number, number, 1 | 3 | 4, 'png' | 'jpeg'][] = [
    ['train/b_dog/1.png', 37, 23, 3, 'png'],
    ['train/b_dog/0.jpg', 23, 37, 3, 'jpeg'],
    ['train/a_cat/x.PNG', 40, 40, 1, 'png'],
    ['train/a_cat/y.jpeg', 64, 20, 3, 'jpeg'],
    ['train/Zebra/z.png', 30, 31, 4, 'png'],
    ['val/a_cat/v.jpg', 33, 29, 3, 'jpeg'],
    ['val/Zebra/w.png', 25, 45, 1, 'png'],
  ];
  for (const [i, [file, w, h, c, format]] of specs.entries()) writeFile(join(root, file), await encodeImage(w, h, c, format, 100 + i));
}

test('ImageFolder: classes in string order, val mapped onto train classes, images decoded and cropped to the model size', async () => {
  const { dir, remove } = tempDir();
  try {
    await writeImageTree(dir);
    const d = await openDataset({ name: 'imagefolder', data: dir, imageSize: 16 });
    assert.equal(d.classes, ['Zebra', 'a_cat', 'b_dog']);
    assert.equal([d.channels, d.imageSize, d.augment, d.train.length, d.test.length], [3, [16, 16], 'rrc-flip', 5, 2]);
    assert.equal(Array.from(d.train.labels), [0, 1, 1, 2, 2]);
    assert.equal(Array.from(d.test.labels), [0, 1]);
    assert.ok(d.train.kind === 'files' && d.train.files[0].endsWith('z.png') && d.train.files[3].endsWith('0.jpg'));
    await validateImages(d);
    for (const split of ['train', 'test'] as const) {
      const loader = new BatchLoader(d, split, {
        batchSize: 4,
        seed: 3,
        shuffle: split === 'train',
        augment: true,
        dropLast: split === 'train',
      });
      const b = await loader.batch(0, 0);
      assert.is(b.input.length, 4 * 3 * 16 * 16);
      assert.ok(b.input.every(Number.isFinite));
      const again = await loader.batch(0, 0);
      assert.ok(Buffer.from(again.input.buffer).equals(Buffer.from(b.input.buffer)), `${split}: deterministic decode`);
    }
  } finally {
    remove();
  }
});

test('ImageFolder: empty class, unknown val class, stray file and undecodable image are refused, naming the path', async () => {
  const { dir, remove } = tempDir();
  try {
    await writeImageTree(dir);
    mkdirSync(join(dir, 'train', 'c_empty'));
    await assertThrows(() => openDataset({ name: 'imagefolder', data: dir }), re(join(dir, 'train', 'c_empty')), /empty class folder/);
    rmSync(join(dir, 'train', 'c_empty'), { recursive: true });

    writeFile(join(dir, 'val', 'unicorn', 'u.png'), await encodeImage(8, 8, 3, 'png', 1));
    await assertThrows(
      () => openDataset({ name: 'imagefolder', data: dir }),
      re(join(dir, 'val', 'unicorn')),
      /not among the training classes/,
    );
    rmSync(join(dir, 'val', 'unicorn'), { recursive: true });

    writeFile(join(dir, 'train', 'a_cat', 'notes.txt'), Buffer.from('hello'));
    await assertThrows(
      () => openDataset({ name: 'imagefolder', data: dir }),
      re(join(dir, 'train', 'a_cat', 'notes.txt')),
      /not an image file/,
    );
    rmSync(join(dir, 'train', 'a_cat', 'notes.txt'));

    const garbage = writeFile(join(dir, 'train', 'a_cat', 'broken.jpg'), seededBytes(500, 9));
    const d = await openDataset({ name: 'imagefolder', data: dir, imageSize: 8 });
    await assertThrows(() => validateImages(d), re(garbage), /not a decodable image/);
    const loader = new BatchLoader(d, 'train', { batchSize: 6, seed: 0, shuffle: false, augment: true, dropLast: true });
    await assertThrows(() => loader.batch(0, 0), re(garbage), /cannot decode image/);

    await assertThrows(
      () => openDataset({ name: 'imagefolder', data: join(dir, 'train') }),
      /expected the folders train\/<class>\/ and val\/<class>\//,
    );
  } finally {
    remove();
  }
});

// ---- synthetic and the dispatcher ---------------------------------------------------

/** Test accuracy of the nearest class mean (in pixel space) fitted on the training split. */
function nearestClassMeanAccuracy(d: Dataset): number {
  const { train, test: testSplit } = arrays(d);
  const pixels = d.channels * d.imageSize[0] * d.imageSize[1];
  const k = d.classes.length;
  const means = new Float64Array(k * pixels);
  const counts = new Float64Array(k);
  for (let n = 0; n < train.length; n++) {
    counts[train.labels[n]]++;
    for (let i = 0; i < pixels; i++) means[train.labels[n] * pixels + i] += train.images[n * pixels + i];
  }
  for (let i = 0; i < means.length; i++) means[i] /= Math.max(1, counts[Math.floor(i / pixels)]);
  let correct = 0;
  for (let n = 0; n < testSplit.length; n++) {
    let best = -1;
    let bestDistance = Infinity;
    for (let c = 0; c < k; c++) {
      let distance = 0;
      for (let i = 0; i < pixels; i++) distance += (testSplit.images[n * pixels + i] - means[c * pixels + i]) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [c, distance];
    }
    if (best === testSplit.labels[n]) correct++;
  }
  return correct / testSplit.length;
}

test('synthetic: deterministic from its seed, shaped by its options, and separable', async () => {
  const a = arrays(await openDataset({ name: 'synthetic', synthetic: { train: 300, test: 100, seed: 5 } }));
  const b = arrays(await openDataset({ name: 'synthetic', synthetic: { train: 300, test: 100, seed: 5 } }));
  const c = arrays(await openDataset({ name: 'synthetic', synthetic: { train: 300, test: 100, seed: 6 } }));
  assert.ok(Buffer.from(a.train.images).equals(Buffer.from(b.train.images)));
  assert.equal(Array.from(a.test.labels), Array.from(b.test.labels));
  assert.not.ok(Buffer.from(a.train.images).equals(Buffer.from(c.train.images)));

  const d = await openDataset({ name: 'synthetic' });
  assert.equal([d.train.length, d.test.length, d.channels, d.imageSize, d.classes.length, d.root], [2000, 500, 1, [28, 28], 10, null]);
  const accuracy = nearestClassMeanAccuracy(d);
  assert.ok(accuracy > 0.8, `nearest-class-mean accuracy ${accuracy}`);

  const rgb = await openDataset({ name: 'synthetic', synthetic: { train: 40, test: 10, channels: 3, size: 12, classes: 4 }, limitTest: 3 });
  assert.equal([rgb.channels, rgb.imageSize, rgb.classes.length, rgb.test.length, rgb.mean.length], [3, [12, 12], 4, 3, 3]);
  assert.ok(nearestClassMeanAccuracy(rgb) > 0.5);
  await assertThrows(
    () => openDataset({ name: 'synthetic', synthetic: { classes: 1 } }),
    /synthetic: classes must be a whole number ≥ 2, got 1/,
  );
});

test('openDataset: an unknown name lists the known ones', async () => {
  await assertThrows(
    () => openDataset({ name: 'imagenet' as Dataset['name'] }),
    /unknown dataset "imagenet"; known: fashion-mnist, mnist, cifar10, cifar100, imagefolder, synthetic/,
  );
});

test.run();
