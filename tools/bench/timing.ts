// Timing by the wall clock: one warm-up run (waited for) sizes the repeat
// count, then R runs are submitted back to back and waited for once, and the
// mean is reported (without the warm-up when the caller has warmed up and
// fixed R itself). tools/peers/tfjs.ts times its calls the same way, so the
// two compare.

import type { Runtime } from '../../src/gpu/runtime.ts';

export interface TimingOptions {
  minReps?: number;
  maxReps?: number;
  /** Aim for at least this much timed work. */
  minMs?: number;
  /** Run once untimed first and size R from it (default true). */
  warmup?: boolean;
}

export async function timeGpu(rt: Runtime, runOnce: () => void, opts: TimingOptions = {}): Promise<number> {
  const { minReps = 2, maxReps = 50, minMs = 300, warmup = true } = opts;
  let reps = minReps;
  if (warmup) {
    const t = performance.now();
    runOnce();
    await rt.finish();
    const warm = performance.now() - t;
    reps = Math.max(minReps, Math.min(maxReps, Math.ceil(minMs / Math.max(warm, 1e-3))));
  }
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) runOnce();
  await rt.finish();
  return (performance.now() - t0) / reps;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median(): no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
