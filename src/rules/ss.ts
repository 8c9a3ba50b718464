// Sign symmetry (Xiao et al. 2018): B = sign(W)·s, recomputed from W before
// every step, for every layer in one dispatch.

import { signSymmetry, ssScale } from '../kernels/feedback_rules.ts';
import { weightLayers } from '../graph/ir.ts';
import type { Rule } from './rule.ts';
import { NONE, sgdUpdate } from './sgd-update.ts';

export const ss: Rule = {
  name: 'ss',
  ownsFeedback: true,
  feedbackInCheckpoint: false,
  feedbackMomentum: false,
  validate() {},
  async beforeStep(ctx) {
    const scales = weightLayers(ctx.graph).map((l) => ssScale(l.shape));
    const op = await signSymmetry(ctx.rt, {
      w: ctx.store.arenas.weights.params,
      b: ctx.store.feedbackArena!,
      scale: scales,
      segments: ctx.store.layerTable,
    });
    return { dispatches: [...op.dispatches] };
  },
  update: (ctx) => sgdUpdate(ctx),
  afterUpdate: async () => NONE,
};
