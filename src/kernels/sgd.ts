// Launchers for shaders/sgd.wgsl: one SGD step (PyTorch semantics) over a flat
// parameter arena, and the Kolen–Pollack step that updates W and B together;
// plus the arena layout helpers (planArena, segment tables) that the rule and
// alignment kernels share.
//
// An arena is one f32 tensor holding many parameters at 64-element (256-byte)
// aligned offsets, so each parameter is an rt.view() of it and one dispatch
// covers them all. Padding between parameters is zero and stays zero under
// every kernel here (0 − lr·(0 + wd·0) = 0, sign(0) = 0, ...).

import { ShapeError } from '../gpu/errors.ts';
import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ceilDiv, expectDType, type Op } from './op.ts';

const WG = 256;
/** Grid-stride loops: at most this many workgroups per dispatch. */
const MAX_GROUPS = 1024;

// ---- arena layout

/** A run of elements [offset, offset + length) inside an arena. */
export interface Segment {
  offset: number;
  length: number;
}

export interface ArenaLayout {
  /** Where each parameter starts, in elements (multiples of alignElems). */
  offsets: number[];
  /** Each parameter's run, in the order given. */
  segments: Segment[];
  /** Arena length in elements: the end of the last parameter, rounded up to alignElems. */
  total: number;
}

/**
 * Packs parameters of the given element counts into one arena. With the
 * default alignElems = 64 every offset is 256 bytes, the largest
 * minStorageBufferOffsetAlignment WebGPU allows, so rt.view() works on any
 * adapter; alignElems must be a multiple of 4 (vec4 kernels).
 */
export function planArena(sizes: readonly number[], alignElems = 64): ArenaLayout {
  if (!Number.isInteger(alignElems) || alignElems < 4 || alignElems % 4 !== 0) {
    throw new ShapeError(`planArena(): alignElems=${alignElems} must be a positive multiple of 4`);
  }
  const offsets: number[] = [];
  const segments: Segment[] = [];
  let at = 0;
  for (const [i, n] of sizes.entries()) {
    if (!Number.isInteger(n) || n < 1) throw new ShapeError(`planArena(): sizes[${i}]=${n} must be a positive integer`);
    offsets.push(at);
    segments.push({ offset: at, length: n });
    at += ceilDiv(n, alignElems) * alignElems;
  }
  return { offsets, segments, total: Math.max(at, alignElems) };
}

/** A GPU copy of a segment list: u32 (offset, length) pairs, shape [S, 2]. */
export interface SegmentTable {
  readonly tensor: Tensor;
  readonly segments: readonly Segment[];
  /** The longest segment, which sizes the kernels' grids. */
  readonly maxLength: number;
}

/** Uploads a segment list once; kernels that take `segments` bind it as it is. */
export function createSegmentTable(rt: Runtime, segments: readonly Segment[], label = 'segments'): SegmentTable {
  if (segments.length === 0) throw new ShapeError(`createSegmentTable(): no segments`);
  const data = new Uint32Array(segments.length * 2);
  let maxLength = 0;
  for (const [i, s] of segments.entries()) {
    if (!Number.isInteger(s.offset) || s.offset < 0 || !Number.isInteger(s.length) || s.length < 1 || s.offset + s.length > 2 ** 32 - 1) {
      throw new ShapeError(
        `createSegmentTable(): segments[${i}]={offset: ${s.offset}, length: ${s.length}} needs an integer offset ≥ 0 and length ≥ 1`,
      );
    }
    data[2 * i] = s.offset;
    data[2 * i + 1] = s.length;
    maxLength = Math.max(maxLength, s.length);
  }
  return { tensor: rt.upload(data, [segments.length, 2], 'u32', label), segments: [...segments], maxLength };
}

/** Throws unless every segment of `table` lies inside a tensor of `size` elements. */
export function checkSegmentsFit(op: string, name: string, table: SegmentTable, t: Tensor): void {
  for (const [i, s] of table.segments.entries()) {
    if (s.offset + s.length > t.size) {
      throw new ShapeError(`${op}(): segments[${i}]=[${s.offset}, ${s.offset + s.length}) exceeds ${name} (${t.size} elements)`);
    }
  }
}

// ---- SGD

/** torch.optim.SGD hyper-parameters for one step; all of them are uniforms. */
export interface SgdHyper {
  lr: number;
  momentum: number;
  /** Default 0. */
  dampening?: number;
  weightDecay: number;
  nesterov: boolean;
  /** True on the first step: buf = d, undampened (PyTorch's lazily created buffer). */
  firstStep: boolean;
}

/** An optimizer op whose hyper-parameters can be rewritten between replays. */
export interface HyperOp<Out extends Record<string, Tensor>> extends Op<Out> {
  /** Rewrites every dispatch's uniforms (no allocation, no recompile). */
  setHyper(h: SgdHyper): void;
}

function checkHyper(op: string, h: SgdHyper, hasBuf: boolean): void {
  const dampening = h.dampening ?? 0;
  for (const [k, v] of Object.entries({ lr: h.lr, momentum: h.momentum, dampening, weightDecay: h.weightDecay })) {
    if (!Number.isFinite(v)) throw new ShapeError(`${op}(): ${k}=${v} must be finite`);
  }
  if (h.momentum < 0) throw new ShapeError(`${op}(): momentum=${h.momentum} must be ≥ 0`);
  if (h.weightDecay < 0) throw new ShapeError(`${op}(): weightDecay=${h.weightDecay} must be ≥ 0`);
  if (h.nesterov && (h.momentum <= 0 || dampening !== 0)) {
    throw new ShapeError(`${op}(): nesterov needs momentum > 0 and dampening = 0 (momentum=${h.momentum}, dampening=${dampening})`);
  }
  if (h.momentum !== 0 && !hasBuf) {
    throw new ShapeError(`${op}(): momentum=${h.momentum} needs momentum buffers, but the op was built without them`);
  }
}

/** A run of the arena that shares one weight-decay setting, in elements. */
interface Run {
  start: number;
  end: number;
  decay: boolean;
}

/**
 * Splits [0, n) into runs with and without weight decay. Runs start on a
 * multiple of 4 and their ends are rounded up to one: the up-to-3 elements
 * added are the segment's arena padding (zero, and zero whatever the decay).
 */
function decayRuns(op: string, n: number, noDecay: readonly Segment[]): Run[] {
  const sorted = [...noDecay].sort((a, b) => a.offset - b.offset);
  const runs: Run[] = [];
  let at = 0;
  for (const [i, s] of sorted.entries()) {
    if (!Number.isInteger(s.offset) || !Number.isInteger(s.length) || s.offset < at || s.length < 1 || s.offset + s.length > n) {
      throw new ShapeError(
        `${op}(): noDecay[${i}]={offset: ${s.offset}, length: ${s.length}} must be a non-overlapping run inside [0, ${n})`,
      );
    }
    if (s.offset % 4 !== 0) {
      throw new ShapeError(`${op}(): noDecay[${i}] starts at ${s.offset}, not a multiple of 4 (planArena offsets are)`);
    }
    // The run ends in the segment's padding, so it is rounded up to whole vec4s.
    const end = Math.min(Math.ceil((s.offset + s.length) / 4) * 4, n);
    if (s.offset > at) runs.push({ start: at, end: s.offset, decay: true });
    runs.push({ start: s.offset, end, decay: false });
    at = end;
  }
  if (at < n) runs.push({ start: at, end: n, decay: true });
  return runs;
}

interface Slice {
  entry: 'vec4' | 'scalar';
  start: number;
  count: number;
  decay: boolean;
}

/** vec4 body of each run, plus a scalar tail for the last < 4 elements of the arena. */
function slices(runs: readonly Run[]): Slice[] {
  const out: Slice[] = [];
  for (const r of runs) {
    const body = Math.floor(r.end / 4) - r.start / 4;
    if (body > 0) out.push({ entry: 'vec4', start: r.start / 4, count: body, decay: r.decay });
    if (r.end % 4 !== 0) out.push({ entry: 'scalar', start: r.end - (r.end % 4), count: r.end % 4, decay: r.decay });
  }
  return out;
}

function uniforms(s: Slice, h: SgdHyper) {
  return {
    start: s.start,
    count: s.count,
    lr: h.lr,
    momentum: h.momentum,
    dampening: h.dampening ?? 0,
    weightDecay: s.decay ? h.weightDecay : 0,
    nesterov: Number(h.nesterov),
    firstStep: Number(h.firstStep),
  };
}

/** Scalar tails: a grid-stride loop over at most MAX_GROUPS workgroups. */
const strideGrid = (count: number): [number] => [Math.min(ceilDiv(count, WG), MAX_GROUPS)];

/** vec4 bodies: one vec4 per thread, rows of up to 65535 workgroups (WebGPU's per-dimension limit). */
function vec4Grid(count: number): [number, number] {
  const groups = Math.max(1, ceilDiv(count, WG));
  const x = Math.min(groups, 65535);
  return [x, ceilDiv(groups, x)];
}

const grid = (s: Slice) => (s.entry === 'vec4' ? vec4Grid(s.count) : strideGrid(s.count));

// A 4-float stand-in for a momentum binding that momentum = 0 never touches;
// two per runtime because KP binds two of them in one dispatch.
const dummies = new WeakMap<Runtime, Tensor[]>();
function dummy(rt: Runtime, i: number): Tensor {
  let d = dummies.get(rt);
  if (!d) dummies.set(rt, (d = [rt.empty([4], 'f32', 'sgd.noMomentum0'), rt.empty([4], 'f32', 'sgd.noMomentum1')]));
  return d[i];
}

function checkArena(op: string, name: string, t: Tensor, n: number): void {
  expectDType(op, name, t, 'f32');
  if (t.size !== n)
    throw new ShapeError(`${op}(): ${name} has ${t.size} elements but the parameters have ${n}; the arenas must share one layout`);
}

function checkDistinct(op: string, tensors: Record<string, Tensor | undefined>): void {
  const seen = new Map<GPUBuffer, string>();
  for (const [name, t] of Object.entries(tensors)) {
    if (!t) continue;
    const other = seen.get(t.buffer);
    if (other) throw new ShapeError(`${op}(): ${name} and ${other} share a GPU buffer; each arena needs its own`);
    seen.set(t.buffer, name);
  }
}

export interface SgdStepArgs {
  /** Parameter arena (or one parameter), updated in place. */
  param: Tensor;
  grad: Tensor;
  /** Momentum arena, same layout; required unless momentum = 0. */
  momentumBuf?: Tensor | null;
  hyper: SgdHyper;
  /**
   * Runs of the arena that get no weight decay (e.g. BN γ/β, biases); default
   * none (PyTorch's default). Offsets must be multiples of 4 and each run's
   * end is rounded up to one, into its padding: planArena segments qualify.
   */
  noDecay?: readonly Segment[];
}

/** p -= lr·d over the whole arena in one dispatch per weight-decay run (one by default). */
export async function sgdStep(
  rt: Runtime,
  { param, grad, momentumBuf = null, hyper, noDecay = [] }: SgdStepArgs,
): Promise<HyperOp<{ param: Tensor }>> {
  const op = 'sgdStep';
  const n = param.size;
  expectDType(op, 'param', param, 'f32');
  checkArena(op, 'grad', grad, n);
  if (momentumBuf) checkArena(op, 'momentumBuf', momentumBuf, n);
  checkHyper(op, hyper, momentumBuf !== null);
  checkDistinct(op, { param, grad, momentumBuf: momentumBuf ?? undefined });
  const parts = slices(decayRuns(op, n, noDecay));
  const m = momentumBuf ?? dummy(rt, 0);
  const kernels = { vec4: await rt.kernel('sgd', { WG }, 'sgd_vec4'), scalar: await rt.kernel('sgd', { WG }, 'sgd_scalar') };
  const dispatches: Dispatch[] = parts.map((s) =>
    s.entry === 'vec4'
      ? rt.dispatch(kernels.vec4, { hp: uniforms(s, hyper), p4: param, g4: grad, m4: m }, grid(s))
      : rt.dispatch(kernels.scalar, { hp: uniforms(s, hyper), p1: param, g1: grad, m1: m }, grid(s)),
  );
  return {
    dispatches,
    out: { param },
    setHyper(h: SgdHyper) {
      checkHyper(op, h, momentumBuf !== null);
      parts.forEach((s, i) => dispatches[i].setUniform('hp', uniforms(s, h)));
    },
  };
}

export interface KpUpdateArgs {
  /** W arena, updated in place. */
  w: Tensor;
  /** B arena (W's layout), updated in place with W's gradient. */
  b: Tensor;
  /** ∇W arena. */
  grad: Tensor;
  momentumW?: Tensor | null;
  momentumB?: Tensor | null;
  hyper: SgdHyper;
  noDecay?: readonly Segment[];
}

/**
 * Kolen–Pollack: W and B each take the SGD step of `hyper` (own momentum
 * buffers, own decay term) from the same ∇W, in one pass over the arenas;
 * numerically the same as sgdStep on W then on B. weightDecay must be > 0
 * (without it W − B never shrinks).
 */
export async function kpUpdate(
  rt: Runtime,
  { w, b, grad, momentumW = null, momentumB = null, hyper, noDecay = [] }: KpUpdateArgs,
): Promise<HyperOp<{ w: Tensor; b: Tensor }>> {
  const op = 'kpUpdate';
  const n = w.size;
  expectDType(op, 'w', w, 'f32');
  checkArena(op, 'b', b, n);
  checkArena(op, 'grad', grad, n);
  if ((momentumW === null) !== (momentumB === null)) {
    throw new ShapeError(`${op}(): give both momentumW and momentumB or neither`);
  }
  if (momentumW) checkArena(op, 'momentumW', momentumW, n);
  if (momentumB) checkArena(op, 'momentumB', momentumB, n);
  const checkKp = (h: SgdHyper) => {
    checkHyper(op, h, momentumW !== null);
    if (!(h.weightDecay > 0)) throw new ShapeError(`${op}(): weightDecay=${h.weightDecay} must be > 0, or B never converges to W`);
  };
  checkKp(hyper);
  checkDistinct(op, { w, b, grad, momentumW: momentumW ?? undefined, momentumB: momentumB ?? undefined });
  const parts = slices(decayRuns(op, n, noDecay));
  const mw = momentumW ?? dummy(rt, 0);
  const mb = momentumB ?? dummy(rt, 1);
  const kernels = { vec4: await rt.kernel('sgd', { WG }, 'kp_vec4'), scalar: await rt.kernel('sgd', { WG }, 'kp_scalar') };
  const dispatches: Dispatch[] = parts.map((s) =>
    s.entry === 'vec4'
      ? rt.dispatch(kernels.vec4, { hp: uniforms(s, hyper), w4: w, b4: b, kg4: grad, mw4: mw, mb4: mb }, grid(s))
      : rt.dispatch(kernels.scalar, { hp: uniforms(s, hyper), w1: w, b1: b, kg1: grad, mw1: mw, mb1: mb }, grid(s)),
  );
  return {
    dispatches,
    out: { w, b },
    setHyper(h: SgdHyper) {
      checkKp(h);
      parts.forEach((s, i) => dispatches[i].setUniform('hp', uniforms(s, h)));
    },
  };
}
