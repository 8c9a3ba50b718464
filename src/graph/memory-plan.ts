// The liveness-based memory plan: every intermediate tensor of a step lives
// from the step position that writes it first to the one that reads it last;
// tensors whose lives do not overlap share a slot (one GPU buffer). Greedy
// best fit in order of first use, growing a free slot when none is big enough.
// planSchedule reads the lifetimes off a compiled pass's schedule.

import type { DType } from '../gpu/tensor.ts';
import { bufferOf, type Schedule } from './schedule.ts';
import { valueBytes, type ValueId } from './values.ts';

export interface Lifetime {
  id: string;
  bytes: number;
  /** Position (dispatch index) of the first write. */
  first: number;
  /** Position of the last read (≥ first). */
  last: number;
}

export interface MemoryPlan {
  /** Slot of each tensor id. */
  slotOf: Map<string, number>;
  /** Size of each slot in bytes (the largest tenant). */
  slotBytes: number[];
  totalBytes: number;
  /** The most bytes live at any one position: no plan can use less. */
  lowerBoundBytes: number;
}

export function planMemory(lifetimes: readonly Lifetime[]): MemoryPlan {
  for (const t of lifetimes) {
    if (!(t.last >= t.first) || t.bytes < 0)
      throw new Error(`planMemory(): tensor ${t.id} has first=${t.first} last=${t.last} bytes=${t.bytes}`);
  }
  const order = [...lifetimes].sort((a, b) => a.first - b.first || b.bytes - a.bytes);
  const slotBytes: number[] = [];
  const busyUntil: number[] = [];
  const slotOf = new Map<string, number>();
  for (const t of order) {
    let best = -1;
    let largestFree = -1;
    for (let s = 0; s < slotBytes.length; s++) {
      if (busyUntil[s] >= t.first) continue;
      if (slotBytes[s] >= t.bytes && (best < 0 || slotBytes[s] < slotBytes[best])) best = s;
      if (largestFree < 0 || slotBytes[s] > slotBytes[largestFree]) largestFree = s;
    }
    const s = best >= 0 ? best : largestFree >= 0 ? largestFree : slotBytes.push(0) - 1;
    slotBytes[s] = Math.max(slotBytes[s], t.bytes);
    busyUntil[s] = t.last;
    slotOf.set(t.id, s);
  }
  // Sweep for the peak of simultaneously live bytes.
  const events: [number, number][] = [];
  for (const t of lifetimes) events.push([t.first, t.bytes], [t.last + 0.5, -t.bytes]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let live = 0;
  let lowerBoundBytes = 0;
  for (const [, d] of events) {
    live += d;
    lowerBoundBytes = Math.max(lowerBoundBytes, live);
  }
  return { slotOf, slotBytes, totalBytes: slotBytes.reduce((a, b) => a + b, 0), lowerBoundBytes };
}

export interface MemoryReport {
  /** Bytes of the planned slots (activations, their gradients, saved statistics). */
  activationBytes: number;
  /** The most activation bytes live at once: no plan can do with less. */
  activationLowerBound: number;
  /** Slots, before sharing: what one buffer per tensor would take. */
  unplannedBytes: number;
}

/** Slot tenants are sized in whole 256-byte blocks. */
const SLOT_GRANULE = 256;

/** A value's slot bytes: its dtype's bytes, rounded up to the slot granule. */
export function slotBytesOf(shape: readonly number[], dtype: DType): number {
  return Math.ceil(valueBytes(shape, dtype) / SLOT_GRANULE) * SLOT_GRANULE;
}

/**
 * The lifetimes of a schedule's values, by the buffer each uses (a reshape
 * lives in its input's): from the first call naming it to the last. Values
 * that live for the whole pass (inputs, logits, metrics) and kept deltas get
 * buffers of their own and are left out.
 */
export function scheduleLifetimes(schedule: Schedule): Lifetime[] {
  const keep = new Set([...schedule.deltas.values()].map((id) => bufferOf(schedule, id)));
  const lives = new Map<ValueId, { first: number; last: number }>();
  schedule.calls.forEach((c, i) => {
    for (const id of [...c.reads, ...c.writes]) {
      const k = bufferOf(schedule, id);
      const l = lives.get(k);
      if (l) l.last = i;
      else lives.set(k, { first: i, last: i });
    }
  });
  const lifetimes: Lifetime[] = [];
  for (const [id, l] of lives) {
    const d = schedule.values.get(id)!;
    if (d.persistent || keep.has(id)) continue;
    lifetimes.push({ id, bytes: slotBytesOf(d.shape, d.dtype), first: l.first, last: l.last });
  }
  return lifetimes;
}

/** planMemory over a schedule's lifetimes, and the byte counts a pass reports. */
export function planSchedule(schedule: Schedule): { plan: MemoryPlan; report: MemoryReport } {
  const lifetimes = scheduleLifetimes(schedule);
  const plan = planMemory(lifetimes);
  const unplannedBytes = lifetimes.reduce((n, l) => n + l.bytes, 0);
  return { plan, report: { activationBytes: plan.totalBytes, activationLowerBound: plan.lowerBoundBytes, unplannedBytes } };
}
