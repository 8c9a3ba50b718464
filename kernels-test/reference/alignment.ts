// Naive float64 reference for shaders/alignment.wgsl: the poster's alignment
// measurement of LEARNING_RULES.md, the angle and norm ratio of flattened B and W.

import { checkLength } from './check.ts';

/**
 * Alignment of flattened B and W: angleDeg = arccos(clamp(⟨B,W⟩/(‖B‖‖W‖), −1, 1))
 * in degrees (NaN if either norm is 0), normRatio = ‖B‖/‖W‖.
 */
export function alignment(
  b: ArrayLike<number>,
  w: ArrayLike<number>,
): { dot: number; normB: number; normW: number; angleDeg: number; normRatio: number } {
  checkLength('alignment', 'w', w, b.length, 'b.length');
  let dot = 0;
  let bb = 0;
  let ww = 0;
  for (let i = 0; i < b.length; i++) {
    dot += b[i] * w[i];
    bb += b[i] * b[i];
    ww += w[i] * w[i];
  }
  const normB = Math.sqrt(bb);
  const normW = Math.sqrt(ww);
  const cos = normB > 0 && normW > 0 ? Math.min(1, Math.max(-1, dot / (normB * normW))) : NaN;
  return { dot, normB, normW, angleDeg: (Math.acos(cos) * 180) / Math.PI, normRatio: normB / normW };
}
