// Nested JSON objects as dotted keys ("optimizer.lr"), in the object's own
// order: how configs are compared (src/train/config.ts) and tabulated
// (src/report/config-table.ts). Arrays and empty objects are leaves.

export function flattenJson(obj: Record<string, unknown>, prefix = ''): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0)
      out.push(...flattenJson(v as Record<string, unknown>, key));
    else out.push([key, v]);
  }
  return out;
}
