// Writes one example into a batch's float input: bytes → (x/255 − mean)/std
// through a 256-entry table per channel (no per-pixel division), with the
// shift-and-flip of CIFAR's augmentation folded into the index arithmetic.

/** Table c·256 + v = (v/255 − mean[c]) / std[c]. */
export function normalisationTables(mean: readonly number[], std: readonly number[]): Float32Array {
  const tables = new Float32Array(mean.length * 256);
  for (let c = 0; c < mean.length; c++) {
    for (let v = 0; v < 256; v++) tables[c * 256 + v] = (v / 255 - mean[c]) / std[c];
  }
  return tables;
}

/** Where the output pixel (y, x) reads from: source (y + dy, x + dx), mirrored first when `flip`; outside is zero padding. */
export interface Placement {
  dy: number;
  dx: number;
  flip: boolean;
}

export const IDENTITY: Placement = { dy: 0, dx: 0, flip: false };

/** Writes a CHW byte image (C×H×W at `src[srcAt]`) into `dst[dstAt]`, normalised and placed. */
export function writeChwImage(
  dst: Float32Array,
  dstAt: number,
  src: Uint8Array,
  srcAt: number,
  channels: number,
  height: number,
  width: number,
  tables: Float32Array,
  place: Placement,
): void {
  const plane = height * width;
  for (let c = 0; c < channels; c++) {
    const table = c * 256;
    const pad = tables[table]; // zero-padded pixels are byte 0, normalised like any other
    for (let y = 0; y < height; y++) {
      const out = dstAt + c * plane + y * width;
      const sy = y + place.dy;
      if (sy < 0 || sy >= height) {
        dst.fill(pad, out, out + width);
        continue;
      }
      const row = srcAt + c * plane + sy * width;
      for (let x = 0; x < width; x++) {
        const sx = (place.flip ? width - 1 - x : x) + place.dx;
        dst[out + x] = sx < 0 || sx >= width ? pad : tables[table + src[row + sx]];
      }
    }
  }
}

/** Writes an HWC RGB byte image of size×size into CHW floats at `dst[dstAt]`, normalised, mirrored when `flip`. */
export function writeHwcImage(
  dst: Float32Array,
  dstAt: number,
  src: Uint8Array,
  size: number,
  channels: number,
  tables: Float32Array,
  flip: boolean,
): void {
  const plane = size * size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const from = (y * size + (flip ? size - 1 - x : x)) * channels;
      const to = dstAt + y * size + x;
      for (let c = 0; c < channels; c++) dst[to + c * plane] = tables[c * 256 + src[from + c]];
    }
  }
}
