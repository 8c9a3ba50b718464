// Colours shared by every figure: one fixed colour per rule (so bp is the
// same colour in the loss curve, the error curve and the angle summaries),
// and a sequential scale for layer depth and for heat-map angles.

import * as Plot from '@observablehq/plot';

/** The rules in the order the poster and the tables show them. */
export const RULES = ['bp', 'fa', 'ss', 'wm', 'kp'] as const;

const RULE_COLORS: Record<string, string> = {
  bp: '#222222', // the reference: black
  fa: '#e15759',
  ss: '#f28e2b',
  wm: '#4e79a7',
  kp: '#59a14f',
};

/** For labels that are not one of the five rules (a second run of a rule, or a new rule). */
const EXTRA_COLORS = ['#b07aa1', '#76b7b2', '#9c755f', '#edc948', '#ff9da7', '#bab0ac', '#17becf', '#8c564b'];

/** Sort key: the five rules first in their order, any other rule after. */
export function ruleOrder(rule: string): number {
  const i = (RULES as readonly string[]).indexOf(rule);
  return i < 0 ? RULES.length : i;
}

/**
 * One colour per run label: a run gets its rule's fixed colour unless an
 * earlier run already took it (then, like unknown rules, the next extra colour).
 */
export function labelColors(runs: readonly { label: string; rule: string }[]): Map<string, string> {
  const colors = new Map<string, string>();
  const taken = new Set<string>();
  let extra = 0;
  for (const r of runs) {
    const fixed = RULE_COLORS[r.rule];
    if (fixed && !taken.has(r.rule)) {
      taken.add(r.rule);
      colors.set(r.label, fixed);
    } else {
      colors.set(r.label, EXTRA_COLORS[extra++ % EXTRA_COLORS.length]);
    }
  }
  return colors;
}

// Viridis, stopped short of its pale yellow end, which is hard to see on white.
const depthScale = Plot.scale({ color: { type: 'linear', scheme: 'viridis', domain: [0, 1] } });

/** Colour of layer `i` of `n` (0 = nearest the input): dark purple → green. */
export function depthColor(i: number, n: number): string {
  return String(depthScale.apply(n <= 1 ? 0 : (0.85 * i) / (n - 1)));
}

/** The heat maps' colour scheme (Plot's name for it) and a sampler for drawing their legend. */
export const HEAT_SCHEME = 'viridis';
const heatScale = Plot.scale({ color: { type: 'linear', scheme: HEAT_SCHEME, domain: [0, 1] } });
export function heatColor(t: number): string {
  return String(heatScale.apply(t));
}
