// Naive float64 reference for softmax cross-entropy over N×C logits.

import { checkLength, checkPositiveInt } from './check.ts';

/**
 * loss = mean over the batch of −log softmax(logits)[target], computed with
 * log-sum-exp around the row maximum; dlogits = (softmax − onehot)/N.
 *
 * Top-k convention: a row counts as correct at top-k when fewer than k classes
 * have a logit strictly greater than the target's. Ties therefore favour the
 * target (a row of equal logits is top-1 correct).
 */
export function softmaxCrossEntropy(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  N: number,
  C: number,
): { loss: number; dlogits: Float64Array; top1Correct: number; top5Correct: number } {
  const op = 'softmaxCrossEntropy';
  checkPositiveInt(op, 'N', N);
  checkPositiveInt(op, 'C', C);
  checkLength(op, 'logits', logits, N * C, 'N*C');
  checkLength(op, 'targets', targets, N, 'N');
  const dlogits = new Float64Array(N * C);
  let lossSum = 0;
  let top1Correct = 0;
  let top5Correct = 0;
  for (let n = 0; n < N; n++) {
    const t = targets[n];
    if (!Number.isInteger(t) || t < 0 || t >= C) {
      throw new Error(`${op}(): targets[${n}]=${t} must be an integer class in [0, ${C})`);
    }
    const row = n * C;
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, logits[row + c]);
    let sumExp = 0;
    for (let c = 0; c < C; c++) sumExp += Math.exp(logits[row + c] - max);
    const lse = max + Math.log(sumExp);
    lossSum += lse - logits[row + t];
    let greater = 0;
    for (let c = 0; c < C; c++) {
      dlogits[row + c] = Math.exp(logits[row + c] - lse) / N;
      if (logits[row + c] > logits[row + t]) greater++;
    }
    dlogits[row + t] -= 1 / N;
    if (greater < 1) top1Correct++;
    if (greater < 5) top5Correct++;
  }
  return { loss: lossSum / N, dlogits, top1Correct, top5Correct };
}
