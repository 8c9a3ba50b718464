// Sign symmetry (Xiao et al. 2018): B = sign(W)·s, recomputed from W before
// every feedback pass. Nothing stores or derives B: each layer's feedback
// binding is W's own buffer, and the feedback kernels read it as sign(W)·s as
// they load it (SIGN_B in the conv and matmul shaders), so SS costs what FA
// costs. The alignment probe materialises B when it measures ∠(B, W).

import type { Rule } from './rule.ts';
import { NONE, sgdUpdate } from './sgd-update.ts';

export const ss: Rule = {
  name: 'ss',
  options: {},
  feedback: 'sign-of-weight',
  feedbackInCheckpoint: false,
  feedbackMomentum: false,
  validate() {},
  beforeStep: async () => NONE,
  update: (ctx) => sgdUpdate(ctx),
  afterUpdate: async () => NONE,
};
