// Launcher for shaders/matmul.wgsl: picks the tile configuration and grid.

import { debugFlags } from '../gpu/flags.ts';
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

/** The lane-tiled kernel's tile: 8 rows (one subgroup) × 8·4 columns. */
const DOT4_TILE_M = 8;
const DOT4_TILE_N = 32;

/**
 * Which kernel: on CPU adapters with 8-wide subgroups, K-contiguous operands
 * (the forward x·Wᵀ with K % 4 == 0) take matmul_dot4; everything else, and
 * every GPU, takes the workgroup-tiled matmul.
 */
export function matmulVariant(rt: Runtime, a: { K: number; transA: boolean; transB: boolean }): 'dot4' | 'tiled' {
  if (debugFlags.forceTiledMatmul) return 'tiled';
  const sg = rt.ctx.subgroupSize;
  const laneTiles = rt.ctx.isCpu && sg !== null && sg.min === 8 && sg.max === 8;
  return laneTiles && !a.transA && a.transB && a.K % 4 === 0 ? 'dot4' : 'tiled';
}

/** Records C = op(A)·op(B) (+ bias); shapes are the caller's to validate. */
export async function matmul(
  rt: Runtime,
  { a, b, c, M, N, K, transA = false, transB = false, bias = null }: MatmulArgs,
): Promise<Dispatch> {
  if (matmulVariant(rt, { K, transA, transB }) === 'dot4') {
    const kernel = await rt.kernel('matmul_dot4', { HAS_BIAS: bias !== null });
    return rt.dispatch(kernel, { params: { M, N, K }, lhs: a, rhs: b, bias: bias ?? a, out: c }, [
      ceilDiv(N, DOT4_TILE_N),
      ceilDiv(M, DOT4_TILE_M),
    ]);
  }
  const kernel = await rt.kernel('matmul', { TRANS_A: transA, TRANS_B: transB, HAS_BIAS: bias !== null, WG_M, WG_N });
  // An unused bias binding still needs a buffer; A's is as good as any.
  return rt.dispatch(kernel, { params: { M, N, K }, lhs: a, rhs: b, bias: bias ?? a, out: c }, [
    ceilDiv(N, WG_N * RN),
    ceilDiv(M, WG_M * RM),
  ]);
}
