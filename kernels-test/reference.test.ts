// Checks the float64 CPU references themselves, with no GPU: adjoints against
// central finite differences, hand-worked cases, and Philox known answers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchnormBackward, batchnormEvalForward, batchnormTrainForward, type BatchnormShape } from './reference/batchnorm.ts';
import { conv2dBiasGrad, conv2dFeedback, conv2dForward, conv2dOutSize, conv2dWeightGrad, type Conv2dShape } from './reference/conv2d.ts';
import { reluBackward, reluForward, residualAdd } from './reference/elementwise.ts';
import { linearFeedback, linearForward, linearWeightGrad } from './reference/matmul.ts';
import { softmaxCrossEntropy } from './reference/softmax_cross_entropy.ts';
import { boxMuller, mulhi32, philox4x32, philoxNormal, philoxNormals, uniformFromU32 } from './reference/philox.ts';
import { globalAvgPoolBackward, globalAvgPoolForward, maxPoolBackward, maxPoolForward } from './reference/pool.ts';
import { randomArray, seededRandom } from './reference/random.ts';
import { alignment } from './reference/alignment.ts';
import { kpUpdate, mirrorCorrConv, mirrorCorrLinear, mirrorUpdate, signSymmetry, ssScale } from './reference/feedback_rules.ts';
import { sgdStep } from './reference/sgd.ts';

// Finite-difference tolerances: central differences in float64 with step H.
const H = 1e-5;
const ATOL = 1e-7;
const RTOL = 1e-6;

function close(name: string, got: ArrayLike<number>, want: ArrayLike<number>, atol = ATOL, rtol = RTOL): void {
  assert.is(got.length, want.length, `${name}: length`);
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) {
      if (bad.length < 5) bad.push(`  [${i}] want=${want[i]} got=${got[i]}`);
      else break;
    }
  }
  if (bad.length > 0) assert.unreachable(`${name}: mismatches (index, reference, got)\n${bad.join('\n')}`);
}

/** Central-difference gradient of f at x. */
function numericGrad(f: (x: Float64Array) => number, x0: ArrayLike<number>): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + H;
    const fp = f(x);
    x[i] = v - H;
    const fm = f(x);
    x[i] = v;
    g[i] = (fp - fm) / (2 * H);
  }
  return g;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

// ---- linear

test('linear: feedback and weight grad are the adjoints of the forward', () => {
  const [M, K, N] = [3, 5, 4];
  const x = randomArray(M * K, 1);
  const w = randomArray(N * K, 2);
  const b = randomArray(N, 3);
  const r = randomArray(M * N, 4); // L = Σ r·y
  close(
    'dx',
    linearFeedback(r, w, M, N, K),
    numericGrad((xx) => dot(r, linearForward(xx, w, b, M, K, N)), x),
  );
  const { dw, db } = linearWeightGrad(r, x, M, N, K);
  close(
    'dw',
    dw,
    numericGrad((ww) => dot(r, linearForward(x, ww, b, M, K, N)), w),
  );
  close(
    'db',
    db,
    numericGrad((bb) => dot(r, linearForward(x, w, bb, M, K, N)), b),
  );
});

test('linear: shape errors name the op and the value', () => {
  assert.throws(() => linearForward([1, 2], [1, 2], null, 1, 3, 1), /linearForward\(\): x\.length=2 must equal M\*K=3/);
  assert.throws(() => linearFeedback([1], [1], 0, 1, 1), /linearFeedback\(\): M=0/);
});

// ---- conv2d

const convCases: Array<[string, Conv2dShape]> = [
  ['3x3 s1 p1, 3 in channels', { n: 2, c: 3, h: 5, w: 5, o: 4, kh: 3, kw: 3, stride: 1, pad: 1 }],
  ['3x3 s2 p1, odd size', { n: 2, c: 3, h: 7, w: 6, o: 2, kh: 3, kw: 3, stride: 2, pad: 1 }],
  ['1x1 s1 p0', { n: 2, c: 3, h: 4, w: 3, o: 5, kh: 1, kw: 1, stride: 1, pad: 0 }],
  ['1x1 s2 p0 (downsample)', { n: 1, c: 4, h: 5, w: 5, o: 3, kh: 1, kw: 1, stride: 2, pad: 0 }],
  ['7x7 s2 p3 (stem)', { n: 1, c: 3, h: 9, w: 8, o: 2, kh: 7, kw: 7, stride: 2, pad: 3 }],
  ['2x3 s1 p0, non-square kernel', { n: 2, c: 2, h: 4, w: 5, o: 3, kh: 2, kw: 3, stride: 1, pad: 0 }],
];

for (const [name, s] of convCases) {
  test(`conv2d ${name}: feedback, weight and bias grads match finite differences`, () => {
    const { oh, ow } = conv2dOutSize(s);
    const x = randomArray(s.n * s.c * s.h * s.w, 10);
    const w = randomArray(s.o * s.c * s.kh * s.kw, 11);
    const bias = randomArray(s.o, 12);
    const r = randomArray(s.n * s.o * oh * ow, 13);
    const L = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>): number => dot(r, conv2dForward(xx, ww, bb, s));
    close(
      'dx',
      conv2dFeedback(r, w, s),
      numericGrad((xx) => L(xx, w, bias), x),
    );
    close(
      'dW',
      conv2dWeightGrad(r, x, s),
      numericGrad((ww) => L(x, ww, bias), w),
    );
    close(
      'dbias',
      conv2dBiasGrad(r, s),
      numericGrad((bb) => L(x, w, bb), bias),
    );
  });
}

test('conv2d: 1x1 s1 conv equals a per-pixel linear layer', () => {
  const s: Conv2dShape = { n: 1, c: 3, h: 2, w: 2, o: 2, kh: 1, kw: 1, stride: 1, pad: 0 };
  const x = randomArray(12, 20);
  const w = randomArray(6, 21);
  const y = conv2dForward(x, w, null, s);
  // Pixel p as a 1×3 row: x[c*4+p].
  for (let p = 0; p < 4; p++) {
    const row = [0, 1, 2].map((c) => x[c * 4 + p]);
    const yl = linearForward(row, w, null, 1, 3, 2);
    close(`pixel ${p}`, [y[p], y[4 + p]], yl, 1e-12, 1e-12);
  }
});

test('conv2d: shape errors name the op and the value', () => {
  const s: Conv2dShape = { n: 1, c: 1, h: 2, w: 2, o: 1, kh: 3, kw: 3, stride: 1, pad: 0 };
  assert.throws(() => conv2dForward([0, 0, 0, 0], new Float64Array(9), null, s), /conv2dForward\(\): kernel 3x3 does not fit input 2x2/);
  assert.throws(() => conv2dFeedback([0], [0], { ...s, kh: 1, kw: 1, stride: 0 }), /conv2dFeedback\(\): shape\.stride=0/);
  assert.throws(
    () => conv2dWeightGrad([0, 0, 0, 0], [0, 0, 0], { ...s, kh: 1, kw: 1 }),
    /conv2dWeightGrad\(\): x\.length=3 must equal n\*c\*h\*w=4/,
  );
});

// ---- batchnorm

test('batchnorm: backward matches finite differences of the training forward', () => {
  const s: BatchnormShape = { n: 3, c: 2, h: 2, w: 3 };
  const len = s.n * s.c * s.h * s.w;
  const x = randomArray(len, 30, 2);
  const gamma = randomArray(s.c, 31);
  const beta = randomArray(s.c, 32);
  const rm = new Float64Array(s.c);
  const rv = new Float64Array(s.c).fill(1);
  const r = randomArray(len, 33);
  const L = (xx: ArrayLike<number>, g: ArrayLike<number>, b: ArrayLike<number>): number =>
    dot(r, batchnormTrainForward(xx, g, b, rm, rv, s).y);
  const f = batchnormTrainForward(x, gamma, beta, rm, rv, s);
  const { dx, dgamma, dbeta } = batchnormBackward(r, x, gamma, f.mean, f.invStd, s);
  close(
    'dx',
    dx,
    numericGrad((xx) => L(xx, gamma, beta), x),
    1e-6,
    1e-5,
  );
  close(
    'dgamma',
    dgamma,
    numericGrad((g) => L(x, g, beta), gamma),
    1e-6,
    1e-5,
  );
  close(
    'dbeta',
    dbeta,
    numericGrad((b) => L(x, gamma, b), beta),
    1e-6,
    1e-5,
  );
});

test('batchnorm: statistics follow PyTorch (biased for y, unbiased for running_var)', () => {
  // One channel, values 1..4: mean 2.5, biased var 1.25, unbiased var 5/3.
  const s: BatchnormShape = { n: 2, c: 1, h: 1, w: 2 };
  const f = batchnormTrainForward([1, 2, 3, 4], [2], [0.5], [1], [2], s, 1e-5, 0.1);
  close('mean', f.mean, [2.5], 1e-15, 0);
  close('invStd', f.invStd, [1 / Math.sqrt(1.25 + 1e-5)], 1e-15, 1e-15);
  close('running_mean', f.newRunningMean, [0.9 * 1 + 0.1 * 2.5], 1e-15, 1e-15);
  close('running_var', f.newRunningVar, [0.9 * 2 + 0.1 * (5 / 3)], 1e-15, 1e-15);
  close(
    'y',
    f.y,
    [1, 2, 3, 4].map((v) => (2 * (v - 2.5)) / Math.sqrt(1.25 + 1e-5) + 0.5),
    1e-14,
    1e-14,
  );
  const ye = batchnormEvalForward([1, 3], [2], [0.5], [1], [3], { n: 1, c: 1, h: 1, w: 2 }, 0);
  close('eval y', ye, [0.5, 2 * (2 / Math.sqrt(3)) + 0.5], 1e-15, 1e-15);
  assert.throws(() => batchnormTrainForward([1], [1], [0], [0], [1], { n: 1, c: 1, h: 1, w: 1 }), /batchnormTrainForward\(\): n\*h\*w=1/);
});

// ---- pooling

test('maxPool 3x3 s2 p1: hand-worked 4x4 case with a tie', () => {
  // Windows (rows, cols): out(0,0) → r0-1 c0-1; out(0,1) → r0-1 c1-3;
  // out(1,0) → r1-3 c0-1; out(1,1) → r1-3 c1-3.
  const x = [1, 9, 2, 3, 4, 5, 9, 0, 7, 7, 1, 2, 0, 6, 8, 8];
  const s = { n: 1, c: 1, h: 4, w: 4 };
  const { y, argmax } = maxPoolForward(x, s, 3, 2, 1);
  close('y', y, [9, 9, 7, 9], 0, 0);
  // out(0,1): 9 at index 1 and 6 → first in row-major order is 1. out(1,0): 7 at 8 and 9 → 8.
  assert.equal(Array.from(argmax), [1, 1, 8, 6]);
  const dx = maxPoolBackward([1, 10, 100, 1000], x, s, 3, 2, 1);
  const want = new Float64Array(16);
  want[1] = 11;
  want[8] = 100;
  want[6] = 1000;
  close('dx', dx, want, 0, 0);
});

test('maxPool: backward matches finite differences away from ties', () => {
  const s = { n: 2, c: 2, h: 5, w: 6 };
  const x = randomArray(s.n * s.c * s.h * s.w, 40);
  const { y } = maxPoolForward(x, s);
  const r = randomArray(y.length, 41);
  close(
    'dx',
    maxPoolBackward(r, x, s),
    numericGrad((xx) => dot(r, maxPoolForward(xx, s).y), x),
  );
  assert.throws(() => maxPoolForward(x, s, 3, 2, 2), /maxPoolForward\(\): pad=2 must be at most k\/2/);
});

test('globalAvgPool: forward by hand, backward matches finite differences', () => {
  const s = { n: 2, c: 3, h: 2, w: 2 };
  const x = randomArray(24, 50);
  const y = globalAvgPoolForward(x, s);
  close('y[1]', [y[1]], [(x[4] + x[5] + x[6] + x[7]) / 4], 1e-15, 1e-15);
  const r = randomArray(6, 51);
  close(
    'dx',
    globalAvgPoolBackward(r, s),
    numericGrad((xx) => dot(r, globalAvgPoolForward(xx, s)), x),
  );
});

// ---- elementwise

test('relu and residual add', () => {
  assert.equal(Array.from(reluForward([-1, 0, 2])), [0, 0, 2]);
  assert.equal(Array.from(reluBackward([5, 6, 7], [-1, 0, 2])), [0, 0, 7]);
  assert.equal(Array.from(residualAdd([1, 2], [3, 4])), [4, 6]);
});

// ---- loss

test('softmaxCrossEntropy: gradient matches finite differences; stable at large logits', () => {
  const [N, C] = [4, 7];
  const logits = randomArray(N * C, 60, 3);
  const targets = Int32Array.from([0, 6, 3, 3]);
  const { dlogits } = softmaxCrossEntropy(logits, targets, N, C);
  close(
    'dlogits',
    dlogits,
    numericGrad((l) => softmaxCrossEntropy(l, targets, N, C).loss, logits),
  );
  const big = softmaxCrossEntropy([1000, 0], [1], 1, 2);
  close('loss at large logits', [big.loss], [1000], 1e-12, 1e-12);
});

test('softmaxCrossEntropy: loss and top-k by hand, ties favour the target', () => {
  const r = softmaxCrossEntropy([0, 0, 0, 0], [2], 1, 4);
  close('uniform loss', [r.loss], [Math.log(4)], 1e-15, 1e-15);
  assert.is(r.top1Correct, 1);
  // Row 0: target is 6th largest → neither. Row 1: 2nd largest → top-5 only. Row 2: largest.
  const logits = [6, 5, 4, 3, 2, 1, 0, 1, 3, 2, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0];
  const t = softmaxCrossEntropy(logits, [5, 2, 2], 3, 7);
  assert.is(t.top1Correct, 1);
  assert.is(t.top5Correct, 2);
  assert.throws(() => softmaxCrossEntropy([0, 0], [2], 1, 2), /softmaxCrossEntropy\(\): targets\[0\]=2/);
});

// ---- SGD

test('sgdStep: momentum and nesterov by hand (PyTorch semantics)', () => {
  const opts = { lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: false };
  // Step 1: d = 0.5 + 0.01·1 = 0.51; buf = d; p = 1 − 0.051.
  const s1 = sgdStep([1], [0.5], null, { ...opts, firstStep: true });
  close('p1', s1.param, [0.949], 1e-15, 1e-15);
  close('buf1', s1.buf ?? [], [0.51], 1e-15, 1e-15);
  // Step 2: d = 0.2 + 0.00949; buf = 0.9·0.51 + d = 0.66849; p = 0.949 − 0.066849.
  const s2 = sgdStep(s1.param, [0.2], s1.buf, { ...opts, firstStep: false });
  close('buf2', s2.buf ?? [], [0.66849], 1e-15, 1e-15);
  close('p2', s2.param, [0.882151], 1e-15, 1e-15);
  // Nesterov step 1: d = 0.51 + 0.9·0.51 = 0.969; p = 1 − 0.0969.
  const n1 = sgdStep([1], [0.5], null, { ...opts, nesterov: true, firstStep: true });
  close('nesterov p1', n1.param, [0.9031], 1e-15, 1e-15);
  // Dampening applies from the second step on: buf = 0.9·0.51 + 0.5·0.20949.
  const d2 = sgdStep([0.949], [0.2], [0.51], { ...opts, dampening: 0.5, firstStep: false });
  close('dampened buf2', d2.buf ?? [], [0.9 * 0.51 + 0.5 * 0.20949], 1e-15, 1e-15);
  const plain = sgdStep([1], [0.5], null, { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false, firstStep: false });
  close('plain', plain.param, [0.95], 1e-15, 1e-15);
  assert.is(plain.buf, null);
  assert.throws(() => sgdStep([1], [1], null, { ...opts, firstStep: false }), /sgdStep\(\): momentumBuf=null/);
});

// ---- rules

test('signSymmetry: scale and sign(0) = 0', () => {
  close('conv s', [ssScale([4, 3, 3, 3])], [Math.sqrt(2 / 36)], 1e-15, 0);
  close('linear s', [ssScale([10, 16])], [0.25], 1e-15, 0);
  const b = signSymmetry([-2, 0, 3, 0.1], [2, 2]);
  close('B', b, [-1 / Math.SQRT2, 0, 1 / Math.SQRT2, 1 / Math.SQRT2], 1e-15, 0);
  assert.throws(() => signSymmetry([1, 2, 3], [1, 2, 3]), /ssScale\(\): shape=\[1,2,3\]/);
});

test('kpUpdate: W − B shrinks by (1 − lr·wd) per step; zero decay refused', () => {
  const n = 20;
  let w = randomArray(n, 70);
  let b = randomArray(n, 71);
  const opts = { lr: 0.1, momentum: 0, weightDecay: 0.05, nesterov: false, firstStep: true };
  const gap0 = w.map((v, i) => v - b[i]);
  for (let step = 0; step < 3; step++) {
    const r = kpUpdate(w, b, randomArray(n, 72 + step), null, null, opts);
    w = r.w;
    b = r.b;
  }
  close(
    'W − B',
    w.map((v, i) => v - b[i]),
    gap0.map((g) => g * (1 - 0.005) ** 3),
    1e-14,
    1e-12,
  );
  assert.throws(() => kpUpdate([1], [1], [1], null, null, { ...opts, weightDecay: 0 }), /kpUpdate\(\): weightDecay=0/);
});

test('mirror: corr of noise through W estimates σ²·W (linear and conv)', () => {
  const [inF, outF, n, sigma] = [6, 4, 20000, 0.5];
  const w = randomArray(outF * inF, 80);
  const x = randomArray(n * inF, 81, sigma);
  const y = linearForward(x, w, null, n, inF, outF);
  close(
    'linear corr',
    mirrorCorrLinear(x, y, n, inF, outF),
    Array.from(w, (v) => sigma ** 2 * v),
    0.02,
    0.05,
  );
  // Conv: 1x1 so there are no padding borders and the estimate is unbiased.
  const s: Conv2dShape = { n: 500, c: 3, h: 4, w: 4, o: 2, kh: 1, kw: 1, stride: 1, pad: 0 };
  const wc = randomArray(6, 82);
  const xc = randomArray(s.n * 48, 83);
  const yc = conv2dForward(xc, wc, null, s);
  // conv weight grad sums over h·w positions too, so corr ≈ h·w·σ²·W.
  close(
    'conv corr',
    mirrorCorrConv(xc, yc, s),
    Array.from(wc, (v) => 16 * v),
    0.4,
    0.05,
  );
  close('update', mirrorUpdate([1, 2], [10, 20], { etaB: 0.1, lambdaB: 0.5 }), [1.5, 3], 1e-15, 0);
});

test('alignment: angle, norms and ratio', () => {
  const a = alignment([1, 0], [0, 2]);
  close('orthogonal', [a.dot, a.normB, a.normW, a.angleDeg, a.normRatio], [0, 1, 2, 90, 0.5], 1e-12, 0);
  // arccos is ill-conditioned at 1: one ulp in cos is ~1e-6 degrees.
  close('parallel', [alignment([2, 2], [1, 1]).angleDeg], [0], 1e-5, 0);
  close('opposite', [alignment([-1, 0], [3, 0]).angleDeg], [180], 1e-12, 0);
  const w = randomArray(10000, 84);
  // SS of Gaussian W: cos = E|w|/sqrt(E w²) = sqrt(2/π) → ≈ 37°.
  close('SS angle', [alignment(signSymmetry(w, [100, 100]), w).angleDeg], [(Math.acos(Math.sqrt(2 / Math.PI)) * 180) / Math.PI], 0.5, 0);
});

// ---- Philox

test('philox4x32-10: Random123 known-answer vectors', () => {
  const hex = (v: number[]): string[] => v.map((u) => u.toString(16).padStart(8, '0'));
  assert.equal(hex(philox4x32([0, 0, 0, 0], [0, 0])), ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
  const f = 0xffffffff;
  assert.equal(hex(philox4x32([f, f, f, f], [f, f])), ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
  assert.equal(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])), [
    'd16cfe09',
    '94fdcceb',
    '5001e420',
    '24126ea1',
  ]);
});

test('philox: mulhi32 agrees with BigInt', () => {
  const rand = seededRandom(90);
  const cases: Array<[number, number]> = [
    [0xffffffff, 0xffffffff],
    [0xd2511f53, 0],
    [0xcd9e8d57, 0xffffffff],
  ];
  for (let i = 0; i < 2000; i++) cases.push([Math.floor(rand() * 2 ** 32), Math.floor(rand() * 2 ** 32)]);
  for (const [a, b] of cases) assert.is(mulhi32(a, b), Number((BigInt(a) * BigInt(b)) >> 32n), `mulhi32(${a}, ${b})`);
});

test('philox: uniform mapping, Box–Muller and the element mapping', () => {
  assert.is(uniformFromU32(0), 2 ** -24);
  assert.is(uniformFromU32(0xffffffff), 1);
  close('boxMuller(1, u)', boxMuller(1, 0.25), [0, 0], 1e-15, 0);
  // Element i comes from counter floor(i/4), lane i mod 4.
  const r = philox4x32([1, 7, 0, 0], [42, 0]);
  const z = [...boxMuller(uniformFromU32(r[0]), uniformFromU32(r[1])), ...boxMuller(uniformFromU32(r[2]), uniformFromU32(r[3]))];
  close(
    'indices 4..7',
    [4, 5, 6, 7].map((i) => philoxNormal(42, 7, i)),
    z,
    0,
    0,
  );
  const s = philoxNormals(1, 0, 40000);
  const mean = s.reduce((a, v) => a + v, 0) / s.length;
  const variance = s.reduce((a, v) => a + (v - mean) ** 2, 0) / s.length;
  close('mean, var', [mean, variance], [0, 1], 0.02, 0);
  assert.throws(() => philoxNormal(-1, 0, 0), /philoxNormal\(\): seed=-1/);
});

test.run();
