// Launchers for shaders/elementwise.wgsl: ReLU forward/backward, residual add
// (optionally fused with a ReLU) and in-place accumulate. Operands must have
// identical shapes and one element type (f32, or f16 storage: the kernel's
// elem variant); any layout works since the ops are pointwise.
// Also the grid helpers shared by the pointwise and plane-wise launchers.

import { LimitError, ShapeError } from '../gpu/errors.ts';
import type { Runtime, Workgroups } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ceilDiv, expectDType, type Op } from './op.ts';

const WG = 64;
const PER_THREAD = 4;

/** Workgroups for `count` row-major workgroups, folded into 2-D under the per-dimension limit. */
export function flatGrid(rt: Runtime, count: number): Workgroups {
  const max = rt.ctx.limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [count];
  const rows = ceilDiv(count, max);
  if (rows > max) throw new LimitError(`flatGrid(): ${count} workgroups exceed ${max}²`);
  // The kernels index by (y·gx + x) and skip what lies past the end.
  return [ceilDiv(count, rows), rows];
}

/**
 * Grid for a plane-wise NCHW kernel: x covers one H·W plane in spans of
 * `span` elements, y the channel, z the sample.
 */
export function planeGrid(n: number, c: number, hw: number, span: number): Workgroups {
  return [ceilDiv(hw, span), c, n];
}

export function expectSameShape(op: string, name: string, t: Tensor, like: Tensor, likeName: string): void {
  if (t.shape.length !== like.shape.length || t.shape.some((d, i) => d !== like.shape[i])) {
    throw new ShapeError(`${op}(): ${name} has shape [${t.shape.join(', ')}] but ${likeName} has [${like.shape.join(', ')}]`);
  }
}

/** Every operand f32, or every operand f16 (storage; the kernels compute in f32), and one shape. */
function checkAll(op: string, ref: [string, Tensor], others: [string, Tensor | undefined][]): void {
  if (ref[1].dtype !== 'f16') expectDType(op, ref[0], ref[1], 'f32');
  for (const [name, t] of others) {
    if (!t) continue;
    expectDType(op, name, t, ref[1].dtype);
    expectSameShape(op, name, t, ref[1], ref[0]);
  }
}

async function pointwise(rt: Runtime, entry: string, n: number, args: Record<string, Tensor>, relu = false) {
  const elem = Object.values(args)[0].dtype === 'f16' ? 'f16' : 'f32';
  const kernel = await rt.kernel('elementwise', { WG, RELU: relu }, entry, { elem });
  return rt.dispatch(kernel, { params: { n }, ...args }, flatGrid(rt, ceilDiv(n, WG * PER_THREAD)));
}

/** y = max(x, 0). */
export async function reluForward(rt: Runtime, { x, y }: { x: Tensor; y?: Tensor }): Promise<Op<{ y: Tensor }>> {
  checkAll('reluForward', ['x', x], [['y', y]]);
  y ??= rt.empty(x.shape, x.dtype, 'relu.y');
  return { dispatches: [await pointwise(rt, 'relu_forward', x.size, { x, y })], out: { y } };
}

/** dx = dy·[y > 0], with y the forward output (or input: the mask is the same). */
export async function reluBackward(rt: Runtime, { dy, y, dx }: { dy: Tensor; y: Tensor; dx?: Tensor }): Promise<Op<{ dx: Tensor }>> {
  checkAll(
    'reluBackward',
    ['dy', dy],
    [
      ['y', y],
      ['dx', dx],
    ],
  );
  dx ??= rt.empty(dy.shape, dy.dtype, 'relu.dx');
  return { dispatches: [await pointwise(rt, 'relu_backward', dy.size, { dy, y_fwd: y, dx })], out: { dx } };
}

export interface AddArgs {
  a: Tensor;
  b: Tensor;
  out?: Tensor;
  /** out = relu(a + b); its backward is reluBackward with out, passed to both branches. */
  relu?: boolean;
}

/** out = a + b (residual join); its backward passes dy unchanged to both branches. */
export async function add(rt: Runtime, { a, b, out, relu = false }: AddArgs): Promise<Op<{ out: Tensor }>> {
  checkAll(
    'add',
    ['a', a],
    [
      ['b', b],
      ['out', out],
    ],
  );
  out ??= rt.empty(a.shape, a.dtype, 'add.out');
  return { dispatches: [await pointwise(rt, 'add', a.size, { a, b, out }, relu)], out: { out } };
}

/** acc += a, in place (e.g. a gradient reaching a tensor along two branches). */
export async function addInPlace(rt: Runtime, { acc, a }: { acc: Tensor; a: Tensor }): Promise<Op<{ acc: Tensor }>> {
  checkAll('addInPlace', ['acc', acc], [['a', a]]);
  return { dispatches: [await pointwise(rt, 'add_inplace', acc.size, { acc, a })], out: { acc } };
}
