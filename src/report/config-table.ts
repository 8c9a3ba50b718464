// The configuration table: every key of every run's config.json, nested
// objects flattened to dotted keys, one column per run, and which rows differ.

import { fmtValue } from './format.ts';
import type { RunConfig } from './types.ts';

export interface ConfigRow {
  key: string;
  /** One per run, as text; "—" where the run has no such key. */
  values: string[];
  /** The runs do not all agree on this key. */
  differs: boolean;
}

/** `{a: {b: 1}, c: [1, 2]}` → `[['a.b', 1], ['c', [1, 2]]]`; arrays and empty objects stay whole values. */
export function flattenConfig(obj: Record<string, unknown>, prefix = ''): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0)
      out.push(...flattenConfig(v as Record<string, unknown>, key));
    else out.push([key, v]);
  }
  return out;
}

/** Rows in first-seen key order over the runs (so config.json's own order reads top to bottom). */
export function configRows(configs: readonly RunConfig[]): ConfigRow[] {
  const flat = configs.map((c) => new Map(flattenConfig(c)));
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const f of flat)
    for (const k of f.keys())
      if (!seen.has(k)) {
        seen.add(k);
        keys.push(k);
      }
  return keys.map((key) => {
    const values = flat.map((f) => (f.has(key) ? fmtValue(f.get(key)) : fmtValue(undefined)));
    return { key, values, differs: values.some((v) => v !== values[0]) };
  });
}
