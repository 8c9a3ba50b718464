// The adapter's FMA peak from shaders/peak_probe.wgsl: enough threads to fill
// every core, enough iterations to dwarf launch overhead.

import type { Runtime } from '../../src/gpu/runtime.ts';
import { peakProbe } from '../../src/kernels/peak_probe.ts';
import { timeGpu } from './timing.ts';

export async function measurePeakGflops(rt: Runtime): Promise<number> {
  const threads = rt.ctx.isCpu ? 4096 : 1 << 20;
  const iters = rt.ctx.isCpu ? 512 : 4096;
  const probe = await peakProbe(rt, threads, iters);
  try {
    const ms = await timeGpu(rt, () => rt.run([probe.dispatch]), { minReps: 3, minMs: 500 });
    return probe.flops / ms / 1e6;
  } finally {
    probe.dispatch.dispose();
    probe.out.release();
  }
}
