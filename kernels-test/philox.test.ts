// Philox4x32-10 on the GPU against the float64 reference: Random123
// known-answer bits, bit-identical raw streams, normals element by element,
// sample moments, independence across seeds / streams / offsets, replay, and
// refusals before anything is dispatched.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runOp } from '../src/kernels/op.ts';
import { advancePhilox, philoxBits, randomNormal } from '../src/kernels/philox.ts';
import { philox4x32, philoxNormal as philoxNormalAt } from './reference/philox.ts';
import { seededRandom } from './reference/random.ts';
import { assertClose, assertThrows, gpu } from './harness.ts';

// Normals: z = r·cos θ with r ≤ sqrt(2·ln 2^24) ≈ 5.8. The uniforms are exact;
// −ln u and sqrt cost a few ulps relative, sin/cos an absolute ~1e-6 on fast
// hardware approximations, so |Δz| ≤ 5.8·1e-6 + a few ulps: atol 1e-5.
const NORMAL_TOL = { atol: 1e-5, rtol: 1e-5 };
// Sample statistics over n = 65536: sd(mean) = 1/√n, sd(var) ≈ √(2/n),
// sd(corr) = 1/√n. Five standard deviations: a false alarm ~1 in 1.7 million.
const N_STAT = 65536;
const FIVE_SIGMA = { mean: 5 / Math.sqrt(N_STAT), variance: 5 * Math.sqrt(2 / N_STAT), corr: 5 / Math.sqrt(N_STAT) };

const hex = (v: ArrayLike<number>): string[] => Array.from(v, (u) => (u >>> 0).toString(16).padStart(8, '0'));

async function bits(counter: [number, number, number, number], key: [number, number], calls = 1): Promise<Uint32Array> {
  const rt = await gpu();
  const op = runOp(rt, await philoxBits(rt, { counter, key, calls }));
  const got = (await rt.read(op.out.out)) as Uint32Array;
  op.out.out.release();
  return got;
}

async function normals(seed: number, stream: number, offset: number, n: number, scale = 1): Promise<Float32Array> {
  const rt = await gpu();
  const out = rt.empty([n]);
  runOp(rt, await randomNormal(rt, { out, seed, stream, offset, scale }));
  const got = await rt.readF32(out);
  out.release();
  return got;
}

function moments(a: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  const mean = s / a.length;
  let v = 0;
  for (let i = 0; i < a.length; i++) v += (a[i] - mean) ** 2;
  return { mean, variance: v / a.length };
}

function corr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ma = moments(a);
  const mb = moments(b);
  let c = 0;
  for (let i = 0; i < a.length; i++) c += (a[i] - ma.mean) * (b[i] - mb.mean);
  return c / a.length / Math.sqrt(ma.variance * mb.variance);
}

test('philox bits: Random123 known-answer vectors', async () => {
  const f = 0xffffffff;
  assert.equal(hex(await bits([0, 0, 0, 0], [0, 0])), ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
  assert.equal(hex(await bits([f, f, f, f], [f, f])), ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
  assert.equal(hex(await bits([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])), [
    'd16cfe09',
    '94fdcceb',
    '5001e420',
    '24126ea1',
  ]);
});

test('philox bits: 1000 consecutive counters equal the reference bit for bit', async () => {
  const rand = seededRandom(7);
  const u32 = () => Math.floor(rand() * 2 ** 32);
  const counter: [number, number, number, number] = [2 ** 32 - 1000, u32(), u32(), u32()];
  const key: [number, number] = [u32(), u32()];
  const got = await bits(counter, key, 1000);
  for (let i = 0; i < 1000; i++) {
    const want = philox4x32([counter[0] + i, counter[1], counter[2], counter[3]], key);
    for (let l = 0; l < 4; l++)
      if (got[4 * i + l] !== want[l]) assert.unreachable(`call ${i} lane ${l}: GPU ${hex([got[4 * i + l]])} reference ${hex([want[l]])}`);
  }
});

for (const [seed, stream, offset, n] of [
  [0, 0, 0, 4099],
  [42, 7, 0, 13],
  [0xffffffff, 0xffffffff, 2 ** 34 - 64, 61],
  [123, 1, 4096, 2],
]) {
  test(`normals: seed=${seed} stream=${stream} offset=${offset} n=${n} match the reference element by element`, async () => {
    const got = await normals(seed, stream, offset, n);
    const want = Float64Array.from({ length: n }, (_, j) => philoxNormalAt(seed, stream, offset + j));
    assertClose('normals', got, want, NORMAL_TOL);
  });
}

test('normals: scale multiplies, and a tail of 1–3 values is written without touching the rest', async () => {
  const got = await normals(5, 2, 8, 7, 0.25);
  assertClose(
    'σ = 0.25',
    got,
    Float64Array.from({ length: 7 }, (_, j) => 0.25 * philoxNormalAt(5, 2, 8 + j)),
    { atol: 0.25 * NORMAL_TOL.atol, rtol: NORMAL_TOL.rtol },
  );
  const rt = await gpu();
  const base = rt.upload(new Float32Array(64).fill(9), [64]);
  const v = rt.view(base, 0, [5]);
  runOp(rt, await randomNormal(rt, { out: v, seed: 1, stream: 0, offset: 0 }));
  const all = await rt.readF32(base);
  assert.ok(
    all.subarray(5).every((x) => x === 9),
    'elements past the view are untouched',
  );
  base.release();
});

test('normals: past 1024 workgroups × 256 threads × 4 values the grid-stride loop continues the stream', async () => {
  const n = 4 * 1024 * 256 + 4 * 5 + 2;
  const got = await normals(8, 1, 0, n);
  const at = [0, 1, 2, 3, 1048575, 1048576, 1048577, 1048579, 1048580, n - 2, n - 1];
  assertClose(
    'samples',
    Float64Array.from(at, (j) => got[j]),
    Float64Array.from(at, (j) => philoxNormalAt(8, 1, j)),
    NORMAL_TOL,
  );
});

test(`normals: mean ≈ 0 and variance ≈ 1 over ${N_STAT} samples (5σ)`, async () => {
  for (const [seed, stream] of [
    [0, 0],
    [2024, 3],
  ]) {
    const m = moments(await normals(seed, stream, 0, N_STAT));
    assert.ok(Math.abs(m.mean) < FIVE_SIGMA.mean, `seed ${seed}: mean ${m.mean}`);
    assert.ok(Math.abs(m.variance - 1) < FIVE_SIGMA.variance, `seed ${seed}: variance ${m.variance}`);
  }
  const m = moments(await normals(9, 0, 0, N_STAT, 3));
  assert.ok(Math.abs(m.variance / 9 - 1) < FIVE_SIGMA.variance, `σ = 3: variance ${m.variance}`);
});

test('normals: different seeds, streams and offsets are uncorrelated (|corr| < 5σ)', async () => {
  const a = await normals(1, 0, 0, N_STAT);
  const pairs: Array<[string, Float32Array]> = [
    ['seed 2', await normals(2, 0, 0, N_STAT)],
    ['stream 1', await normals(1, 1, 0, N_STAT)],
    ['offset 4 (next Philox call)', await normals(1, 0, 4, N_STAT)],
  ];
  for (const [what, b] of pairs) {
    const c = corr(a, b);
    assert.ok(Math.abs(c) < FIVE_SIGMA.corr, `${what}: corr ${c}`);
  }
  // Lanes of one call: z0/z1 share r, z0/z2 share nothing; all four must be uncorrelated.
  const lane = (k: number) => a.filter((_, i) => i % 4 === k);
  for (const [p, q] of [
    [0, 1],
    [0, 2],
    [1, 3],
  ]) {
    const c = corr(lane(p), lane(q));
    assert.ok(Math.abs(c) < 2 * FIVE_SIGMA.corr, `lanes ${p},${q}: corr ${c}`);
  }
});

test('normals: same state twice gives identical bits; setState draws the next values', async () => {
  const rt = await gpu();
  const n = 1000;
  const out = rt.empty([n]);
  const s0 = { seed: 77, stream: 4, offset: 0 };
  const op = await randomNormal(rt, { out, ...s0 });
  rt.run(op.dispatches);
  const first = await rt.readF32(out);
  const before = rt.stats;
  rt.run(op.dispatches);
  assert.equal(await rt.readF32(out), first, 'replay is bit-identical');
  const s1 = advancePhilox(s0, n);
  assert.equal(s1, { seed: 77, stream: 4, offset: 1000 });
  op.setState(s1);
  rt.run(op.dispatches);
  const second = await rt.readF32(out);
  const both = await normals(77, 4, 0, 2 * n);
  assert.equal(second, both.subarray(n), 'draw 2 continues draw 1');
  assert.equal(first, both.subarray(0, n));
  assert.is(advancePhilox(s0, 5).offset, 8);
  assert.ok(rt.stats.bindGroupsCreated - before.bindGroupsCreated <= 1, 'only the helper normals() made a bind group');
  out.release();
});

test('random: bad states and shapes are refused before anything is dispatched', async () => {
  const rt = await gpu();
  const out = rt.empty([8]);
  const before = rt.stats.bindGroupsCreated;
  await assertThrows(
    () => randomNormal(rt, { out, seed: -1, stream: 0, offset: 0 }),
    /randomNormal\(\): seed=-1 must be an integer in \[0, 2\^32\)/,
  );
  await assertThrows(() => randomNormal(rt, { out, seed: 0, stream: 2 ** 32, offset: 0 }), /randomNormal\(\): stream=4294967296/);
  await assertThrows(
    () => randomNormal(rt, { out, seed: 0, stream: 0, offset: 2 }),
    /randomNormal\(\): offset=2 must be a non-negative multiple of 4/,
  );
  await assertThrows(() => randomNormal(rt, { out, seed: 0, stream: 0, offset: 2 ** 34 - 4 }), /passes the generator's 2\^34 indices/);
  await assertThrows(
    () => randomNormal(rt, { out: rt.empty([8], 'i32'), seed: 0, stream: 0, offset: 0 }),
    /randomNormal\(\): out is i32, expected f32/,
  );
  await assertThrows(
    () => philoxBits(rt, { counter: [0, 0, 0, 0], key: [0, 0], calls: 2, out: rt.empty([4], 'u32') }),
    /philoxBits\(\): out has 4 elements, expected calls·4 = 8/,
  );
  await assertThrows(
    () => philoxBits(rt, { counter: [2 ** 32 - 1, 0, 0, 0], key: [0, 0], calls: 2 }),
    /philoxBits\(\): counter\[0\]=4294967295 \+ 2 calls wraps around 2\^32/,
  );
  assert.is(rt.stats.bindGroupsCreated, before);
  out.release();
});

test.run();
