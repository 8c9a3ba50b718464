// The plain optimizer step shared by the rules: SGD on the weights arena and
// on the biases arena, one dispatch each (plus a tail).

import { sgdStep, type HyperOp, type SgdHyper } from '../kernels/sgd.ts';
import type { Tensor } from '../gpu/tensor.ts';
import type { RuleContext, RuleDispatches } from './rule.ts';

export async function sgdUpdate(
  ctx: RuleContext,
  arenas: ('weights' | 'biases')[] = ['weights', 'biases'],
): Promise<RuleDispatches & { ops: HyperOp<Record<string, Tensor>>[] }> {
  const ops: HyperOp<Record<string, Tensor>>[] = [];
  for (const name of arenas) {
    const a = ctx.store.arenas[name];
    if (a.names.length === 0) continue;
    ops.push(await sgdStep(ctx.rt, { param: a.params, grad: a.grads, momentumBuf: a.momentum, hyper: ctx.hyper }));
  }
  return {
    ops,
    dispatches: ops.flatMap((o) => [...o.dispatches]),
    setHyper: (h: SgdHyper) => ops.forEach((o) => o.setHyper(h)),
  };
}

export const NONE: RuleDispatches = { dispatches: [] };
