// The order of the examples in an epoch: a Fisher–Yates shuffle driven by a
// counter-based generator keyed by (seed, epoch), so it is a pure function and
// a resumed run rebuilds it from those two numbers.

import { orderRandom } from './random.ts';

/** A permutation of 0..length−1, the same for the same (length, seed, epoch). */
export function epochOrder(length: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(length);
  for (let i = 0; i < length; i++) order[i] = i;
  const rng = orderRandom(seed, epoch);
  for (let i = length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** The identity order (unshuffled splits). */
export function identityOrder(length: number): Uint32Array {
  const order = new Uint32Array(length);
  for (let i = 0; i < length; i++) order[i] = i;
  return order;
}
