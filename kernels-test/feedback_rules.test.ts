// Feedback-tensor kernels against the float64 references of
// kernels-test/reference/feedback_rules.ts: SS (sign(0) = 0, per-layer scales over an
// arena), KP (== two SGD steps, W − B shrinking by 1 − lr·wd), the WM mirror
// step (end to end through the linear kernels), growth control
// from GPU-side norms, and refusals before anything is dispatched.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { alignmentFromSums, alignmentSums } from '../src/kernels/alignment.ts';
import { kpUpdate, rescaleToNorm, signSymmetry, ssScale } from '../src/kernels/feedback_rules.ts';
import { linearForward, linearWeightGrad } from '../src/kernels/linear.ts';
import { runOp } from '../src/kernels/op.ts';
import { randomNormal } from '../src/kernels/philox.ts';
import { createSegmentTable, planArena, sgdStep, type SgdHyper } from '../src/kernels/sgd.ts';
import { philoxNormals } from './reference/philox.ts';
import { randomArray } from './reference/random.ts';
import { kpUpdate as refKp, mirrorUpdateLinear, signSymmetry as refSS, ssScale as refSsScale } from './reference/feedback_rules.ts';
import { linearForward as refLinear } from './reference/matmul.ts';
import { assertClose, assertThrows, f32, gpu } from './harness.ts';

// SS: sign·s is one f32 rounding of s: rtol 2^-23. Update rules: a handful of
// f32 operations on O(1) values per step (reference fed the same f32 inputs):
// 1e-6 over ≤ 3 steps. The end-to-end mirror step adds an f32 GEMM over n
// noise samples: 4·n·ε relative, as in matmul.test.ts.
const SS_TOL = { atol: 0, rtol: 2 ** -23 };
const STEP_TOL = { atol: 1e-6, rtol: 1e-6 };
const KP: SgdHyper = { lr: 0.05, momentum: 0.9, weightDecay: 0.01, nesterov: false, firstStep: true };

test('ssScale matches the reference for conv and linear shapes', () => {
  for (const sh of [
    [16, 3, 3, 3],
    [7, 5, 1, 1],
    [10, 64],
    [1, 1],
  ])
    assert.is(ssScale(sh), refSsScale(sh), `[${sh}]`);
  assert.throws(() => ssScale([3, 3, 3]), /ssScale\(\): shape \[3, 3, 3\] must be \(O, I, kh, kw\) or \(O, I\)/);
});

test('SS: one conv tensor, sign(±0) = 0', async () => {
  const rt = await gpu();
  const shape = [4, 3, 3, 3];
  const wH = f32(randomArray(108, 1, 1));
  wH[0] = 0;
  wH[5] = -0;
  wH[7] = 1e-30; // tiny but positive: full scale
  const w = rt.upload(wH, shape);
  const op = runOp(rt, await signSymmetry(rt, { w, scale: ssScale(shape) }));
  const got = await rt.readF32(op.out.b);
  assertClose('B', got, refSS(wH, shape), SS_TOL);
  assert.is(got[0], 0);
  assert.is(got[5], 0);
  assert.is(got[7], Math.fround(ssScale(shape)));
  assert.equal(op.out.b.shape, shape);
});

test('SS: every layer of an arena in one dispatch, each with its scale; padding untouched', async () => {
  const rt = await gpu();
  const shapes = [
    [4, 3, 3, 3],
    [5, 4, 1, 1],
    [10, 7],
    [1, 1],
    [6, 5, 3, 3],
  ];
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const layout = planArena(sizes);
  const wH = f32(randomArray(layout.total, 2, 1));
  const w = rt.upload(wH, [layout.total]);
  const b = rt.upload(new Float32Array(layout.total).fill(7), [layout.total]);
  const table = createSegmentTable(rt, layout.segments);
  const op = runOp(rt, await signSymmetry(rt, { w, b, segments: table, scale: shapes.map(ssScale) }));
  assert.is(op.dispatches.length, 1);
  const got = await rt.readF32(b);
  const want = new Float64Array(layout.total).fill(7);
  for (const [i, s] of layout.segments.entries()) want.set(refSS(wH.subarray(s.offset, s.offset + s.length), shapes[i]), s.offset);
  assertClose('B arena', got, want, SS_TOL);
});

test('KP: W and B match two reference SGD steps from the same gradient, 3 steps, arena with a tail', async () => {
  const rt = await gpu();
  for (const hyper of [KP, { ...KP, nesterov: true }, { ...KP, dampening: 0.2 }]) {
    const n = 103;
    const wH = f32(randomArray(n, 1, 1));
    const bH = f32(randomArray(n, 2, 1));
    const w = rt.upload(wH, [n]);
    const b = rt.upload(bH, [n]);
    const grad = rt.empty([n]);
    const momentumW = rt.empty([n]);
    const momentumB = rt.empty([n]);
    const op = await kpUpdate(rt, { w, b, grad, momentumW, momentumB, hyper });
    let ref: { w: ArrayLike<number>; b: ArrayLike<number>; bufW: ArrayLike<number> | null; bufB: ArrayLike<number> | null } = {
      w: wH,
      b: bH,
      bufW: null,
      bufB: null,
    };
    for (let s = 0; s < 3; s++) {
      const h = { ...hyper, firstStep: s === 0 };
      const g = f32(randomArray(n, 10 + s, 1));
      rt.write(grad, g);
      op.setHyper(h);
      rt.run(op.dispatches);
      ref = refKp(ref.w, ref.b, g, ref.bufW, ref.bufB, h);
    }
    assertClose('W', await rt.readF32(w), ref.w, STEP_TOL);
    assertClose('B', await rt.readF32(b), ref.b, STEP_TOL);
    assertClose('bufW', await rt.readF32(momentumW), ref.bufW!, STEP_TOL);
    assertClose('bufB', await rt.readF32(momentumB), ref.bufB!, STEP_TOL);
    for (const t of [w, b, grad, momentumW, momentumB]) t.release();
  }
});

test('KP: bit-identical to the GPU SGD step run on W and on B', async () => {
  const rt = await gpu();
  const n = 70;
  const [wH, bH, gH] = [1, 2, 3].map((s) => f32(randomArray(n, s, 1)));
  const up = (a: Float32Array) => rt.upload(a, [n]);
  const [w1, b1, g, mw1, mb1, w2, b2, mw2, mb2] = [
    wH,
    bH,
    gH,
    new Float32Array(n),
    new Float32Array(n),
    wH,
    bH,
    new Float32Array(n),
    new Float32Array(n),
  ].map(up);
  const kp = await kpUpdate(rt, { w: w1, b: b1, grad: g, momentumW: mw1, momentumB: mb1, hyper: KP });
  const sw = await sgdStep(rt, { param: w2, grad: g, momentumBuf: mw2, hyper: KP });
  const sb = await sgdStep(rt, { param: b2, grad: g, momentumBuf: mb2, hyper: KP });
  for (let s = 0; s < 2; s++) {
    const h = { ...KP, firstStep: s === 0 };
    for (const o of [kp, sw, sb]) o.setHyper(h);
    rt.run([...kp.dispatches, ...sw.dispatches, ...sb.dispatches]);
  }
  assert.equal(await rt.readF32(w1), await rt.readF32(w2));
  assert.equal(await rt.readF32(b1), await rt.readF32(b2));
  assert.equal(await rt.readF32(mb1), await rt.readF32(mb2));
});

test('KP without momentum: W − B shrinks by (1 − lr·wd) per step', async () => {
  const rt = await gpu();
  const n = 64;
  const hyper = { ...KP, momentum: 0, weightDecay: 0.1, lr: 0.5 };
  const wH = f32(randomArray(n, 4, 1));
  const bH = f32(randomArray(n, 5, 1));
  const w = rt.upload(wH, [n]);
  const b = rt.upload(bH, [n]);
  const grad = rt.upload(f32(randomArray(n, 6, 1)), [n]);
  const op = await kpUpdate(rt, { w, b, grad, hyper });
  const steps = 5;
  for (let s = 0; s < steps; s++) rt.run(op.dispatches);
  const [wg, bg] = [await rt.readF32(w), await rt.readF32(b)];
  const shrink = (1 - hyper.lr * hyper.weightDecay) ** steps;
  assertClose(
    'W − B',
    wg.map((v, i) => v - bg[i]),
    Float64Array.from(wH, (v, i) => (v - bH[i]) * shrink),
    { atol: 1e-5, rtol: 1e-5 },
  );
});

test('WM end to end on a linear layer: Philox noise → y = x·Wᵀ → B ← (η/n)·yᵀx + (1 − λ)·B in the product', async () => {
  const rt = await gpu();
  const [n, inF, outF, sigma] = [64, 9, 5, 0.5];
  const wH = f32(randomArray(outF * inF, 1, 1));
  const BH = f32(randomArray(outF * inF, 2, 1));
  const w = rt.upload(wH, [outF, inF]);
  const b = rt.upload(BH, [outF, inF]);
  const x = rt.empty([n, inF]);
  const noise = await randomNormal(rt, { out: x, seed: 11, stream: 3, offset: 0, scale: sigma });
  const fwd = await linearForward(rt, { x, w });
  const opts = { etaB: 0.2, lambdaB: 0.05 };
  const accumulate = { alpha: opts.etaB / n, beta: 1 - opts.lambdaB };
  const mirror = await linearWeightGrad(rt, { dy: fwd.out.y, x, dw: b, db: null, accumulate });
  rt.run([...noise.dispatches, ...fwd.dispatches, ...mirror.dispatches]);
  const xH = philoxNormals(11, 3, n * inF, sigma);
  const yH = refLinear(xH, wH, null, n, inF, outF);
  const want = mirrorUpdateLinear(BH, xH, yH, n, inF, outF, opts);
  // Noise within 1e-5·σ of the reference, then GEMMs over n = 64 samples.
  assertClose('B', await rt.readF32(b), want, { atol: 1e-5, rtol: 1e-4 });
});

test('WM growth control: B scaled to ‖W‖ per layer from GPU-side norms; ‖B‖ = 0 left alone', async () => {
  const rt = await gpu();
  const sizes = [27, 1, 200, 5];
  const layout = planArena(sizes);
  const wH = f32(randomArray(layout.total, 1, 1));
  const bH = f32(randomArray(layout.total, 2, 0.01));
  const z = layout.segments[3];
  bH.fill(0, z.offset, z.offset + z.length);
  const table = createSegmentTable(rt, layout.segments);
  const w = rt.upload(wH, [layout.total]);
  const b = rt.upload(bH, [layout.total]);
  const sums = await alignmentSums(rt, { b, w, segments: table });
  const rescale = await rescaleToNorm(rt, { b, segments: table, sums: sums.out.sums });
  rt.run([...sums.dispatches, ...rescale.dispatches, ...sums.dispatches]);
  const after = alignmentFromSums(await rt.readF32(sums.out.sums));
  assertClose(
    '‖B‖/‖W‖',
    after.slice(0, 3).map((a) => a.normRatio),
    [1, 1, 1],
    { atol: 0, rtol: 1e-5 },
  );
  assert.is(after[3].normB, 0);
  // Direction unchanged: B_new = f·B_old.
  const got = await rt.readF32(b);
  for (const [i, s] of layout.segments.slice(0, 3).entries()) {
    const f = got[s.offset] / bH[s.offset];
    assertClose(
      `layer ${i} is a multiple of the old B`,
      got.subarray(s.offset, s.offset + s.length),
      Float64Array.from(bH.subarray(s.offset, s.offset + s.length), (v) => f * v),
      { atol: 0, rtol: 1e-6 },
    );
  }
});

test('rules: bad shapes and parameters are refused before anything is dispatched', async () => {
  const rt = await gpu();
  const w = rt.empty([4, 3]);
  const g = rt.empty([4, 3]);
  const table = createSegmentTable(rt, [
    { offset: 0, length: 6 },
    { offset: 8, length: 5 },
  ]);
  const before = rt.stats.bindGroupsCreated;
  await assertThrows(
    () => signSymmetry(rt, { w, b: rt.empty([13]), scale: 1 }),
    /signSymmetry\(\): b has 13 elements but w has 12; B must have W's layout/,
  );
  await assertThrows(() => signSymmetry(rt, { w, b: w, scale: 1 }), /signSymmetry\(\): b and w share a GPU buffer/);
  await assertThrows(() => signSymmetry(rt, { w, scale: [1, 2] }), /signSymmetry\(\): 2 scales for 1 segments/);
  await assertThrows(
    () => signSymmetry(rt, { w, scale: [1, 2], segments: table }),
    /signSymmetry\(\): segments\[1\]=\[8, 13\) exceeds w \(12 elements\)/,
  );
  await assertThrows(() => signSymmetry(rt, { w, scale: NaN }), /signSymmetry\(\): scale\[0\]=NaN must be finite/);
  await assertThrows(
    () => kpUpdate(rt, { w, b: rt.empty([4, 3]), grad: g, hyper: { ...KP, momentum: 0, weightDecay: 0 } }),
    /kpUpdate\(\): weightDecay=0 must be > 0, or B never converges to W/,
  );
  await assertThrows(
    () => kpUpdate(rt, { w, b: rt.empty([4, 3]), grad: g, momentumW: rt.empty([4, 3]), hyper: KP }),
    /kpUpdate\(\): give both momentumW and momentumB or neither/,
  );
  await assertThrows(() => kpUpdate(rt, { w, b: w, grad: g, hyper: { ...KP, momentum: 0 } }), /kpUpdate\(\): b and w share a GPU buffer/);
  await assertThrows(
    () => kpUpdate(rt, { w, b: rt.empty([12]), grad: rt.empty([11]), hyper: { ...KP, momentum: 0 } }),
    /kpUpdate\(\): grad has 11 elements but the parameters have 12/,
  );
  await assertThrows(
    () => rescaleToNorm(rt, { b: rt.empty([16]), segments: table, sums: rt.empty([3]) }),
    /rescaleToNorm\(\): sums has 3 elements; 2 layers from slot 0 need 6/,
  );
  assert.is(rt.stats.bindGroupsCreated, before);
  const kp = await kpUpdate(rt, { w, b: rt.empty([4, 3]), grad: g, hyper: { ...KP, momentum: 0 } });
  assert.throws(() => kp.setHyper({ ...KP, momentum: 0, weightDecay: 0 }), /kpUpdate\(\): weightDecay=0 must be > 0/);
});

test.run();
