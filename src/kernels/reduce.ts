// Launcher for shaders/reduce.wgsl: column sums (the linear layer's bias
// gradient). Reference: kernels-test/reference/reduce.ts.

import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ceilDiv } from './op.ts';

const WG = 64;

/** Records out[c] = Σ_r x[r, c]. */
export async function columnSum(rt: Runtime, a: { x: Tensor; rows: number; cols: number; out: Tensor }): Promise<Dispatch> {
  const kernel = await rt.kernel('reduce', { WG }, 'column_sum');
  return rt.dispatch(kernel, { params: { rows: a.rows, cols: a.cols }, x: a.x, out: a.out }, [ceilDiv(a.cols, WG)]);
}
