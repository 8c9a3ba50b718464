// The common shape of every dataset: what a parser returns and what the
// pipeline (BatchLoader) consumes. Images are either held in memory as bytes
// (IDX, CIFAR, synthetic) or named by file and decoded at batch time
// (ImageFolder).

import type { CounterRandom } from './random.ts';

export type DatasetName = 'fashion-mnist' | 'mnist' | 'cifar10' | 'cifar100' | 'imagefolder' | 'synthetic';

export const DATASET_NAMES: readonly DatasetName[] = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'imagefolder', 'synthetic'];

export interface SyntheticOptions {
  train?: number;
  test?: number;
  channels?: number;
  size?: number;
  classes?: number;
  seed?: number;
}

export interface DatasetOptions {
  name: DatasetName;
  /** Where the files are (a folder, its parent, or an archive); default: per dataset. */
  data?: string;
  /** Take the first N examples of the training split. */
  limitTrain?: number;
  /** Take the first N examples of the test split. */
  limitTest?: number;
  synthetic?: SyntheticOptions;
  /** ImageFolder: the crop size the model sees (default 224); test images are resized to round(size·256/224) first. */
  imageSize?: number;
}

/** The default augmentation of a dataset's training split. */
export type AugmentKind = 'none' | 'crop-flip' | 'rrc-flip';

/** Images held in memory: `length` × channels × height × width bytes, CHW per image. */
export interface ArraySplit {
  readonly kind: 'array';
  readonly length: number;
  readonly labels: Int32Array;
  readonly images: Uint8Array;
}

/** Decodes one image file to HWC bytes of size×size (the platform's decoder: sharp in Node). */
export interface ImageDecoder {
  randomResizedCrop(file: string, size: number, rng: CounterRandom): Promise<{ pixels: Uint8Array }>;
  centreCrop(file: string, size: number): Promise<{ pixels: Uint8Array }>;
}

/** Images named by file, decoded (and resized) at batch time by `decoder`. */
export interface FileSplit {
  readonly kind: 'files';
  readonly length: number;
  readonly labels: Int32Array;
  readonly files: readonly string[];
  readonly decoder: ImageDecoder;
}

export type Split = ArraySplit | FileSplit;

export interface Dataset {
  name: DatasetName;
  /** Resolved path of the files (folder or archive); null for synthetic. */
  root: string | null;
  classes: string[];
  channels: number;
  /** [H, W] the model sees. */
  imageSize: [number, number];
  /** Per channel, on the 0..1 scale. */
  mean: number[];
  std: number[];
  augment: AugmentKind;
  train: Split;
  test: Split;
}
