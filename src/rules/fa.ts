// Feedback alignment (Lillicrap et al. 2016): B is drawn once, like W with a
// seed of its own, and never changes.

import type { Rule } from './rule.ts';
import { NONE, sgdUpdate } from './sgd-update.ts';

export const fa: Rule = {
  name: 'fa',
  options: {},
  feedback: 'own',
  feedbackInCheckpoint: true,
  feedbackMomentum: false,
  validate() {},
  beforeStep: async () => NONE,
  update: (ctx) => sgdUpdate(ctx),
  afterUpdate: async () => NONE,
};
