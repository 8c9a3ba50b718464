// Launchers for the linear layer's three products, all on shaders/matmul.wgsl:
//   forward      y  = x·Wᵀ + b      x: M×K, W: N×K (PyTorch layout), y: M×N
//   feedback     δx = δy·B          δy: M×N, B: N×K (same shape as W), δx: M×K
//                (or B = sign(W)·s read from W's buffer: sign symmetry)
//   weight grad  ∇W = δyᵀ·x, ∇b = Σ_m δy
// The feedback product reads B through its own binding; for backprop the
// caller passes W's tensor there (no copy).

import { ShapeError } from '../gpu/errors.ts';
import type { Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { matmul } from './matmul.ts';
import { columnSum } from './reduce.ts';
import { checkAccumulate, checkSignScale, expectDType, expectRank, expectShape, type Accumulate, type Op } from './op.ts';

function dims2(op: string, name: string, t: Tensor): [number, number] {
  expectRank(op, name, t, 2);
  expectDType(op, name, t, 'f32');
  return [t.shape[0], t.shape[1]];
}

export interface LinearForwardArgs {
  x: Tensor;
  w: Tensor;
  b?: Tensor | null;
  y?: Tensor;
}

export async function linearForward(rt: Runtime, { x, w, b = null, y }: LinearForwardArgs): Promise<Op<{ y: Tensor }>> {
  const op = 'linearForward';
  const [M, K] = dims2(op, 'x', x);
  const [N, K2] = dims2(op, 'w', w);
  if (K2 !== K) throw new ShapeError(`${op}(): x is [${M}, ${K}] but w is [${N}, ${K2}]; w must be [out, ${K}]`);
  if (b) expectShape(op, 'b', b, [N]);
  y ??= rt.empty([M, N], 'f32', 'linear.y');
  expectShape(op, 'y', y, [M, N]);
  const d = await matmul(rt, { a: x, b: w, c: y, M, N, K, transB: true, bias: b });
  return { dispatches: [d], out: { y } };
}

export interface LinearFeedbackArgs {
  dy: Tensor;
  /** The feedback tensor, shaped like W ([out, in]); W itself for backprop and sign symmetry. */
  feedback: Tensor;
  /** Sign symmetry: read feedback (W's buffer) as B = sign(W)·signScale, so no B is stored or derived. */
  signScale?: number | null;
  dx?: Tensor;
}

export async function linearFeedback(rt: Runtime, { dy, feedback, signScale = null, dx }: LinearFeedbackArgs): Promise<Op<{ dx: Tensor }>> {
  const op = 'linearFeedback';
  const [M, N] = dims2(op, 'dy', dy);
  const [N2, K] = dims2(op, 'feedback', feedback);
  if (N2 !== N) throw new ShapeError(`${op}(): dy is [${M}, ${N}] but feedback is [${N2}, ${K}]; feedback must be [${N}, in]`);
  dx ??= rt.empty([M, K], 'f32', 'linear.dx');
  expectShape(op, 'dx', dx, [M, K]);
  checkSignScale(op, signScale);
  const d = await matmul(rt, { a: dy, b: feedback, c: dx, M, N: K, K: N, signB: signScale });
  return { dispatches: [d], out: { dx } };
}

export interface LinearWeightGradArgs {
  dy: Tensor;
  x: Tensor;
  dw?: Tensor;
  /** Pass null to skip the bias gradient. */
  db?: Tensor | null;
  /** dw ← alpha·δyᵀ·x + beta·dw (dw given, db null): WM's mirror update in the product's epilogue. */
  accumulate?: Accumulate | null;
}

export async function linearWeightGrad(
  rt: Runtime,
  { dy, x, dw, db, accumulate = null }: LinearWeightGradArgs,
): Promise<Op<{ dw: Tensor; db?: Tensor }>> {
  const op = 'linearWeightGrad';
  const [M, N] = dims2(op, 'dy', dy);
  const [M2, K] = dims2(op, 'x', x);
  if (M2 !== M) throw new ShapeError(`${op}(): dy is [${M}, ${N}] but x is [${M2}, ${K}]; both need ${M} rows`);
  if (accumulate) checkAccumulate(op, accumulate, dw, db);
  dw ??= rt.empty([N, K], 'f32', 'linear.dw');
  expectShape(op, 'dw', dw, [N, K]);
  const dispatches = [await matmul(rt, { a: dy, b: x, c: dw, M: N, N: K, K: M, transA: true, accumulate })];
  if (db === null) return { dispatches, out: { dw } };
  db ??= rt.empty([N], 'f32', 'linear.db');
  expectShape(op, 'db', db, [N]);
  dispatches.push(await columnSum(rt, { x: dy, rows: M, cols: N, out: db }));
  return { dispatches, out: { dw, db } };
}
