// Naive float64 references for the parameter-free elementwise ops.

import { checkLength } from './check.ts';

export function reluForward(x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
  return y;
}

/**
 * dx = dy where the unit was active. The mask x > 0 equals y > 0, so either the
 * input or the output may be passed; the derivative at exactly 0 is taken as 0 (as PyTorch).
 */
export function reluBackward(dy: ArrayLike<number>, xOrY: ArrayLike<number>): Float64Array {
  checkLength('reluBackward', 'xOrY', xOrY, dy.length, 'dy.length');
  const dx = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) dx[i] = xOrY[i] > 0 ? dy[i] : 0;
  return dx;
}

/** y = a + b. Its backward passes dy unchanged to both branches. */
export function residualAdd(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  checkLength('residualAdd', 'b', b, a.length, 'a.length');
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
  return y;
}
