// Launcher for shaders/softmax_cross_entropy.wgsl: mean softmax cross-entropy
// over a batch, its gradient, and top-1/top-5 hit counts, all left on the GPU
// in a 5-float metrics buffer (decodeLossMetrics reads it) so the training
// loop can fetch them asynchronously every K steps.
//
// Targets are not checked here (the launcher cannot see GPU data): the
// dataset code validates labels on the host when it uploads them. A target
// outside [0, C) cannot make the kernel read out of range; it is counted in
// `invalidTargets` and adds nothing to the loss or the hits.

import { LimitError, ShapeError } from '../gpu/errors.ts';
import type { BindArgs } from '../gpu/kernel.ts';
import type { Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { expectDType, expectRank, expectShape, type Op } from './op.ts';

const WG = 64;
/** Length of the metrics buffer: Σ loss, top-1 hits, top-5 hits, samples, invalid targets. */
export const LOSS_METRICS = 5;

export interface LossMetrics {
  /** Mean loss: Σ loss / samples (a row with an invalid target adds 0). */
  loss: number;
  lossSum: number;
  top1Correct: number;
  top5Correct: number;
  samples: number;
  invalidTargets: number;
}

/** Reads a metrics buffer's five floats (e.g. from rt.readF32(op.out.metrics)). */
export function decodeLossMetrics(m: ArrayLike<number>): LossMetrics {
  if (m.length !== LOSS_METRICS) throw new ShapeError(`decodeLossMetrics(): ${m.length} values, expected ${LOSS_METRICS}`);
  return { loss: m[0] / m[3], lossSum: m[0], top1Correct: m[1], top5Correct: m[2], samples: m[3], invalidTargets: m[4] };
}

export interface SoftmaxCrossEntropyArgs {
  /** [N, C] f32. */
  logits: Tensor;
  /** [N] i32 class indices. */
  targets: Tensor;
  /** [N, C]; allocated if not given; null for a forward-only (evaluation) op. */
  dlogits?: Tensor | null;
  /** [N, 4] per-row (loss, top1, top5, invalid) scratch; allocated if not given. */
  rows?: Tensor;
  /** [LOSS_METRICS]; allocated if not given. */
  metrics?: Tensor;
  /** Multiplies dlogits (loss scaling); default 1. */
  gradScale?: number;
  /** Add to metrics instead of overwriting them (a window of steps); default false. */
  accumulate?: boolean;
}

export interface LossOp extends Op<{ dlogits?: Tensor; rows: Tensor; metrics: Tensor }> {
  /** Rewrites the uniforms of both dispatches, e.g. accumulate=false on the first step of a window. */
  set(values: { gradScale?: number; accumulate?: boolean }): void;
}

export async function softmaxCrossEntropy(
  rt: Runtime,
  { logits, targets, dlogits, rows, metrics, gradScale = 1, accumulate = false }: SoftmaxCrossEntropyArgs,
): Promise<LossOp> {
  const op = 'softmaxCrossEntropy';
  expectRank(op, 'logits', logits, 2);
  expectDType(op, 'logits', logits, 'f32');
  const [N, C] = logits.shape;
  expectRank(op, 'targets', targets, 1);
  expectDType(op, 'targets', targets, 'i32');
  if (targets.shape[0] !== N) throw new ShapeError(`${op}(): targets has ${targets.shape[0]} entries but logits has ${N} rows`);
  if (!Number.isFinite(gradScale)) throw new ShapeError(`${op}(): gradScale=${gradScale} must be finite`);
  const maxRows = rt.ctx.limits.maxComputeWorkgroupsPerDimension;
  if (N > maxRows) throw new LimitError(`${op}(): N=${N} rows exceeds maxComputeWorkgroupsPerDimension ${maxRows} (one workgroup per row)`);
  if (dlogits !== null) {
    dlogits ??= rt.empty([N, C], 'f32', 'loss.dlogits');
    expectShape(op, 'dlogits', dlogits, [N, C]);
    expectDType(op, 'dlogits', dlogits, 'f32');
  }
  rows ??= rt.empty([N, 4], 'f32', 'loss.rows');
  expectShape(op, 'rows', rows, [N, 4]);
  expectDType(op, 'rows', rows, 'f32');
  metrics ??= rt.empty([LOSS_METRICS], 'f32', 'loss.metrics');
  expectShape(op, 'metrics', metrics, [LOSS_METRICS]);
  expectDType(op, 'metrics', metrics, 'f32');

  let cur = { gradScale, accumulate };
  const uniforms = () => ({ N, C, gradScale: cur.gradScale, accumulate: Number(cur.accumulate) });
  const rowKernel = await rt.kernel('softmax_cross_entropy', { WG }, dlogits ? 'forward_backward' : 'forward');
  const reduceKernel = await rt.kernel('softmax_cross_entropy', { WG }, 'reduce_metrics');
  const rowArgs: BindArgs = { params: uniforms(), logits, targets, rows };
  if (dlogits) rowArgs.dlogits = dlogits;
  const dispatches = [rt.dispatch(rowKernel, rowArgs, [N]), rt.dispatch(reduceKernel, { params: uniforms(), rowsIn: rows, metrics }, [1])];
  return {
    dispatches,
    out: dlogits ? { dlogits, rows, metrics } : { rows, metrics },
    set(values) {
      const next = { ...cur, ...values };
      if (!Number.isFinite(next.gradScale)) throw new ShapeError(`${op}(): gradScale=${next.gradScale} must be finite`);
      cur = next;
      for (const d of dispatches) d.setUniform('params', uniforms());
    },
  };
}
