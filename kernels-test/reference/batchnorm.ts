// Naive float64 reference for 2-D batch normalisation over the channels of an
// NCHW tensor, with PyTorch's conventions:
// - training normalises with the biased batch variance (divide by m = n·h·w);
// - running_var is updated with the unbiased variance (divide by m − 1);
// - running = (1 − momentum)·running + momentum·batch.

import { checkLength, checkPositiveInt } from './check.ts';

export interface BatchnormShape {
  n: number;
  c: number;
  h: number;
  w: number;
}

function validate(op: string, shape: BatchnormShape, x: ArrayLike<number>, perChannel: Record<string, ArrayLike<number>>): void {
  for (const k of ['n', 'c', 'h', 'w'] as const) checkPositiveInt(op, `shape.${k}`, shape[k]);
  checkLength(op, 'x', x, shape.n * shape.c * shape.h * shape.w, 'n*c*h*w');
  for (const [name, a] of Object.entries(perChannel)) checkLength(op, name, a, shape.c, 'c');
}

export function batchnormTrainForward(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  shape: BatchnormShape,
  eps = 1e-5,
  momentum = 0.1,
): { y: Float64Array; mean: Float64Array; invStd: Float64Array; newRunningMean: Float64Array; newRunningVar: Float64Array } {
  const op = 'batchnormTrainForward';
  validate(op, shape, x, { gamma, beta, runningMean, runningVar });
  const { n: N, c: C, h: H, w: W } = shape;
  const hw = H * W;
  const m = N * hw;
  // PyTorch refuses too: the unbiased variance needs at least two values.
  if (m < 2) throw new Error(`${op}(): n*h*w=${m} must be at least 2 values per channel in training`);
  const y = new Float64Array(x.length);
  const mean = new Float64Array(C);
  const invStd = new Float64Array(C);
  const newRunningMean = new Float64Array(C);
  const newRunningVar = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < hw; i++) s += x[(n * C + c) * hw + i];
    const mu = s / m;
    // Two-pass variance: exact enough in float64 and obviously correct.
    let ss = 0;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < hw; i++) {
        const d = x[(n * C + c) * hw + i] - mu;
        ss += d * d;
      }
    }
    const varBiased = ss / m;
    const is = 1 / Math.sqrt(varBiased + eps);
    mean[c] = mu;
    invStd[c] = is;
    newRunningMean[c] = (1 - momentum) * runningMean[c] + momentum * mu;
    newRunningVar[c] = (1 - momentum) * runningVar[c] + momentum * (ss / (m - 1));
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < hw; i++) {
        const j = (n * C + c) * hw + i;
        y[j] = gamma[c] * (x[j] - mu) * is + beta[c];
      }
    }
  }
  return { y, mean, invStd, newRunningMean, newRunningVar };
}

/** y = γ·(x − running_mean)/sqrt(running_var + eps) + β. */
export function batchnormEvalForward(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  shape: BatchnormShape,
  eps = 1e-5,
): Float64Array {
  const op = 'batchnormEvalForward';
  validate(op, shape, x, { gamma, beta, runningMean, runningVar });
  const { n: N, c: C, h: H, w: W } = shape;
  const hw = H * W;
  const y = new Float64Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const is = 1 / Math.sqrt(runningVar[c] + eps);
      for (let i = 0; i < hw; i++) {
        const j = (n * C + c) * hw + i;
        y[j] = gamma[c] * (x[j] - runningMean[c]) * is + beta[c];
      }
    }
  }
  return y;
}

/**
 * Training-mode backward through the batch statistics, with x̂ = (x − mean)·invStd:
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ·invStd/m · (m·dy − dβ − x̂·dγ).
 */
export function batchnormBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  mean: ArrayLike<number>,
  invStd: ArrayLike<number>,
  shape: BatchnormShape,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const op = 'batchnormBackward';
  validate(op, shape, x, { gamma, mean, invStd });
  checkLength(op, 'dy', dy, x.length, 'n*c*h*w');
  const { n: N, c: C, h: H, w: W } = shape;
  const hw = H * W;
  const m = N * hw;
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let sdy = 0;
    let sdyx = 0;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < hw; i++) {
        const j = (n * C + c) * hw + i;
        sdy += dy[j];
        sdyx += dy[j] * (x[j] - mean[c]) * invStd[c];
      }
    }
    dbeta[c] = sdy;
    dgamma[c] = sdyx;
    const k = (gamma[c] * invStd[c]) / m;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < hw; i++) {
        const j = (n * C + c) * hw + i;
        const xhat = (x[j] - mean[c]) * invStd[c];
        dx[j] = k * (m * dy[j] - sdy - xhat * sdyx);
      }
    }
  }
  return { dx, dgamma, dbeta };
}
