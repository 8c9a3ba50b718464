// Launcher for shaders/matmul.wgsl and shaders/matmul_lanes.wgsl: takes the
// kernel and tile configuration from src/kernels/tuning.ts (`matmulConfig`: the
// runtime's tuning table, else its defaults), which also gives the override
// constants and the tile extents of the grid, so nothing here copies a WGSL constant.

import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ceilDiv, type Accumulate } from './op.ts';
import { matmulConfig, matmulOverrides, matmulTile, type MatmulConfig } from './tuning.ts';

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

export type MatmulVariant = MatmulConfig['variant'];

/**
 * Which kernel (the tuning table's choice, else: on CPU adapters with 8-wide
 * subgroups, the layouts shaders/matmul_lanes.wgsl covers (see its alignment
 * needs) take it; everything else, and every GPU, takes the workgroup-tiled
 * matmul). The force-tiled-matmul switch forces the tiled one.
 */
export function matmulVariant(rt: Runtime, a: { M: number; N: number; K: number; transA: boolean; transB: boolean }): MatmulVariant {
  const { M, N, K, transA, transB } = a;
  return matmulConfig(rt, { M, N, K, transA, transB }).variant;
}

/** Records C = op(A)·op(B) (+ bias); shapes are the caller's to validate. */
export async function matmul(
  rt: Runtime,
  { a, b, c, M, N, K, transA = false, transB = false, bias = null, signB = null, accumulate = null }: MatmulArgs,
): Promise<Dispatch> {
  if (signB !== null && (transA || transB)) throw new Error('matmul(): signB is only supported for the plain layout (A·B)');
  const cfg = matmulConfig(rt, { M, N, K, transA, transB });
  const tile = matmulTile(cfg);
  const SIGN_B = signB !== null;
  const ACCUMULATE = accumulate !== null;
  const params = { M, N, K, bScale: signB ?? 1, alpha: accumulate?.alpha ?? 1, beta: accumulate?.beta ?? 0 };
  const grid: [number, number] = [ceilDiv(N, tile.cols), ceilDiv(M, tile.rows)];
  if (cfg.variant !== 'tiled') {
    const kernel = await rt.kernel('matmul_lanes', { HAS_BIAS: bias !== null, SIGN_B, ACCUMULATE }, cfg.variant.slice('lanes_'.length));
    return rt.dispatch(kernel, { params, lhs: a, rhs: b, bias: bias ?? a, out: c }, grid);
  }
  const constants = { TRANS_A: transA, TRANS_B: transB, HAS_BIAS: bias !== null, SIGN_B, ACCUMULATE, ...matmulOverrides(cfg) };
  const kernel = await rt.kernel('matmul', constants);
  // An unused bias binding still needs a buffer; A's is as good as any.
  return rt.dispatch(kernel, { params, lhs: a, rhs: b, bias: bias ?? a, out: c }, grid);
}
