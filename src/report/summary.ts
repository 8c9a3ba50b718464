// The numbers of the report's final table, per run, from the full (never
// thinned) records: last and best test errors, final alignment angles, median
// throughput and wall time.

import type { AlignmentRecord, AngleKind, EventRecord, LayerAlignment, Run } from './types.ts';

export interface RunSummary {
  label: string;
  rule: string;
  /** Last step and epoch recorded by any record. */
  step: number | null;
  epoch: number | null;
  top1: number | null;
  top5: number | null;
  bestTop1: number | null;
  weightMean: number | null;
  weightWorst: number | null;
  deltaMean: number | null;
  deltaWorst: number | null;
  imagesPerS: number | null;
  wallS: number | null;
  /** The last event's `what` (finished, interrupted, diverged, …), or null. */
  status: string | null;
  /** Names of layers flagged unused in the last alignment record. */
  unused: string[];
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function angleOf(l: LayerAlignment, kind: AngleKind): number | null {
  return kind === 'weight' ? l.weight_angle_deg : l.delta_angle_deg;
}

/**
 * The angles that count for means and worst-layer numbers: unmeasured (null)
 * angles left out, and an unused layer's weight angle (no pass reads its B).
 * Its delta angle counts: δ at its output is made by the B of the layers above.
 */
function countedAngles(rec: AlignmentRecord, kind: AngleKind): number[] {
  const out: number[] = [];
  for (const l of rec.layers) {
    const a = angleOf(l, kind);
    if (a !== null && !(kind === 'weight' && l.unused)) out.push(a);
  }
  return out;
}

/** Mean angle over the layers that count (see countedAngles), or null when none has one. */
export function meanAngle(rec: AlignmentRecord, kind: AngleKind): number | null {
  const a = countedAngles(rec, kind);
  return a.length ? a.reduce((s, x) => s + x, 0) / a.length : null;
}

/** Largest angle over the layers that count, or null when none has one. */
export function worstAngle(rec: AlignmentRecord, kind: AngleKind): number | null {
  const a = countedAngles(rec, kind);
  return a.length ? Math.max(...a) : null;
}

/** The finished event's wall_s, else the span between the first and last event times, else null. */
export function wallSeconds(events: readonly EventRecord[]): number | null {
  const finished = [...events].reverse().find((e) => e.what === 'finished' && e.wall_s !== undefined);
  if (finished?.wall_s !== undefined) return finished.wall_s;
  const times = events.map((e) => (e.time ? Date.parse(e.time) : NaN)).filter((t) => Number.isFinite(t));
  if (times.length < 2) return null;
  return (times[times.length - 1] - times[0]) / 1000;
}

function last<T>(xs: readonly T[]): T | undefined {
  return xs[xs.length - 1];
}

export function summarizeRun(run: Run): RunSummary {
  const lastTest = last(run.test);
  const top1s = run.test.map((t) => t.top1_error).filter((x): x is number => x !== undefined);
  const lastAlign = last(run.alignment);
  const all = [...run.train, ...run.test, ...run.alignment, ...run.events];
  const lastRec = all.reduce<(typeof all)[number] | undefined>((a, r) => (a === undefined || r.step >= a.step ? r : a), undefined);
  return {
    label: run.label,
    rule: run.rule,
    step: lastRec?.step ?? null,
    epoch: lastRec?.epoch ?? null,
    top1: lastTest?.top1_error ?? null,
    top5: lastTest?.top5_error ?? null,
    bestTop1: top1s.length ? Math.min(...top1s) : null,
    weightMean: lastAlign ? meanAngle(lastAlign, 'weight') : null,
    weightWorst: lastAlign ? worstAngle(lastAlign, 'weight') : null,
    deltaMean: lastAlign ? meanAngle(lastAlign, 'delta') : null,
    deltaWorst: lastAlign ? worstAngle(lastAlign, 'delta') : null,
    imagesPerS: median(run.train.map((t) => t.images_per_s).filter((x): x is number => x !== undefined)),
    wallS: wallSeconds(run.events),
    status: last(run.events)?.what ?? null,
    unused: lastAlign ? lastAlign.layers.filter((l) => l.unused).map((l) => l.name) : [],
  };
}
