// Crop boxes for ImageFolder, following torchvision: RandomResizedCrop's
// sampler (10 tries, then a centre crop clamped to the ratio range), Resize of
// the shorter side, and CenterCrop. Pure arithmetic; the pixels are cut by sharp.

import type { CounterRandom } from './random.ts';

export interface Box {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision RandomResizedCrop.get_params for an H×W image. */
export function randomResizedCropBox(
  rng: CounterRandom,
  height: number,
  width: number,
  scale: [number, number] = [0.08, 1],
  ratio: [number, number] = [3 / 4, 4 / 3],
): Box {
  const area = height * width;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.range(scale[0], scale[1]);
    const aspect = Math.exp(rng.range(logRatio[0], logRatio[1]));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return { top: rng.below(height - h + 1), left: rng.below(width - w + 1), height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = roundHalfEven(w / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(h * ratio[1]);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/** torchvision Resize(size) with an int: the shorter side becomes `size`, the longer keeps the aspect (truncated). */
export function resizeShorterSide(height: number, width: number, size: number): [number, number] {
  if (height <= width) return [size, Math.max(1, Math.floor((size * width) / height))];
  return [Math.max(1, Math.floor((size * height) / width)), size];
}

/** torchvision CenterCrop box of `size`×`size` in an H×W image (H, W ≥ size). */
export function centreCropBox(height: number, width: number, size: number): Box {
  return { top: roundHalfEven((height - size) / 2), left: roundHalfEven((width - size) / 2), height: size, width: size };
}

/** The resize side that precedes the centre crop of evaluation: round(size·256/224). */
export function evalResizeSide(size: number): number {
  return Math.round((size * 256) / 224);
}
