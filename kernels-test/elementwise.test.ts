// ReLU forward/backward, residual add (plain and fused with a ReLU) and the
// in-place accumulate against the float64 reference, on sizes that do not
// fill a workgroup span and one that needs several; bad shapes are refused.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { add, addInPlace, reluBackward, reluForward } from '../src/kernels/elementwise.ts';
import { runOp } from '../src/kernels/op.ts';
import { reluBackward as refReluBackward, reluForward as refReluForward, residualAdd } from './reference/elementwise.ts';
import { randomArray } from './reference/random.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import { f16BitsToNumber, numberToF16Bits } from '../src/io/safetensors.ts';
import { assertClose, assertThrows, f32, gpu } from './harness.ts';

// max and select are exact; a + b is one f32 rounding of an exactly
// representable sum's neighbours, so the reference rounded to f32 matches exactly.
const EXACT = { atol: 0, rtol: 0 };

// Shapes: a scalar, odd NCHW tensors, and one spanning several workgroups (256 values each).
const SHAPES: number[][] = [[1], [2, 3, 7, 5], [1, 17, 9, 9], [2, 17, 1, 1], [3, 1000]];
const label = (s: number[]) => `[${s.join('×')}]`;
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Random values with some exact zeros, where the ReLU's derivative is taken as 0. */
function withZeros(n: number, seed: number): Float32Array {
  return f32(randomArray(n, seed, 1).map((v, i) => (i % 11 === 3 ? 0 : v)));
}

for (const shape of SHAPES) {
  test(`relu forward/backward ${label(shape)}`, async () => {
    const rt = await gpu();
    const n = size(shape);
    const xh = withZeros(n, n + 1);
    const dyh = f32(randomArray(n, n + 2, 1));
    const x = rt.upload(xh, shape);
    const dy = rt.upload(dyh, shape);
    const fwd = runOp(rt, await reluForward(rt, { x }));
    const y = await rt.readF32(fwd.out.y);
    assertClose('y', y, refReluForward(xh), EXACT);
    const bwd = runOp(rt, await reluBackward(rt, { dy, y: fwd.out.y }));
    assertClose('dx', await rt.readF32(bwd.out.dx), refReluBackward(dyh, y), EXACT);
    for (const t of [x, dy, fwd.out.y, bwd.out.dx]) t.release();
  });

  test(`add, add + relu, add in place ${label(shape)}`, async () => {
    const rt = await gpu();
    const n = size(shape);
    const ah = f32(randomArray(n, 3 * n, 1));
    const bh = f32(randomArray(n, 3 * n + 1, 1));
    const a = rt.upload(ah, shape);
    const b = rt.upload(bh, shape);
    const sum = f32(residualAdd(ah, bh));
    const plain = runOp(rt, await add(rt, { a, b }));
    assertClose('a + b', await rt.readF32(plain.out.out), sum, EXACT);
    const fused = runOp(rt, await add(rt, { a, b, relu: true }));
    assertClose('relu(a + b)', await rt.readF32(fused.out.out), refReluForward(sum), EXACT);
    runOp(rt, await addInPlace(rt, { acc: b, a }));
    assertClose('b += a', await rt.readF32(b), sum, EXACT);
    for (const t of [a, b, plain.out.out, fused.out.out]) t.release();
  });
}

// The elem variant: f16 storage, f32 arithmetic. Inputs are f16 values, so relu
// is exact and a + b is the f32 sum rounded once to f16 (as the reference is).
test('f16 storage (the //#elem variant): relu, add, add + relu, add in place', async () => {
  const rt = await gpu();
  if (!rt.ctx.features.has('shader-f16')) return void console.log(`skipped: ${rt.ctx.adapter.description} has no shader-f16`);
  const shape = [2, 17, 9, 5];
  const n = size(shape);
  const toF16 = (v: ArrayLike<number>) => Uint16Array.from(v as number[], numberToF16Bits);
  const fromF16 = (h: Uint16Array) => Array.from(h, f16BitsToNumber);
  const ah = fromF16(toF16(withZeros(n, 41)));
  const bh = fromF16(toF16(randomArray(n, 42, 1)));
  const a = rt.upload(toF16(ah), shape, 'f16');
  const b = rt.upload(toF16(bh), shape, 'f16');
  const read = async (t: Tensor) => fromF16((await rt.read(t)) as Uint16Array);
  const relu = runOp(rt, await reluForward(rt, { x: a }));
  assert.is(relu.out.y.dtype, 'f16');
  assertClose('relu', await read(relu.out.y), refReluForward(Float64Array.from(ah)), EXACT);
  const sum = fromF16(toF16(residualAdd(Float64Array.from(ah), Float64Array.from(bh))));
  const plain = runOp(rt, await add(rt, { a, b }));
  assertClose('a + b', await read(plain.out.out), sum, EXACT);
  const fused = runOp(rt, await add(rt, { a, b, relu: true }));
  assertClose('relu(a + b)', await read(fused.out.out), refReluForward(Float64Array.from(sum)), EXACT);
  runOp(rt, await addInPlace(rt, { acc: b, a }));
  assertClose('b += a', await read(b), sum, EXACT);
  // Mixed element types are refused, naming the operand.
  const c = rt.upload(new Float32Array(n), shape);
  await assertThrows(() => add(rt, { a, b: c }), /add\(\): b/);
  for (const t of [a, b, c, relu.out.y, plain.out.out, fused.out.out]) t.release();
});

test('outputs can be given (written in place of a fresh tensor)', async () => {
  const rt = await gpu();
  const x = rt.upload(f32([-1, 2, -3, 4, 0]), [5]);
  const y = rt.empty([5]);
  const op = runOp(rt, await reluForward(rt, { x, y }));
  assert.is(op.out.y, y);
  assertClose('y', await rt.readF32(y), [0, 2, 0, 4, 0], EXACT);
});

test('bad shapes are refused before anything is dispatched', async () => {
  const rt = await gpu();
  const a = rt.empty([2, 3, 4, 4]);
  const before = rt.stats.bindGroupsCreated;
  await assertThrows(() => add(rt, { a, b: rt.empty([2, 3, 4, 5]) }), /add\(\): b has shape \[2, 3, 4, 5\] but a has \[2, 3, 4, 4\]/);
  await assertThrows(() => add(rt, { a, b: rt.empty([2, 3, 16]) }), /add\(\): b has shape \[2, 3, 16\] but a has \[2, 3, 4, 4\]/);
  await assertThrows(() => reluForward(rt, { x: a, y: rt.empty([96]) }), /reluForward\(\): y has shape \[96\] but x has \[2, 3, 4, 4\]/);
  await assertThrows(() => reluBackward(rt, { dy: a, y: rt.empty([2, 3, 4, 4], 'i32') }), /reluBackward\(\): y is i32, expected f32/);
  await assertThrows(() => addInPlace(rt, { acc: a, a: rt.empty([1]) }), /addInPlace\(\): a has shape \[1\] but acc has \[2, 3, 4, 4\]/);
  assert.is(rt.stats.bindGroupsCreated, before);
});

test.run();
