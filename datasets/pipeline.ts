// The input pipeline: batch(epoch, index) of a split, shuffled, augmented and
// normalised into N×C×H×W floats.
//
// Every random choice is a pure function of (seed, epoch, position in epoch):
// the order comes from epochOrder(length, seed, epoch), and each example's
// augmentation from its own counter-based generator augmentRandom(seed, epoch,
// position), never from a stateful generator advanced batch after batch. So a
// resumed run reproduces exactly the same augmented pixels having saved only
// (seed, epoch, position), batches can be built ahead or in parallel in any
// order, and two processes agree byte for byte.

import { DatasetError } from './errors.ts';
import { epochOrder, identityOrder } from './order.ts';
import { augmentRandom } from './random.ts';
import type { AugmentKind, Dataset, Split } from './types.ts';
import { IDENTITY, normalisationTables, writeChwImage, writeHwcImage, type Placement } from './write-image.ts';

export interface LoaderOptions {
  batchSize: number;
  seed: number;
  /** Shuffle each epoch (train); false keeps the file order (test). */
  shuffle: boolean;
  /** Apply the dataset's random augmentation (train split only). */
  augment: boolean;
  /** Drop the last partial batch (train); otherwise it is padded (test). */
  dropLast: boolean;
}

export interface Batch {
  /** batchSize×C×H×W, (x/255 − mean)/std; padding rows are 0. */
  input: Float32Array;
  /** batchSize labels; padding rows are −1. */
  target: Int32Array;
  /** Real examples in this batch (the rest is padding). */
  size: number;
}

/** CIFAR's RandomCrop(32, padding=4). */
const CROP_PADDING = 4;

export class BatchLoader {
  readonly batchesPerEpoch: number;
  /** [N, C, H, W] of every batch's input. */
  readonly inputShape: [number, number, number, number];
  private readonly split: Split;
  private readonly augment: AugmentKind;
  private readonly tables: Float32Array;
  private cachedOrder: { epoch: number; order: Uint32Array } | null = null;

  constructor(
    private readonly dataset: Dataset,
    which: 'train' | 'test',
    private readonly opts: LoaderOptions,
  ) {
    const where = dataset.root ?? dataset.name;
    const { batchSize, seed } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new DatasetError(`${where}: --batch-size must be a whole number ≥ 1, got ${batchSize}`);
    if (!Number.isInteger(seed) || seed < 0) throw new DatasetError(`${where}: the seed must be a whole number ≥ 0, got ${seed}`);
    this.split = dataset[which];
    const length = this.split.length;
    if (opts.dropLast && length < batchSize) {
      const limit = which === 'train' ? '--limit-train' : '--limit-test';
      throw new DatasetError(
        `${where}: the ${which} split has ${length} examples, fewer than one batch of ${batchSize}; lower --batch-size (or raise ${limit})`,
      );
    }
    this.batchesPerEpoch = opts.dropLast ? Math.floor(length / batchSize) : Math.ceil(length / batchSize);
    this.augment = which === 'train' && opts.augment ? dataset.augment : 'none';
    const wantsFiles = dataset.augment === 'rrc-flip';
    if (wantsFiles !== (this.split.kind === 'files')) {
      throw new DatasetError(`${where}: augmentation ${dataset.augment} does not fit a split of kind ${this.split.kind}`);
    }
    this.tables = normalisationTables(dataset.mean, dataset.std);
    this.inputShape = [batchSize, dataset.channels, dataset.imageSize[0], dataset.imageSize[1]];
  }

  /** The example order of `epoch` (cached for the latest epoch asked for). */
  order(epoch: number): Uint32Array {
    if (this.cachedOrder?.epoch !== epoch) {
      const length = this.split.length;
      const order = this.opts.shuffle ? epochOrder(length, this.opts.seed, epoch) : identityOrder(length);
      this.cachedOrder = { epoch, order };
    }
    return this.cachedOrder.order;
  }

  /** Pure function of (seed, epoch, index): same arguments, same bytes, in any order, in any process. */
  async batch(epoch: number, index: number): Promise<Batch> {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`BatchLoader.batch: epoch must be a whole number ≥ 0, got ${epoch}`);
    if (!Number.isInteger(index) || index < 0 || index >= this.batchesPerEpoch) {
      throw new RangeError(`BatchLoader.batch: index ${index} outside 0..${this.batchesPerEpoch - 1}`);
    }
    const [batchSize, channels, height, width] = this.inputShape;
    const order = this.order(epoch);
    const first = index * batchSize;
    const size = Math.min(batchSize, this.split.length - first);
    const perImage = channels * height * width;
    const input = new Float32Array(batchSize * perImage);
    const target = new Int32Array(batchSize).fill(-1);
    for (let n = 0; n < size; n++) target[n] = this.split.labels[order[first + n]];

    if (this.split.kind === 'array') {
      const images = this.split.images;
      for (let n = 0; n < size; n++) {
        const place = this.arrayPlacement(epoch, first + n);
        writeChwImage(input, n * perImage, images, order[first + n] * perImage, channels, height, width, this.tables, place);
      }
    } else {
      const { files, decoder } = this.split;
      await Promise.all(
        Array.from({ length: size }, async (_, n) => {
          const file = files[order[first + n]];
          if (this.augment === 'rrc-flip') {
            const rng = augmentRandom(this.opts.seed, epoch, first + n);
            const { pixels } = await decoder.randomResizedCrop(file, height, rng);
            writeHwcImage(input, n * perImage, pixels, height, channels, this.tables, rng.uniform() < 0.5);
          } else {
            const { pixels } = await decoder.centreCrop(file, height);
            writeHwcImage(input, n * perImage, pixels, height, channels, this.tables, false);
          }
        }),
      );
    }
    return { input, target, size };
  }

  private arrayPlacement(epoch: number, position: number): Placement {
    if (this.augment !== 'crop-flip') return IDENTITY;
    const rng = augmentRandom(this.opts.seed, epoch, position);
    const span = 2 * CROP_PADDING + 1;
    return { dy: rng.below(span) - CROP_PADDING, dx: rng.below(span) - CROP_PADDING, flip: rng.uniform() < 0.5 };
  }
}
