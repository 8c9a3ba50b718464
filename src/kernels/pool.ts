// Launchers for shaders/pool.wgsl: max pooling (forward saves an i32 argmax
// within each plane; backward gathers through it, no atomics) and global
// average pooling. Layout NCHW, f32.

import { LimitError, ShapeError } from '../gpu/errors.ts';
import type { Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { flatGrid, planeGrid } from './elementwise.ts';
import { ceilDiv, expectDType, expectRank, expectShape, type Op } from './op.ts';

const EW = 64;
const PER_THREAD = 4;

function nchw(op: string, name: string, t: Tensor): [number, number, number, number] {
  expectRank(op, name, t, 4);
  expectDType(op, name, t, 'f32');
  return [t.shape[0], t.shape[1], t.shape[2], t.shape[3]];
}

/** The forward input's [N, C, H, W]: given, or dx's. */
function inputShapeOf(op: string, inputShape: readonly number[] | undefined, dx: Tensor | undefined): readonly number[] {
  const shape = inputShape ?? dx?.shape;
  if (!shape) throw new ShapeError(`${op}(): give inputShape or dx`);
  if (shape.length !== 4 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ShapeError(`${op}(): inputShape [${shape.join(', ')}] must be 4 positive integers [N, C, H, W]`);
  }
  return shape;
}

export interface PoolWindow {
  /** Window size (square), default 3. */
  k?: number;
  /** Default 2. */
  stride?: number;
  /** Default 1; at most k/2, as PyTorch. */
  pad?: number;
}

/** Output size of a max pool (floor mode), after checking the window. */
export function maxPoolOutSize(op: string, h: number, w: number, k: number, stride: number, pad: number): [number, number] {
  for (const [name, v, min] of [
    ['k', k, 1],
    ['stride', stride, 1],
    ['pad', pad, 0],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new ShapeError(`${op}(): ${name}=${v} must be an integer ≥ ${min}`);
  }
  // The kernel divides plane indices in f32 (shaders/pool.wgsl udiv), exact below 2^20.
  if (h * w >= 2 ** 20) throw new LimitError(`${op}(): a ${h}×${w} plane has 2^20 or more pixels`);
  if (pad > Math.floor(k / 2)) throw new ShapeError(`${op}(): pad=${pad} must be at most k/2 (k=${k})`);
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  if (oh < 1 || ow < 1) throw new ShapeError(`${op}(): a ${k}×${k} window with pad=${pad} does not fit the ${h}×${w} input`);
  return [oh, ow];
}

export interface MaxPoolForwardArgs extends PoolWindow {
  x: Tensor;
  y?: Tensor;
  argmax?: Tensor;
}

/** y = max over each window; argmax (i32, y's shape) = iy·W + ix of the first maximum. */
export async function maxPoolForward(
  rt: Runtime,
  { x, k = 3, stride = 2, pad = 1, y, argmax }: MaxPoolForwardArgs,
): Promise<Op<{ y: Tensor; argmax: Tensor }>> {
  const op = 'maxPoolForward';
  const [N, C, H, W] = nchw(op, 'x', x);
  const [OH, OW] = maxPoolOutSize(op, H, W, k, stride, pad);
  const outShape = [N, C, OH, OW];
  if (y) expectShape(op, 'y', y, outShape);
  if (y) expectDType(op, 'y', y, 'f32');
  if (argmax) expectShape(op, 'argmax', argmax, outShape);
  if (argmax) expectDType(op, 'argmax', argmax, 'i32');
  y ??= rt.empty(outShape, 'f32', 'maxpool.y');
  argmax ??= rt.empty(outShape, 'i32', 'maxpool.argmax');
  const kernel = await rt.kernel('pool', { EW }, 'max_forward');
  const d = rt.dispatch(kernel, { wp: { C, H, W, OH, OW, k, stride, pad }, x, y, argmax }, planeGrid(N, C, OH * OW, EW * PER_THREAD));
  return { dispatches: [d], out: { y, argmax } };
}

export interface MaxPoolBackwardArgs extends PoolWindow {
  dy: Tensor;
  /** From maxPoolForward with the same window. */
  argmax: Tensor;
  /** [N, C, H, W] of the forward input; may be left out when dx is given. */
  inputShape?: readonly number[];
  dx?: Tensor;
}

/** dx: each dy goes to its window's argmax; overlapping windows add up. */
export async function maxPoolBackward(
  rt: Runtime,
  { dy, argmax, inputShape, k = 3, stride = 2, pad = 1, dx }: MaxPoolBackwardArgs,
): Promise<Op<{ dx: Tensor }>> {
  const op = 'maxPoolBackward';
  const shape = inputShapeOf(op, inputShape, dx);
  const [N, C, H, W] = shape;
  const [OH, OW] = maxPoolOutSize(op, H, W, k, stride, pad);
  expectShape(op, 'dy', dy, [N, C, OH, OW]);
  expectDType(op, 'dy', dy, 'f32');
  expectShape(op, 'argmax', argmax, [N, C, OH, OW]);
  expectDType(op, 'argmax', argmax, 'i32');
  if (dx) expectShape(op, 'dx', dx, shape);
  if (dx) expectDType(op, 'dx', dx, 'f32');
  dx ??= rt.empty(shape, 'f32', 'maxpool.dx');
  const kernel = await rt.kernel('pool', { EW, COVER: ceilDiv(k, stride) }, 'max_backward');
  const d = rt.dispatch(
    kernel,
    { wp: { C, H, W, OH, OW, k, stride, pad }, dy, argmax_in: argmax, dx },
    planeGrid(N, C, H * W, EW * PER_THREAD),
  );
  return { dispatches: [d], out: { dx } };
}

/** y [N, C] = mean of each H×W plane. */
export async function globalAvgPoolForward(rt: Runtime, { x, y }: { x: Tensor; y?: Tensor }): Promise<Op<{ y: Tensor }>> {
  const op = 'globalAvgPoolForward';
  const [N, C, H, W] = nchw(op, 'x', x);
  if (y) expectShape(op, 'y', y, [N, C]);
  if (y) expectDType(op, 'y', y, 'f32');
  y ??= rt.empty([N, C], 'f32', 'avgpool.y');
  const kernel = await rt.kernel('pool', { EW }, 'avg_forward');
  const d = rt.dispatch(kernel, { ap: { planes: N * C, C, hw: H * W }, x, y }, flatGrid(rt, ceilDiv(N * C, EW)));
  return { dispatches: [d], out: { y } };
}

export interface GlobalAvgPoolBackwardArgs {
  dy: Tensor;
  /** [N, C, H, W] of the forward input; may be left out when dx is given. */
  inputShape?: readonly number[];
  dx?: Tensor;
}

/** dx[n, c, :, :] = dy[n, c] / (H·W). */
export async function globalAvgPoolBackward(rt: Runtime, { dy, inputShape, dx }: GlobalAvgPoolBackwardArgs): Promise<Op<{ dx: Tensor }>> {
  const op = 'globalAvgPoolBackward';
  const shape = inputShapeOf(op, inputShape, dx);
  const [N, C, H, W] = shape;
  expectShape(op, 'dy', dy, [N, C]);
  expectDType(op, 'dy', dy, 'f32');
  if (dx) expectShape(op, 'dx', dx, shape);
  if (dx) expectDType(op, 'dx', dx, 'f32');
  dx ??= rt.empty(shape, 'f32', 'avgpool.dx');
  const kernel = await rt.kernel('pool', { EW }, 'avg_backward');
  const d = rt.dispatch(kernel, { ap: { planes: N * C, C, hw: H * W }, dy, dx }, planeGrid(N, C, H * W, EW * PER_THREAD));
  return { dispatches: [d], out: { dx } };
}
