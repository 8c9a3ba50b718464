// Launchers for shaders/feedback_rules.wgsl: the kernels that make or update
// a feedback tensor B (LEARNING_RULES.md) — SS's sign(W)·s (for the alignment
// probe: training reads it on load) and WM's optional growth control. KP's
// update shares the SGD kernel and is re-exported here (kpUpdate,
// src/kernels/sgd.ts). Random B (FA, WM, KP at init) and WM's noise come from
// src/kernels/philox.ts; WM's mirror step is the conv/linear weight-gradient
// kernels with x = noise, y = W*x, blending into B (their `accumulate`).

import { ShapeError } from '../gpu/errors.ts';
import type { Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ALIGNMENT_SUMS } from './alignment.ts';
import { ceilDiv, expectDType, type Op } from './op.ts';
import { checkSegmentsFit, createSegmentTable, type SegmentTable } from './sgd.ts';

export { kpUpdate, type KpUpdateArgs } from './sgd.ts';

const WG = 256;
const MAX_GROUPS = 1024;

/** SS scale (Xiao et al.): conv (O, I, kh, kw) → sqrt(2/(kh·kw·O)); linear (O, I) → 1/sqrt(I). */
export function ssScale(shape: readonly number[]): number {
  for (const [i, d] of shape.entries()) {
    if (!Number.isInteger(d) || d < 1) throw new ShapeError(`ssScale(): shape[${i}]=${d} must be a positive integer`);
  }
  if (shape.length === 4) return Math.sqrt(2 / (shape[2] * shape[3] * shape[0]));
  if (shape.length === 2) return 1 / Math.sqrt(shape[1]);
  throw new ShapeError(`ssScale(): shape [${shape.join(', ')}] must be (O, I, kh, kw) or (O, I)`);
}

/** Workgroups per segment so that each thread handles about four elements. */
const segmentGroups = (table: SegmentTable): number => Math.min(ceilDiv(table.maxLength, 4 * WG), MAX_GROUPS);

function sameLayout(op: string, w: Tensor, b: Tensor): void {
  expectDType(op, 'w', w, 'f32');
  expectDType(op, 'b', b, 'f32');
  if (b.size !== w.size) throw new ShapeError(`${op}(): b has ${b.size} elements but w has ${w.size}; B must have W's layout`);
  if (b.buffer === w.buffer) throw new ShapeError(`${op}(): b and w share a GPU buffer (B ≡ W is backprop: nothing to derive)`);
}

export interface SignSymmetryArgs {
  w: Tensor;
  /** Written; allocated with w's shape if not given. */
  b?: Tensor;
  /** One s per segment (a number for a single segment). */
  scale: number | readonly number[];
  /** Layers of an arena; default one segment, the whole tensor. */
  segments?: SegmentTable;
}

/** SS: B = sign(W)·s for every layer in one dispatch; sign(0) = 0. */
export async function signSymmetry(
  rt: Runtime,
  { w, b, scale, segments }: SignSymmetryArgs,
): Promise<Op<{ b: Tensor; scales: Tensor; table?: Tensor }>> {
  const op = 'signSymmetry';
  expectDType(op, 'w', w, 'f32');
  if (b) sameLayout(op, w, b);
  const layers = segments ? segments.segments.length : 1;
  const s = typeof scale === 'number' ? [scale] : [...scale];
  if (s.length !== layers) throw new ShapeError(`${op}(): ${s.length} scales for ${layers} segments`);
  for (const [i, v] of s.entries()) if (!Number.isFinite(v)) throw new ShapeError(`${op}(): scale[${i}]=${v} must be finite`);
  if (segments) checkSegmentsFit(op, 'w', segments, w);
  b ??= rt.empty(w.shape, 'f32', 'ss.b');
  const table = segments ?? createSegmentTable(rt, [{ offset: 0, length: w.size }], 'ss.segments');
  const scales = rt.upload(Float32Array.from(s), [layers], 'f32', 'ss.scales');
  // Four at a time when every run starts on a multiple of 4 and its rounded-up end stays inside the buffer.
  const byFour =
    w.size % 4 === 0 &&
    table.segments.every(
      (sg, i, all) => sg.offset % 4 === 0 && Math.ceil((sg.offset + sg.length) / 4) * 4 <= (all[i + 1]?.offset ?? w.size),
    );
  const groups = byFour ? Math.min(ceilDiv(table.maxLength, 16 * WG), MAX_GROUPS) : segmentGroups(table);
  const kernel = await rt.kernel('feedback_rules', { WG }, byFour ? 'sign_symmetry4' : 'sign_symmetry');
  const args: Record<string, Tensor> = byFour ? { w4: w, b4: b } : { w, b };
  const d = rt.dispatch(kernel, { seg: { groups, firstSlot: 0 }, segs: table.tensor, scales, ...args }, [groups, layers]);
  return { dispatches: [d], out: segments ? { b, scales } : { b, scales, table: table.tensor } };
}

export interface RescaleToNormArgs {
  /** B, scaled in place. */
  b: Tensor;
  segments: SegmentTable;
  /** An alignmentSums buffer for these layers (⟨B,W⟩, ‖B‖², ‖W‖² each). */
  sums: Tensor;
  firstSlot?: number;
}

/** WM growth control: B ← B·‖W‖/‖B‖ per layer, with the norms read on the GPU (run alignmentSums first). */
export async function rescaleToNorm(rt: Runtime, { b, segments, sums, firstSlot = 0 }: RescaleToNormArgs): Promise<Op<{ b: Tensor }>> {
  const op = 'rescaleToNorm';
  expectDType(op, 'b', b, 'f32');
  expectDType(op, 'sums', sums, 'f32');
  checkSegmentsFit(op, 'b', segments, b);
  const layers = segments.segments.length;
  if (!Number.isInteger(firstSlot) || firstSlot < 0) throw new ShapeError(`${op}(): firstSlot=${firstSlot} must be a non-negative integer`);
  if (sums.size < (firstSlot + layers) * ALIGNMENT_SUMS) {
    throw new ShapeError(
      `${op}(): sums has ${sums.size} elements; ${layers} layers from slot ${firstSlot} need ${(firstSlot + layers) * ALIGNMENT_SUMS}`,
    );
  }
  if (sums.buffer === b.buffer) throw new ShapeError(`${op}(): sums and b share a GPU buffer`);
  const groups = segmentGroups(segments);
  const kernel = await rt.kernel('feedback_rules', { WG }, 'rescale_to_norm');
  const d = rt.dispatch(kernel, { seg: { groups, firstSlot }, segs: segments.tensor, sums, b }, [groups, layers]);
  return { dispatches: [d], out: { b } };
}
