// Alignment sums ⟨B,W⟩, ‖B‖², ‖W‖² over every layer of an arena in one pass,
// against the float64 reference: odd lengths down to 1, a layer long enough
// for many workgroups, angles of 0/90/180°, B ≡ W sharing one buffer, two δ
// pairs filling one sums buffer, replay, and refusals.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Runtime } from '../src/gpu/runtime.ts';
import { alignmentFromSums, alignmentSums } from '../src/kernels/alignment.ts';
import { runOp } from '../src/kernels/op.ts';
import { createSegmentTable, planArena } from '../src/kernels/sgd.ts';
import { alignment as refAlignment } from './reference/alignment.ts';
import { randomArray } from './reference/random.ts';
import { assertClose, assertThrows, f32, gpu } from './harness.ts';

// Each sum is ≤ 32 sequential f32 adds per thread then two pairwise trees
// (≤ 16 levels), plus one rounding per product: |err| ≤ ~50·ε·Σ|terms|.
// 64·ε·Σ|terms| is the bound checked (see shaders/alignment.wgsl).
const EPS = 2 ** -24;
const sumTol = (absSum: number) => ({ atol: 64 * EPS * absSum + 1e-30, rtol: 0 });
// Angles: a sum error δ moves cos by ~δ, the angle by δ/sin θ — except near 0°
// and 180°, where cos = 1 − θ²/2 makes θ ≈ sqrt(2δ). 0.05° covers both here.
const ANGLE_TOL = { atol: 0.05, rtol: 0 };

function absSums(b: ArrayLike<number>, w: ArrayLike<number>): [number, number, number] {
  let d = 0;
  let bb = 0;
  let ww = 0;
  for (let i = 0; i < b.length; i++) {
    d += Math.abs(b[i] * w[i]);
    bb += b[i] * b[i];
    ww += w[i] * w[i];
  }
  return [d, bb, ww];
}

/** Builds B and W arenas for layers of the given sizes; W's layer i is a mix of B and noise. */
function arenas(sizes: number[], seed: number) {
  const layout = planArena(sizes);
  const b = new Float32Array(layout.total);
  const w = new Float32Array(layout.total);
  for (const [i, s] of layout.segments.entries()) {
    const rb = randomArray(s.length, seed + i, 1);
    const rn = randomArray(s.length, seed + 100 + i, 1);
    const mix = i / sizes.length; // angles spread over (0°, 90°)
    for (let k = 0; k < s.length; k++) {
      b[s.offset + k] = rb[k];
      w[s.offset + k] = (1 - mix) * rb[k] + mix * rn[k];
    }
  }
  return { layout, b, w };
}

function checkLayer(name: string, got: Float32Array, slot: number, b: ArrayLike<number>, w: ArrayLike<number>): void {
  const ref = refAlignment(b, w);
  const [ad, abb, aww] = absSums(b, w);
  assertClose(`${name}: ⟨B,W⟩`, [got[3 * slot]], [ref.dot], sumTol(ad));
  assertClose(`${name}: ‖B‖²`, [got[3 * slot + 1]], [ref.normB ** 2], sumTol(abb));
  assertClose(`${name}: ‖W‖²`, [got[3 * slot + 2]], [ref.normW ** 2], sumTol(aww));
  const a = alignmentFromSums(got)[slot];
  assertClose(`${name}: angle`, [a.angleDeg], [ref.angleDeg], ANGLE_TOL);
  assertClose(`${name}: norm ratio`, [a.normRatio], [ref.normRatio], { atol: 0, rtol: 1e-5 });
}

async function runArena(rt: Runtime, sizes: number[], seed: number) {
  const { layout, b, w } = arenas(sizes, seed);
  const table = createSegmentTable(rt, layout.segments);
  const B = rt.upload(b, [layout.total]);
  const W = rt.upload(w, [layout.total]);
  const op = runOp(rt, await alignmentSums(rt, { b: B, w: W, segments: table }));
  const got = await rt.readF32(op.out.sums);
  assert.is(got.length, 3 * sizes.length);
  for (const [i, s] of layout.segments.entries()) {
    checkLayer(
      `layer ${i} (length ${s.length})`,
      got,
      i,
      b.subarray(s.offset, s.offset + s.length),
      w.subarray(s.offset, s.offset + s.length),
    );
  }
  for (const t of [B, W, table.tensor, op.out.sums, op.out.partials]) t.release();
}

test('alignment: every layer of an arena in one pass, odd lengths down to 1', async () => {
  await runArena(await gpu(), [1, 3, 17, 100, 1000, 4099, 2], 1);
});

test('alignment: a layer of 70000 spans many workgroups; short layers beside it', async () => {
  await runArena(await gpu(), [70000, 5, 9000], 2);
});

test('alignment: B = W gives 0°, B = −W 180°, B ⟂ W 90°; B ≡ W in one buffer gives 0°', async () => {
  const rt = await gpu();
  const n = 777;
  const wH = f32(randomArray(n, 3, 1));
  const W = rt.upload(wH, [n]);
  const cases: Array<[string, Float32Array, number]> = [
    ['B = W', wH, 0],
    ['B = −W', wH.map((v) => -v), 180],
    ['B = 3W', wH.map((v) => 3 * v), 0],
    ['B ⟂ W', wH.map((v, i) => (i % 2 === 0 ? (wH[i + 1] ?? 0) : -wH[i - 1])).map((v, i) => (i === n - 1 ? 0 : v)), 90],
  ];
  for (const [name, bH, angle] of cases) {
    const B = rt.upload(bH, [n]);
    const op = runOp(rt, await alignmentSums(rt, { b: B, w: W }));
    const [a] = alignmentFromSums(await rt.readF32(op.out.sums));
    assertClose(`${name}: angle`, [a.angleDeg], [angle], ANGLE_TOL);
    assertClose(`${name}: angle (reference)`, [refAlignment(bH, wH).angleDeg], [angle], { atol: 1e-9, rtol: 0 });
    for (const t of [B, op.out.sums, op.out.partials, op.out.table!]) t.release();
  }
  const same = runOp(rt, await alignmentSums(rt, { b: W, w: W }));
  const [a] = alignmentFromSums(await rt.readF32(same.out.sums));
  assert.is(a.angleDeg, 0, 'BP: the same values in the same order give cos = 1 exactly');
  assert.is(a.normRatio, 1);
});

test('alignment: two δ pairs fill one sums buffer (firstSlot); a recorded program replays', async () => {
  const rt = await gpu();
  const shapes = [
    [2, 3, 5, 5],
    [2, 7],
  ];
  const sums = rt.empty([6]);
  const pairs = shapes.map((sh, i) => {
    const n = sh.reduce((p, q) => p * q, 1);
    return { rule: f32(randomArray(n, 10 + i, 1)), bp: f32(randomArray(n, 20 + i, 1)), shape: sh };
  });
  const ops = [];
  for (const [i, p] of pairs.entries()) {
    const b = rt.upload(p.rule, p.shape);
    const w = rt.upload(p.bp, p.shape);
    ops.push(await alignmentSums(rt, { b, w, sums, firstSlot: i }));
  }
  const program = rt.record(ops.flatMap((o) => o.dispatches));
  program.run();
  await rt.finish();
  const before = rt.stats.bindGroupsCreated;
  program.run();
  const got = await rt.readF32(sums);
  for (const [i, p] of pairs.entries()) checkLayer(`δ pair ${i}`, got, i, p.rule, p.bp);
  assert.is(rt.stats.bindGroupsCreated, before);
});

test('alignmentFromSums: a zero norm gives NaN angle, like the reference', () => {
  const [a, b] = alignmentFromSums([0, 0, 4, 1, 4, 1]);
  assert.ok(Number.isNaN(a.angleDeg) && Number.isNaN(refAlignment([0, 0], [2, 0]).angleDeg));
  assert.is(a.normRatio, 0);
  assertClose('60°', [b.angleDeg], [60], { atol: 1e-12, rtol: 0 });
  assert.throws(() => alignmentFromSums([1, 2, 3], 2), /alignmentFromSums\(\): 2 layers from slot 0 need 6 values, got 3/);
});

test('alignment: bad shapes are refused before anything is dispatched', async () => {
  const rt = await gpu();
  const b = rt.empty([10]);
  const table = createSegmentTable(rt, [
    { offset: 0, length: 4 },
    { offset: 8, length: 3 },
  ]);
  const before = rt.stats.bindGroupsCreated;
  await assertThrows(() => alignmentSums(rt, { b, w: rt.empty([11]) }), /alignmentSums\(\): b has 10 elements but w has 11/);
  await assertThrows(() => alignmentSums(rt, { b, w: rt.empty([10], 'u32') }), /alignmentSums\(\): w is u32, expected f32/);
  await assertThrows(
    () => alignmentSums(rt, { b, w: rt.empty([10]), segments: table }),
    /alignmentSums\(\): segments\[1\]=\[8, 11\) exceeds b \(10 elements\)/,
  );
  await assertThrows(
    () => alignmentSums(rt, { b, w: rt.empty([10]), sums: rt.empty([5]), firstSlot: 1 }),
    /alignmentSums\(\): sums has 5 elements; 1 layers from slot 1 need 6/,
  );
  assert.is(rt.stats.bindGroupsCreated, before);
});

test.run();
