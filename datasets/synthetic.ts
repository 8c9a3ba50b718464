// A generated dataset for tests and smoke runs: each class has a fixed random
// prototype (a few smooth Gaussian blobs per channel), and each example is its
// class prototype shifted by a pixel or two plus Gaussian noise. Deterministic
// from the seed (counter-based, per example), learnable by a small net within a
// few hundred steps.

import { DatasetError } from './errors.ts';
import { limitSplit } from './limits.ts';
import { CounterRandom, SYNTHETIC_STREAM } from './random.ts';
import { channelMeanStd } from './stats.ts';
import type { ArraySplit, Dataset, DatasetOptions, SyntheticOptions } from './types.ts';

export const SYNTHETIC_DEFAULTS: Required<SyntheticOptions> = { train: 2000, test: 500, channels: 1, size: 28, classes: 10, seed: 0 };

const BLOBS_PER_CHANNEL = 3;
const NOISE_STD = 40; // in byte units
const PROTOTYPE = 0;
const TRAIN = 1;
const TEST = 2;

/** One prototype per class: channels×size×size floats in 0..255. */
function prototypes(o: Required<SyntheticOptions>): Float32Array[] {
  const plane = o.size * o.size;
  return Array.from({ length: o.classes }, (_, k) => {
    const rng = new CounterRandom(SYNTHETIC_STREAM, o.seed, PROTOTYPE, k);
    const image = new Float32Array(o.channels * plane).fill(0);
    for (let c = 0; c < o.channels; c++) {
      const field = image.subarray(c * plane, (c + 1) * plane);
      for (let b = 0; b < BLOBS_PER_CHANNEL; b++) {
        const cy = rng.range(0.15, 0.85) * o.size;
        const cx = rng.range(0.15, 0.85) * o.size;
        const sigma = rng.range(0.08, 0.2) * o.size;
        const amplitude = rng.range(-1, 1);
        const inv = 1 / (2 * sigma * sigma);
        for (let y = 0; y < o.size; y++) {
          for (let x = 0; x < o.size; x++) field[y * o.size + x] += amplitude * Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) * inv);
        }
      }
      for (let i = 0; i < plane; i++) field[i] = 128 + 110 * Math.tanh(field[i]);
    }
    return image;
  });
}

function generateSplit(o: Required<SyntheticOptions>, protos: Float32Array[], which: number, count: number): ArraySplit {
  const { channels, size, classes } = o;
  const plane = size * size;
  const images = new Uint8Array(count * channels * plane);
  const labels = new Int32Array(count);
  const maxShift = Math.max(1, Math.round(size / 14));
  for (let n = 0; n < count; n++) {
    const rng = new CounterRandom(SYNTHETIC_STREAM, o.seed, which, n);
    const label = rng.below(classes);
    labels[n] = label;
    const dy = rng.below(2 * maxShift + 1) - maxShift;
    const dx = rng.below(2 * maxShift + 1) - maxShift;
    const proto = protos[label];
    for (let c = 0; c < channels; c++) {
      const out = (n * channels + c) * plane;
      for (let y = 0; y < size; y++) {
        const sy = Math.min(size - 1, Math.max(0, y - dy));
        for (let x = 0; x < size; x++) {
          const sx = Math.min(size - 1, Math.max(0, x - dx));
          const v = proto[c * plane + sy * size + sx] + NOISE_STD * rng.normal();
          images[out + y * size + x] = v < 0 ? 0 : v > 255 ? 255 : v;
        }
      }
    }
  }
  return { kind: 'array', length: count, labels, images };
}

export function openSynthetic(opts: DatasetOptions): Dataset {
  const o: Required<SyntheticOptions> = { ...SYNTHETIC_DEFAULTS };
  for (const [key, value] of Object.entries(opts.synthetic ?? {}) as [keyof SyntheticOptions, number | undefined][]) {
    if (value === undefined) continue;
    const min = key === 'seed' ? 0 : key === 'classes' ? 2 : 1;
    if (!Number.isInteger(value) || value < min) throw new DatasetError(`synthetic: ${key} must be a whole number ≥ ${min}, got ${value}`);
    o[key] = value;
  }
  const protos = prototypes(o);
  const train = limitSplit(generateSplit(o, protos, TRAIN, o.train), opts.limitTrain, '--limit-train', 'synthetic');
  const test = limitSplit(generateSplit(o, protos, TEST, o.test), opts.limitTest, '--limit-test', 'synthetic');
  const { mean, std } = channelMeanStd(train.images, train.length, o.channels, o.size * o.size);
  return {
    name: 'synthetic',
    root: null,
    classes: Array.from({ length: o.classes }, (_, k) => `class ${k}`),
    channels: o.channels,
    imageSize: [o.size, o.size],
    mean,
    std,
    augment: 'none',
    train,
    test,
  };
}
