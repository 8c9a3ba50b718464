// Launcher for shaders/matmul.wgsl: picks the tile configuration and grid.

import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ceilDiv } from './op.ts';

export interface MatmulArgs {
  a: Tensor;
  b: Tensor;
  c: Tensor;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor | null;
}

const WG_M = 8;
const WG_N = 8;
const RM = 4;
const RN = 4;

/** Records C = op(A)·op(B) (+ bias); shapes are the caller's to validate. */
export async function matmul(rt: Runtime, { a, b, c, M, N, K, transA = false, transB = false, bias = null }: MatmulArgs): Promise<Dispatch> {
  const kernel = await rt.kernel('matmul', { TRANS_A: transA, TRANS_B: transB, HAS_BIAS: bias !== null, WG_M, WG_N });
  // An unused bias binding still needs a buffer; A's is as good as any.
  return rt.dispatch(kernel, { params: { M, N, K }, lhs: a, rhs: b, bias: bias ?? a, out: c }, [
    ceilDiv(N, WG_N * RN),
    ceilDiv(M, WG_M * RM),
  ]);
}
