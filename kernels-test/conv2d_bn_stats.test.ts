// conv → batchnorm statistics fusion: conv2dForward with `stats` writes
// (mean, M2) partials of y per (output channel, column tile), and
// batchnormTrainForward with those partials runs only the merge and the apply.
// On awkward shapes (odd sizes, stride 2, padding, 1×1 and 7×7 kernels,
// batch 1, N·OH·OW not a multiple of 32 or 64, O not a multiple of 8, more
// tiles than the merge has threads) and a large-mean case, on both conv
// variants (lanes where the adapter takes them, and portable forced):
//   (a) y is bit for bit what the conv writes without stats;
//   (b) the partials match float64 (mean, M2) of the float64 conv output per
//       tile, and merging them gives the float64 batchnorm of that output;
//   (c) batchnorm with the partials equals batchnorm computing its own
//       statistics from the same y, to f32 rounding;
//   (d) bad `stats` are refused before anything is dispatched.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Runtime } from '../src/gpu/runtime.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import { batchnormTrainForward } from '../src/kernels/batchnorm.ts';
import { conv2dForward, conv2dStatsLayout, conv2dVariant } from '../src/kernels/conv2d.ts';
import { runOp } from '../src/kernels/op.ts';
import { batchnormTrainForward as refTrain } from './reference/batchnorm.ts';
import { conv2dForward as refForward, conv2dOutSize, type Conv2dShape } from './reference/conv2d.ts';
import { randomArray, randomUniformArray } from './reference/random.ts';
import { conv2dVariantSuite } from './conv2d-variants.ts';
import { assertClose, assertThrows, f32, gpu } from './harness.ts';

const EPS = 2 ** -23;

interface Case {
  name: string;
  shape: Conv2dShape;
  /** Per-channel bias: none, O(1), or 1000 + O(1) (the large-mean case). */
  bias: 'none' | 'small' | 'large';
  /** The conv's own epilogue before the statistics: bn scale/shift + residual + ReLU. */
  epilogue?: boolean;
}

const k = (name: string, n: number, c: number, h: number, w: number, o: number, kk: number, stride: number, pad: number) => ({
  name,
  shape: { n, c, h, w, o, kh: kk, kw: kk, stride, pad },
});

const CASES: Case[] = [
  { ...k('3x3 s1 p1 on odd 7x9, O=13, P=126', 2, 5, 7, 9, 13, 3, 1, 1), bias: 'small' },
  { ...k('3x3 s2 p1 on 9x9, batch 1, P=25 (one part-empty tile)', 1, 6, 9, 9, 8, 3, 2, 1), bias: 'none' },
  { ...k('1x1 s1, O=37 (part-empty row tiles), P=75', 3, 7, 5, 5, 37, 1, 1, 0), bias: 'small' },
  { ...k('1x1 s2 projection on odd 11x11, P=72', 2, 9, 11, 11, 16, 1, 2, 0), bias: 'none' },
  { ...k('7x7 s2 p3 stem on 15x13, P=112', 2, 3, 15, 13, 9, 7, 2, 3), bias: 'small' },
  {
    ...k('3x3 s1 p1 with bias + bn + residual + ReLU epilogue, P=98', 2, 4, 7, 7, 11, 3, 1, 1),
    bias: 'small',
    epilogue: true,
  },
  { ...k('1x1 on 67x67, P=8978: more tiles than merge threads', 2, 2, 67, 67, 3, 1, 1, 0), bias: 'small' },
  { ...k('3x3 s1 p1, bias 1000 + N(0,1) values (large mean), P=162', 2, 3, 9, 9, 5, 3, 1, 1), bias: 'large' },
];

const release = (...ts: (Tensor | null | undefined)[]) => ts.forEach((t) => t?.release());

const { variantTest, bothVariantsRan } = conv2dVariantSuite();

/** f32-representable float64 values, so that the reference sees exactly the GPU's inputs. */
const rounded = (a: Float64Array) => Float64Array.from(f32(a));

interface Setup {
  oh: number;
  ow: number;
  P: number;
  /** The float64 conv output with the case's epilogue. */
  yRef: Float64Array;
  x: Tensor;
  w: Tensor;
  conv: { bias: Tensor | null; bnScale: Tensor | null; bnShift: Tensor | null; residual: Tensor | null; relu: boolean };
  bn: { gamma: Float64Array; beta: Float64Array; rm: Float64Array; rv: Float64Array };
}

function setup(rt: Runtime, c: Case, seed: number): Setup {
  const s = c.shape;
  const { oh, ow } = conv2dOutSize(s);
  const K = s.c * s.kh * s.kw;
  const P = s.n * oh * ow;
  const xh = rounded(randomArray(s.n * s.c * s.h * s.w, seed + 1));
  // Weights of variance 1/K keep every conv sum O(1), so tolerances do not depend on K's size.
  const wh = rounded(randomArray(s.o * K, seed + 2, 1 / Math.sqrt(K)));
  const biasH = c.bias === 'none' ? null : rounded(randomArray(s.o, seed + 3).map((v) => (c.bias === 'large' ? 1000 + v : v)));
  let yRef = refForward(xh, wh, biasH, s);
  let epi: { scale: Float64Array; shift: Float64Array; res: Float64Array } | null = null;
  if (c.epilogue) {
    epi = {
      scale: rounded(randomUniformArray(s.o, seed + 4, 0.5, 1.5)),
      shift: rounded(randomArray(s.o, seed + 5, 0.5)),
      res: rounded(randomArray(P * s.o, seed + 6)),
    };
    const e = epi;
    yRef = yRef.map((v, i) => {
      const o = Math.floor(i / (oh * ow)) % s.o;
      // As the kernel: one fma for scale + shift.
      return Math.max(v * e.scale[o] + e.shift[o] + e.res[i], 0);
    });
  }
  const x = rt.upload(f32(xh), [s.n, s.c, s.h, s.w]);
  const w = rt.upload(f32(wh), [s.o, s.c, s.kh, s.kw]);
  const bias = biasH ? rt.upload(f32(biasH), [s.o]) : null;
  const bnScale = epi ? rt.upload(f32(epi.scale), [s.o]) : null;
  const bnShift = epi ? rt.upload(f32(epi.shift), [s.o]) : null;
  const residual = epi ? rt.upload(f32(epi.res), [s.n, s.o, oh, ow]) : null;
  return {
    oh,
    ow,
    P,
    yRef,
    x,
    w,
    conv: { bias, bnScale, bnShift, residual, relu: epi !== null },
    bn: {
      gamma: rounded(randomUniformArray(s.o, seed + 7, 0.5, 1.5)),
      beta: rounded(randomArray(s.o, seed + 8, 0.5)),
      rm: rounded(randomArray(s.o, seed + 9, 0.2)),
      rv: rounded(randomUniformArray(s.o, seed + 10, 0.5, 2)),
    },
  };
}

/** Float64 (mean, M2) per (channel, chunk of `chunk` columns p = n·OHW + i) of y [N, O, OH, OW]. */
function refPartials(y: ArrayLike<number>, N: number, O: number, ohw: number, chunk: number): Float64Array {
  const P = N * ohw;
  const chunks = Math.ceil(P / chunk);
  const out = new Float64Array(O * chunks * 2);
  const at = (o: number, p: number) => y[(Math.floor(p / ohw) * O + o) * ohw + (p % ohw)];
  for (let o = 0; o < O; o++) {
    for (let s = 0; s < chunks; s++) {
      const p0 = s * chunk;
      const p1 = Math.min(P, p0 + chunk);
      let sum = 0;
      for (let p = p0; p < p1; p++) sum += at(o, p);
      const mu = sum / (p1 - p0);
      let m2 = 0;
      for (let p = p0; p < p1; p++) m2 += (at(o, p) - mu) ** 2;
      out[2 * (o * chunks + s)] = mu;
      out[2 * (o * chunks + s) + 1] = m2;
    }
  }
  return out;
}

const every = (a: ArrayLike<number>, phase: number) => Array.from(a).filter((_, i) => i % 2 === phase);

for (const [i, c] of CASES.entries()) {
  variantTest(`conv stats → batchnorm merge: ${c.name}`, async () => {
    const rt = await gpu();
    const s = c.shape;
    const S = setup(rt, c, 1000 * (i + 1));
    const { x, w } = S;
    const O = s.o;
    const ohw = S.oh * S.ow;
    const m = S.P;
    const layout = conv2dStatsLayout(rt, x.shape, w.shape, s.stride, s.pad);
    assert.is(layout.chunk, conv2dVariant(rt) === 'lanes' ? 32 : 64);
    assert.equal(layout.shape, [O, Math.ceil(S.P / layout.chunk), 2]);
    assert.is(layout.chunks, layout.shape[1]);

    // (a) y is unchanged by STATS, and the partials come back as out.stats.
    const base = { x, w, stride: s.stride, pad: s.pad, ...S.conv };
    const plain = runOp(rt, await conv2dForward(rt, base));
    const partials = rt.empty(layout.shape, 'f32', 'test.partials');
    const fused = runOp(rt, await conv2dForward(rt, { ...base, stats: partials }));
    assert.is(fused.out.stats, partials);
    assert.is(plain.out.stats, undefined);
    const yPlain = await rt.readF32(plain.out.y);
    const y = await rt.readF32(fused.out.y);
    assert.ok(
      y.every((v, j) => Object.is(v, yPlain[j])),
      'y with stats equals y without, bit for bit',
    );

    // Error of the f32 conv against float64: sums of K O(1) products (4·K·ε,
    // as conv2d.test.ts) plus the rounding of values as large as the bias.
    const K = s.c * s.kh * s.kw;
    const yMax = S.yRef.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const convErr = 1e-5 + 4 * K * EPS + 2 * yMax * EPS;
    assertClose('y', y, S.yRef, { atol: convErr, rtol: 0 });

    // (b) the partials against float64 per-tile statistics of the float64
    // output: a tile mean moves by at most convErr (+ f32 rounding of the
    // mean), a tile M2 = Σ(v − mean)² by about 2·Σ|v − mean|·convErr.
    const want = refPartials(S.yRef, s.n, O, ohw, layout.chunk);
    const got = await rt.readF32(partials);
    assertClose('partial means', every(got, 0), every(want, 0), { atol: 2 * convErr, rtol: 4 * EPS });
    const m2Tol = (m2: number, n: number) => 2 * Math.sqrt(n * m2) * convErr + 8 * n * EPS * (m2 / n) + 1e-5;
    const m2Want = every(want, 1);
    const counts = m2Want.map((_, j) => Math.min(layout.chunk, S.P - (j % layout.chunks) * layout.chunk));
    const m2Got = every(got, 1);
    const m2Bad = m2Want.findIndex((v, j) => !(Math.abs(m2Got[j] - v) <= m2Tol(v, counts[j])));
    assert.is(m2Bad, -1, `partial M2 [${m2Bad}]: got ${m2Got[m2Bad]}, expected ${m2Want[m2Bad]}`);

    // The batchnorm of the float64 conv output.
    const bnShape = { n: s.n, c: O, h: S.oh, w: S.ow };
    const ref = refTrain(S.yRef, S.bn.gamma, S.bn.beta, S.bn.rm, S.bn.rv, bnShape);
    const gamma = rt.upload(f32(S.bn.gamma), [O]);
    const beta = rt.upload(f32(S.bn.beta), [O]);
    const rmA = rt.upload(f32(S.bn.rm), [O]);
    const rvA = rt.upload(f32(S.bn.rv), [O]);
    const rmB = rt.upload(f32(S.bn.rm), [O]);
    const rvB = rt.upload(f32(S.bn.rv), [O]);
    const merged = runOp(
      rt,
      await batchnormTrainForward(rt, {
        x: fused.out.y,
        gamma,
        beta,
        runningMean: rmA,
        runningVar: rvA,
        stats: { partials, chunk: layout.chunk },
      }),
    );
    assert.is(merged.dispatches.length, 2, 'the merge and the apply only');
    assert.is(merged.out.partials, undefined, 'the given partials stay the caller’s');

    // Each statistic in float64 against the same of y_f32, which differs from
    // yRef by ≤ convErr per value: the mean by ≤ convErr, the variance by
    // ≤ 2·σ·convErr (+ convErr²), so invStd by ≤ (σ·convErr + m·ε-ish
    // f32 rounding)/σ² relatively; y = γ·(v − μ)·invStd + β then by a few
    // convErr·γ·invStd. The tolerances are 4× those bounds.
    const sigma = Array.from(ref.invStd, (v) => 1 / v);
    const sigmaMin = Math.min(...sigma);
    const rel = 4 * (convErr / sigmaMin + 16 * EPS);
    assertClose('mean', await rt.readF32(merged.out.mean), ref.mean, { atol: 4 * convErr, rtol: 16 * EPS });
    assertClose('invStd', await rt.readF32(merged.out.invStd), ref.invStd, { atol: 0, rtol: rel });
    assertClose('running_mean', await rt.readF32(rmA), ref.newRunningMean, { atol: 4 * convErr, rtol: 16 * EPS });
    assertClose('running_var', await rt.readF32(rvA), ref.newRunningVar, { atol: 0, rtol: rel });
    const gMax = Math.max(...S.bn.gamma) / sigmaMin;
    const betaMax = Math.max(...S.bn.beta.map(Math.abs));
    assertClose('bn y', await rt.readF32(merged.out.y), ref.y, { atol: 8 * gMax * convErr + betaMax * rel + 1e-5, rtol: rel });

    // (c) against batchnorm computing its own statistics of the same y (the
    // split path where N·H·W > 4096): the same f32 values summed in another
    // order. Sums of values |v| ≤ |μ| + a few σ differ by a few ε·(|μ| + σ);
    // that error in the tile means moves the between-tile part of the merged
    // M2, so the variance by ~ε·|μ|/σ relatively (it dominates at |μ| ≫ σ);
    // y moves by γ·invStd·δμ + |y − β|·δinvStd.
    const own = runOp(rt, await batchnormTrainForward(rt, { x: fused.out.y, gamma, beta, runningMean: rmB, runningVar: rvB }));
    const sigmaMax = Math.max(...sigma);
    const muMax = Math.max(...ref.mean.map(Math.abs));
    const meanTol = { atol: 8 * EPS * (muMax + sigmaMax), rtol: 0 };
    const relOwn = 64 * EPS + 4 * EPS * Math.max(...Array.from(ref.mean, (mu, j) => Math.abs(mu) / sigma[j]));
    assertClose('mean vs own', await rt.readF32(merged.out.mean), await rt.readF32(own.out.mean), meanTol);
    assertClose('invStd vs own', await rt.readF32(merged.out.invStd), await rt.readF32(own.out.invStd), { atol: 0, rtol: relOwn });
    assertClose('running_mean vs own', await rt.readF32(rmA), await rt.readF32(rmB), meanTol);
    assertClose('running_var vs own', await rt.readF32(rvA), await rt.readF32(rvB), { atol: 0, rtol: relOwn });
    assertClose('bn y vs own', await rt.readF32(merged.out.y), await rt.readF32(own.out.y), {
      atol: gMax * meanTol.atol + betaMax * relOwn + 1e-6,
      rtol: relOwn,
    });

    // The frozen merge (no running statistics) gives the same mean and invStd.
    const frozen = runOp(rt, await batchnormTrainForward(rt, { x: fused.out.y, gamma, beta, stats: { partials, chunk: layout.chunk } }));
    assert.equal(await rt.readF32(frozen.out.mean), await rt.readF32(merged.out.mean));
    assert.equal(await rt.readF32(frozen.out.invStd), await rt.readF32(merged.out.invStd));

    if (c.bias === 'large') {
      // Control: E[v²] − E[v]² in f32 over the same y values loses the unit
      // variance to cancellation (Σv² ≈ m·10⁶, ulp 2+), so the checks above can tell.
      let sum = 0;
      let sum2 = 0;
      for (let n = 0; n < s.n; n++) {
        for (let j = 0; j < ohw; j++) {
          const v = y[n * O * ohw + j];
          sum = Math.fround(sum + v);
          sum2 = Math.fround(sum2 + Math.fround(v * v));
        }
      }
      const naive = Math.fround(sum2 / m) - Math.fround((sum / m) ** 2);
      const variance = sigma[0] ** 2 - 1e-5;
      assert.ok(Math.abs(naive - variance) / variance > 1e-2, `naive f32 variance ${naive} vs ${variance} should be off by > 1%`);
      assert.ok(2 * rel < 1e-2, `the variance tolerance ${2 * rel} is tighter than the naive formula's error`);
    }
    release(
      x,
      w,
      ...Object.values(S.conv).filter((t) => typeof t !== 'boolean'),
      plain.out.y,
      fused.out.y,
      partials,
      gamma,
      beta,
      rmA,
      rvA,
      rmB,
      rvB,
      ...Object.values(merged.out),
      ...Object.values(own.out),
      ...Object.values(frozen.out),
    );
  });
}

variantTest('bad stats are refused before anything is dispatched', async () => {
  const rt = await gpu();
  const x = rt.empty([2, 3, 9, 9]);
  const w = rt.empty([5, 3, 3, 3]);
  const layout = conv2dStatsLayout(rt, x.shape, w.shape, 1, 1);
  const chunks = Math.ceil(162 / layout.chunk);
  assert.equal(layout.shape, [5, chunks, 2]);
  const y = rt.empty([2, 5, 9, 9]);
  const good = rt.empty(layout.shape);
  const before = rt.stats.bindGroupsCreated;
  const expected = `expected \\[5, ${chunks}, 2\\] \\(O=5 channels × ⌈N·OH·OW/${layout.chunk}⌉`;
  await assertThrows(
    () => conv2dForward(rt, { x, w, stride: 1, pad: 1, stats: rt.empty([5, chunks + 1, 2]) }),
    new RegExp(`conv2dForward\\(\\): stats has shape \\[5, ${chunks + 1}, 2\\], ${expected}`),
  );
  await assertThrows(
    () => conv2dForward(rt, { x, w, stride: 1, pad: 1, stats: rt.empty([5, chunks * 2]) }),
    new RegExp(`conv2dForward\\(\\): stats has shape \\[5, ${chunks * 2}\\], ${expected}`),
  );
  await assertThrows(
    () => conv2dForward(rt, { x, w, stride: 2, pad: 1, stats: good }),
    /conv2dForward\(\): stats has shape .* expected \[5, \d+, 2\]/,
  );
  await assertThrows(
    () => conv2dForward(rt, { x, w, stride: 1, pad: 1, stats: rt.empty(layout.shape, 'i32') }),
    /conv2dForward\(\): stats is i32, expected f32/,
  );
  const shared = rt.view(y, 0, layout.shape);
  await assertThrows(() => conv2dForward(rt, { x, w, stride: 1, pad: 1, y, stats: shared }), /stats must not share a buffer with y/);
  await assertThrows(
    () => conv2dForward(rt, { x, w, stride: 1, pad: 1, stats: rt.view(x, 0, layout.shape) }),
    /stats must not share a buffer with x/,
  );
  assert.throws(() => conv2dStatsLayout(rt, x.shape, [5, 4, 3, 3], 1, 1), /conv2dStatsLayout\(\): x has 3 channels but w expects 4/);

  const gamma = rt.empty([5]);
  const beta = rt.empty([5]);
  const mean = rt.empty([5]);
  const bn = (stats: { partials: Tensor; chunk: number }, more: { chunk?: number; mean?: Tensor } = {}) =>
    batchnormTrainForward(rt, { x: y, gamma, beta, stats, ...more });
  await assertThrows(
    () => bn({ partials: rt.empty([5, chunks + 1, 2]), chunk: layout.chunk }),
    new RegExp(
      `batchnormTrainForward\\(\\): stats.partials has shape \\[5, ${chunks + 1}, 2\\], expected \\[5, ${chunks}, 2\\] ` +
        `\\(C=5 channels × ⌈N·H·W/chunk⌉ = ⌈162/${layout.chunk}⌉ chunks`,
    ),
  );
  await assertThrows(
    () => bn({ partials: rt.empty([4, chunks, 2]), chunk: layout.chunk }),
    /stats.partials has shape \[4, \d+, 2\], expected \[5/,
  );
  await assertThrows(() => bn({ partials: good, chunk: 7 }), /stats.partials has shape \[5, \d+, 2\], expected \[5, 24, 2\]/);
  await assertThrows(() => bn({ partials: good, chunk: 0 }), /stats.chunk=0 must be a positive integer/);
  await assertThrows(() => bn({ partials: rt.empty(layout.shape, 'i32'), chunk: layout.chunk }), /stats.partials is i32, expected f32/);
  await assertThrows(() => bn({ partials: good, chunk: layout.chunk }, { chunk: 37 }), /give chunk or stats, not both/);
  const meanInPartials = rt.view(good, 0, [5]);
  await assertThrows(
    () => bn({ partials: good, chunk: layout.chunk }, { mean: meanInPartials }),
    /stats.partials must not share a buffer with mean/,
  );
  assert.is(rt.stats.bindGroupsCreated, before);
  release(x, w, y, good, gamma, beta, mean);
});

bothVariantsRan();

test.run();
