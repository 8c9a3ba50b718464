// The five rules by name.

import { UnsupportedError } from '../gpu/errors.ts';
import { bp } from './bp.ts';
import { fa } from './fa.ts';
import { kp } from './kp.ts';
import { RULE_NAMES, type Rule, type RuleName } from './rule.ts';
import { ss } from './ss.ts';
import { wm } from './wm.ts';

export const RULES: Record<RuleName, Rule> = { bp, fa, ss, wm, kp };

export function ruleByName(name: string): Rule {
  if (!(RULE_NAMES as readonly string[]).includes(name)) {
    throw new UnsupportedError(`--rule: unknown rule "${name}" (known: ${RULE_NAMES.join(', ')})`);
  }
  return RULES[name as RuleName];
}

export { DEFAULT_MIRROR, RULE_NAMES, type MirrorOptions, type Rule, type RuleContext, type RuleName } from './rule.ts';
export { mirrorSteps } from './wm.ts';
