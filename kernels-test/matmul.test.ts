// linear forward / feedback / weight gradient against the float64 reference,
// on shapes that do not fill a tile; B aliasing W gives backprop; bad shapes
// are refused before anything is dispatched.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { linearFeedback, linearForward, linearWeightGrad } from '../src/kernels/linear.ts';
import { runOp } from '../src/kernels/op.ts';
import { matmulVariant } from '../src/kernels/matmul.ts';
import { debugFlags } from '../src/gpu/flags.ts';
import { linearFeedback as refFeedback, linearForward as refForward, linearWeightGrad as refWeightGrad } from './reference/matmul.ts';
import { randomArray } from './reference/random.ts';
import { assertClose, assertThrows, f32, gpu } from './harness.ts';

// f32 accumulation of K products of O(1) values: the error grows like √K·ε
// (random walk) with a worst case ∝ K·ε; 4·K·ε plus a small atol covers
// every shape here with margin, and still catches a missing term (O(1)).
const EPS = 2 ** -23;
const tolFor = (K: number) => ({ atol: 1e-5 + 4 * K * EPS, rtol: 1e-4 });

// [M, K, N]: 1×1×1, primes, odd, tall/skinny, wide, and 1000×3×517.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 1],
  [2, 3, 5],
  [3, 5, 7],
  [7, 11, 13],
  [13, 17, 19],
  [31, 37, 29],
  [16, 16, 16],
  [17, 33, 65],
  [64, 64, 64],
  [65, 63, 67],
  [1000, 3, 517],
  [1, 257, 3],
  [257, 1, 2],
  [300, 2, 3],
  [2, 300, 3],
  [3, 2, 300],
  [129, 131, 1],
  [1, 128, 1000],
  [100, 250, 10],
  [9, 1024, 9],
];

for (const [M, K, N] of SHAPES) {
  test(`forward/feedback/weight-grad M=${M} K=${K} N=${N}`, async () => {
    const rt = await gpu();
    const xh = randomArray(M * K, M * 7919 + K, 1);
    const wh = randomArray(N * K, N * 104729 + K, 1);
    const bh = randomArray(N, N + 3, 1);
    const dyh = randomArray(M * N, M + N * 31, 1);
    const Bh = randomArray(N * K, K * 13 + 5, 1);
    const x = rt.upload(f32(xh), [M, K]);
    const w = rt.upload(f32(wh), [N, K]);
    const b = rt.upload(f32(bh), [N]);
    const dy = rt.upload(f32(dyh), [M, N]);
    const B = rt.upload(f32(Bh), [N, K]);

    const fwd = runOp(rt, await linearForward(rt, { x, w, b }));
    assertClose('y', await rt.readF32(fwd.out.y), refForward(xh, wh, bh, M, K, N), tolFor(K));

    const fb = runOp(rt, await linearFeedback(rt, { dy, feedback: B }));
    assertClose('dx', await rt.readF32(fb.out.dx), refFeedback(dyh, Bh, M, N, K), tolFor(N));

    const wg = runOp(rt, await linearWeightGrad(rt, { dy, x }));
    const ref = refWeightGrad(dyh, xh, M, N, K);
    assertClose('dw', await rt.readF32(wg.out.dw), ref.dw, tolFor(M));
    assertClose('db', await rt.readF32(wg.out.db!), ref.db, tolFor(M));
    for (const t of [x, w, b, dy, B, fwd.out.y, fb.out.dx, wg.out.dw, wg.out.db!]) t.release();
  });
}

// Every matmul variant against the same expectations: the lane-tiled kernels
// (CPU adapters, aligned shapes) and the workgroup-tiled one (forced).
const usedVariants = new Set<string>();
for (const [M, K, N] of [
  [9, 12, 36],
  [4, 4, 4],
  [17, 64, 40],
  [12, 20, 8],
  [8, 9, 44],
] as const) {
  test(`every variant agrees with the reference: M=${M} K=${K} N=${N}`, async () => {
    const rt = await gpu();
    const [xh, wh, bh, dyh, Bh] = [
      randomArray(M * K, 5, 1),
      randomArray(N * K, 6, 1),
      randomArray(N, 7, 1),
      randomArray(M * N, 8, 1),
      randomArray(N * K, 9, 1),
    ];
    const [x, w, b, dy, B] = [
      rt.upload(f32(xh), [M, K]),
      rt.upload(f32(wh), [N, K]),
      rt.upload(f32(bh), [N]),
      rt.upload(f32(dyh), [M, N]),
      rt.upload(f32(Bh), [N, K]),
    ];
    const wantG = refWeightGrad(dyh, xh, M, N, K);
    for (const forceTiled of [false, true]) {
      debugFlags.forceTiledMatmul = forceTiled;
      try {
        usedVariants.add(matmulVariant(rt, { M, N, K, transA: false, transB: true }));
        usedVariants.add(matmulVariant(rt, { M, N: K, K: N, transA: false, transB: false }));
        usedVariants.add(matmulVariant(rt, { M: N, N: K, K: M, transA: true, transB: false }));
        const fwd = runOp(rt, await linearForward(rt, { x, w, b }));
        assertClose(`y (tiled forced: ${forceTiled})`, await rt.readF32(fwd.out.y), refForward(xh, wh, bh, M, K, N), tolFor(K));
        const fb = runOp(rt, await linearFeedback(rt, { dy, feedback: B }));
        assertClose(`dx (tiled forced: ${forceTiled})`, await rt.readF32(fb.out.dx), refFeedback(dyh, Bh, M, N, K), tolFor(N));
        // Sign symmetry: w's buffer read as B = sign(W)·s.
        const fbs = runOp(rt, await linearFeedback(rt, { dy, feedback: w, signScale: 0.37 }));
        const signB = wh.map((v) => Math.sign(v) * Math.fround(0.37));
        assertClose(
          `dx sign(W)·s (tiled forced: ${forceTiled})`,
          await rt.readF32(fbs.out.dx),
          refFeedback(dyh, signB, M, N, K),
          tolFor(N),
        );
        const wg = runOp(rt, await linearWeightGrad(rt, { dy, x, db: null }));
        assertClose(`dw (tiled forced: ${forceTiled})`, await rt.readF32(wg.out.dw), wantG.dw, tolFor(M));
        // Accumulating: dw ← 0.3·δyᵀx + 0.9·dw (WM's fused mirror update).
        const dw0 = randomArray(N * K, 10, 1);
        const acc = rt.upload(f32(dw0), [N, K]);
        runOp(rt, await linearWeightGrad(rt, { dy, x, dw: acc, db: null, accumulate: { alpha: 0.3, beta: 0.9 } }));
        const wantAcc = wantG.dw.map((v, i) => 0.3 * v + 0.9 * dw0[i]);
        assertClose(`dw accumulated (tiled forced: ${forceTiled})`, await rt.readF32(acc), wantAcc, tolFor(M));
        acc.release();
      } finally {
        debugFlags.forceTiledMatmul = false;
      }
    }
  });
}

test('on a CPU adapter with 8-lane subgroups, each lane-tiled entry was exercised', async () => {
  const rt = await gpu();
  const sg = rt.ctx.subgroupSize;
  if (!rt.ctx.isCpu || sg?.min !== 8 || sg?.max !== 8) return;
  for (const v of ['lanes_nt', 'lanes_nn', 'lanes_tn', 'tiled']) assert.ok(usedVariants.has(v), `variant ${v} not exercised`);
});

test('feedback with B = W (the same buffer) is backprop', async () => {
  const rt = await gpu();
  const [M, K, N] = [5, 9, 7];
  const wh = randomArray(N * K, 1, 1);
  const dyh = randomArray(M * N, 2, 1);
  const w = rt.upload(f32(wh), [N, K]);
  const dy = rt.upload(f32(dyh), [M, N]);
  const fb = runOp(rt, await linearFeedback(rt, { dy, feedback: w }));
  assertClose('dx', await rt.readF32(fb.out.dx), refFeedback(dyh, wh, M, N, K), tolFor(N));
});

test('an accumulating weight gradient needs dw, no db and finite coefficients', async () => {
  const rt = await gpu();
  const [dy, x, dw] = [rt.empty([3, 4]), rt.empty([3, 5]), rt.empty([4, 5])];
  const accumulate = { alpha: 1, beta: 0.5 };
  await assertThrows(
    () => linearWeightGrad(rt, { dy, x, db: null, accumulate }),
    /linearWeightGrad\(\): accumulate blends into dw: pass dw/,
  );
  await assertThrows(
    () => linearWeightGrad(rt, { dy, x, dw, accumulate }),
    /linearWeightGrad\(\): accumulate blends dw only: pass db: null/,
  );
  await assertThrows(
    () => linearWeightGrad(rt, { dy, x, dw, db: null, accumulate: { alpha: NaN, beta: 0 } }),
    /linearWeightGrad\(\): accumulate alpha=NaN, beta=0 must be finite/,
  );
});

test('shape mismatches are refused before anything is dispatched', async () => {
  const rt = await gpu();
  const x = rt.empty([4, 3]);
  const w = rt.empty([5, 2]);
  const before = rt.stats.bindGroupsCreated;
  await assertThrows(() => linearForward(rt, { x, w }), /linearForward\(\): x is \[4, 3\] but w is \[5, 2\]/);
  await assertThrows(
    () => linearForward(rt, { x, w: rt.empty([5, 3]), b: rt.empty([4]) }),
    /linearForward\(\): b has shape \[4\], expected \[5\]/,
  );
  await assertThrows(
    () => linearFeedback(rt, { dy: rt.empty([4, 6]), feedback: w }),
    /linearFeedback\(\): dy is \[4, 6\] but feedback is \[5, 2\]/,
  );
  await assertThrows(() => linearWeightGrad(rt, { dy: rt.empty([3, 5]), x }), /linearWeightGrad\(\): dy is \[3, 5\] but x is \[4, 3\]/);
  await assertThrows(() => linearForward(rt, { x: rt.empty([4, 3, 1]), w }), /x has shape \[4, 3, 1\], expected rank 2/);
  assert.is(rt.stats.bindGroupsCreated, before);
});

test('a recorded program replays without allocating or creating bind groups', async () => {
  const rt = await gpu();
  const x = rt.upload(f32(randomArray(6 * 5, 9, 1)), [6, 5]);
  const w = rt.upload(f32(randomArray(4 * 5, 8, 1)), [4, 5]);
  const op = await linearForward(rt, { x, w });
  const program = rt.record(op.dispatches);
  program.run();
  await rt.finish();
  const before = rt.stats;
  for (let i = 0; i < 5; i++) program.run();
  await rt.finish();
  const after = rt.stats;
  assert.is(after.buffersCreated, before.buffersCreated);
  assert.is(after.bindGroupsCreated, before.bindGroupsCreated);
  assert.is(after.submits, before.submits + 5);
});

test.run();
