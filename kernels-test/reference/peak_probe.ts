// Naive float64 reference for shaders/peak_probe.wgsl: what thread t stores
// after `iters` rounds of its 8 FMA chains (4 unrolled steps a round, x ← x·m + c
// on each of a vec4's lanes), so a test can check the probe does the work it counts.

import { checkPositiveInt } from './check.ts';

export function peakProbeOutput(threads: number, iters: number): Float64Array {
  checkPositiveInt('peakProbeOutput', 'threads', threads);
  const m = Math.fround(0.9999);
  const c = Math.fround(1e-4);
  const out = new Float64Array(threads);
  for (let t = 0; t < threads; t++) {
    let sum = 0;
    for (let j = 0; j < 8; j++) {
      let x = Math.fround(t * 1e-6) + j;
      for (let s = 0; s < 4 * iters; s++) x = x * m + c;
      sum += x;
    }
    out[t] = 4 * sum;
  }
  return out;
}
