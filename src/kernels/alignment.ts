// Launcher for shaders/alignment.wgsl, and the host helpers that turn its sums
// into the poster's measurements: angle(B, W) in degrees and ‖B‖/‖W‖ per layer
// (LEARNING_RULES.md, "Alignment measurements"). The same launcher gives the
// delta angle with b = δ as the rule computes it and w = δ from a BP pass.

import { ShapeError } from '../gpu/errors.ts';
import type { Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ceilDiv, expectDType, type Op } from './op.ts';
import { checkSegmentsFit, createSegmentTable, type SegmentTable } from './sgd.ts';

const WG = 256;
/** Elements each thread sums sequentially before the trees (bounds the f32 error, see the shader). */
const TERMS = 32;
const MAX_GROUPS = 256;

/** Floats per layer in a sums buffer: ⟨B,W⟩, ‖B‖², ‖W‖². */
export const ALIGNMENT_SUMS = 3;

export interface AlignmentSumsArgs {
  /** B (or δ_rule): f32, any shape; an arena when `segments` is given. */
  b: Tensor;
  /** W (or δ_bp): f32, the same number of elements and layout as b. */
  w: Tensor;
  /** Layers as (offset, length) runs; default one layer: the whole tensor. */
  segments?: SegmentTable;
  /** f32 with room for (firstSlot + layers)·3 values; allocated if not given. */
  sums?: Tensor;
  /** Layer s writes sums[(firstSlot + s)·3 ...]: lets several ops fill one buffer. */
  firstSlot?: number;
}

export interface AlignmentSumsOp extends Op<{ sums: Tensor; partials: Tensor; table?: Tensor }> {
  readonly layers: number;
}

/** Two dispatches: per-workgroup partial sums, then one tree per layer. */
export async function alignmentSums(rt: Runtime, { b, w, segments, sums, firstSlot = 0 }: AlignmentSumsArgs): Promise<AlignmentSumsOp> {
  const op = 'alignmentSums';
  expectDType(op, 'b', b, 'f32');
  expectDType(op, 'w', w, 'f32');
  if (b.size !== w.size) throw new ShapeError(`${op}(): b has ${b.size} elements but w has ${w.size}`);
  if (!Number.isInteger(firstSlot) || firstSlot < 0) throw new ShapeError(`${op}(): firstSlot=${firstSlot} must be a non-negative integer`);
  if (segments) checkSegmentsFit(op, 'b', segments, b);
  const layers = segments ? segments.segments.length : 1;
  const need = (firstSlot + layers) * ALIGNMENT_SUMS;
  if (sums) {
    expectDType(op, 'sums', sums, 'f32');
    if (sums.size < need)
      throw new ShapeError(`${op}(): sums has ${sums.size} elements; ${layers} layers from slot ${firstSlot} need ${need}`);
  }
  const table = segments ?? createSegmentTable(rt, [{ offset: 0, length: b.size }], 'alignment.segments');
  sums ??= rt.empty([need], 'f32', 'alignment.sums');
  const groups = Math.min(Math.max(ceilDiv(table.maxLength, WG * TERMS), 1), MAX_GROUPS);
  const partials = rt.empty([layers * groups * ALIGNMENT_SUMS], 'f32', 'alignment.partials');
  const params = { groups, firstSlot };
  const pass1 = await rt.kernel('alignment', { WG }, 'partial_sums');
  const pass2 = await rt.kernel('alignment', { WG }, 'finalize');
  const dispatches = [
    rt.dispatch(pass1, { params, segs: table.tensor, x: b, y: w, partials }, [groups, layers]),
    rt.dispatch(pass2, { params, partialsIn: partials, sums }, [layers]),
  ];
  return { dispatches, out: segments ? { sums, partials } : { sums, partials, table: table.tensor }, layers };
}

export interface Alignment {
  dot: number;
  normB: number;
  normW: number;
  /** arccos(⟨B,W⟩/(‖B‖‖W‖)) in degrees, the cosine clamped to [−1, 1]; NaN if a norm is 0. */
  angleDeg: number;
  /** ‖B‖/‖W‖. */
  normRatio: number;
}

/** Turns `count` layers of a sums buffer (read back) into angles and norm ratios, in float64. */
export function alignmentFromSums(sums: ArrayLike<number>, count = Math.floor(sums.length / ALIGNMENT_SUMS), firstSlot = 0): Alignment[] {
  if ((firstSlot + count) * ALIGNMENT_SUMS > sums.length) {
    throw new ShapeError(
      `alignmentFromSums(): ${count} layers from slot ${firstSlot} need ${(firstSlot + count) * ALIGNMENT_SUMS} values, got ${sums.length}`,
    );
  }
  const out: Alignment[] = [];
  for (let s = firstSlot; s < firstSlot + count; s++) {
    const [dot, bb, ww] = [sums[3 * s], sums[3 * s + 1], sums[3 * s + 2]];
    const normB = Math.sqrt(bb);
    const normW = Math.sqrt(ww);
    // sqrt(bb·ww), not normB·normW: a product of two f32 values is exact in
    // float64, so B = W gives cos = 1 and 0° exactly.
    const cos = bb > 0 && ww > 0 ? Math.min(1, Math.max(-1, dot / Math.sqrt(bb * ww))) : NaN;
    out.push({ dot, normB, normW, angleDeg: (Math.acos(cos) * 180) / Math.PI, normRatio: normB / normW });
  }
  return out;
}
