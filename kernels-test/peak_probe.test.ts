// The FMA peak probe (shaders/peak_probe.wgsl) against its float64 reference:
// it does the arithmetic its FLOP count claims, in every thread of a grid that
// does not fill its last workgroup.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { peakProbe } from '../src/kernels/peak_probe.ts';
import { peakProbeOutput } from './reference/peak_probe.ts';
import { assertClose, gpu } from './harness.ts';

test('every thread runs iters rounds of 8 chains × 4 steps × vec4, as the FLOP count says', async () => {
  const rt = await gpu();
  const [threads, iters] = [100, 5];
  const probe = await peakProbe(rt, threads, iters);
  const groups = Math.ceil(threads / 64);
  assert.is(probe.flops, groups * 64 * iters * 4 * 8 * 4 * 2);
  rt.run([probe.dispatch]);
  const got = await rt.readF32(probe.out);
  // 20 f32 FMA steps of values ~1–8, then a sum of 32: well inside 1e-5 relative.
  assertClose('probe output', got, peakProbeOutput(groups * 64, iters), { atol: 1e-5, rtol: 1e-5 });
  probe.out.release();
});

test.run();
