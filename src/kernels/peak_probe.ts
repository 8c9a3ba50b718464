// Launcher for shaders/peak_probe.wgsl: an FMA-only kernel whose FLOP count
// is exact, so its time gives the adapter's arithmetic peak.

import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';

const WG = 64;
/** FLOPs one thread performs per loop iteration: 4 unrolled × 8 chains × vec4 × 2. */
const FLOPS_PER_ITER = 4 * 8 * 4 * 2;

export interface PeakProbe {
  dispatch: Dispatch;
  flops: number;
  out: Tensor;
}

export async function peakProbe(rt: Runtime, threads: number, iters: number): Promise<PeakProbe> {
  const groups = Math.ceil(threads / WG);
  const out = rt.empty([groups * WG], 'f32', 'peak_probe.out');
  const kernel = await rt.kernel('peak_probe', { WG });
  const dispatch = rt.dispatch(kernel, { params: { iters }, out }, [groups]);
  return { dispatch, flops: groups * WG * iters * FLOPS_PER_ITER, out };
}
