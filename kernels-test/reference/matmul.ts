// Naive float64 reference for shaders/matmul.wgsl and matmul_lanes.wgsl as the
// linear (fully connected) layer uses them (src/kernels/linear.ts, matmul.ts).
// Layouts are row-major; W and B are N×K (PyTorch's out_features × in_features).

import { checkLength, checkPositiveInt } from './check.ts';

function checkDims(op: string, M: number, K: number, N: number): void {
  checkPositiveInt(op, 'M', M);
  checkPositiveInt(op, 'K', K);
  checkPositiveInt(op, 'N', N);
}

/** y (M×N) = x (M×K) · Wᵀ + b. */
export function linearForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  M: number,
  K: number,
  N: number,
): Float64Array {
  const op = 'linearForward';
  checkDims(op, M, K, N);
  checkLength(op, 'x', x, M * K, 'M*K');
  checkLength(op, 'w', w, N * K, 'N*K');
  if (b !== null) checkLength(op, 'b', b, N, 'N');
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = b === null ? 0 : b[n];
      for (let k = 0; k < K; k++) acc += x[m * K + k] * w[n * K + k];
      y[m * N + n] = acc;
    }
  }
  return y;
}

/** dx (M×K) = dy (M×N) · B (N×K). With B = W this is backprop's data gradient. */
export function linearFeedback(dy: ArrayLike<number>, B: ArrayLike<number>, M: number, N: number, K: number): Float64Array {
  const op = 'linearFeedback';
  checkDims(op, M, K, N);
  checkLength(op, 'dy', dy, M * N, 'M*N');
  checkLength(op, 'B', B, N * K, 'N*K');
  const dx = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      let acc = 0;
      for (let n = 0; n < N; n++) acc += dy[m * N + n] * B[n * K + k];
      dx[m * K + k] = acc;
    }
  }
  return dx;
}

/** dw (N×K) = dyᵀ · x, db (N) = column sums of dy (summed over the batch, not averaged). */
export function linearWeightGrad(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
): { dw: Float64Array; db: Float64Array } {
  const op = 'linearWeightGrad';
  checkDims(op, M, K, N);
  checkLength(op, 'dy', dy, M * N, 'M*N');
  checkLength(op, 'x', x, M * K, 'M*K');
  const dw = new Float64Array(N * K);
  const db = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let acc = 0;
      for (let m = 0; m < M; m++) acc += dy[m * N + n] * x[m * K + k];
      dw[n * K + k] = acc;
    }
    let s = 0;
    for (let m = 0; m < M; m++) s += dy[m * N + n];
    db[n] = s;
  }
  return { dw, db };
}
