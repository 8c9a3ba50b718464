// The dataset layer's public API: parsers behind openDataset, and the input
// pipeline (BatchLoader) that the training loop calls.

export { DatasetError } from './errors.ts';
export { DATASET_NAMES } from './types.ts';
export type { ArraySplit, AugmentKind, Dataset, DatasetName, DatasetOptions, FileSplit, Split, SyntheticOptions } from './types.ts';
export { openDataset } from './open.ts';
export { validateImages, IMAGENET_MEAN, IMAGENET_STD, DEFAULT_IMAGE_SIZE, IMAGE_EXTENSIONS } from './imagefolder.ts';
export { FASHION_MNIST_DIR, IDX_FILES } from './mnist.ts';
export { SYNTHETIC_DEFAULTS } from './synthetic.ts';
export { BatchLoader, type Batch, type LoaderOptions } from './pipeline.ts';
export { epochOrder } from './order.ts';
export { augmentRandom, CounterRandom } from './random.ts';
export { randomResizedCropBox, centreCropBox, resizeShorterSide, evalResizeSide, type Box } from './crop-geometry.ts';
export { channelMeanStd } from './stats.ts';
