// Launchers for shaders/batchnorm.wgsl: 2-D batch normalisation (NCHW, per
// channel over N, H, W) with PyTorch's conventions, and its fusions with a
// residual add and a ReLU: y = relu(bn(x) + residual).
//
//   batchnormTrainForward  batch statistics → mean, invStd (saved for backward),
//                          running stats updated in place; then the apply.
//   batchnormEvalForward   the apply with the running statistics.
//   batchnormScaleShift    per-channel scale/shift for a conv epilogue.
//   batchnormBackward      dx, dγ, dβ through the batch statistics; with the
//                          fused ReLU's output y, dy is masked by y > 0 first,
//                          and that masked dy is also the residual's gradient.
//
// Reductions run one workgroup per channel up to maxChunk values per channel,
// and split into chunks merged by a second dispatch (also one workgroup per
// channel) beyond that. maxChunk and the workgroup sizes (WG, EW, PER_THREAD,
// all override constants) come from src/kernels/tuning.ts (the runtime's
// tuning table, else its defaults). A training forward after a conv can take the conv's
// statistics partials (`stats`, written by conv2dForward's epilogue) and then
// runs only that merge and the apply, so x is read once instead of three
// times. Some ops also return workspace tensors (`partials`, `coef`): they are
// bound by the dispatches, so keep them alive as long as the dispatches
// (release them with the outputs).

import { ShapeError } from '../gpu/errors.ts';
import type { BindArgs } from '../gpu/kernel.ts';
import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { expectSameShape, planeGrid } from './elementwise.ts';
import { ceilDiv, expectDType, expectRank, expectShape, type Op } from './op.ts';
import { tuningOf, type BatchnormConfig } from './tuning.ts';

/** The tuning config for x's shape. */
function configFor(rt: Runtime, d: Dims): BatchnormConfig {
  return tuningOf(rt).config('batchnorm', { N: d.N, C: d.C, HW: d.hw });
}

interface Dims {
  N: number;
  C: number;
  hw: number;
  m: number;
}

function dimsOf(op: string, x: Tensor): Dims {
  expectRank(op, 'x', x, 4);
  expectDType(op, 'x', x, 'f32');
  const [N, C, H, W] = x.shape;
  return { N, C, hw: H * W, m: N * H * W };
}

function perChannel(op: string, C: number, tensors: Record<string, Tensor | null | undefined>): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (!t) continue;
    expectShape(op, name, t, [C]);
    expectDType(op, name, t, 'f32');
  }
}

function likeX(op: string, x: Tensor, tensors: Record<string, Tensor | null | undefined>): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (!t) continue;
    expectDType(op, name, t, 'f32');
    expectSameShape(op, name, t, x, 'x');
  }
}

function checkScalar(op: string, name: string, v: number, lo: number, hi: number): void {
  if (!(Number.isFinite(v) && v >= lo && v <= hi)) throw new ShapeError(`${op}(): ${name}=${v} must be in [${lo}, ${hi}]`);
}

/** How a channel's m values split over reduction workgroups. */
function chunking(op: string, m: number, maxChunk: number, chunk?: number): { chunk: number; chunks: number } {
  if (chunk !== undefined) {
    if (!Number.isInteger(chunk) || chunk < 1) throw new ShapeError(`${op}(): chunk=${chunk} must be a positive integer`);
    chunk = Math.min(chunk, m);
  } else {
    // Balanced chunks of at most maxChunk values.
    chunk = ceilDiv(m, ceilDiv(m, maxChunk));
  }
  return { chunk, chunks: ceilDiv(m, chunk) };
}

/** Given partials must match x ([C, ⌈m/chunk⌉, 2] f32) and share no buffer with a tensor the forward writes. */
function checkGivenStats(
  op: string,
  x: Tensor,
  C: number,
  m: number,
  s: { partials: Tensor; chunk: number },
  chunk: number | undefined,
  written: Record<string, Tensor | null | undefined>,
): void {
  if (chunk !== undefined) throw new ShapeError(`${op}(): give chunk or stats, not both (stats come with their own chunk)`);
  if (!Number.isInteger(s.chunk) || s.chunk < 1) throw new ShapeError(`${op}(): stats.chunk=${s.chunk} must be a positive integer`);
  expectDType(op, 'stats.partials', s.partials, 'f32');
  const want = [C, ceilDiv(m, s.chunk), 2];
  const got = s.partials.shape;
  if (got.length !== 3 || got.some((d, i) => d !== want[i])) {
    throw new ShapeError(
      `${op}(): stats.partials has shape [${got.join(', ')}], expected [${want.join(', ')}] ` +
        `(C=${C} channels × ⌈N·H·W/chunk⌉ = ⌈${m}/${s.chunk}⌉ chunks × (mean, M2), for x [${x.shape.join(', ')}])`,
    );
  }
  for (const [name, t] of Object.entries(written)) {
    if (t && t.buffer === s.partials.buffer) throw new ShapeError(`${op}(): stats.partials must not share a buffer with ${name}`);
  }
}

interface ApplyArgs {
  dims: Dims;
  x: Tensor;
  center: Tensor;
  spread: Tensor;
  fromVar: boolean;
  gamma: Tensor;
  beta: Tensor;
  residual: Tensor | null;
  relu: boolean;
  eps: number;
  y: Tensor;
}

async function applyDispatch(rt: Runtime, a: ApplyArgs): Promise<Dispatch> {
  const { N, C, hw } = a.dims;
  const { EW, PER_THREAD } = configFor(rt, a.dims);
  // Planes of a multiple of 4 take the vec4 entry (bindings x4, residual4, y4).
  const vec4 = hw % 4 === 0;
  const constants = { EW, PER_THREAD, FROM_VAR: a.fromVar, RELU: a.relu, RESIDUAL: a.residual !== null };
  const kernel = await rt.kernel('batchnorm', constants, vec4 ? 'apply4' : 'apply');
  const v = vec4 ? '4' : '';
  // An unused residual binding still needs a buffer; x's is as good as any.
  return rt.dispatch(
    kernel,
    {
      pp: { C, hw, eps: a.eps },
      [`x${v}`]: a.x,
      center: a.center,
      spread: a.spread,
      gamma: a.gamma,
      beta: a.beta,
      [`residual${v}`]: a.residual ?? a.x,
      [`y${v}`]: a.y,
    },
    planeGrid(N, C, vec4 ? hw / 4 : hw, vec4 ? EW : EW * PER_THREAD),
  );
}

export interface BatchnormTrainForwardArgs {
  x: Tensor;
  gamma: Tensor;
  beta: Tensor;
  /** Updated in place; both null (or left out) to leave running statistics alone. */
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  eps?: number;
  momentum?: number;
  /** y = relu(bn(x) + residual). */
  relu?: boolean;
  residual?: Tensor | null;
  y?: Tensor;
  mean?: Tensor;
  invStd?: Tensor;
  /** Values per reduction workgroup (default: a whole channel up to 4096 values). */
  chunk?: number;
  /**
   * x's statistics as (mean, M2) partials [C, ⌈N·H·W/chunk⌉, 2] over chunks
   * of `chunk` values, as a conv forward with `stats` writes them
   * (conv2dStatsLayout): only the merge runs, no pass over x. The caller
   * keeps ownership (they are not returned).
   */
  stats?: { partials: Tensor; chunk: number };
}

export async function batchnormTrainForward(
  rt: Runtime,
  args: BatchnormTrainForwardArgs,
): Promise<Op<{ y: Tensor; mean: Tensor; invStd: Tensor; partials?: Tensor }>> {
  const op = 'batchnormTrainForward';
  const { x, gamma, beta, runningMean = null, runningVar = null, eps = 1e-5, momentum = 0.1, relu = false, residual = null } = args;
  const dims = dimsOf(op, x);
  const { C, hw, m } = dims;
  perChannel(op, C, { gamma, beta, runningMean, runningVar, mean: args.mean, invStd: args.invStd });
  likeX(op, x, { residual, y: args.y });
  if ((runningMean === null) !== (runningVar === null)) throw new ShapeError(`${op}(): give both runningMean and runningVar, or neither`);
  // As PyTorch: the unbiased variance needs two values.
  if (m < 2) throw new ShapeError(`${op}(): N·H·W=${m} (x [${x.shape.join(', ')}]); training needs at least 2 values per channel`);
  checkScalar(op, 'eps', eps, 0, Infinity);
  checkScalar(op, 'momentum', momentum, 0, 1);
  const given = args.stats ?? null;
  if (given) checkGivenStats(op, x, C, m, given, args.chunk, { y: args.y, mean: args.mean, invStd: args.invStd, runningMean, runningVar });
  const { WG, maxChunk } = configFor(rt, dims);
  const { chunk, chunks } = given ? { chunk: given.chunk, chunks: given.partials.shape[1] } : chunking(op, m, maxChunk, args.chunk);

  const frozen = runningMean === null ? '_frozen' : '';
  const entries = given ? [`stats_merge${frozen}`] : chunks === 1 ? [`stats${frozen}`] : ['stats_partial', `stats_merge${frozen}`];
  const statsKernels = await Promise.all(entries.map((e) => rt.kernel('batchnorm', { WG }, e)));

  const y = args.y ?? rt.empty(x.shape, 'f32', 'bn.y');
  const mean = args.mean ?? rt.empty([C], 'f32', 'bn.mean');
  const invStd = args.invStd ?? rt.empty([C], 'f32', 'bn.invStd');
  const rp = { C, hw, m, chunk, chunks, eps, momentum };
  const running: BindArgs = runningMean && runningVar ? { running_mean: runningMean, running_var: runningVar } : {};
  const dispatches: Dispatch[] = [];
  let partials: Tensor | undefined;
  if (given) {
    dispatches.push(rt.dispatch(statsKernels[0], { rp, partial_in: given.partials, mean, inv_std: invStd, ...running }, [1, C]));
  } else if (chunks === 1) {
    dispatches.push(rt.dispatch(statsKernels[0], { rp, x, mean, inv_std: invStd, ...running }, [1, C]));
  } else {
    partials = rt.empty([C, chunks, 2], 'f32', 'bn.partials');
    const [kp, km] = statsKernels;
    dispatches.push(rt.dispatch(kp, { rp, x, partial: partials }, [chunks, C]));
    dispatches.push(rt.dispatch(km, { rp, partial_in: partials, mean, inv_std: invStd, ...running }, [1, C]));
  }
  dispatches.push(
    await applyDispatch(rt, {
      dims,
      x,
      center: mean,
      spread: invStd,
      fromVar: false,
      gamma,
      beta,
      residual,
      relu,
      eps,
      y,
    }),
  );
  return { dispatches, out: partials ? { y, mean, invStd, partials } : { y, mean, invStd } };
}

export interface BatchnormEvalForwardArgs {
  x: Tensor;
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  eps?: number;
  relu?: boolean;
  residual?: Tensor | null;
  y?: Tensor;
}

/** y = relu(γ·(x − running_mean)/sqrt(running_var + eps) + β + residual). */
export async function batchnormEvalForward(rt: Runtime, args: BatchnormEvalForwardArgs): Promise<Op<{ y: Tensor }>> {
  const op = 'batchnormEvalForward';
  const { x, gamma, beta, runningMean, runningVar, eps = 1e-5, relu = false, residual = null } = args;
  const dims = dimsOf(op, x);
  perChannel(op, dims.C, { gamma, beta, runningMean, runningVar });
  likeX(op, x, { residual, y: args.y });
  checkScalar(op, 'eps', eps, 0, Infinity);
  const y = args.y ?? rt.empty(x.shape, 'f32', 'bn.y');
  const d = await applyDispatch(rt, {
    dims,
    x,
    center: runningMean,
    spread: runningVar,
    fromVar: true,
    gamma,
    beta,
    residual,
    relu,
    eps,
    y,
  });
  return { dispatches: [d], out: { y } };
}

export interface BatchnormScaleShiftArgs {
  /** Batch mean, or running mean with `variance`. */
  mean: Tensor;
  /** 1/sqrt(var + eps) from batchnormTrainForward; or give `variance` instead. */
  invStd?: Tensor;
  variance?: Tensor;
  eps?: number;
  gamma: Tensor;
  beta: Tensor;
  scale?: Tensor;
  shift?: Tensor;
}

/** scale = γ·invStd, shift = β − mean·scale, so that bn(x) = x·scale + shift. */
export async function batchnormScaleShift(rt: Runtime, args: BatchnormScaleShiftArgs): Promise<Op<{ scale: Tensor; shift: Tensor }>> {
  const op = 'batchnormScaleShift';
  const { mean, invStd, variance, eps = 1e-5, gamma, beta } = args;
  if ((invStd === undefined) === (variance === undefined)) throw new ShapeError(`${op}(): give exactly one of invStd and variance`);
  expectRank(op, 'mean', mean, 1);
  const C = mean.shape[0];
  perChannel(op, C, { mean, invStd, variance, gamma, beta, scale: args.scale, shift: args.shift });
  checkScalar(op, 'eps', eps, 0, Infinity);
  const scale = args.scale ?? rt.empty([C], 'f32', 'bn.scale');
  const shift = args.shift ?? rt.empty([C], 'f32', 'bn.shift');
  const { EW } = configFor(rt, { N: 1, C, hw: 1, m: 1 });
  const kernel = await rt.kernel('batchnorm', { EW, FROM_VAR: variance !== undefined }, 'scale_shift');
  const spread = (invStd ?? variance)!;
  const d = rt.dispatch(kernel, { pp: { C, hw: 1, eps }, center: mean, spread, gamma, beta, scale, shift }, [ceilDiv(C, EW)]);
  return { dispatches: [d], out: { scale, shift } };
}

export interface BatchnormBackwardArgs {
  dy: Tensor;
  /** The forward input and the saved statistics of batchnormTrainForward. */
  x: Tensor;
  gamma: Tensor;
  mean: Tensor;
  invStd: Tensor;
  /** The output of a forward with relu: true. Masks dy by y > 0. */
  y?: Tensor | null;
  /**
   * Also return the gradient of the residual added before the ReLU: the masked
   * dy (written to `dresidual`). Without y that is dy itself, returned as is.
   */
  residualGrad?: boolean;
  dx?: Tensor;
  dgamma?: Tensor;
  dbeta?: Tensor;
  dresidual?: Tensor;
  /** Values per reduction workgroup, as in batchnormTrainForward. */
  chunk?: number;
}

export async function batchnormBackward(
  rt: Runtime,
  args: BatchnormBackwardArgs,
): Promise<Op<{ dx: Tensor; dgamma: Tensor; dbeta: Tensor; dresidual?: Tensor; partials: Tensor; coef: Tensor }>> {
  const op = 'batchnormBackward';
  const { dy, x, gamma, mean, invStd, y = null, residualGrad = false } = args;
  const dims = dimsOf(op, x);
  const { N, C, hw, m } = dims;
  perChannel(op, C, { gamma, mean, invStd, dgamma: args.dgamma, dbeta: args.dbeta });
  likeX(op, x, { dy, y, dx: args.dx, dresidual: args.dresidual });
  if (args.dresidual && !residualGrad) throw new ShapeError(`${op}(): dresidual given but residualGrad is false`);
  if (args.dresidual && !y) throw new ShapeError(`${op}(): dresidual given without y; the residual's gradient is dy itself`);
  const { WG, EW, PER_THREAD, maxChunk } = configFor(rt, dims);
  const { chunk, chunks } = chunking(op, m, maxChunk, args.chunk);

  const relu = y !== null;
  const writeRes = residualGrad && relu;
  const kr = await rt.kernel('batchnorm', { WG, RELU: relu }, 'grad_reduce');
  const km = await rt.kernel('batchnorm', { WG }, 'grad_merge');
  // Planes of a multiple of 4 take the vec4 entries (bindings dy4, y_fwd4, x4, dx4, dresidual4).
  const vec4 = hw % 4 === 0;
  const v = vec4 ? '4' : '';
  const ki = await rt.kernel('batchnorm', { EW, PER_THREAD, RELU: relu }, `${writeRes ? 'grad_input_dres' : 'grad_input'}${v}`);

  const dx = args.dx ?? rt.empty(x.shape, 'f32', 'bn.dx');
  const dgamma = args.dgamma ?? rt.empty([C], 'f32', 'bn.dgamma');
  const dbeta = args.dbeta ?? rt.empty([C], 'f32', 'bn.dbeta');
  const partials = rt.empty([C, chunks, 2], 'f32', 'bn.partials');
  const coef = rt.empty([C, 4], 'f32', 'bn.coef');
  const dresidual = writeRes ? (args.dresidual ?? rt.empty(x.shape, 'f32', 'bn.dresidual')) : residualGrad ? dy : undefined;
  const rp = { C, hw, m, chunk, chunks, eps: 0, momentum: 0 };
  // Without the ReLU the mask binding is unused; dy's buffer fills it.
  const yFwd = y ?? dy;
  const dispatches = [
    rt.dispatch(kr, { rp, dy, y_fwd: yFwd, x, center: mean, partial: partials }, [chunks, C]),
    rt.dispatch(km, { rp, partial_in: partials, center: mean, spread: invStd, gamma, dgamma, dbeta, coef }, [ceilDiv(C, WG)]),
    rt.dispatch(
      ki,
      {
        pp: { C, hw, eps: 0 },
        [`dy${v}`]: dy,
        [`y_fwd${v}`]: yFwd,
        [`x${v}`]: x,
        coef_in: coef,
        [`dx${v}`]: dx,
        ...(writeRes ? { [`dresidual${v}`]: dresidual! } : {}),
      },
      planeGrid(N, C, vec4 ? hw / 4 : hw, vec4 ? EW : EW * PER_THREAD),
    ),
  ];
  const out = { dx, dgamma, dbeta, partials, coef };
  return { dispatches, out: dresidual ? { ...out, dresidual } : out };
}
