// Naive float64 references for max pooling (PyTorch MaxPool2d, ceil_mode=false,
// dilation 1, padding acts as −∞) and global average pooling. Layout NCHW.

import { checkLength, checkNonNegativeInt, checkPositiveInt } from './check.ts';

export interface PoolShape {
  n: number;
  c: number;
  h: number;
  w: number;
}

function validate(op: string, x: ArrayLike<number>, shape: PoolShape): void {
  for (const k of ['n', 'c', 'h', 'w'] as const) checkPositiveInt(op, `shape.${k}`, shape[k]);
  checkLength(op, 'x', x, shape.n * shape.c * shape.h * shape.w, 'n*c*h*w');
}

export function maxPoolOutSize(shape: PoolShape, k: number, stride: number, pad: number): { oh: number; ow: number } {
  return {
    oh: Math.floor((shape.h + 2 * pad - k) / stride) + 1,
    ow: Math.floor((shape.w + 2 * pad - k) / stride) + 1,
  };
}

function validateWindow(op: string, shape: PoolShape, k: number, stride: number, pad: number): { oh: number; ow: number } {
  checkPositiveInt(op, 'k', k);
  checkPositiveInt(op, 'stride', stride);
  checkNonNegativeInt(op, 'pad', pad);
  // As PyTorch: a larger pad could make a window lie wholly in the padding.
  if (pad > Math.floor(k / 2)) throw new Error(`${op}(): pad=${pad} must be at most k/2 (k=${k})`);
  const { oh, ow } = maxPoolOutSize(shape, k, stride, pad);
  if (oh < 1 || ow < 1) throw new Error(`${op}(): window k=${k} does not fit input ${shape.h}x${shape.w} with pad=${pad}`);
  return { oh, ow };
}

/**
 * y (N·C·OH·OW) and argmax: for each output, the flat NCHW index into x of the
 * first maximum in row-major window order (strict `>`, so ties keep the first).
 */
export function maxPoolForward(
  x: ArrayLike<number>,
  shape: PoolShape,
  k = 3,
  stride = 2,
  pad = 1,
): { y: Float64Array; argmax: Int32Array } {
  const op = 'maxPoolForward';
  validate(op, x, shape);
  const { oh, ow } = validateWindow(op, shape, k, stride, pad);
  const { n: N, c: C, h: H, w: W } = shape;
  const y = new Float64Array(N * C * oh * ow);
  const argmax = new Int32Array(N * C * oh * ow);
  for (let nc = 0; nc < N * C; nc++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let best = -Infinity;
        let bestIdx = -1;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * stride - pad + ky;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * stride - pad + kx;
            if (ix < 0 || ix >= W) continue;
            const j = (nc * H + iy) * W + ix;
            if (bestIdx < 0 || x[j] > best) {
              best = x[j];
              bestIdx = j;
            }
          }
        }
        const o = (nc * oh + oy) * ow + ox;
        y[o] = best;
        argmax[o] = bestIdx;
      }
    }
  }
  return { y, argmax };
}

/** dx: each dy goes to its window's first maximum (overlapping windows accumulate). */
export function maxPoolBackward(dy: ArrayLike<number>, x: ArrayLike<number>, shape: PoolShape, k = 3, stride = 2, pad = 1): Float64Array {
  const op = 'maxPoolBackward';
  validate(op, x, shape);
  const { oh, ow } = validateWindow(op, shape, k, stride, pad);
  checkLength(op, 'dy', dy, shape.n * shape.c * oh * ow, 'n*c*oh*ow');
  const { argmax } = maxPoolForward(x, shape, k, stride, pad);
  const dx = new Float64Array(x.length);
  for (let o = 0; o < argmax.length; o++) dx[argmax[o]] += dy[o];
  return dx;
}

/** y (N×C) = mean of each channel plane. */
export function globalAvgPoolForward(x: ArrayLike<number>, shape: PoolShape): Float64Array {
  const op = 'globalAvgPoolForward';
  validate(op, x, shape);
  const hw = shape.h * shape.w;
  const y = new Float64Array(shape.n * shape.c);
  for (let nc = 0; nc < y.length; nc++) {
    let s = 0;
    for (let i = 0; i < hw; i++) s += x[nc * hw + i];
    y[nc] = s / hw;
  }
  return y;
}

/** dx[n,c,:,:] = dy[n,c] / (h·w). */
export function globalAvgPoolBackward(dy: ArrayLike<number>, shape: PoolShape): Float64Array {
  const op = 'globalAvgPoolBackward';
  for (const k of ['n', 'c', 'h', 'w'] as const) checkPositiveInt(op, `shape.${k}`, shape[k]);
  checkLength(op, 'dy', dy, shape.n * shape.c, 'n*c');
  const hw = shape.h * shape.w;
  const dx = new Float64Array(dy.length * hw);
  for (let nc = 0; nc < dy.length; nc++) {
    for (let i = 0; i < hw; i++) dx[nc * hw + i] = dy[nc] / hw;
  }
  return dx;
}
