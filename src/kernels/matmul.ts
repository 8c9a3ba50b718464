// Launcher for shaders/matmul.wgsl: picks the tile configuration and grid.

import { debugFlags } from '../gpu/flags.ts';
import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ceilDiv, type Accumulate } from './op.ts';

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
  /** Read B as sign(B)·signB (sign symmetry's feedback from W's own buffer); plain layout (nn) only. */
  signB?: number | null;
  /** C ← alpha·op(A)·op(B) + beta·C instead of C = op(A)·op(B) (C is read, so must hold values). */
  accumulate?: Accumulate | null;
}

const WG_M = 8;
const WG_N = 8;
const RM = 4;
const RN = 4;

/** Every lane-tiled entry computes an 8 × 32 tile of C per workgroup (one 8-lane subgroup). */
const LANES_TILE_M = 8;
const LANES_TILE_N = 32;

export type MatmulVariant = 'lanes_nt' | 'lanes_nn' | 'lanes_tn' | 'tiled';

/**
 * Which kernel: on CPU adapters with 8-wide subgroups, the layouts
 * shaders/matmul_lanes.wgsl covers (see its alignment needs) take it;
 * everything else, and every GPU, takes the workgroup-tiled matmul.
 */
export function matmulVariant(rt: Runtime, a: { M: number; N: number; K: number; transA: boolean; transB: boolean }): MatmulVariant {
  if (debugFlags.forceTiledMatmul) return 'tiled';
  const sg = rt.ctx.subgroupSize;
  if (!rt.ctx.isCpu || sg === null || sg.min !== 8 || sg.max !== 8) return 'tiled';
  if (!a.transA && a.transB && a.K % 4 === 0) return 'lanes_nt';
  if (!a.transA && !a.transB && a.K % 4 === 0 && a.N % 4 === 0) return 'lanes_nn';
  if (a.transA && !a.transB && a.M % 4 === 0 && a.N % 4 === 0) return 'lanes_tn';
  return 'tiled';
}

/** Records C = op(A)·op(B) (+ bias); shapes are the caller's to validate. */
export async function matmul(
  rt: Runtime,
  { a, b, c, M, N, K, transA = false, transB = false, bias = null, signB = null, accumulate = null }: MatmulArgs,
): Promise<Dispatch> {
  if (signB !== null && (transA || transB)) throw new Error('matmul(): signB is only supported for the plain layout (A·B)');
  const variant = matmulVariant(rt, { M, N, K, transA, transB });
  const SIGN_B = signB !== null;
  const ACCUMULATE = accumulate !== null;
  const params = { M, N, K, bScale: signB ?? 1, alpha: accumulate?.alpha ?? 1, beta: accumulate?.beta ?? 0 };
  if (variant !== 'tiled') {
    const kernel = await rt.kernel('matmul_lanes', { HAS_BIAS: bias !== null, SIGN_B, ACCUMULATE }, variant.slice('lanes_'.length));
    return rt.dispatch(kernel, { params, lhs: a, rhs: b, bias: bias ?? a, out: c }, [ceilDiv(N, LANES_TILE_N), ceilDiv(M, LANES_TILE_M)]);
  }
  const kernel = await rt.kernel('matmul', { TRANS_A: transA, TRANS_B: transB, HAS_BIAS: bias !== null, SIGN_B, ACCUMULATE, WG_M, WG_N });
  // An unused bias binding still needs a buffer; A's is as good as any.
  return rt.dispatch(kernel, { params, lhs: a, rhs: b, bias: bias ?? a, out: c }, [ceilDiv(N, WG_N * RN), ceilDiv(M, WG_M * RM)]);
}
