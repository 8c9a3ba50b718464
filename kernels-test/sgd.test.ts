// SGD over a parameter arena against the float64 torch.optim.SGD reference:
// first and later steps, Nesterov, dampening, weight decay on/off and per run,
// arenas with odd segment sizes and vec4 tails, LR changes by uniform only,
// planArena's layout, and refusals before anything is dispatched.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Runtime } from '../src/gpu/runtime.ts';
import { runOp } from '../src/kernels/op.ts';
import { createSegmentTable, planArena, sgdStep, type SgdHyper } from '../src/kernels/sgd.ts';
import { randomArray } from './reference/random.ts';
import { sgdStep as refSgdStep } from './reference/sgd.ts';
import { assertClose, assertThrows, f32, gpu } from './harness.ts';

// A step is ~5 f32 operations on O(1) values, and the reference is fed the
// same f32 inputs, so a few ulps per step: 1e-6 over ≤ 3 steps has margin and
// still catches a missing or doubled term (≥ lr·wd·|p| ≈ 1e-3 here).
const TOL = { atol: 1e-6, rtol: 1e-6 };

const BASE: SgdHyper = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: false, firstStep: true };

interface Trial {
  name: string;
  n: number;
  hyper: Omit<SgdHyper, 'firstStep'>;
  steps: number;
}

const TRIALS: Trial[] = [
  { name: 'momentum, first and two later steps', n: 1000, hyper: BASE, steps: 3 },
  { name: 'nesterov', n: 37, hyper: { ...BASE, nesterov: true }, steps: 3 },
  { name: 'dampening 0.3 (first step undampened)', n: 21, hyper: { ...BASE, dampening: 0.3 }, steps: 3 },
  { name: 'weight decay 0', n: 64, hyper: { ...BASE, weightDecay: 0 }, steps: 2 },
  { name: 'large weight decay', n: 17, hyper: { ...BASE, weightDecay: 0.1 }, steps: 2 },
  { name: 'plain SGD, no momentum buffer', n: 1003, hyper: { ...BASE, momentum: 0 }, steps: 2 },
  { name: 'one element (scalar tail only)', n: 1, hyper: BASE, steps: 2 },
  // 4096 + 4 workgroups of vec4s, and a scalar tail whose grid-stride loop turns (1024 workgroups at most).
  { name: 'many workgroups and a tail', n: 4 * 1024 * 256 + 4 * 999 + 3, hyper: BASE, steps: 2 },
  { name: 'three elements (scalar tail only)', n: 3, hyper: { ...BASE, nesterov: true }, steps: 2 },
];

async function runTrial(rt: Runtime, t: Trial): Promise<void> {
  const p0 = f32(randomArray(t.n, t.n + 1, 1));
  const grads = Array.from({ length: t.steps }, (_, s) => f32(randomArray(t.n, 100 * s + t.n, 1)));
  const param = rt.upload(p0, [t.n]);
  const grad = rt.empty([t.n]);
  const useBuf = t.hyper.momentum !== 0;
  const momentumBuf = useBuf ? rt.empty([t.n]) : null;
  const op = await sgdStep(rt, { param, grad, momentumBuf, hyper: { ...t.hyper, firstStep: true } });
  let ref: { param: ArrayLike<number>; buf: ArrayLike<number> | null } = { param: p0, buf: null };
  for (let s = 0; s < t.steps; s++) {
    const h = { ...t.hyper, firstStep: s === 0 };
    op.setHyper(h);
    rt.write(grad, grads[s]);
    rt.run(op.dispatches);
    ref = refSgdStep(ref.param, grads[s], ref.buf, h);
    assertClose(`param after step ${s + 1}`, await rt.readF32(param), ref.param, TOL);
    if (momentumBuf) assertClose(`buf after step ${s + 1}`, await rt.readF32(momentumBuf), ref.buf!, TOL);
  }
  for (const x of [param, grad, momentumBuf]) x?.release();
}

for (const t of TRIALS) {
  test(`sgd: ${t.name} (n=${t.n})`, async () => runTrial(await gpu(), t));
}

test('sgd: the vec4 entry on a 2-D grid (rows of workgroups, the last row part idle), as past 65535 workgroups', async () => {
  const rt = await gpu();
  const WG = 256;
  const count = 5 * WG - 3; // vec4s: 5 workgroups' worth, the last one short
  const n = 4 * count;
  const p0 = f32(randomArray(n, 1, 1));
  const g = f32(randomArray(n, 2, 1));
  const param = rt.upload(p0, [n]);
  const grad = rt.upload(g, [n]);
  const hyper = { ...BASE, momentum: 0, firstStep: true };
  const kernel = await rt.kernel('sgd', { WG }, 'sgd_vec4');
  const hp = { start: 0, count, lr: hyper.lr, momentum: 0, dampening: 0, weightDecay: hyper.weightDecay, nesterov: 0, firstStep: 1 };
  // 3 × 2 = 6 workgroups for 5 workgroups' worth: rows of 3, the sixth idle.
  rt.run([rt.dispatch(kernel, { hp, p4: param, g4: grad, m4: rt.empty([4]) }, [3, 2])]);
  assertClose('param', await rt.readF32(param), refSgdStep(p0, g, null, hyper).param, TOL);
});

test('sgd: arena with odd segments, views, and no weight decay on chosen runs', async () => {
  const rt = await gpu();
  const sizes = [1, 7, 64, 65, 3, 130];
  const layout = planArena(sizes);
  assert.equal(layout.offsets, [0, 64, 128, 192, 320, 384]);
  assert.is(layout.total, 576);
  const n = layout.total;
  // Padding stays zero: fill only the segments.
  const p0 = new Float32Array(n);
  const g = new Float32Array(n);
  const r1 = randomArray(n, 5, 1);
  const r2 = randomArray(n, 6, 1);
  for (const s of layout.segments) for (let i = s.offset; i < s.offset + s.length; i++) [p0[i], g[i]] = [r1[i], r2[i]];
  const param = rt.upload(p0, [n]);
  const grad = rt.upload(g, [n]);
  const buf = rt.empty([n]);
  const noDecay = [layout.segments[1], layout.segments[4]];
  const hyper = { ...BASE, weightDecay: 0.05 };
  const op = runOp(rt, await sgdStep(rt, { param, grad, momentumBuf: buf, hyper, noDecay }));
  assert.is(op.dispatches.length, 5, 'decay | none | decay | none | decay');
  const got = await rt.readF32(param);
  const decayed = sgdRef(p0, g, hyper.weightDecay);
  const plain = sgdRef(p0, g, 0);
  const want = Float64Array.from(decayed);
  for (const s of noDecay) want.set(plain.subarray(s.offset, s.offset + s.length), s.offset);
  assertClose('arena', got, want, TOL);
  for (const s of layout.segments)
    for (let i = s.offset + s.length; i < ceil64(s.offset + s.length); i++) assert.is(got[i], 0, `padding ${i}`);
  // Each parameter is a view of the arena.
  const v = rt.view(param, layout.offsets[3], [5, 13]);
  const seg = await rt.readF32(v);
  assertClose('view of segment 3', seg, want.subarray(192, 192 + 65), TOL);
  function sgdRef(p: Float32Array, gr: Float32Array, wd: number) {
    return refSgdStep(p, gr, null, { ...hyper, weightDecay: wd }).param;
  }
  for (const t of [param, grad, buf]) t.release();
});

const ceil64 = (x: number) => Math.ceil(x / 64) * 64;

test('sgd: the LR schedule is a uniform rewrite; replays create nothing', async () => {
  const rt = await gpu();
  const n = 70;
  const p0 = f32(randomArray(n, 1, 1));
  const g = f32(randomArray(n, 2, 1));
  const param = rt.upload(p0, [n]);
  const grad = rt.upload(g, [n]);
  const buf = rt.empty([n]);
  const op = await sgdStep(rt, { param, grad, momentumBuf: buf, hyper: BASE });
  const program = rt.record(op.dispatches);
  program.run();
  await rt.finish();
  const before = rt.stats;
  const h2 = { ...BASE, lr: 0.01, firstStep: false };
  op.setHyper(h2);
  program.run();
  const s1 = refSgdStep(p0, g, null, BASE);
  const s2 = refSgdStep(s1.param, g, s1.buf, h2);
  assertClose('param after lr change', await rt.readF32(param), s2.param, TOL);
  const after = rt.stats;
  assert.is(after.bindGroupsCreated, before.bindGroupsCreated);
  assert.is(after.buffersCreated, before.buffersCreated);
  assert.is(after.pipelines, before.pipelines);
  for (const t of [param, grad, buf]) t.release();
});

test('planArena: 256-byte offsets, custom alignment, bad input', async () => {
  assert.equal(planArena([5]).total, 64);
  assert.equal(planArena([4, 4, 5], 4), {
    offsets: [0, 4, 8],
    segments: [
      { offset: 0, length: 4 },
      { offset: 4, length: 4 },
      { offset: 8, length: 5 },
    ],
    total: 16,
  });
  assert.throws(() => planArena([3], 6), /planArena\(\): alignElems=6 must be a positive multiple of 4/);
  assert.throws(() => planArena([3, 0]), /planArena\(\): sizes\[1\]=0 must be a positive integer/);
  const rt = await gpu();
  assert.throws(() => createSegmentTable(rt, [{ offset: 0, length: 0 }]), /createSegmentTable\(\): segments\[0\]=\{offset: 0, length: 0\}/);
});

test('sgd: bad shapes and hyper-parameters are refused before anything is dispatched', async () => {
  const rt = await gpu();
  const p = rt.empty([8]);
  const g = rt.empty([8]);
  const m = rt.empty([8]);
  const before = rt.stats.bindGroupsCreated;
  await assertThrows(
    () => sgdStep(rt, { param: p, grad: rt.empty([9]), momentumBuf: m, hyper: BASE }),
    /sgdStep\(\): grad has 9 elements but the parameters have 8/,
  );
  await assertThrows(
    () => sgdStep(rt, { param: p, grad: g, momentumBuf: rt.empty([8], 'i32'), hyper: BASE }),
    /sgdStep\(\): momentumBuf is i32, expected f32/,
  );
  await assertThrows(() => sgdStep(rt, { param: p, grad: g, hyper: BASE }), /sgdStep\(\): momentum=0.9 needs momentum buffers/);
  await assertThrows(
    () => sgdStep(rt, { param: p, grad: g, momentumBuf: m, hyper: { ...BASE, nesterov: true, dampening: 0.1 } }),
    /sgdStep\(\): nesterov needs momentum > 0 and dampening = 0 \(momentum=0.9, dampening=0.1\)/,
  );
  await assertThrows(
    () => sgdStep(rt, { param: p, grad: g, momentumBuf: m, hyper: { ...BASE, lr: NaN } }),
    /sgdStep\(\): lr=NaN must be finite/,
  );
  await assertThrows(
    () => sgdStep(rt, { param: p, grad: g, momentumBuf: p, hyper: BASE }),
    /sgdStep\(\): momentumBuf and param share a GPU buffer/,
  );
  await assertThrows(
    () => sgdStep(rt, { param: p, grad: g, momentumBuf: m, hyper: BASE, noDecay: [{ offset: 2, length: 4 }] }),
    /sgdStep\(\): noDecay\[0\] starts at 2, not a multiple of 4/,
  );
  await assertThrows(
    () => sgdStep(rt, { param: p, grad: g, momentumBuf: m, hyper: BASE, noDecay: [{ offset: 4, length: 8 }] }),
    /sgdStep\(\): noDecay\[0\]=\{offset: 4, length: 8\} must be a non-overlapping run inside \[0, 8\)/,
  );
  assert.is(rt.stats.bindGroupsCreated, before);
  const op = await sgdStep(rt, { param: p, grad: g, hyper: { ...BASE, momentum: 0 } });
  assert.throws(() => op.setHyper(BASE), /sgdStep\(\): momentum=0.9 needs momentum buffers, but the op was built without them/);
});

test.run();
