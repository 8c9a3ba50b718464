// Column sums (shaders/reduce.wgsl) against the float64 reference, on shapes
// that do not fill a workgroup and a column count past one workgroup.

import { test } from 'uvu';
import { columnSum } from '../src/kernels/reduce.ts';
import { columnSum as refColumnSum } from './reference/reduce.ts';
import { randomArray } from './reference/random.ts';
import { assertClose, f32, gpu } from './harness.ts';

// f32 accumulation of `rows` values of size O(1) errs by at most ~rows·ε.
const EPS = 2 ** -23;
const tolFor = (rows: number) => ({ atol: 1e-6 + 4 * rows * EPS, rtol: 1e-5 });

for (const [rows, cols] of [
  [1, 1],
  [3, 7],
  [17, 65],
  [129, 5],
]) {
  test(`column sums of ${rows}×${cols}`, async () => {
    const rt = await gpu();
    const xh = f32(randomArray(rows * cols, rows * 31 + cols, 1));
    const x = rt.upload(xh, [rows, cols]);
    const out = rt.empty([cols]);
    rt.run([await columnSum(rt, { x, rows, cols, out })]);
    assertClose('Σ rows', await rt.readF32(out), refColumnSum(xh, rows, cols), tolFor(rows));
    x.release();
    out.release();
  });
}

test.run();
