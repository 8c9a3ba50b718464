// Launchers for the conv2d family (PyTorch layouts: x N×C×H×W, w O×C×KH×KW):
//   forward      y  = conv(x, w) (+ bias, ·scale + shift, + residual, ReLU)   shaders/conv2d_forward.wgsl
//   feedback     dx = conv_transpose(dy, B), B shaped like w                   shaders/conv2d_feedback.wgsl
//                (or B = sign(W)·s read from W's buffer: sign symmetry)
//   weight grad  dW = Σ_{n,oy,ox} dy ⊗ x-patch, db = Σ_{n,oy,ox} dy            shaders/conv2d_weight_grad.wgsl
//                (or blended into a given dW: alpha·Σ + beta·dW, WM's mirror update)
// The forward can also write y's batchnorm statistics partials (`stats`,
// (mean, M2) per output channel and column tile, laid out as
// conv2dStatsLayout says), so that a training batchnorm after the conv merges
// them instead of reading y twice more (batchnormTrainForward's `stats`).
// The feedback reads B through its own binding; for backprop the caller
// passes W's tensor there (no copy). Launchers validate on the host, pick a
// tile configuration per shape and return dispatches (not run).
//
// All three kernels are one register-tiled GEMM core (RM×RN = 8×8 per thread
// as vec4s, WG_N threads per row, WG_M rows, TK) with gathering tile
// loaders. Every geometry choice (variant, WG_M, TK, row groups, split-K
// target) comes from src/kernels/tuning.ts (`convConfig`: the runtime's tuning
// table, else its defaults), which also sets the shaders' tile overrides,
// so nothing here copies a WGSL constant. The weight gradient may split
// its reduction (split-K) and then returns its scratch buffer as
// out.partials: it is bound by the dispatches, so keep it alive as long as
// they are (release it with the outputs).
//
// On CPU adapters with 8-lane subgroups all three take the lane-tiled
// shaders/conv2d_lanes.wgsl by default (conv2dVariant; same results, same
// outputs and split-K partials; `tiles` or the force-portable-conv switch
// keep the portable kernels).

import { ShapeError } from '../gpu/errors.ts';
import type { UniformValues } from '../gpu/kernel.ts';
import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { convConfig, convOverrides, convPortableDefault, convTile, type ConvConfig, type ConvShape } from './tuning.ts';
import { ceilDiv, checkAccumulate, checkSignScale, type Accumulate, expectDType, expectRank, expectShape, type Op } from './op.ts';

export interface Conv2dParams {
  /** One stride for both spatial axes, ≥ 1. */
  stride: number;
  /** Zero padding on every side, ≥ 0. */
  pad: number;
}

export type Shape4 = [number, number, number, number];

function checkInt(op: string, name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new ShapeError(`${op}(): ${name}=${v} must be an integer ≥ ${min}`);
  }
}

function checkShape4(op: string, name: string, shape: readonly number[]): void {
  if (shape.length !== 4) throw new ShapeError(`${op}(): ${name} has shape [${shape.join(', ')}], expected rank 4`);
  for (const [i, d] of shape.entries()) checkInt(op, `${name}.shape[${i}]`, d, 1);
}

/**
 * y's shape [N, O, OH, OW] for x [N, C, H, W] and w [O, C, KH, KW]; throws
 * ShapeError on a channel mismatch, a kernel larger than the padded input, or
 * a stride < 1 / pad < 0.
 */
export function conv2dOutputShape(
  xShape: readonly number[],
  wShape: readonly number[],
  stride: number,
  pad: number,
  op = 'conv2dOutputShape',
): Shape4 {
  checkShape4(op, 'x', xShape);
  checkShape4(op, 'w', wShape);
  checkInt(op, 'stride', stride, 1);
  checkInt(op, 'pad', pad, 0);
  const [n, c, h, w] = xShape;
  const [o, c2, kh, kw] = wShape;
  if (c2 !== c)
    throw new ShapeError(`${op}(): x has ${c} channels but w expects ${c2} (x [${xShape.join(', ')}], w [${wShape.join(', ')}])`);
  if (kh > h + 2 * pad || kw > w + 2 * pad) {
    throw new ShapeError(
      `${op}(): kernel ${kh}x${kw} is larger than the padded input ${h + 2 * pad}x${w + 2 * pad} (input ${h}x${w}, pad=${pad})`,
    );
  }
  return [n, o, Math.floor((h + 2 * pad - kh) / stride) + 1, Math.floor((w + 2 * pad - kw) / stride) + 1];
}

/** The kernels decode pixel and k indices with f32 reciprocals, exact below 2^24. */
function checkIndexRange(op: string, k: number, what: string): void {
  if (k >= 2 ** 24) throw new ShapeError(`${op}(): ${what}=${k} exceeds 2^24, the largest index the kernels decode exactly`);
}

function f32Tensor(op: string, name: string, t: Tensor, rank: number): void {
  expectRank(op, name, t, rank);
  expectDType(op, name, t, 'f32');
}

/** A forced tile configuration of the portable GEMM kernels (tests, benchmarks). */
export interface GemmTiles {
  /** Rows of 8 threads (4 or 8); each thread owns RM=8 rows × RN=8 columns. */
  WG_M: 4 | 8;
}

export type Conv2dVariant = 'lanes' | 'portable';

type ConvOp = 'conv2d.forward' | 'conv2d.feedback' | 'conv2d.weight_grad';

const convShape = (x: readonly number[], w: readonly number[], stride: number, pad: number): ConvShape => {
  const [N, C, H, W] = x;
  const [O, , KH, KW] = w;
  return { N, C, H, W, O, KH, KW, stride, pad };
};

/** The launcher's config (tuning.ts's convConfig); a forced `tiles` must name WG_M 4 or 8. */
function pickConfig<O extends ConvOp>(rt: Runtime, op: string, tunedOp: O, shape: ConvShape, forced: Partial<GemmTiles> | undefined) {
  if (forced !== undefined) {
    const t = { WG_M: convPortableDefault(0).WG_M, ...forced };
    if (t.WG_M !== 4 && t.WG_M !== 8) throw new ShapeError(`${op}(): tiles.WG_M=${t.WG_M} must be 4 or 8`);
  }
  return convConfig(rt, tunedOp, shape, forced);
}

/**
 * Which kernels the forward would take (the tuning table's choice, else: on
 * CPU adapters with 8-wide subgroups the lane-tiled shaders/conv2d_lanes.wgsl,
 * on every GPU the portable kernels). The force-portable-conv switch and a
 * forced tile configuration (`tiles`) ask for the portable kernels.
 * Without a shape it answers for a 64-channel 3×3 layer.
 */
export function conv2dVariant(rt: Runtime, tiles?: Partial<GemmTiles>, shape?: ConvShape): Conv2dVariant {
  const s = shape ?? { N: 1, C: 64, H: 8, W: 8, O: 64, KH: 3, KW: 3, stride: 1, pad: 1 };
  return convConfig(rt, 'conv2d.forward', s, tiles).variant;
}

interface LanesDims {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
}

/** What only some conv2d_lanes entries read (see its Params struct); neutral values by default. */
interface LanesEntryParams {
  cols: number;
  chunk: number;
  inv0: number;
  inv1: number;
  inv2: number;
  bScale: number;
  alpha: number;
  beta: number;
}

/** conv2d_lanes' uniform: one struct for all three entries, so each fills in what it reads. */
function lanesParams(d: LanesDims, entry: Partial<LanesEntryParams>): UniformValues {
  return { ...d, cols: 0, chunk: 0, inv0: 0, inv1: 0, inv2: 0, bScale: 1, alpha: 1, beta: 0, ...entry };
}

export interface Conv2dForwardArgs extends Conv2dParams {
  x: Tensor;
  w: Tensor;
  bias?: Tensor | null;
  /** Batchnorm apply: y = y·bnScale[o] + bnShift[o] (both or neither). */
  bnScale?: Tensor | null;
  bnShift?: Tensor | null;
  /** Added after bias/BN, before ReLU; shaped like y. */
  residual?: Tensor | null;
  relu?: boolean;
  y?: Tensor;
  /**
   * Also write batchnorm statistics partials of y: (mean, M2) per output
   * channel and block of `chunk` columns p = n·OH·OW + oy·OW + ox, shaped
   * [O, chunks, 2] as conv2dStatsLayout gives (batchnormTrainForward's `stats`).
   */
  stats?: Tensor;
  /** Forces a tile configuration (tests, benchmarks); chosen per shape otherwise. */
  tiles?: Partial<GemmTiles>;
}

export interface Conv2dStatsLayout {
  /** Columns (output pixels) per partial: one output tile's width. */
  chunk: number;
  /** ⌈N·OH·OW / chunk⌉ */
  chunks: number;
  shape: [number, number, 2];
}

/**
 * The statistics partials conv2dForward would write for these shapes: one per
 * (output channel, column tile), so chunk is the tile width of the config
 * conv2dForward picks (by default 32 lanes, 64 portable). Throws ShapeError as conv2dForward would.
 */
export function conv2dStatsLayout(
  rt: Runtime,
  xShape: readonly number[],
  wShape: readonly number[],
  stride: number,
  pad: number,
  tiles?: Partial<GemmTiles>,
): Conv2dStatsLayout {
  const [N, O, OH, OW] = conv2dOutputShape(xShape, wShape, stride, pad, 'conv2dStatsLayout');
  const chunk = convTile(pickConfig(rt, 'conv2dStatsLayout', 'conv2d.forward', convShape(xShape, wShape, stride, pad), tiles)).cols;
  const chunks = ceilDiv(N * OH * OW, chunk);
  return { chunk, chunks, shape: [O, chunks, 2] };
}

// A 4-float stand-in for the stats binding, which STATS = false never touches
// (a binding the entry names must be bound, and no buffer the dispatch reads can be).
const noStats = new WeakMap<Runtime, Tensor>();
function noStatsTensor(rt: Runtime): Tensor {
  let t = noStats.get(rt);
  if (!t) noStats.set(rt, (t = rt.empty([4], 'f32', 'conv2d.noStats')));
  return t;
}

/** y = act((conv(x, w) + bias)·bnScale + bnShift + residual), epilogue parts optional; with `stats`, y's batchnorm partials too. */
export async function conv2dForward(rt: Runtime, args: Conv2dForwardArgs): Promise<Op<{ y: Tensor; stats?: Tensor }>> {
  const op = 'conv2dForward';
  const { x, w, bias = null, bnScale = null, bnShift = null, residual = null, relu = false, stride, pad } = args;
  f32Tensor(op, 'x', x, 4);
  f32Tensor(op, 'w', w, 4);
  const yShape = conv2dOutputShape(x.shape, w.shape, stride, pad, op);
  const [N, C, H, W] = x.shape;
  const [O, , KH, KW] = w.shape;
  const [, , OH, OW] = yShape;
  if (bias) {
    f32Tensor(op, 'bias', bias, 1);
    expectShape(op, 'bias', bias, [O]);
  }
  if ((bnScale === null) !== (bnShift === null)) {
    throw new ShapeError(`${op}(): bnScale and bnShift go together (got only ${bnScale ? 'bnScale' : 'bnShift'})`);
  }
  if (bnScale && bnShift) {
    f32Tensor(op, 'bnScale', bnScale, 1);
    expectShape(op, 'bnScale', bnScale, [O]);
    f32Tensor(op, 'bnShift', bnShift, 1);
    expectShape(op, 'bnShift', bnShift, [O]);
  }
  if (residual) {
    f32Tensor(op, 'residual', residual, 4);
    expectShape(op, 'residual', residual, yShape);
  }
  if (args.y) {
    f32Tensor(op, 'y', args.y, 4);
    expectShape(op, 'y', args.y, yShape);
  }
  for (const [name, t] of Object.entries({ x, w, bias, bnScale, bnShift, residual })) {
    if (t && args.y && t.buffer === args.y.buffer)
      throw new ShapeError(`${op}(): y must not share a buffer with ${name} (no in-place conv)`);
  }
  const stats = args.stats ?? null;
  if (stats) {
    const layout = conv2dStatsLayout(rt, x.shape, w.shape, stride, pad, args.tiles);
    expectDType(op, 'stats', stats, 'f32');
    if (stats.shape.length !== 3 || stats.shape.some((d, i) => d !== layout.shape[i])) {
      throw new ShapeError(
        `${op}(): stats has shape [${stats.shape.join(', ')}], expected [${layout.shape.join(', ')}] ` +
          `(O=${O} channels × ⌈N·OH·OW/${layout.chunk}⌉ = ⌈${N * OH * OW}/${layout.chunk}⌉ column tiles × (mean, M2); see conv2dStatsLayout)`,
      );
    }
    for (const [name, t] of Object.entries({ y: args.y, x, w, bias, bnScale, bnShift, residual })) {
      if (t && t.buffer === stats.buffer) throw new ShapeError(`${op}(): stats must not share a buffer with ${name}`);
    }
  }
  checkIndexRange(op, C * KH * KW, 'C·KH·KW');
  checkIndexRange(op, N * OH * OW, 'N·OH·OW');
  const cfg = pickConfig(rt, op, 'conv2d.forward', convShape(x.shape, w.shape, stride, pad), args.tiles);
  const tile = convTile(cfg);
  const P = N * OH * OW;
  const y = args.y ?? rt.empty(yShape, 'f32', 'conv2d.y');
  const out = stats ? { y, stats } : { y };
  const statsBinding = stats ?? noStatsTensor(rt);
  const epilogue = {
    HAS_BIAS: bias !== null,
    HAS_BN: bnScale !== null,
    HAS_RESIDUAL: residual !== null,
    RELU: relu,
    STATS: stats !== null,
  };
  if (cfg.variant === 'lanes') {
    const kernel = await rt.kernel('conv2d_lanes', { ...epilogue, ...convOverrides(cfg), K3X3: KH === 3 && KW === 3 }, 'forward');
    const params = lanesParams({ N, C, H, W, O, OH, OW, KH, KW, stride, pad }, { cols: P, inv0: 1 / (OH * OW), inv1: 1 / OW });
    const bindings = {
      params,
      rhs: x,
      lhs: w,
      bias: bias ?? x,
      bn_scale: bnScale ?? x,
      bn_shift: bnShift ?? x,
      residual: residual ?? x,
      out: y,
      stats: statsBinding,
    };
    return { dispatches: [rt.dispatch(kernel, bindings, [ceilDiv(P, tile.cols), ceilDiv(O, tile.rows)])], out };
  }
  const kernel = await rt.kernel('conv2d_forward', { ...convOverrides(cfg), ...epilogue });
  // Unused epilogue bindings still need a buffer; x's is as good as any.
  const d = rt.dispatch(
    kernel,
    {
      params: {
        C,
        H,
        W,
        O,
        OH,
        OW,
        stride,
        pad,
        P,
        KH,
        KW,
        K: C * KH * KW,
        invKHW: 1 / (KH * KW),
        invKW: 1 / KW,
        invOHW: 1 / (OH * OW),
        invOW: 1 / OW,
      },
      x,
      w,
      bias: bias ?? x,
      bn_scale: bnScale ?? x,
      bn_shift: bnShift ?? x,
      residual: residual ?? x,
      y,
      stats: statsBinding,
    },
    [ceilDiv(P, tile.cols), ceilDiv(O, tile.rows)],
  );
  return { dispatches: [d], out };
}

export interface Conv2dFeedbackArgs extends Conv2dParams {
  dy: Tensor;
  /** The feedback tensor, shaped like W ([O, C, KH, KW]); W itself for backprop and sign symmetry. */
  feedback: Tensor;
  /** Sign symmetry: read feedback (W's buffer) as B = sign(W)·signScale, so no B is stored or derived. */
  signScale?: number | null;
  /** x's shape [N, C, H, W]: under stride > 1 several H, W give the same dy. */
  inputShape: readonly number[];
  dx?: Tensor;
  tiles?: Partial<GemmTiles>;
}

/** dx = the transposed convolution of dy with the feedback tensor. */
export async function conv2dFeedback(rt: Runtime, args: Conv2dFeedbackArgs): Promise<Op<{ dx: Tensor }>> {
  const op = 'conv2dFeedback';
  const { dy, feedback, inputShape, stride, pad, signScale = null } = args;
  checkSignScale(op, signScale);
  f32Tensor(op, 'dy', dy, 4);
  f32Tensor(op, 'feedback', feedback, 4);
  const yShape = conv2dOutputShape(inputShape, feedback.shape, stride, pad, op);
  expectShape(op, 'dy', dy, yShape);
  const [N, C, H, W] = inputShape;
  const [O, , KH, KW] = feedback.shape;
  const [, , OH, OW] = yShape;
  if (args.dx) {
    f32Tensor(op, 'dx', args.dx, 4);
    expectShape(op, 'dx', args.dx, inputShape);
  }
  const cfg = pickConfig(rt, op, 'conv2d.feedback', convShape(inputShape, feedback.shape, stride, pad), args.tiles);
  const tile = convTile(cfg);
  checkIndexRange(op, O * ceilDiv(KH, stride) * ceilDiv(KW, stride), 'O·⌈KH/S⌉·⌈KW/S⌉');
  checkIndexRange(op, N * ceilDiv(H, stride) * ceilDiv(W, stride), 'N·⌈H/S⌉·⌈W/S⌉');
  const dx = args.dx ?? rt.empty([...inputShape], 'f32', 'conv2d.dx');
  // The largest stride phase has ⌈H/S⌉·⌈W/S⌉ pixels per image; smaller ones exit early.
  const maxPhase = N * ceilDiv(H, stride) * ceilDiv(W, stride);
  if (cfg.variant === 'lanes') {
    const kernel = await rt.kernel('conv2d_lanes', { ...convOverrides(cfg), SIGN_B: signScale !== null }, 'feedback');
    const params = lanesParams({ N, C, H, W, O, OH, OW, KH, KW, stride, pad }, { bScale: signScale ?? 1 });
    const bindings = { params, rhs: dy, lhs: feedback, out: dx };
    const grid: [number, number, number] = [ceilDiv(maxPhase, tile.cols), ceilDiv(C, tile.rows), stride * stride];
    return { dispatches: [rt.dispatch(kernel, bindings, grid)], out: { dx } };
  }
  const kernel = await rt.kernel('conv2d_feedback', { ...convOverrides(cfg), SIGN_B: signScale !== null });
  const d = rt.dispatch(kernel, { params: { N, C, H, W, O, OH, OW, KH, KW, stride, pad, bScale: signScale ?? 1 }, dy, feedback, dx }, [
    ceilDiv(maxPhase, tile.cols),
    ceilDiv(C, tile.rows),
    stride * stride,
  ]);
  return { dispatches: [d], out: { dx } };
}

export interface Conv2dWeightGradArgs extends Conv2dParams {
  dy: Tensor;
  x: Tensor;
  /** Allocated when left out; its shape gives the kernel size. */
  dw?: Tensor;
  /** [KH, KW] when dw is left out (needed under stride > 1, where dy's size does not pin it down). */
  kernelSize?: readonly [number, number];
  /** Pass null to skip the bias gradient; allocated when left out. */
  db?: Tensor | null;
  tiles?: Partial<GemmTiles>;
  /**
   * Split-K control: the reduction over N·OH·OW is split until there are at
   * least `minWorkgroups` workgroups (the tuning config's: by default 16 on
   * CPU adapters, 256 on GPUs), each split keeping ≥ 64 pixels. `splits` forces a count (1: off).
   */
  splitK?: { minWorkgroups?: number; splits?: number };
  /** dW ← alpha·(Σ dy ⊗ x-patches) + beta·dW (dw given, db null): WM's mirror update in the product's epilogue. */
  accumulate?: Accumulate | null;
}

/** Pixels below which a split does not pay for its partial sums. */
const MIN_SPLIT_PIXELS = 64;

/**
 * Splits of the N·OH·OW reduction: enough workgroups to fill the adapter, none
 * under 64 pixels; each split a multiple of the kernel's TK pixels (the
 * portable kernel's default unless given).
 */
export function conv2dSplitK(
  tiles: number,
  P: number,
  minWorkgroups: number,
  forced?: number,
  TK = convPortableDefault(0).TK,
): { splits: number; chunk: number } {
  const maxSplits = Math.max(1, Math.floor(P / MIN_SPLIT_PIXELS));
  const want = forced ?? (tiles >= minWorkgroups ? 1 : Math.min(maxSplits, ceilDiv(minWorkgroups, tiles)));
  const chunk = ceilDiv(ceilDiv(P, Math.max(1, want)), TK) * TK;
  return { splits: ceilDiv(P, chunk), chunk };
}

/** dW's shape: from dw, else from kernelSize, else (stride 1 only) from dy's size. */
function weightShape(op: string, x: Tensor, dy: Tensor, args: Conv2dWeightGradArgs, stride: number, pad: number): Shape4 {
  if (args.dw) {
    f32Tensor(op, 'dw', args.dw, 4);
    return args.dw.shape as Shape4;
  }
  const [, C, H, W] = x.shape;
  const O = dy.shape[1];
  if (args.kernelSize) {
    const [kh, kw] = args.kernelSize;
    checkInt(op, 'kernelSize[0]', kh, 1);
    checkInt(op, 'kernelSize[1]', kw, 1);
    return [O, C, kh, kw];
  }
  if (stride !== 1) throw new ShapeError(`${op}(): under stride=${stride} pass dw or kernelSize: dy's size does not determine the kernel`);
  return [O, C, H + 2 * pad - dy.shape[2] + 1, W + 2 * pad - dy.shape[3] + 1];
}

/** dW = Σ dy ⊗ x-patches (and db = Σ dy unless db is null), summed over the batch. */
export async function conv2dWeightGrad(
  rt: Runtime,
  args: Conv2dWeightGradArgs,
): Promise<Op<{ dw: Tensor; db?: Tensor; partials?: Tensor }>> {
  const op = 'conv2dWeightGrad';
  const { dy, x, stride, pad, accumulate = null } = args;
  if (accumulate) checkAccumulate(op, accumulate, args.dw, args.db);
  f32Tensor(op, 'dy', dy, 4);
  f32Tensor(op, 'x', x, 4);
  const wShape = weightShape(op, x, dy, args, stride, pad);
  const yShape = conv2dOutputShape(x.shape, wShape, stride, pad, op);
  if (dy.shape[1] !== yShape[1]) throw new ShapeError(`${op}(): dy has ${dy.shape[1]} channels but dw has ${yShape[1]} output channels`);
  expectShape(op, 'dy', dy, yShape);
  const [N, C, H, W] = x.shape;
  const [O, , KH, KW] = wShape;
  const [, , OH, OW] = yShape;
  const K = C * KH * KW;
  const P = N * OH * OW;
  if (args.db) {
    f32Tensor(op, 'db', args.db, 1);
    expectShape(op, 'db', args.db, [O]);
  }
  for (const [name, t] of Object.entries({ dw: args.dw, db: args.db })) {
    if (t && (t.buffer === x.buffer || t.buffer === dy.buffer))
      throw new ShapeError(`${op}(): ${name} must not share a buffer with x or dy`);
  }
  checkIndexRange(op, K, 'C·KH·KW');
  checkIndexRange(op, P, 'N·OH·OW');
  const forced = args.splitK?.splits;
  if (forced !== undefined) checkInt(op, 'splitK.splits', forced, 1);
  const cfg = pickConfig(rt, op, 'conv2d.weight_grad', convShape(x.shape, wShape, stride, pad), args.tiles);
  const lanes = cfg.variant === 'lanes';
  const tile = convTile(cfg);
  const tiles = ceilDiv(K, tile.cols) * ceilDiv(O, tile.rows);
  const minWorkgroups = args.splitK?.minWorkgroups ?? cfg.minWorkgroups;
  const { splits, chunk } = conv2dSplitK(tiles, P, minWorkgroups, forced, lanes ? undefined : (cfg as ConvConfig & { TK: number }).TK);

  // With accumulate, whichever dispatch writes dW blends into it: the GEMM with one split, else the reduce.
  const blend = { alpha: accumulate?.alpha ?? 1, beta: accumulate?.beta ?? 0 };
  const ACCUMULATE = accumulate !== null;
  const kernel = lanes
    ? await rt.kernel('conv2d_lanes', { ...convOverrides(cfg), ACCUMULATE: ACCUMULATE && splits === 1 }, 'weight_grad')
    : await rt.kernel('conv2d_weight_grad', { ...convOverrides(cfg), ACCUMULATE: ACCUMULATE && splits === 1 }, 'main');
  const reduce = splits > 1 ? await rt.kernel('conv2d_weight_grad', { ACCUMULATE }, 'reduce_splits') : null;
  const biasKernel = args.db !== null ? await rt.kernel('conv2d_weight_grad', {}, 'bias_grad') : null;
  const dw = args.dw ?? rt.empty(wShape, 'f32', 'conv2d.dw');
  const partials = splits > 1 ? rt.empty([splits, O, K], 'f32', 'conv2d.dw_partials') : undefined;
  // The lanes kernel splits by image rows (n, oy), as many splits as the pixel count gives (empty ones write zeros).
  const rowChunk = ceilDiv(N * OH, splits);
  const dispatches: Dispatch[] = [
    lanes
      ? rt.dispatch(
          kernel,
          {
            params: lanesParams(
              { N, C, H, W, O, OH, OW, KH, KW, stride, pad },
              { cols: K, chunk: rowChunk, inv0: 1 / (KH * KW), inv1: 1 / KW, inv2: 1 / OH, ...blend },
            ),
            rhs: x,
            lhs: dy,
            out: partials ?? dw,
          },
          [ceilDiv(K, tile.cols), ceilDiv(O, tile.rows), splits],
        )
      : rt.dispatch(
          kernel,
          {
            params: {
              C,
              H,
              W,
              O,
              OH,
              OW,
              stride,
              pad,
              P,
              KH,
              KW,
              K,
              chunk,
              invKHW: 1 / (KH * KW),
              invKW: 1 / KW,
              invOHW: 1 / (OH * OW),
              invOW: 1 / OW,
              ...blend,
            },
            x,
            dy,
            out: partials ?? dw,
          },
          [ceilDiv(K, tile.cols), ceilDiv(O, tile.rows), splits],
        ),
  ];
  if (partials && reduce) {
    dispatches.push(rt.dispatch(reduce, { rparams: { count: O * K, splits, ...blend }, partial: partials, dw }, [ceilDiv(O * K, 64)]));
  }
  const out: { dw: Tensor; db?: Tensor; partials?: Tensor } = { dw };
  if (partials) out.partials = partials;
  if (biasKernel) {
    const db = args.db ?? rt.empty([O], 'f32', 'conv2d.db');
    dispatches.push(rt.dispatch(biasKernel, { bparams: { N, O, OHW: OH * OW }, dy, db }, [O]));
    out.db = db;
  }
  return { dispatches, out };
}
