// The configuration table: every key of every run's config.json, nested
// objects flattened to dotted keys, one column per run, and which rows differ.

import { flattenJson } from '../io/flatten-json.ts';
import { fmtValue } from './format.ts';
import type { RunConfig } from './types.ts';

export interface ConfigRow {
  key: string;
  /** One per run, as text; "—" where the run has no such key. */
  values: string[];
  /** The runs do not all agree on this key. */
  differs: boolean;
}

/** Rows in first-seen key order over the runs (so config.json's own order reads top to bottom). */
export function configRows(configs: readonly RunConfig[]): ConfigRow[] {
  const flat = configs.map((c) => new Map(flattenJson(c)));
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
