// Softmax cross-entropy against the float64 reference: loss, dlogits and
// top-1/top-5 counts from the GPU metrics buffer, on tiny, wide and huge-logit
// batches, ties, C < 5, gradScale, accumulation over steps, out-of-range
// targets, forward-only, and refusals before anything is dispatched.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Runtime } from '../src/gpu/runtime.ts';
import { decodeLossMetrics, softmaxCrossEntropy } from '../src/kernels/softmax_cross_entropy.ts';
import { runOp } from '../src/kernels/op.ts';
import { softmaxCrossEntropy as refLoss } from './reference/softmax_cross_entropy.ts';
import { randomArray, seededRandom } from './reference/random.ts';
import { assertClose, assertThrows, f32, gpu } from './harness.ts';

// Loss: f32 log-sum-exp around the row max is a few ulps relative, even at
// |logit| = 1e4 where one ulp is 1e-3 absolute, so rtol 1e-5. Gradients are
// probabilities/N ≤ 1: a few ulps of 1 is < 1e-6 absolute.
const LOSS_TOL = { atol: 1e-5, rtol: 1e-5 };
const GRAD_TOL = { atol: 1e-6, rtol: 1e-5 };

function randomTargets(N: number, C: number, seed: number): Int32Array {
  const r = seededRandom(seed);
  return Int32Array.from({ length: N }, () => Math.floor(r() * C));
}

async function check(rt: Runtime, name: string, logitsH: Float32Array, targetsH: Int32Array, N: number, C: number, gradScale = 1) {
  const logits = rt.upload(logitsH, [N, C]);
  const targets = rt.upload(targetsH, [N], 'i32');
  const op = runOp(rt, await softmaxCrossEntropy(rt, { logits, targets, gradScale }));
  const ref = refLoss(logitsH, targetsH, N, C);
  const m = decodeLossMetrics(await rt.readF32(op.out.metrics));
  assertClose(`${name}: loss`, [m.loss], [ref.loss], LOSS_TOL);
  assert.equal([m.top1Correct, m.top5Correct, m.samples, m.invalidTargets], [ref.top1Correct, ref.top5Correct, N, 0], `${name}: counts`);
  assertClose(
    `${name}: dlogits`,
    await rt.readF32(op.out.dlogits!),
    ref.dlogits.map((g) => gradScale * g),
    GRAD_TOL,
  );
  for (const t of [logits, targets, op.out.dlogits!, op.out.rows, op.out.metrics]) t.release();
}

// [N, C, logit scale]: one sample one class, C = 10, C < 5, C > the workgroup
// (several strides), C not a multiple of anything, huge logits.
const CASES: [number, number, number][] = [
  [1, 1, 1],
  [1, 10, 1],
  [3, 10, 3],
  [2, 3, 1],
  [4, 4, 2],
  [5, 200, 2],
  [7, 65, 1],
  [4, 10, 1e4],
  [2, 130, 1e4],
];

for (const [N, C, scale] of CASES) {
  test(`loss: N=${N} C=${C} logits ~ N(0, ${scale}²)`, async () => {
    const rt = await gpu();
    await check(rt, `N=${N} C=${C}`, f32(randomArray(N * C, N * 100 + C, scale)), randomTargets(N, C, N + C), N, C);
  });
}

test('loss: logits of ±1e4 stay finite and exact', async () => {
  const rt = await gpu();
  const [N, C] = [3, 10];
  const l = new Float32Array(N * C).fill(-1e4);
  l[0 * C + 2] = 1e4; // row 0: target 2 wins by 2e4 → loss 0
  l[1 * C + 5] = 1e4; // row 1: target 0 loses by 2e4 → loss 2e4
  // row 2: all −1e4 → loss log(10)
  await check(rt, 'huge', l, Int32Array.from([2, 0, 7]), N, C);
});

test('loss: ties favour the target for top-1 and top-5', async () => {
  const rt = await gpu();
  const C = 8;
  // Row 0: all equal → top-1 hit. Row 1: 4 logits above the target → top-5 hit, top-1 miss.
  // Row 2: 5 above → both miss. Row 3: target tied with 5 others above none → top-1 hit.
  const rows = [
    [0, 0, 0, 0, 0, 0, 0, 0],
    [5, 5, 5, 5, 1, 1, 1, 1],
    [5, 5, 5, 5, 5, 1, 1, 1],
    [3, 3, 3, 3, 3, 3, 0, 0],
  ];
  const t = Int32Array.from([3, 5, 6, 2]);
  const ref = refLoss(rows.flat(), t, 4, C);
  assert.equal([ref.top1Correct, ref.top5Correct], [2, 3], 'the reference agrees with the comment');
  await check(rt, 'ties', f32(rows.flat()), t, 4, C);
});

test('loss: gradScale multiplies dlogits only', async () => {
  const rt = await gpu();
  await check(rt, 'gradScale', f32(randomArray(3 * 11, 4, 2)), randomTargets(3, 11, 4), 3, 11, 0.125);
});

test('loss: accumulate adds steps into the metrics; set() switches it without new bind groups', async () => {
  const rt = await gpu();
  const [N, C] = [6, 10];
  const aH = f32(randomArray(N * C, 1, 2));
  const bH = f32(randomArray(N * C, 2, 2));
  const tH = randomTargets(N, C, 3);
  const logits = rt.upload(aH, [N, C]);
  const targets = rt.upload(tH, [N], 'i32');
  const op = await softmaxCrossEntropy(rt, { logits, targets });
  const program = rt.record(op.dispatches);
  program.run();
  const before = rt.stats.bindGroupsCreated;
  op.set({ accumulate: true });
  rt.write(logits, bH);
  program.run();
  const m = decodeLossMetrics(await rt.readF32(op.out.metrics));
  const ra = refLoss(aH, tH, N, C);
  const rb = refLoss(bH, tH, N, C);
  assertClose('Σ loss', [m.lossSum], [N * (ra.loss + rb.loss)], LOSS_TOL);
  assert.equal([m.top1Correct, m.top5Correct, m.samples], [ra.top1Correct + rb.top1Correct, ra.top5Correct + rb.top5Correct, 2 * N]);
  op.set({ accumulate: false });
  program.run();
  const m2 = decodeLossMetrics(await rt.readF32(op.out.metrics));
  assert.is(m2.samples, N, 'accumulate=false starts a new window');
  assert.is(rt.stats.bindGroupsCreated, before);
});

test('loss: targets outside [0, C) are counted, add nothing, and read nothing out of range', async () => {
  const rt = await gpu();
  const [N, C] = [4, 5];
  const lH = f32(randomArray(N * C, 8, 1));
  const tH = Int32Array.from([1, -1, 5, 4]);
  const logits = rt.upload(lH, [N, C]);
  const targets = rt.upload(tH, [N], 'i32');
  const op = runOp(rt, await softmaxCrossEntropy(rt, { logits, targets }));
  const m = decodeLossMetrics(await rt.readF32(op.out.metrics));
  const valid = refLoss([...lH.subarray(0, C), ...lH.subarray(3 * C)], [1, 4], 2, C);
  assert.is(m.invalidTargets, 2);
  assert.is(m.samples, N);
  assertClose('Σ loss over the valid rows', [m.lossSum], [2 * valid.loss], LOSS_TOL);
  assert.is(m.top1Correct, valid.top1Correct);
  const g = await rt.readF32(op.out.dlogits!);
  assert.ok(g.every(Number.isFinite), 'no NaN or Inf');
  // Invalid rows: softmax/N with no one-hot term (sums to 1/N instead of 0).
  const rowSum = (r: number) => g.subarray(r * C, (r + 1) * C).reduce((a, v) => a + v, 0);
  assertClose('row sums', [0, 1, 2, 3].map(rowSum), [0, 1 / N, 1 / N, 0], GRAD_TOL);
});

test('loss: forward-only op writes the metrics and no gradient', async () => {
  const rt = await gpu();
  const [N, C] = [3, 7];
  const lH = f32(randomArray(N * C, 11, 1));
  const tH = randomTargets(N, C, 12);
  const logits = rt.upload(lH, [N, C]);
  const targets = rt.upload(tH, [N], 'i32');
  const op = runOp(rt, await softmaxCrossEntropy(rt, { logits, targets, dlogits: null }));
  assert.is(op.out.dlogits, undefined);
  const m = decodeLossMetrics(await rt.readF32(op.out.metrics));
  const ref = refLoss(lH, tH, N, C);
  assertClose('loss', [m.loss], [ref.loss], LOSS_TOL);
  assert.equal([m.top1Correct, m.top5Correct], [ref.top1Correct, ref.top5Correct]);
});

test('loss: bad shapes are refused before anything is dispatched', async () => {
  const rt = await gpu();
  const logits = rt.empty([4, 10]);
  const targets = rt.empty([4], 'i32');
  const before = rt.stats.bindGroupsCreated;
  await assertThrows(
    () => softmaxCrossEntropy(rt, { logits, targets: rt.empty([5], 'i32') }),
    /softmaxCrossEntropy\(\): targets has 5 entries but logits has 4 rows/,
  );
  await assertThrows(
    () => softmaxCrossEntropy(rt, { logits, targets: rt.empty([4]) }),
    /softmaxCrossEntropy\(\): targets is f32, expected i32/,
  );
  await assertThrows(
    () => softmaxCrossEntropy(rt, { logits: rt.empty([40]), targets }),
    /softmaxCrossEntropy\(\): logits has shape \[40\], expected rank 2/,
  );
  await assertThrows(
    () => softmaxCrossEntropy(rt, { logits, targets, dlogits: rt.empty([4, 9]) }),
    /softmaxCrossEntropy\(\): dlogits has shape \[4, 9\], expected \[4, 10\]/,
  );
  await assertThrows(
    () => softmaxCrossEntropy(rt, { logits, targets, metrics: rt.empty([4]) }),
    /softmaxCrossEntropy\(\): metrics has shape \[4\], expected \[5\]/,
  );
  await assertThrows(
    () => softmaxCrossEntropy(rt, { logits, targets, gradScale: Infinity }),
    /softmaxCrossEntropy\(\): gradScale=Infinity must be finite/,
  );
  assert.is(rt.stats.bindGroupsCreated, before);
  assert.throws(() => decodeLossMetrics([1, 2]), /decodeLossMetrics\(\): 2 values, expected 5/);
});

test.run();
