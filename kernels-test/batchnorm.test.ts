// batchnorm train/eval forward, scale/shift and backward against the float64
// reference, with the fused ReLU and residual variants, the split (chunked)
// reductions, a large-mean input for stability, an f32 finite-difference check
// of the GPU forward against the GPU backward, and refused bad shapes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Runtime } from '../src/gpu/runtime.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import { batchnormBackward, batchnormEvalForward, batchnormScaleShift, batchnormTrainForward } from '../src/kernels/batchnorm.ts';
import { runOp } from '../src/kernels/op.ts';
import {
  batchnormBackward as refBackward,
  batchnormEvalForward as refEval,
  batchnormTrainForward as refTrain,
  type BatchnormShape,
} from './reference/batchnorm.ts';
import { reluBackward as refReluBackward } from './reference/elementwise.ts';
import { randomArray, randomUniformArray } from './reference/random.ts';
import { assertClose, assertThrows, f32, gpu } from './harness.ts';

// Values are O(1) and a channel has m ≤ 162 of them. Pointwise outputs are a
// few f32 roundings of O(1) terms (≤ 1e-6); sums over a channel (dγ, dβ, the
// statistics) grow like m·ε in the worst case. A missing term is O(1).
const EPS32 = 2 ** -23;
const TOL = { atol: 2e-5, rtol: 1e-4 };
const sumTol = (m: number) => ({ atol: 1e-5 + 4 * m * EPS32, rtol: 1e-4 });

// [N, C, H, W]: batch 1 and 2, 3 and 17 channels, odd planes, 1×1 planes with N = 2.
const SHAPES: [number, number, number, number][] = [
  [2, 3, 7, 5],
  [1, 17, 9, 9],
  [2, 17, 1, 1],
  [1, 3, 7, 5],
  [2, 3, 9, 9],
  // Planes of a multiple of 4 elements (the vec4 apply entry).
  [3, 5, 4, 6],
];

const shapeOf = ([n, c, h, w]: number[]): BatchnormShape => ({ n, c, h, w });
const label = (s: number[]) => `[${s.join('×')}]`;

interface Inputs {
  shape: number[];
  x: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  rm: Float32Array;
  rv: Float32Array;
  res: Float32Array;
  dy: Float32Array;
}

function inputs(shape: number[], seed: number, xOffset = 0): Inputs {
  const [N, C, H, W] = shape;
  const n = N * C * H * W;
  return {
    shape,
    x: f32(randomArray(n, seed, 1.5).map((v, i) => v + xOffset + 0.3 * ((i / (H * W)) % C))),
    gamma: f32(randomUniformArray(C, seed + 1, 0.5, 1.5)),
    beta: f32(randomArray(C, seed + 2, 0.5)),
    rm: f32(randomArray(C, seed + 3, 0.2)),
    rv: f32(randomUniformArray(C, seed + 4, 0.5, 2)),
    res: f32(randomArray(n, seed + 5, 1)),
    dy: f32(randomArray(n, seed + 6, 1)),
  };
}

function upload(rt: Runtime, h: Inputs) {
  const C = h.shape[1];
  return {
    x: rt.upload(h.x, h.shape),
    gamma: rt.upload(h.gamma, [C]),
    beta: rt.upload(h.beta, [C]),
    rm: rt.upload(h.rm, [C]),
    rv: rt.upload(h.rv, [C]),
    res: rt.upload(h.res, h.shape),
    dy: rt.upload(h.dy, h.shape),
  };
}

/** Reference forward of y = relu(bn(x) + residual) and its backward, in float64. */
function refFused(h: Inputs, relu: boolean, residual: boolean) {
  const s = shapeOf(h.shape);
  const f = refTrain(h.x, h.gamma, h.beta, h.rm, h.rv, s);
  const z = f.y.map((v, i) => v + (residual ? h.res[i] : 0));
  const y = relu ? z.map((v) => Math.max(v, 0)) : z;
  const g = relu ? refReluBackward(h.dy, y) : Float64Array.from(h.dy);
  const b = refBackward(g, h.x, h.gamma, f.mean, f.invStd, s);
  return { ...f, y, g, ...b };
}

const release = (...ts: (Tensor | undefined)[]) => ts.forEach((t) => t?.release());

for (const shape of SHAPES) {
  test(`train forward + backward ${label(shape)}`, async () => {
    const rt = await gpu();
    const h = inputs(shape, shape[1] * 31 + shape[2]);
    const d = upload(rt, h);
    const m = shape[0] * shape[2] * shape[3];
    const ref = refFused(h, false, false);
    const fwd = runOp(rt, await batchnormTrainForward(rt, { x: d.x, gamma: d.gamma, beta: d.beta, runningMean: d.rm, runningVar: d.rv }));
    assertClose('y', await rt.readF32(fwd.out.y), ref.y, TOL);
    assertClose('mean', await rt.readF32(fwd.out.mean), ref.mean, sumTol(m));
    assertClose('invStd', await rt.readF32(fwd.out.invStd), ref.invStd, sumTol(m));
    assertClose('running_mean', await rt.readF32(d.rm), ref.newRunningMean, sumTol(m));
    assertClose('running_var', await rt.readF32(d.rv), ref.newRunningVar, sumTol(m));

    const bwd = runOp(rt, await batchnormBackward(rt, { dy: d.dy, x: d.x, gamma: d.gamma, mean: fwd.out.mean, invStd: fwd.out.invStd }));
    assertClose('dx', await rt.readF32(bwd.out.dx), ref.dx, TOL);
    assertClose('dgamma', await rt.readF32(bwd.out.dgamma), ref.dgamma, sumTol(m));
    assertClose('dbeta', await rt.readF32(bwd.out.dbeta), ref.dbeta, sumTol(m));
    release(...Object.values(d), ...Object.values(fwd.out), ...Object.values(bwd.out));
  });
}

// The fused variants on an odd plane and on a vec4 one.
for (const shape of [SHAPES[0], SHAPES[1], SHAPES[5]]) {
  for (const [relu, residual] of [
    [true, false],
    [false, true],
    [true, true],
  ]) {
    test(`fused${relu ? ' relu' : ''}${residual ? ' residual' : ''} forward + backward ${label(shape)}`, async () => {
      const rt = await gpu();
      const h = inputs(shape, 7 + shape[1]);
      const d = upload(rt, h);
      const m = shape[0] * shape[2] * shape[3];
      const ref = refFused(h, relu, residual);
      const fwd = runOp(
        rt,
        await batchnormTrainForward(rt, { x: d.x, gamma: d.gamma, beta: d.beta, relu, residual: residual ? d.res : null }),
      );
      const y = await rt.readF32(fwd.out.y);
      assertClose('y', y, ref.y, TOL);
      if (relu) assert.ok(y.some((v) => v === 0) && y.some((v) => v > 0), 'the ReLU is active on part of the input');

      const bwd = runOp(
        rt,
        await batchnormBackward(rt, {
          dy: d.dy,
          x: d.x,
          gamma: d.gamma,
          mean: fwd.out.mean,
          invStd: fwd.out.invStd,
          y: relu ? fwd.out.y : null,
          residualGrad: residual,
        }),
      );
      assertClose('dx', await rt.readF32(bwd.out.dx), ref.dx, TOL);
      assertClose('dgamma', await rt.readF32(bwd.out.dgamma), ref.dgamma, sumTol(m));
      assertClose('dbeta', await rt.readF32(bwd.out.dbeta), ref.dbeta, sumTol(m));
      if (residual) {
        assertClose('dresidual', await rt.readF32(bwd.out.dresidual!), ref.g, { atol: 0, rtol: 0 });
        if (!relu) assert.is(bwd.out.dresidual, d.dy, 'without a ReLU the residual gradient is dy itself');
      } else {
        assert.is(bwd.out.dresidual, undefined);
      }
      const { dresidual, ...owned } = bwd.out;
      release(...Object.values(d), ...Object.values(fwd.out), ...Object.values(owned), relu ? dresidual : undefined);
    });
  }
}

// Chunked reductions: chunk 37 leaves a short last chunk; chunk 1 merges
// single values (M2 = 0 each); both must match the unsplit kernel's reference.
for (const [shape, chunk] of [
  [SHAPES[4], 37],
  [SHAPES[0], 1],
  [SHAPES[2], 1],
] as const) {
  test(`split reductions (chunk ${chunk}) ${label(shape)}`, async () => {
    const rt = await gpu();
    const h = inputs([...shape], 99 + chunk);
    const d = upload(rt, h);
    const m = shape[0] * shape[2] * shape[3];
    const ref = refFused(h, true, false);
    const fwd = runOp(
      rt,
      await batchnormTrainForward(rt, { x: d.x, gamma: d.gamma, beta: d.beta, runningMean: d.rm, runningVar: d.rv, relu: true, chunk }),
    );
    assert.ok(fwd.out.partials, 'the split path ran');
    assertClose('y', await rt.readF32(fwd.out.y), ref.y, TOL);
    assertClose('mean', await rt.readF32(fwd.out.mean), ref.mean, sumTol(m));
    assertClose('invStd', await rt.readF32(fwd.out.invStd), ref.invStd, sumTol(m));
    assertClose('running_mean', await rt.readF32(d.rm), ref.newRunningMean, sumTol(m));
    assertClose('running_var', await rt.readF32(d.rv), ref.newRunningVar, sumTol(m));
    const bwd = runOp(
      rt,
      await batchnormBackward(rt, { dy: d.dy, x: d.x, gamma: d.gamma, mean: fwd.out.mean, invStd: fwd.out.invStd, y: fwd.out.y, chunk }),
    );
    assertClose('dx', await rt.readF32(bwd.out.dx), ref.dx, TOL);
    assertClose('dgamma', await rt.readF32(bwd.out.dgamma), ref.dgamma, sumTol(m));
    assertClose('dbeta', await rt.readF32(bwd.out.dbeta), ref.dbeta, sumTol(m));
    release(...Object.values(d), ...Object.values(fwd.out), ...Object.values(bwd.out));
  });
}

// x = 1000 + N(0, 1): E[x²] − E[x]² in f32 would cancel ~1e6 against ~1e6
// (ulp 0.06) and lose the unit variance; the centred two-pass sum keeps it.
for (const chunk of [undefined, 37]) {
  test(`large mean (1000 + N(0,1)) keeps the variance to 1e-3${chunk ? ` (chunk ${chunk})` : ''}`, async () => {
    const rt = await gpu();
    const shape = [2, 3, 9, 9];
    const [N, C, H, W] = shape;
    const h = inputs(shape, 4242);
    h.x = f32(randomArray(N * C * H * W, 4243, 1).map((v) => 1000 + v));
    const d = upload(rt, h);
    const ref = refTrain(h.x, h.gamma, h.beta, h.rm, h.rv, shapeOf(shape));
    const fwd = runOp(
      rt,
      await batchnormTrainForward(rt, { x: d.x, gamma: d.gamma, beta: d.beta, runningMean: d.rm, runningVar: d.rv, chunk }),
    );
    const eps = 1e-5;
    const variance = (is: ArrayLike<number>) => Array.from(is, (v) => 1 / (v * v) - eps);
    assertClose('variance', variance(await rt.readF32(fwd.out.invStd)), variance(ref.invStd), { atol: 0, rtol: 1e-3 });
    assertClose('mean', await rt.readF32(fwd.out.mean), ref.mean, { atol: 0, rtol: 1e-6 });
    assertClose('running_var', await rt.readF32(d.rv), ref.newRunningVar, { atol: 0, rtol: 1e-3 });
    assertClose('y', await rt.readF32(fwd.out.y), ref.y, { atol: 1e-3, rtol: 1e-3 });

    // Control: the naive formula in f32 misses by far more, so this test can tell.
    const m = N * H * W;
    let s = 0;
    let s2 = 0;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < H * W; i++) {
        const v = h.x[n * C * H * W + i];
        s = Math.fround(s + v);
        s2 = Math.fround(s2 + Math.fround(v * v));
      }
    }
    const naive = Math.fround(s2 / m) - Math.fround((s / m) ** 2);
    const want = variance(ref.invStd)[0];
    assert.ok(Math.abs(naive - want) / want > 1e-2, `naive f32 variance ${naive} vs ${want} should be off by > 1%`);
    release(...Object.values(d), ...Object.values(fwd.out));
  });
}

test('running statistics are left alone when not given (frozen), and updated with momentum otherwise', async () => {
  const rt = await gpu();
  const shape = [2, 3, 7, 5];
  const h = inputs(shape, 5);
  const d = upload(rt, h);
  const ref = refTrain(h.x, h.gamma, h.beta, h.rm, h.rv, shapeOf(shape), 1e-3, 0.25);
  const frozen = runOp(rt, await batchnormTrainForward(rt, { x: d.x, gamma: d.gamma, beta: d.beta, eps: 1e-3 }));
  assertClose('y (frozen)', await rt.readF32(frozen.out.y), ref.y, TOL);
  assertClose('running_mean untouched', await rt.readF32(d.rm), h.rm, { atol: 0, rtol: 0 });
  const fwd = runOp(
    rt,
    await batchnormTrainForward(rt, {
      x: d.x,
      gamma: d.gamma,
      beta: d.beta,
      runningMean: d.rm,
      runningVar: d.rv,
      eps: 1e-3,
      momentum: 0.25,
    }),
  );
  assertClose('y', await rt.readF32(fwd.out.y), ref.y, TOL);
  assertClose('running_mean', await rt.readF32(d.rm), ref.newRunningMean, sumTol(70));
  assertClose('running_var (unbiased)', await rt.readF32(d.rv), ref.newRunningVar, sumTol(70));
  release(...Object.values(d), ...Object.values(frozen.out), ...Object.values(fwd.out));
});

for (const shape of [SHAPES[0], SHAPES[1], SHAPES[5], [1, 3, 1, 1]]) {
  test(`eval forward (plain and relu + residual) ${label(shape)}`, async () => {
    const rt = await gpu();
    const h = inputs(shape, 77);
    const d = upload(rt, h);
    const ref = refEval(h.x, h.gamma, h.beta, h.rm, h.rv, shapeOf(shape), 1e-5);
    const plain = runOp(rt, await batchnormEvalForward(rt, { x: d.x, gamma: d.gamma, beta: d.beta, runningMean: d.rm, runningVar: d.rv }));
    assertClose('y', await rt.readF32(plain.out.y), ref, TOL);
    const fused = runOp(
      rt,
      await batchnormEvalForward(rt, {
        x: d.x,
        gamma: d.gamma,
        beta: d.beta,
        runningMean: d.rm,
        runningVar: d.rv,
        relu: true,
        residual: d.res,
      }),
    );
    assertClose(
      'relu(y + residual)',
      await rt.readF32(fused.out.y),
      ref.map((v, i) => Math.max(v + h.res[i], 0)),
      TOL,
    );
    release(...Object.values(d), plain.out.y, fused.out.y);
  });
}

test('scale/shift reproduce the forward as x·scale + shift (batch and running statistics)', async () => {
  const rt = await gpu();
  const shape = [2, 17, 3, 3];
  const h = inputs(shape, 3);
  const d = upload(rt, h);
  const s = shapeOf(shape);
  const ref = refTrain(h.x, h.gamma, h.beta, h.rm, h.rv, s);
  const fwd = runOp(rt, await batchnormTrainForward(rt, { x: d.x, gamma: d.gamma, beta: d.beta }));
  const ss = runOp(rt, await batchnormScaleShift(rt, { mean: fwd.out.mean, invStd: fwd.out.invStd, gamma: d.gamma, beta: d.beta }));
  const scale = await rt.readF32(ss.out.scale);
  const shift = await rt.readF32(ss.out.shift);
  assertClose(
    'scale',
    scale,
    Array.from(ref.invStd, (v, c) => v * h.gamma[c]),
    sumTol(18),
  );
  const hw = 9;
  const viaScale = Array.from(h.x, (v, i) => v * scale[Math.floor(i / hw) % 17] + shift[Math.floor(i / hw) % 17]);
  assertClose('x·scale + shift', viaScale, ref.y, TOL);

  const ev = runOp(rt, await batchnormScaleShift(rt, { mean: d.rm, variance: d.rv, eps: 1e-5, gamma: d.gamma, beta: d.beta }));
  const evScale = await rt.readF32(ev.out.scale);
  const evShift = await rt.readF32(ev.out.shift);
  const evRef = refEval(h.x, h.gamma, h.beta, h.rm, h.rv, s);
  const evVia = Array.from(h.x, (v, i) => v * evScale[Math.floor(i / hw) % 17] + evShift[Math.floor(i / hw) % 17]);
  assertClose('eval x·scale + shift', evVia, evRef, TOL);
  release(...Object.values(d), ...Object.values(fwd.out), ...Object.values(ss.out), ...Object.values(ev.out));
});

// f32 central differences of the GPU's own forward, L = Σ w·y with
// y = bn(x) + r, or relu(bn(x) + r): L is a sum of ~100 O(1) terms whose f32
// rounding (~1e-6) changes with the input, so FD noise is ~1e-6 / (2h) = 5e-5
// at h = 1e-2, and truncation is O(h²) = 1e-4; atol 2e-3 + rtol 2e-2 covers
// both and still catches a wrong term (O(0.1) or more). With the ReLU, only x
// and r entries whose pre-activation is 0.1 or more from the kink are probed
// (a difference across the kink measures nothing); γ and β, which move a whole
// channel, are probed on the smooth variant.
for (const relu of [false, true]) {
  test(`backward matches f32 finite differences of the GPU forward (${relu ? 'relu + ' : ''}residual)`, async () => {
    const rt = await gpu();
    const shape = [2, 3, 5, 3];
    const [N, C, H, W] = shape;
    const n = N * C * H * W;
    const h = inputs(shape, 2024);
    const d = upload(rt, h);
    const w = h.dy; // dL/dy
    const hstep = 1e-2;
    type Param = 'x' | 'gamma' | 'beta' | 'res';
    const loss = async (p: Record<Param, Float32Array>) => {
      const t = { x: rt.upload(p.x, shape), gamma: rt.upload(p.gamma, [C]), beta: rt.upload(p.beta, [C]), res: rt.upload(p.res, shape) };
      const op = runOp(rt, await batchnormTrainForward(rt, { x: t.x, gamma: t.gamma, beta: t.beta, relu, residual: t.res }));
      const y = await rt.readF32(op.out.y);
      release(...Object.values(t), ...Object.values(op.out));
      return y.reduce((a, v, i) => a + v * w[i], 0);
    };
    const fd = async (which: Param, i: number) => {
      const copy = () => ({ x: h.x.slice(), gamma: h.gamma.slice(), beta: h.beta.slice(), res: h.res.slice() });
      const plus = copy();
      const minus = copy();
      plus[which][i] += hstep;
      minus[which][i] -= hstep;
      return ((await loss(plus)) - (await loss(minus))) / (2 * hstep);
    };

    const fwd = runOp(rt, await batchnormTrainForward(rt, { x: d.x, gamma: d.gamma, beta: d.beta, relu, residual: d.res }));
    const bwd = runOp(
      rt,
      await batchnormBackward(rt, {
        dy: d.dy,
        x: d.x,
        gamma: d.gamma,
        mean: fwd.out.mean,
        invStd: fwd.out.invStd,
        y: relu ? fwd.out.y : null,
        residualGrad: true,
      }),
    );
    const got: Record<Param, Float32Array> = {
      x: await rt.readF32(bwd.out.dx),
      gamma: await rt.readF32(bwd.out.dgamma),
      beta: await rt.readF32(bwd.out.dbeta),
      res: await rt.readF32(bwd.out.dresidual!),
    };
    const z = refFused(h, false, true).y; // the pre-activation bn(x) + r
    const awayFromKink = (i: number) => !relu || Math.abs(z[i]) >= 0.1;
    const picks: Record<Param, number[]> = relu
      ? { x: [0, 7, 22, 45, 61, 80, n - 1], gamma: [], beta: [], res: [3, 30, 51, n - 2] }
      : { x: [0, 7, 22, 45, n - 1], gamma: [0, 1, 2], beta: [0, 2], res: [3, n - 2] };
    const tol = { atol: 2e-3, rtol: 2e-2 };
    let checked = 0;
    for (const which of ['x', 'gamma', 'beta', 'res'] as const) {
      const idx = picks[which].filter((i) => which === 'gamma' || which === 'beta' || awayFromKink(i));
      const want: number[] = [];
      for (const i of idx) want.push(await fd(which, i));
      assertClose(
        `d${which} vs FD`,
        idx.map((i) => got[which][i]),
        want,
        tol,
      );
      checked += idx.length;
    }
    assert.ok(checked >= 8, `only ${checked} coordinates were away from the kink`);
    const { dresidual, ...owned } = bwd.out;
    release(...Object.values(d), ...Object.values(fwd.out), ...Object.values(owned), relu ? dresidual : undefined);
  });
}

test('bad shapes and arguments are refused before anything is dispatched', async () => {
  const rt = await gpu();
  const x = rt.empty([2, 3, 4, 4]);
  const c3 = rt.empty([3]);
  const c4 = rt.empty([4]);
  const before = rt.stats.bindGroupsCreated;
  await assertThrows(
    () => batchnormTrainForward(rt, { x, gamma: c4, beta: c3 }),
    /batchnormTrainForward\(\): gamma has shape \[4\], expected \[3\]/,
  );
  await assertThrows(
    () => batchnormTrainForward(rt, { x: rt.empty([2, 3, 16]), gamma: c3, beta: c3 }),
    /batchnormTrainForward\(\): x has shape \[2, 3, 16\], expected rank 4/,
  );
  await assertThrows(
    () => batchnormTrainForward(rt, { x, gamma: c3, beta: c3, residual: rt.empty([2, 3, 4, 5]) }),
    /batchnormTrainForward\(\): residual has shape \[2, 3, 4, 5\] but x has \[2, 3, 4, 4\]/,
  );
  await assertThrows(
    () => batchnormTrainForward(rt, { x: rt.empty([1, 3, 1, 1]), gamma: c3, beta: c3 }),
    /batchnormTrainForward\(\): N·H·W=1 .*at least 2 values per channel/,
  );
  await assertThrows(() => batchnormTrainForward(rt, { x, gamma: c3, beta: c3, runningMean: c3 }), /give both runningMean and runningVar/);
  await assertThrows(
    () => batchnormTrainForward(rt, { x, gamma: c3, beta: c3, momentum: 1.5 }),
    /batchnormTrainForward\(\): momentum=1.5 must be in \[0, 1\]/,
  );
  await assertThrows(
    () => batchnormTrainForward(rt, { x, gamma: c3, beta: c3, chunk: 0 }),
    /batchnormTrainForward\(\): chunk=0 must be a positive integer/,
  );
  await assertThrows(
    () => batchnormEvalForward(rt, { x, gamma: c3, beta: c3, runningMean: c3, runningVar: c4 }),
    /batchnormEvalForward\(\): runningVar has shape \[4\], expected \[3\]/,
  );
  await assertThrows(
    () => batchnormScaleShift(rt, { mean: c3, gamma: c3, beta: c3 }),
    /batchnormScaleShift\(\): give exactly one of invStd and variance/,
  );
  await assertThrows(
    () => batchnormBackward(rt, { dy: rt.empty([2, 3, 4, 5]), x, gamma: c3, mean: c3, invStd: c3 }),
    /batchnormBackward\(\): dy has shape \[2, 3, 4, 5\] but x has \[2, 3, 4, 4\]/,
  );
  await assertThrows(
    () => batchnormBackward(rt, { dy: rt.empty([2, 3, 4, 4]), x, gamma: c3, mean: c3, invStd: c3, y: rt.empty([2, 3, 4, 4], 'i32') }),
    /batchnormBackward\(\): y is i32, expected f32/,
  );
  assert.is(rt.stats.bindGroupsCreated, before);
});

test.run();
