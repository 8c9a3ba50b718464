// Naive float64 references for the feedback-tensor rules of LEARNING_RULES.md
// (shaders/feedback_rules.wgsl and the rules' kernels): SS (sign symmetry), KP
// (Kolen–Pollack), WM (weight mirror). B always has W's shape and layout.

import { checkLength, checkPositiveInt } from './check.ts';
import { conv2dWeightGrad, type Conv2dShape } from './conv2d.ts';
import { linearWeightGrad } from './matmul.ts';
import { sgdStep, type SgdOptions } from './sgd.ts';

/** SS scale from Xiao et al.'s code: (O,I,kh,kw) → sqrt(2/(kh·kw·O)); (O,I) → 1/sqrt(I). */
export function ssScale(shape: readonly number[]): number {
  shape.forEach((d, i) => checkPositiveInt('ssScale', `shape[${i}]`, d));
  if (shape.length === 4) return Math.sqrt(2 / (shape[2] * shape[3] * shape[0]));
  if (shape.length === 2) return 1 / Math.sqrt(shape[1]);
  throw new Error(`ssScale(): shape=[${shape.join(',')}] must be (O,I,kh,kw) or (O,I)`);
}

/** B = sign(W)·s, with sign(0) = 0. */
export function signSymmetry(w: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const s = ssScale(shape);
  checkLength(
    'signSymmetry',
    'w',
    w,
    shape.reduce((a, b) => a * b, 1),
    `prod([${shape.join(',')}])`,
  );
  const b = new Float64Array(w.length);
  for (let i = 0; i < w.length; i++) b[i] = Math.sign(w[i]) * s; // Math.sign(±0) is ±0; ±0·s is still zero
  return b;
}

/**
 * One KP step: W and B each take an SGD step (own momentum buffers, own weight
 * decay) from the same gradient ∇W. Without momentum W − B shrinks by
 * (1 − lr·weightDecay) per step, so weightDecay must be > 0.
 */
export function kpUpdate(
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  gradW: ArrayLike<number>,
  bufW: ArrayLike<number> | null,
  bufB: ArrayLike<number> | null,
  opts: SgdOptions,
): { w: Float64Array; b: Float64Array; bufW: Float64Array | null; bufB: Float64Array | null } {
  if (!(opts.weightDecay > 0)) {
    throw new Error(`kpUpdate(): weightDecay=${opts.weightDecay} must be > 0, or B never converges to W`);
  }
  checkLength('kpUpdate', 'b', b, w.length, 'w.length');
  const sw = sgdStep(w, gradW, bufW, opts);
  const sb = sgdStep(b, gradW, bufB, opts);
  return { w: sw.param, b: sb.param, bufW: sw.buf, bufB: sb.buf };
}

export interface MirrorOptions {
  etaB: number;
  lambdaB: number;
}

/** ΔB = etaB·corr − lambdaB·B, returned as the new B. */
export function mirrorUpdate(B: ArrayLike<number>, corr: ArrayLike<number>, opts: MirrorOptions): Float64Array {
  checkLength('mirrorUpdate', 'corr', corr, B.length, 'B.length');
  const out = new Float64Array(B.length);
  for (let i = 0; i < B.length; i++) out[i] = B[i] + opts.etaB * corr[i] - opts.lambdaB * B[i];
  return out;
}

/** corr (O×I) = yᵀ·x / n for noise x (n×I) and y = x·Wᵀ (n×O). E[corr] = σ²·W. */
export function mirrorCorrLinear(x: ArrayLike<number>, y: ArrayLike<number>, n: number, inF: number, outF: number): Float64Array {
  const { dw } = linearWeightGrad(y, x, n, outF, inF);
  for (let i = 0; i < dw.length; i++) dw[i] /= n;
  return dw;
}

/** corr (OIHW) = conv2dWeightGrad(y, x) / n for noise x (NCHW) and y = conv(x, W). */
export function mirrorCorrConv(x: ArrayLike<number>, y: ArrayLike<number>, shape: Conv2dShape): Float64Array {
  const dw = conv2dWeightGrad(y, x, shape);
  for (let i = 0; i < dw.length; i++) dw[i] /= shape.n;
  return dw;
}

/** WM mirror step for a linear layer (sizes in linearForward's order: n samples, in, out). */
export function mirrorUpdateLinear(
  B: ArrayLike<number>,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  n: number,
  inF: number,
  outF: number,
  opts: MirrorOptions,
): Float64Array {
  return mirrorUpdate(B, mirrorCorrLinear(x, y, n, inF, outF), opts);
}

/** WM mirror step for a conv layer; y must come from the layer's own stride and padding. */
export function mirrorUpdateConv(
  B: ArrayLike<number>,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  shape: Conv2dShape,
  opts: MirrorOptions,
): Float64Array {
  return mirrorUpdate(B, mirrorCorrConv(x, y, shape), opts);
}
