// conv2d forward (with every fused epilogue), feedback and weight/bias
// gradients against the float64 reference on awkward shapes (odd sizes,
// stride 2 with leftover rows, 1×1 inputs, tiles left part-empty), both tile
// configurations, forced and automatic split-K, one finite-difference check
// of the GPU forward, and bad shapes refused before anything is dispatched.
// Every case runs on both variants: the CPU lane-tiled kernels
// (shaders/conv2d_lanes.wgsl, where the adapter takes them) and the portable
// ones (forced with the force-portable-conv switch).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { conv2dFeedback, conv2dForward, conv2dOutputShape, conv2dSplitK, conv2dWeightGrad } from '../src/kernels/conv2d.ts';
import { runOp } from '../src/kernels/op.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import {
  conv2dBiasGrad as refBiasGrad,
  conv2dFeedback as refFeedback,
  conv2dForward as refForward,
  conv2dWeightGrad as refWeightGrad,
  conv2dOutSize,
  type Conv2dShape,
} from './reference/conv2d.ts';
import { randomArray } from './reference/random.ts';
import { conv2dVariantSuite } from './conv2d-variants.ts';
import { assertClose, assertThrows, f32, gpu } from './harness.ts';

// f32 accumulation of n products of N(0,1) values: the error grows like √n·ε
// (random walk) with a worst case ∝ n·ε; 4·n·ε plus a small atol covers every
// shape here with margin and still catches a missing or extra term (O(1)).
// `scale` widens it where an epilogue multiplies by N(0,1) values.
const EPS = 2 ** -23;
const tolFor = (n: number, scale = 1) => ({ atol: scale * (1e-5 + 4 * n * EPS), rtol: 1e-4 });

interface Case {
  name: string;
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
}

const c = (
  name: string,
  n: number,
  ch: number,
  h: number,
  w: number,
  o: number,
  k: number | [number, number],
  stride: number,
  pad: number,
): Case => {
  const [kh, kw] = typeof k === 'number' ? [k, k] : k;
  return { name, n, c: ch, h, w, o, kh, kw, stride, pad };
};

const CASES: Case[] = [
  c('7x7 s2 p3 on 9x9 (ResNet stem, odd size)', 1, 3, 9, 9, 5, 7, 2, 3),
  c('1x1 s2 (projection shortcut), odd size', 2, 17, 9, 9, 6, 1, 2, 0),
  c('3x3 s1 p1', 2, 3, 8, 8, 17, 3, 1, 1),
  c('3x3 s2 p1 on even 8x8', 1, 17, 8, 8, 9, 3, 2, 1),
  c('3x3 s2 p1 on odd 9x7 (leftover input rows)', 2, 5, 9, 7, 7, 3, 2, 1),
  c('3x3 p1 on a 1x1 input', 2, 17, 1, 1, 6, 3, 1, 1),
  c('1x1 kernel on a 1x1 input', 1, 4, 1, 1, 3, 1, 1, 0),
  c('3x3 s1 p0, 37 output channels (part-empty tiles)', 1, 9, 6, 6, 37, 3, 1, 0),
  c('2x4 kernel, stride 3, pad 1', 1, 3, 10, 11, 4, [2, 4], 3, 1),
];

const shapeOf = (k: Case): Conv2dShape => ({ n: k.n, c: k.c, h: k.h, w: k.w, o: k.o, kh: k.kh, kw: k.kw, stride: k.stride, pad: k.pad });

interface Inputs {
  shape: Conv2dShape;
  oh: number;
  ow: number;
  xh: Float64Array;
  wh: Float64Array;
  dyh: Float64Array;
  Bh: Float64Array;
  x: Tensor;
  w: Tensor;
  dy: Tensor;
  B: Tensor;
}

async function inputs(k: Case, seed: number): Promise<Inputs> {
  const rt = await gpu();
  const shape = shapeOf(k);
  const { oh, ow } = conv2dOutSize(shape);
  const xh = randomArray(k.n * k.c * k.h * k.w, seed + 1);
  const wh = randomArray(k.o * k.c * k.kh * k.kw, seed + 2);
  const dyh = randomArray(k.n * k.o * oh * ow, seed + 3);
  const Bh = randomArray(k.o * k.c * k.kh * k.kw, seed + 4);
  return {
    shape,
    oh,
    ow,
    xh,
    wh,
    dyh,
    Bh,
    x: rt.upload(f32(xh), [k.n, k.c, k.h, k.w]),
    w: rt.upload(f32(wh), [k.o, k.c, k.kh, k.kw]),
    dy: rt.upload(f32(dyh), [k.n, k.o, oh, ow]),
    B: rt.upload(f32(Bh), [k.o, k.c, k.kh, k.kw]),
  };
}

const release = (...ts: (Tensor | undefined)[]) => ts.forEach((t) => t?.release());

const { variantTest, bothVariantsRan } = conv2dVariantSuite();

for (const [i, k] of CASES.entries()) {
  variantTest(`forward / feedback / weight+bias grad: ${k.name}`, async () => {
    const rt = await gpu();
    const I = await inputs(k, 100 * i);
    const { stride, pad } = k;
    const kFwd = k.c * k.kh * k.kw;

    const fwd = runOp(rt, await conv2dForward(rt, { x: I.x, w: I.w, stride, pad }));
    assert.equal(fwd.out.y.shape, [k.n, k.o, I.oh, I.ow]);
    assertClose('y', await rt.readF32(fwd.out.y), refForward(I.xh, I.wh, null, I.shape), tolFor(kFwd));

    const fb = runOp(rt, await conv2dFeedback(rt, { dy: I.dy, feedback: I.B, stride, pad, inputShape: [k.n, k.c, k.h, k.w] }));
    assertClose('dx', await rt.readF32(fb.out.dx), refFeedback(I.dyh, I.Bh, I.shape), tolFor(k.o * k.kh * k.kw));

    // Sign symmetry: W's buffer read as B = sign(W)·s; every 5th weight is 0 (sign(0) = 0).
    const wz = Float64Array.from(I.wh, (v, j) => (j % 5 === 0 ? 0 : v));
    const wzT = rt.upload(f32(wz), [k.o, k.c, k.kh, k.kw]);
    const s = 0.37;
    const fbs = runOp(
      rt,
      await conv2dFeedback(rt, { dy: I.dy, feedback: wzT, signScale: s, stride, pad, inputShape: [k.n, k.c, k.h, k.w] }),
    );
    const signB = wz.map((v) => Math.sign(v) * Math.fround(s));
    assertClose('dx (sign(W)·s)', await rt.readF32(fbs.out.dx), refFeedback(I.dyh, signB, I.shape), tolFor(k.o * k.kh * k.kw));

    const wg = runOp(rt, await conv2dWeightGrad(rt, { dy: I.dy, x: I.x, stride, pad, kernelSize: [k.kh, k.kw] }));
    const P = k.n * I.oh * I.ow;
    assertClose('dw', await rt.readF32(wg.out.dw), refWeightGrad(I.dyh, I.xh, I.shape), tolFor(P));
    assertClose('db', await rt.readF32(wg.out.db!), refBiasGrad(I.dyh, I.shape), tolFor(P));
    release(I.x, I.w, I.dy, I.B, wzT, fwd.out.y, fb.out.dx, fbs.out.dx, wg.out.dw, wg.out.db, wg.out.partials);
  });
}

test('both tile configurations (WG_M = 4 and 8) give the same results', async () => {
  const rt = await gpu();
  for (const k of [CASES[2], CASES[4], CASES[7]]) {
    const I = await inputs(k, 7);
    const { stride, pad } = k;
    for (const WG_M of [4, 8] as const) {
      const y = runOp(rt, await conv2dForward(rt, { x: I.x, w: I.w, stride, pad, tiles: { WG_M } })).out.y;
      assertClose(`y WG_M=${WG_M}`, await rt.readF32(y), refForward(I.xh, I.wh, null, I.shape), tolFor(k.c * k.kh * k.kw));
      const dx = runOp(
        rt,
        await conv2dFeedback(rt, { dy: I.dy, feedback: I.B, stride, pad, inputShape: [k.n, k.c, k.h, k.w], tiles: { WG_M } }),
      ).out.dx;
      assertClose(`dx WG_M=${WG_M}`, await rt.readF32(dx), refFeedback(I.dyh, I.Bh, I.shape), tolFor(k.o * k.kh * k.kw));
      const wg = runOp(
        rt,
        await conv2dWeightGrad(rt, { dy: I.dy, x: I.x, stride, pad, kernelSize: [k.kh, k.kw], db: null, tiles: { WG_M } }),
      );
      assertClose(`dw WG_M=${WG_M}`, await rt.readF32(wg.out.dw), refWeightGrad(I.dyh, I.xh, I.shape), tolFor(k.n * I.oh * I.ow));
      release(y, dx, wg.out.dw, wg.out.partials);
    }
    release(I.x, I.w, I.dy, I.B);
  }
});

variantTest('fused epilogues: bias, bn, bn+residual+relu, and all four chained', async () => {
  const rt = await gpu();
  const k = CASES[4];
  const I = await inputs(k, 11);
  const { stride, pad } = k;
  const O = k.o;
  const ohw = I.oh * I.ow;
  const biasH = randomArray(O, 21);
  const scaleH = randomArray(O, 22);
  const shiftH = randomArray(O, 23);
  const resH = randomArray(k.n * O * ohw, 24);
  const bias = rt.upload(f32(biasH), [O]);
  const bnScale = rt.upload(f32(scaleH), [O]);
  const bnShift = rt.upload(f32(shiftH), [O]);
  const residual = rt.upload(f32(resH), [k.n, O, I.oh, I.ow]);
  const base = refForward(I.xh, I.wh, null, I.shape);
  const combos: { name: string; b?: boolean; bn?: boolean; res?: boolean; relu?: boolean }[] = [
    { name: 'bias', b: true },
    { name: 'bn', bn: true },
    { name: 'bn+residual+relu', bn: true, res: true, relu: true },
    { name: 'bias+bn+residual+relu', b: true, bn: true, res: true, relu: true },
  ];
  for (const e of combos) {
    const want = base.map((v, i) => {
      const o = Math.floor(i / ohw) % O;
      let r = v;
      if (e.b) r += biasH[o];
      if (e.bn) r = r * scaleH[o] + shiftH[o];
      if (e.res) r += resH[i];
      if (e.relu) r = Math.max(r, 0);
      return r;
    });
    const y = runOp(
      rt,
      await conv2dForward(rt, {
        x: I.x,
        w: I.w,
        stride,
        pad,
        bias: e.b ? bias : null,
        bnScale: e.bn ? bnScale : null,
        bnShift: e.bn ? bnShift : null,
        residual: e.res ? residual : null,
        relu: e.relu,
      }),
    ).out.y;
    assertClose(`y (${e.name})`, await rt.readF32(y), want, tolFor(k.c * k.kh * k.kw, 4));
    y.release();
  }
  release(I.x, I.w, I.dy, I.B, bias, bnScale, bnShift, residual);
});

variantTest('feedback with B = W (the same buffer) is backprop: equals the reference with W', async () => {
  const rt = await gpu();
  const k = CASES[3];
  const I = await inputs(k, 31);
  const dx = runOp(
    rt,
    await conv2dFeedback(rt, { dy: I.dy, feedback: I.w, stride: k.stride, pad: k.pad, inputShape: [k.n, k.c, k.h, k.w] }),
  ).out.dx;
  assertClose('dx', await rt.readF32(dx), refFeedback(I.dyh, I.wh, I.shape), tolFor(k.o * k.kh * k.kw));
  release(I.x, I.w, I.dy, I.B, dx);
});

variantTest('split-K: forced splits and the automatic trigger match the reference', async () => {
  const rt = await gpu();
  const k = c('3x3 s1 p1, long reduction', 2, 3, 9, 9, 5, 3, 1, 1);
  const I = await inputs(k, 41);
  const P = k.n * I.oh * I.ow; // 162 pixels
  const want = refWeightGrad(I.dyh, I.xh, I.shape);
  const forced = runOp(rt, await conv2dWeightGrad(rt, { dy: I.dy, x: I.x, stride: 1, pad: 1, db: null, splitK: { splits: 3 } }));
  assert.ok(forced.out.partials, 'forced split allocates partials');
  assert.equal(forced.out.partials!.shape, [3, k.o, k.c * 9]);
  assert.is(forced.dispatches.length, 2);
  assertClose('dw (3 splits)', await rt.readF32(forced.out.dw), want, tolFor(P));
  // One output tile; asking for 1000 workgroups splits as far as 4 steps of 16 pixels allow.
  const auto = runOp(rt, await conv2dWeightGrad(rt, { dy: I.dy, x: I.x, stride: 1, pad: 1, splitK: { minWorkgroups: 1000 } }));
  assert.is(auto.out.partials!.shape[0], conv2dSplitK(1, P, 1000).splits);
  assert.ok(auto.out.partials!.shape[0] > 1);
  assertClose('dw (auto splits)', await rt.readF32(auto.out.dw), want, tolFor(P));
  assertClose('db', await rt.readF32(auto.out.db!), refBiasGrad(I.dyh, I.shape), tolFor(P));
  const off = runOp(rt, await conv2dWeightGrad(rt, { dy: I.dy, x: I.x, stride: 1, pad: 1, db: null, splitK: { minWorkgroups: 1 } }));
  assert.is(off.out.partials, undefined);
  release(I.x, I.w, I.dy, I.B, forced.out.dw, forced.out.partials, auto.out.dw, auto.out.db, auto.out.partials, off.out.dw);
});

// WM's mirror update rides on the weight gradient: dW ← alpha·Σ + beta·dW,
// blended by the GEMM with one split, by the split-K reduce otherwise.
for (const k of [CASES[1], CASES[4], CASES[8]]) {
  for (const splits of [1, 3]) {
    variantTest(`weight grad accumulating into dW (splits ${splits}): ${k.name}`, async () => {
      const rt = await gpu();
      const I = await inputs(k, 7);
      const dw0 = randomArray(k.o * k.c * k.kh * k.kw, 8);
      const dw = rt.upload(f32(dw0), [k.o, k.c, k.kh, k.kw]);
      const accumulate = { alpha: 0.3, beta: 0.9 };
      const op = runOp(
        rt,
        await conv2dWeightGrad(rt, { dy: I.dy, x: I.x, stride: k.stride, pad: k.pad, dw, db: null, accumulate, splitK: { splits } }),
      );
      const want = refWeightGrad(I.dyh, I.xh, I.shape).map((v, i) => 0.3 * v + 0.9 * dw0[i]);
      assertClose('dw', await rt.readF32(dw), want, tolFor(k.n * I.oh * I.ow));
      release(I.x, I.w, I.dy, I.B, dw, op.out.partials);
    });
  }
}

test('conv2dSplitK: splits only when tiles are few and each split keeps ≥ 64 pixels', () => {
  assert.equal(conv2dSplitK(100, 10_000, 16), { splits: 1, chunk: 10_000 });
  assert.equal(conv2dSplitK(4, 10_000, 16), { splits: 4, chunk: 2504 });
  assert.is(conv2dSplitK(1, 100, 16).splits, 1); // 100 pixels: one 64-pixel split at most
  assert.is(conv2dSplitK(1, 130, 1000).splits, 2);
  assert.is(conv2dSplitK(1, 130, 1, 5).splits, 5); // forced
});

// The forward is linear in x and in w, so a central difference with a large
// step has no truncation error; what is left is f32 rounding of Σ y·g
// (|Σ| ≈ 30, ε ≈ 6e-8 per term) divided by 2h = 0.5: ≈ 1e-4. atol 2e-3.
variantTest('finite differences of the GPU forward agree with GPU feedback and weight grad', async () => {
  const rt = await gpu();
  const k = c('tiny', 1, 2, 5, 5, 3, 3, 2, 1);
  const I = await inputs(k, 51);
  const g = I.dyh; // L = Σ y·g, so dL/dx = feedback(g, W) and dL/dW = weightGrad(g, x)
  const dx = await rt.readF32(
    runOp(rt, await conv2dFeedback(rt, { dy: I.dy, feedback: I.w, stride: 2, pad: 1, inputShape: [1, 2, 5, 5] })).out.dx,
  );
  const dw = await rt.readF32(
    runOp(rt, await conv2dWeightGrad(rt, { dy: I.dy, x: I.x, stride: 2, pad: 1, kernelSize: [3, 3], db: null })).out.dw,
  );
  const h = 0.25;
  const loss = async (xh: Float64Array, wh: Float64Array) => {
    const x = rt.upload(f32(xh), [1, 2, 5, 5]);
    const w = rt.upload(f32(wh), [3, 2, 3, 3]);
    const y = await rt.readF32(runOp(rt, await conv2dForward(rt, { x, w, stride: 2, pad: 1 })).out.y);
    release(x, w);
    return y.reduce((s, v, i) => s + v * g[i], 0);
  };
  const fd = async (which: 'x' | 'w', i: number) => {
    const plus = which === 'x' ? I.xh.slice() : I.wh.slice();
    const minus = plus.slice();
    plus[i] += h;
    minus[i] -= h;
    const lp = which === 'x' ? await loss(plus, I.wh) : await loss(I.xh, plus);
    const lm = which === 'x' ? await loss(minus, I.wh) : await loss(I.xh, minus);
    return (lp - lm) / (2 * h);
  };
  const xi = [0, 6, 12, 24, 31, 49];
  const wi = [0, 4, 9, 22, 40, 53];
  const fdx = [];
  for (const i of xi) fdx.push(await fd('x', i));
  const fdw = [];
  for (const i of wi) fdw.push(await fd('w', i));
  assertClose(
    'dx vs FD',
    xi.map((i) => dx[i]),
    fdx,
    { atol: 2e-3, rtol: 1e-3 },
  );
  assertClose(
    'dw vs FD',
    wi.map((i) => dw[i]),
    fdw,
    { atol: 2e-3, rtol: 1e-3 },
  );
  release(I.x, I.w, I.dy, I.B);
});

test('conv2dOutputShape: sizes, and clear errors for shapes that cannot convolve', () => {
  assert.equal(conv2dOutputShape([2, 3, 9, 9], [5, 3, 7, 7], 2, 3), [2, 5, 5, 5]);
  assert.equal(conv2dOutputShape([1, 4, 1, 1], [3, 4, 3, 3], 1, 1), [1, 3, 1, 1]);
  assert.equal(conv2dOutputShape([1, 4, 8, 8], [3, 4, 1, 1], 2, 0), [1, 3, 4, 4]);
  assert.throws(() => conv2dOutputShape([1, 3, 8, 8], [5, 4, 3, 3], 1, 1), /x has 3 channels but w expects 4/);
  assert.throws(() => conv2dOutputShape([1, 3, 4, 4], [5, 3, 7, 7], 1, 1), /kernel 7x7 is larger than the padded input 6x6/);
  assert.throws(() => conv2dOutputShape([1, 3, 8, 8], [5, 3, 3, 3], 0, 1), /stride=0 must be an integer ≥ 1/);
  assert.throws(() => conv2dOutputShape([1, 3, 8, 8], [5, 3, 3, 3], 1, -1), /pad=-1 must be an integer ≥ 0/);
  assert.throws(() => conv2dOutputShape([1, 3, 8], [5, 3, 3, 3], 1, 1), /x has shape \[1, 3, 8\], expected rank 4/);
});

variantTest('bad shapes are refused before anything is dispatched', async () => {
  const rt = await gpu();
  const x = rt.empty([1, 3, 8, 8]);
  const w = rt.empty([5, 3, 3, 3]);
  const dy = rt.empty([1, 5, 8, 8]);
  const before = rt.stats.bindGroupsCreated;
  await assertThrows(
    () => conv2dForward(rt, { x, w: rt.empty([5, 4, 3, 3]), stride: 1, pad: 1 }),
    /conv2dForward\(\): x has 3 channels but w expects 4/,
  );
  await assertThrows(
    () => conv2dForward(rt, { x, w: rt.empty([5, 3, 11, 11]), stride: 1, pad: 1 }),
    /conv2dForward\(\): kernel 11x11 is larger than the padded input 10x10/,
  );
  await assertThrows(() => conv2dForward(rt, { x, w, stride: 0, pad: 1 }), /conv2dForward\(\): stride=0 must be an integer ≥ 1/);
  await assertThrows(
    () => conv2dForward(rt, { x, w, stride: 1, pad: 1, bias: rt.empty([4]) }),
    /conv2dForward\(\): bias has shape \[4\], expected \[5\]/,
  );
  await assertThrows(
    () => conv2dForward(rt, { x, w, stride: 1, pad: 1, bnScale: rt.empty([5]) }),
    /conv2dForward\(\): bnScale and bnShift go together/,
  );
  await assertThrows(
    () => conv2dForward(rt, { x, w, stride: 2, pad: 1, residual: dy }),
    /conv2dForward\(\): residual has shape \[1, 5, 8, 8\], expected \[1, 5, 4, 4\]/,
  );
  await assertThrows(
    () => conv2dForward(rt, { x: rt.empty([1, 3, 8, 8], 'i32'), w, stride: 1, pad: 1 }),
    /conv2dForward\(\): x is i32, expected f32/,
  );
  await assertThrows(() => conv2dForward(rt, { x, w, stride: 1, pad: 1, tiles: { WG_M: 2 as 4 } }), /tiles.WG_M=2 must be 4 or 8/);
  await assertThrows(
    () => conv2dFeedback(rt, { dy, feedback: w, stride: 2, pad: 1, inputShape: [1, 3, 8, 8] }),
    /conv2dFeedback\(\): dy has shape \[1, 5, 8, 8\], expected \[1, 5, 4, 4\]/,
  );
  await assertThrows(
    () => conv2dFeedback(rt, { dy, feedback: rt.empty([5, 4, 3, 3]), stride: 1, pad: 1, inputShape: [1, 3, 8, 8] }),
    /x has 3 channels but w expects 4/,
  );
  await assertThrows(
    () => conv2dWeightGrad(rt, { dy, x, stride: 2, pad: 1 }),
    /conv2dWeightGrad\(\): under stride=2 pass dw or kernelSize/,
  );
  await assertThrows(
    () => conv2dWeightGrad(rt, { dy: rt.empty([1, 5, 7, 8]), x, stride: 1, pad: 1, dw: w }),
    /conv2dWeightGrad\(\): dy has shape \[1, 5, 7, 8\], expected \[1, 5, 8, 8\]/,
  );
  await assertThrows(
    () => conv2dWeightGrad(rt, { dy, x, stride: 1, pad: 1, dw: w, db: rt.empty([3]) }),
    /conv2dWeightGrad\(\): db has shape \[3\], expected \[5\]/,
  );
  await assertThrows(
    () => conv2dWeightGrad(rt, { dy, x, stride: 1, pad: 1, dw: w, splitK: { splits: 0 } }),
    /splitK.splits=0 must be an integer ≥ 1/,
  );
  assert.is(rt.stats.bindGroupsCreated, before);
});

variantTest('a recorded weight-gradient program (split-K + bias) replays without allocating', async () => {
  const rt = await gpu();
  const k = c('replay', 1, 3, 8, 8, 4, 3, 1, 1);
  const I = await inputs(k, 61);
  const op = await conv2dWeightGrad(rt, { dy: I.dy, x: I.x, stride: 1, pad: 1, splitK: { splits: 2 } });
  assert.is(op.dispatches.length, 3);
  const program = rt.record(op.dispatches);
  program.run();
  await rt.finish();
  const before = rt.stats;
  for (let i = 0; i < 3; i++) program.run();
  await rt.finish();
  assert.is(rt.stats.buffersCreated, before.buffersCreated);
  assert.is(rt.stats.bindGroupsCreated, before.bindGroupsCreated);
  assertClose('dw', await rt.readF32(op.out.dw), refWeightGrad(I.dyh, I.xh, I.shape), tolFor(64));
  release(I.x, I.w, I.dy, I.B, op.out.dw, op.out.db, op.out.partials);
});

bothVariantsRan();

test.run();
