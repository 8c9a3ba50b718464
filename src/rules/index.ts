// The five rules by name.

import { UnsupportedError } from '../gpu/errors.ts';
import { bp } from './bp.ts';
import { fa } from './fa.ts';
import { kp } from './kp.ts';
import { RULE_NAMES, type MirrorOptions, type Rule, type RuleName } from './rule.ts';
import { ss } from './ss.ts';
import { createWm, wm } from './wm.ts';

export const RULES: Record<RuleName, Rule> = { bp, fa, ss, wm, kp };

/** Settings a rule may own; each rule takes its own and ignores the rest. */
export interface RuleSettings {
  mirror?: Partial<MirrorOptions>;
}

/** The rule called `name`, with its own settings from `settings`. */
export function ruleByName(name: string, settings: RuleSettings = {}): Rule {
  if (!(RULE_NAMES as readonly string[]).includes(name)) {
    throw new UnsupportedError(`--rule: unknown rule "${name}" (known: ${RULE_NAMES.join(', ')})`);
  }
  if (name === 'wm' && settings.mirror) return createWm(settings.mirror);
  return RULES[name as RuleName];
}

export { DEFAULT_MIRROR, RULE_NAMES, type MirrorOptions, type Rule, type RuleContext, type RuleName } from './rule.ts';
export { createWm, mirrorSteps } from './wm.ts';
