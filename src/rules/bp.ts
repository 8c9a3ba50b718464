// Backprop: every layer's feedback binding is W's own buffer; nothing to update.

import type { Rule } from './rule.ts';
import { NONE, sgdUpdate } from './sgd-update.ts';

export const bp: Rule = {
  name: 'bp',
  options: {},
  feedback: 'weight',
  feedbackInCheckpoint: false,
  feedbackMomentum: false,
  validate() {},
  beforeStep: async () => NONE,
  update: (ctx) => sgdUpdate(ctx),
  afterUpdate: async () => NONE,
};
