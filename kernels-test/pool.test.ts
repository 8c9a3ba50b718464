// Max pooling (forward with argmax, backward through it) and global average
// pooling against the float64 reference: the 3/2/1 default on 1×1, 2×2, 5×5,
// 8×7 and odd planes, other windows, exact ties, and refused bad shapes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runOp } from '../src/kernels/op.ts';
import { globalAvgPoolBackward, globalAvgPoolForward, maxPoolBackward, maxPoolForward } from '../src/kernels/pool.ts';
import {
  globalAvgPoolBackward as refAvgBackward,
  globalAvgPoolForward as refAvgForward,
  maxPoolBackward as refMaxBackward,
  maxPoolForward as refMaxForward,
} from './reference/pool.ts';
import { randomArray } from './reference/random.ts';
import { assertClose, assertThrows, f32, gpu } from './harness.ts';

// Max pooling selects values and sums at most ⌈k/s⌉² gradients per input:
// one or two f32 roundings of O(1) values. The average sums ≤ 81 values
// (error ≤ 81·ε relative in the worst case).
const EXACT = { atol: 0, rtol: 0 };
const SUM = { atol: 1e-6, rtol: 1e-5 };

const label = (s: number[]) => `[${s.join('×')}]`;

// [N, C, H, W, k, stride, pad]
const MAX_CASES: [number, number, number, number, number, number, number][] = [
  [2, 3, 1, 1, 3, 2, 1],
  [1, 3, 2, 2, 3, 2, 1],
  [2, 3, 5, 5, 3, 2, 1],
  [1, 17, 8, 7, 3, 2, 1],
  [2, 3, 9, 9, 3, 2, 1],
  [2, 3, 7, 5, 3, 2, 1],
  [1, 3, 9, 9, 2, 2, 0],
  [1, 3, 9, 7, 3, 1, 1],
  [2, 2, 8, 9, 5, 3, 2],
];

for (const [N, C, H, W, k, stride, pad] of MAX_CASES) {
  test(`max pool forward/backward ${label([N, C, H, W])} k=${k} s=${stride} p=${pad}`, async () => {
    const rt = await gpu();
    const shape = { n: N, c: C, h: H, w: W };
    const xh = f32(randomArray(N * C * H * W, H * 100 + W + k, 1));
    const ref = refMaxForward(xh, shape, k, stride, pad);
    const dyh = f32(randomArray(ref.y.length, 5 + H, 1));
    const x = rt.upload(xh, [N, C, H, W]);
    const fwd = runOp(rt, await maxPoolForward(rt, { x, k, stride, pad }));
    const [OH, OW] = fwd.out.y.shape.slice(2);
    assertClose('y', await rt.readF32(fwd.out.y), ref.y, EXACT);
    // The kernel's argmax is within the plane; the reference's is flat NCHW.
    const planeArgmax = Array.from(ref.argmax, (a, o) => a - Math.floor(o / (OH * OW)) * H * W);
    assertClose('argmax', (await rt.read(fwd.out.argmax)) as Int32Array, planeArgmax, EXACT);
    const dy = rt.upload(dyh, fwd.out.y.shape);
    const bwd = runOp(rt, await maxPoolBackward(rt, { dy, argmax: fwd.out.argmax, inputShape: [N, C, H, W], k, stride, pad }));
    assertClose('dx', await rt.readF32(bwd.out.dx), refMaxBackward(dyh, xh, shape, k, stride, pad), SUM);
    for (const t of [x, dy, fwd.out.y, fwd.out.argmax, bwd.out.dx]) t.release();
  });
}

test('max pool ties go to the first maximum in window order, as PyTorch', async () => {
  const rt = await gpu();
  // Few distinct values: many windows hold several equal maxima, and windows overlap.
  const [N, C, H, W] = [1, 2, 7, 6];
  const shape = { n: N, c: C, h: H, w: W };
  const xh = f32(Array.from({ length: N * C * H * W }, (_, i) => (i * 7) % 3));
  const ref = refMaxForward(xh, shape);
  const dyh = f32(randomArray(ref.y.length, 17, 1));
  const x = rt.upload(xh, [N, C, H, W]);
  const fwd = runOp(rt, await maxPoolForward(rt, { x }));
  const argmax = (await rt.read(fwd.out.argmax)) as Int32Array;
  const [OH, OW] = fwd.out.y.shape.slice(2);
  assertClose(
    'argmax',
    argmax,
    Array.from(ref.argmax, (a, o) => a - Math.floor(o / (OH * OW)) * H * W),
    EXACT,
  );
  const dy = rt.upload(dyh, fwd.out.y.shape);
  const bwd = runOp(rt, await maxPoolBackward(rt, { dy, argmax: fwd.out.argmax, dx: rt.empty([N, C, H, W]) }));
  assertClose('dx', await rt.readF32(bwd.out.dx), refMaxBackward(dyh, xh, shape), SUM);
});

for (const shape of [
  [2, 3, 7, 5],
  [1, 17, 9, 9],
  [2, 17, 1, 1],
  [1, 3, 8, 7],
  [2, 3, 32, 40],
]) {
  test(`global average pool forward/backward ${label(shape)}`, async () => {
    const rt = await gpu();
    const [N, C, H, W] = shape;
    const ps = { n: N, c: C, h: H, w: W };
    const xh = f32(randomArray(N * C * H * W, C + H, 1));
    const dyh = f32(randomArray(N * C, C + W, 1));
    const x = rt.upload(xh, shape);
    const dy = rt.upload(dyh, [N, C]);
    const fwd = runOp(rt, await globalAvgPoolForward(rt, { x }));
    assert.equal(fwd.out.y.shape, [N, C]);
    assertClose('y', await rt.readF32(fwd.out.y), refAvgForward(xh, ps), SUM);
    const bwd = runOp(rt, await globalAvgPoolBackward(rt, { dy, inputShape: shape }));
    assertClose('dx', await rt.readF32(bwd.out.dx), refAvgBackward(dyh, ps), SUM);
    for (const t of [x, dy, fwd.out.y, bwd.out.dx]) t.release();
  });
}

test('bad shapes and windows are refused before anything is dispatched', async () => {
  const rt = await gpu();
  const x = rt.empty([2, 3, 8, 8]);
  const before = rt.stats.bindGroupsCreated;
  await assertThrows(() => maxPoolForward(rt, { x: rt.empty([3, 8, 8]) }), /maxPoolForward\(\): x has shape \[3, 8, 8\], expected rank 4/);
  await assertThrows(() => maxPoolForward(rt, { x, pad: 2 }), /maxPoolForward\(\): pad=2 must be at most k\/2 \(k=3\)/);
  await assertThrows(() => maxPoolForward(rt, { x, stride: 0 }), /maxPoolForward\(\): stride=0 must be an integer ≥ 1/);
  await assertThrows(
    () => maxPoolForward(rt, { x, k: 9, pad: 0 }),
    /maxPoolForward\(\): a 9×9 window with pad=0 does not fit the 8×8 input/,
  );
  await assertThrows(
    () => maxPoolForward(rt, { x, y: rt.empty([2, 3, 5, 5]) }),
    /maxPoolForward\(\): y has shape \[2, 3, 5, 5\], expected \[2, 3, 4, 4\]/,
  );
  await assertThrows(
    () => maxPoolBackward(rt, { dy: rt.empty([2, 3, 4, 4]), argmax: rt.empty([2, 3, 4, 4]), inputShape: [2, 3, 8, 8] }),
    /maxPoolBackward\(\): argmax is f32, expected i32/,
  );
  await assertThrows(
    () => maxPoolBackward(rt, { dy: rt.empty([2, 3, 5, 4]), argmax: rt.empty([2, 3, 4, 4], 'i32'), inputShape: [2, 3, 8, 8] }),
    /maxPoolBackward\(\): dy has shape \[2, 3, 5, 4\], expected \[2, 3, 4, 4\]/,
  );
  await assertThrows(
    () => maxPoolBackward(rt, { dy: rt.empty([2, 3, 4, 4]), argmax: rt.empty([2, 3, 4, 4], 'i32') }),
    /maxPoolBackward\(\): give inputShape or dx/,
  );
  await assertThrows(
    () => globalAvgPoolForward(rt, { x, y: rt.empty([2, 3, 1, 1]) }),
    /globalAvgPoolForward\(\): y has shape \[2, 3, 1, 1\], expected \[2, 3\]/,
  );
  await assertThrows(
    () => globalAvgPoolBackward(rt, { dy: rt.empty([3, 2]), inputShape: [2, 3, 8, 8] }),
    /globalAvgPoolBackward\(\): dy has shape \[3, 2\], expected \[2, 3\]/,
  );
  await assertThrows(
    () => globalAvgPoolBackward(rt, { dy: rt.empty([2, 3]), inputShape: [2, 3, 8] }),
    /globalAvgPoolBackward\(\): inputShape \[2, 3, 8\] must be 4 positive integers/,
  );
  assert.is(rt.stats.bindGroupsCreated, before);
});

test.run();
