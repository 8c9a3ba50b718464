// The input pipeline (no GPU): epoch order and augmentation as pure functions of (seed, epoch, position), epoch coverage, test padding, normalisation, CIFAR crop+flip geometry and random-resized-crop boxes and shapes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import {
  augmentRandom,
  BatchLoader,
  centreCropBox,
  epochOrder,
  evalResizeSide,
  openDataset,
  randomResizedCropBox,
  resizeShorterSide,
  type ArraySplit,
  type Batch,
  type Dataset,
  type LoaderOptions,
} from '../datasets/index.ts';
import { assertThrows, encodeImage, tempDir, writeFile } from './dataset-fixtures.ts';

const TRAIN: Omit<LoaderOptions, 'batchSize'> = { seed: 17, shuffle: true, augment: true, dropLast: true };
const TEST: Omit<LoaderOptions, 'batchSize'> = { seed: 17, shuffle: false, augment: false, dropLast: false };

const sameBatch = (a: Batch, b: Batch): boolean =>
  a.size === b.size && Buffer.from(a.input.buffer).equals(Buffer.from(b.input.buffer)) && a.target.every((t, i) => t === b.target[i]);

const arraySplit = (d: Dataset, which: 'train' | 'test'): ArraySplit => {
  const s = d[which];
  if (s.kind !== 'array') throw new Error('expected an in-memory split');
  return s;
};

/** Bytes back from a normalised batch row: round((v·std + mean)·255). */
function denormalise(d: Dataset, input: Float32Array, row: number): Uint8Array {
  const [h, w] = d.imageSize;
  const plane = h * w;
  const out = new Uint8Array(d.channels * plane);
  for (let c = 0; c < d.channels; c++) {
    for (let i = 0; i < plane; i++)
      out[c * plane + i] = Math.round((input[(row * d.channels + c) * plane + i] * d.std[c] + d.mean[c]) * 255);
  }
  return out;
}

test('epochOrder: a permutation, a pure function of (seed, epoch), different across epochs and seeds', () => {
  const a = epochOrder(1000, 3, 0);
  assert.equal(
    Array.from(a).sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.equal(Array.from(epochOrder(1000, 3, 0)), Array.from(a));
  assert.not.equal(Array.from(epochOrder(1000, 3, 1)), Array.from(a));
  assert.not.equal(Array.from(epochOrder(1000, 4, 0)), Array.from(a));
  assert.equal(Array.from(epochOrder(1, 3, 0)), [0]);
  assert.is(epochOrder(0, 3, 0).length, 0);
  const r1 = augmentRandom(5, 2, 40);
  const r2 = augmentRandom(5, 2, 40);
  const draws = [r1.uniform(), r1.uint32(), r1.below(9)];
  assert.equal([r2.uniform(), r2.uint32(), r2.below(9)], draws);
  assert.not.equal(augmentRandom(5, 2, 41).uniform(), draws[0]);
});

test('batch(epoch, index): same bytes twice, in any order, from a fresh loader; an epoch covers each example once', async () => {
  const d = await openDataset({ name: 'synthetic', synthetic: { train: 53, test: 23, channels: 2, size: 10, seed: 1 } });
  const loader = new BatchLoader(d, 'train', { ...TRAIN, batchSize: 8 });
  assert.is(loader.batchesPerEpoch, 6);
  const forward: Batch[] = [];
  for (let i = 0; i < 6; i++) forward.push(await loader.batch(1, i));
  const other = await loader.batch(2, 0);
  const fresh = new BatchLoader(d, 'train', { ...TRAIN, batchSize: 8 });
  for (let i = 5; i >= 0; i--) {
    assert.ok(sameBatch(await loader.batch(1, i), forward[i]), `again ${i}`);
    assert.ok(sameBatch(await fresh.batch(1, i), forward[i]), `fresh ${i}`);
  }
  assert.not.ok(sameBatch(other, forward[0]), 'epochs differ');

  const train = arraySplit(d, 'train');
  const perImage = 2 * 10 * 10;
  const byBytes = new Map<string, number>();
  for (let n = 0; n < train.length; n++)
    byBytes.set(Buffer.from(train.images.subarray(n * perImage, (n + 1) * perImage)).toString('hex'), n);
  const seen = new Set<number>();
  for (const b of forward) {
    assert.is(b.size, 8);
    for (let row = 0; row < 8; row++) {
      const n = byBytes.get(Buffer.from(denormalise(d, b.input, row)).toString('hex'));
      assert.ok(n !== undefined, 'each row is one of the examples');
      assert.is(b.target[row], train.labels[n!]);
      seen.add(n!);
    }
  }
  assert.is(seen.size, 48, 'no example twice');
  await assertThrows(() => loader.batch(1, 6), /index 6 outside 0\.\.5/);
});

test('test split: file order, last batch padded with zero images and target −1', async () => {
  const d = await openDataset({ name: 'synthetic', synthetic: { train: 30, test: 23, seed: 2 } });
  const loader = new BatchLoader(d, 'test', { ...TEST, batchSize: 8 });
  assert.is(loader.batchesPerEpoch, 3);
  const first = await loader.batch(0, 0);
  assert.equal(Array.from(first.target), Array.from(d.test.labels.subarray(0, 8)));
  const last = await loader.batch(4, 2);
  assert.is(last.size, 7);
  assert.equal(Array.from(last.target.subarray(0, 7)), Array.from(d.test.labels.subarray(16, 23)));
  assert.is(last.target[7], -1);
  assert.ok(last.input.subarray(7 * 784).every((v) => v === 0));
  assert.ok(last.input.subarray(6 * 784, 7 * 784).some((v) => v !== 0));
  await assertThrows(
    () => new BatchLoader(d, 'train', { ...TRAIN, batchSize: 64 }),
    /the train split has 30 examples, fewer than one batch of 64; lower --batch-size/,
  );
});

test('normalisation: zero mean and unit std per channel over the training set', async () => {
  const d = await openDataset({ name: 'synthetic', synthetic: { train: 40, test: 4, channels: 3, size: 8, seed: 3 } });
  const loader = new BatchLoader(d, 'train', { ...TRAIN, batchSize: 10 });
  const sums = [0, 0, 0];
  const squares = [0, 0, 0];
  for (let i = 0; i < loader.batchesPerEpoch; i++) {
    const { input } = await loader.batch(0, i);
    for (let j = 0; j < input.length; j++) {
      const c = Math.floor(j / 64) % 3;
      sums[c] += input[j];
      squares[c] += input[j] * input[j];
    }
  }
  const count = 40 * 64;
  for (let c = 0; c < 3; c++) {
    const mean = sums[c] / count;
    const std = Math.sqrt(squares[c] / count - mean * mean);
    assert.ok(Math.abs(mean) < 1e-4 && Math.abs(std - 1) < 1e-4, `channel ${c}: mean ${mean}, std ${std}`);
  }
});

/** A CIFAR-shaped dataset whose pixels say where they come from: channel 0 = 1 + 7x, channel 1 = 1 + 7y, channel 2 = 200. */
function coordinateCifar(count: number): Dataset {
  const image = new Uint8Array(3 * 1024);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      image[y * 32 + x] = 1 + 7 * x;
      image[1024 + y * 32 + x] = 1 + 7 * y;
      image[2048 + y * 32 + x] = 200;
    }
  }
  const images = new Uint8Array(count * 3072);
  for (let n = 0; n < count; n++) images.set(image, n * 3072);
  const split: ArraySplit = { kind: 'array', length: count, labels: new Int32Array(count), images };
  return {
    name: 'cifar10',
    root: null,
    classes: ['only'],
    channels: 3,
    imageSize: [32, 32],
    mean: [0.4, 0.5, 0.6],
    std: [0.2, 0.25, 0.3],
    augment: 'crop-flip',
    train: split,
    test: split,
  };
}

/** The shift and flip an augmented coordinate image shows, checking every pixel is either in bounds or zero padding. */
function readPlacement(d: Dataset, batch: Batch, row: number): { dy: number; dx: number; flip: boolean } {
  const px = denormalise(d, batch.input, row);
  const inside = (i: number): boolean => px[2048 + i] === 200;
  const sourceX = (i: number): number => (px[i] - 1) / 7;
  // Two horizontal neighbours inside the image tell the flip; the centre is always inside (shifts ≤ 4).
  const centre = 16 * 32 + 16;
  assert.ok(inside(centre) && inside(centre + 1));
  const flip = sourceX(centre + 1) < sourceX(centre);
  const p = { dy: (px[1024 + centre] - 1) / 7 - 16, dx: flip ? sourceX(centre) - 15 : sourceX(centre) - 16, flip };
  assert.ok(Math.abs(p.dy) <= 4 && Math.abs(p.dx) <= 4, `shift within the 4-pixel padding: ${JSON.stringify(p)}`);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const i = y * 32 + x;
      const sx = (flip ? 31 - x : x) + p.dx;
      const sy = y + p.dy;
      if (sy < 0 || sy > 31 || sx < 0 || sx > 31) {
        assert.ok(px[i] === 0 && px[1024 + i] === 0 && px[2048 + i] === 0, `zero padding at (${y}, ${x})`);
      } else {
        assert.ok(inside(i) && sourceX(i) === sx && (px[1024 + i] - 1) / 7 === sy, `pixel (${y}, ${x}) comes from (${sy}, ${sx})`);
      }
    }
  }
  return p;
}

test('CIFAR crop+flip: shifts within the padding, flips mirror, off for augment=false and the test split', async () => {
  const d = coordinateCifar(64);
  const batch = await new BatchLoader(d, 'train', { ...TRAIN, batchSize: 64 }).batch(0, 0);
  const placements = Array.from({ length: 64 }, (_, row) => readPlacement(d, batch, row));
  const flips = placements.filter((p) => p.flip).length;
  assert.ok(flips > 15 && flips < 49, `${flips}/64 flipped`);
  assert.ok(new Set(placements.map((p) => `${p.dy},${p.dx}`)).size > 20, 'shifts vary');
  const plain = [
    await new BatchLoader(d, 'train', { ...TRAIN, augment: false, batchSize: 8 }).batch(0, 0),
    await new BatchLoader(d, 'test', { ...TEST, augment: true, batchSize: 8 }).batch(0, 0),
  ];
  for (const b of plain) {
    for (let row = 0; row < 8; row++) assert.equal(readPlacement(d, b, row), { dy: 0, dx: 0, flip: false });
  }
});

test('random-resized-crop: boxes inside the image within scale and ratio, centre fallback, eval resize and crop', () => {
  for (let position = 0; position < 300; position++) {
    const box = randomResizedCropBox(augmentRandom(9, 0, position), 23, 37);
    assert.ok(box.top >= 0 && box.left >= 0 && box.top + box.height <= 23 && box.left + box.width <= 37, JSON.stringify(box));
    const area = (box.height * box.width) / (23 * 37);
    assert.ok(area > 0.05 && area <= 1, `area fraction ${area}`);
  }
  assert.equal(randomResizedCropBox(augmentRandom(9, 0, 0), 10, 1000), { top: 0, left: 493, height: 10, width: 13 });
  assert.equal(randomResizedCropBox(augmentRandom(9, 0, 0), 1000, 10), { top: 493, left: 0, height: 13, width: 10 });
  assert.is(evalResizeSide(224), 256);
  assert.is(evalResizeSide(64), 73);
  assert.equal(resizeShorterSide(23, 37, 256), [256, 411]);
  assert.equal(resizeShorterSide(37, 23, 256), [411, 256]);
  assert.equal(centreCropBox(256, 411, 224), { top: 16, left: 94, height: 224, width: 224 });
});

test('ImageFolder batches: random-resized-crop and centre-crop outputs are N×3×S×S', async () => {
  const { dir, remove } = tempDir();
  try {
    for (const [i, file] of ['train/a/1.png', 'train/a/2.jpg', 'train/b/3.png', 'val/a/4.png', 'val/b/5.jpg'].entries()) {
      writeFile(join(dir, file), await encodeImage(37 + i, 23 + 2 * i, 3, file.endsWith('png') ? 'png' : 'jpeg', i));
    }
    const d = await openDataset({ name: 'imagefolder', data: dir, imageSize: 20 });
    const train = new BatchLoader(d, 'train', { ...TRAIN, batchSize: 2 });
    const val = new BatchLoader(d, 'test', { ...TEST, batchSize: 4 });
    assert.equal(train.inputShape, [2, 3, 20, 20]);
    const b = await train.batch(0, 0);
    assert.is(b.input.length, 2 * 3 * 400);
    assert.ok(b.input.every(Number.isFinite) && b.input.some((v) => v !== 0));
    const v = await val.batch(0, 0);
    assert.equal([v.size, Array.from(v.target)], [2, [0, 1, -1, -1]]);
    assert.ok(v.input.subarray(2 * 1200).every((x) => x === 0));
  } finally {
    remove();
  }
});

test.run();
