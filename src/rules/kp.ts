// Kolen–Pollack: W and B take the same update from the same gradient, each
// with its own decay (and momentum buffer), so W − B shrinks by (1 − ηλ) per
// step. One pass over the weights arena moves both; λ must be positive.

import { NowtError } from '../gpu/errors.ts';
import { kpUpdate, type SgdHyper } from '../kernels/sgd.ts';
import type { Rule } from './rule.ts';
import { NONE, sgdUpdate } from './sgd-update.ts';

export const kp: Rule = {
  name: 'kp',
  options: {},
  feedback: 'own',
  feedbackInCheckpoint: true,
  feedbackMomentum: true,
  validate(hyper: SgdHyper) {
    if (!(hyper.weightDecay > 0)) {
      throw new NowtError(`--rule kp needs --weight-decay > 0 (got ${hyper.weightDecay}): without decay B never converges to W`);
    }
  },
  async update(ctx) {
    const w = ctx.store.arenas.weights;
    const op = await kpUpdate(ctx.rt, {
      w: w.params,
      b: ctx.store.feedbackArena!,
      grad: w.grads,
      momentumW: w.momentum,
      momentumB: ctx.store.feedbackMomentum,
      hyper: ctx.hyper,
    });
    const biases = await sgdUpdate(ctx, ['biases']);
    return {
      dispatches: [...op.dispatches, ...biases.dispatches],
      setHyper: (h) => {
        op.setHyper(h);
        biases.setHyper?.(h);
      },
    };
  },
  beforeStep: async () => NONE,
  afterUpdate: async () => NONE,
};
