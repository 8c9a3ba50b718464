// Decoding ImageFolder images with sharp (libvips on libuv's threadpool, so off
// the main thread): metadata for the size, then crop and resize in one
// pipeline, raw 8-bit RGB out (alpha dropped, greyscale expanded to 3 channels).

import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { centreCropBox, evalResizeSide, randomResizedCropBox, resizeShorterSide } from './crop-geometry.ts';
import { DatasetError } from './errors.ts';
import type { CounterRandom } from './random.ts';

/** size×size RGB bytes, HWC, as sharp outputs them. */
export interface DecodedImage {
  pixels: Uint8Array;
  size: number;
}

async function imageSize(file: string): Promise<{ height: number; width: number }> {
  const meta = await sharp(file).metadata();
  if (!meta.width || !meta.height) throw new Error('no width or height');
  return { height: meta.height, width: meta.width };
}

async function toRgb(pipeline: Sharp, size: number): Promise<Uint8Array> {
  const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) {
    throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}, expected ${size}×${size}×3`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Training view: a random resized crop to size×size (flip is left to the caller). */
export async function decodeRandomResizedCrop(file: string, size: number, rng: CounterRandom): Promise<DecodedImage> {
  try {
    const { height, width } = await imageSize(file);
    const box = randomResizedCropBox(rng, height, width);
    const pipeline = sharp(file)
      .extract({ left: box.left, top: box.top, width: box.width, height: box.height })
      .resize(size, size, { fit: 'fill', kernel: 'linear' });
    return { pixels: await toRgb(pipeline, size), size };
  } catch (e) {
    throw new DatasetError(`${file}: cannot decode image (${(e as Error).message})`);
  }
}

/** Evaluation view: shorter side to round(size·256/224), then the centre size×size. */
export async function decodeCentreCrop(file: string, size: number): Promise<DecodedImage> {
  try {
    const { height, width } = await imageSize(file);
    const [h, w] = resizeShorterSide(height, width, evalResizeSide(size));
    const box = centreCropBox(h, w, size);
    const pipeline = sharp(file)
      .resize(w, h, { fit: 'fill', kernel: 'linear' })
      .extract({ left: box.left, top: box.top, width: box.width, height: box.height });
    return { pixels: await toRgb(pipeline, size), size };
  } catch (e) {
    throw new DatasetError(`${file}: cannot decode image (${(e as Error).message})`);
  }
}
