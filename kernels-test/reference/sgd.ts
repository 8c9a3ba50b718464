// Naive float64 reference for one torch.optim.SGD step on one tensor:
//   d = g + wd·p
//   if momentum ≠ 0: buf = firstStep ? d : momentum·buf + (1 − dampening)·d
//                    d   = nesterov ? d + momentum·buf : buf
//   p = p − lr·d

import { checkLength } from './check.ts';

export interface SgdOptions {
  lr: number;
  momentum: number;
  dampening?: number; // default 0
  weightDecay: number;
  nesterov: boolean;
  /** True on the tensor's first step: PyTorch then sets buf = d, undampened. */
  firstStep: boolean;
}

export function sgdStep(
  param: ArrayLike<number>,
  grad: ArrayLike<number>,
  momentumBuf: ArrayLike<number> | null,
  opts: SgdOptions,
): { param: Float64Array; buf: Float64Array | null } {
  const op = 'sgdStep';
  const { lr, momentum, weightDecay, nesterov, firstStep } = opts;
  const dampening = opts.dampening ?? 0;
  checkLength(op, 'grad', grad, param.length, 'param.length');
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new Error(`${op}(): nesterov needs momentum > 0 and dampening = 0 (momentum=${momentum}, dampening=${dampening})`);
  }
  const useMomentum = momentum !== 0;
  let prev: ArrayLike<number> | null = null;
  if (useMomentum && !firstStep) {
    if (momentumBuf === null) throw new Error(`${op}(): momentumBuf=null but momentum=${momentum} and firstStep=false`);
    checkLength(op, 'momentumBuf', momentumBuf, param.length, 'param.length');
    prev = momentumBuf;
  }
  const p = new Float64Array(param.length);
  const buf = useMomentum ? new Float64Array(param.length) : null;
  for (let i = 0; i < param.length; i++) {
    let d = grad[i] + weightDecay * param[i];
    if (buf !== null) {
      buf[i] = prev === null ? d : momentum * prev[i] + (1 - dampening) * d;
      d = nesterov ? d + momentum * buf[i] : buf[i];
    }
    p[i] = param[i] - lr * d;
  }
  return { param: p, buf };
}
