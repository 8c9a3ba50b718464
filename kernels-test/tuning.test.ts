// src/kernels/tuning.ts without a GPU: choose() reproduces the choices the
// launchers made before the tuning module (a CPU adapter with 8-wide subgroups
// like lavapipe, and a GPU), every config's register tile matches the WGSL
// constants it cannot set, candidates are valid and start with the default,
// and a tuning table overrides one entry and is refused, naming its file,
// when it is malformed or does not fit this adapter.

import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  adapterKey,
  candidates,
  checkConfig,
  choose,
  convTile,
  matmulTile,
  parseTuningTable,
  Tuning,
  TUNING_FORMAT,
  type AdapterProfile,
  type ConvShape,
  type MatmulShape,
} from '../src/kernels/tuning.ts';

const limits = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupStorageSize: 16384,
};
const CPU: AdapterProfile = {
  key: 'mesa-llvmpipe-vulkan',
  description: 'lavapipe',
  kind: 'cpu',
  subgroup: { min: 8, max: 8 },
  limits,
  features: ['subgroups'],
};
const GPU: AdapterProfile = {
  key: 'nvidia-h200-vulkan',
  description: 'a GPU',
  kind: 'gpu',
  subgroup: { min: 32, max: 32 },
  limits: { ...limits, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupSizeY: 1024 },
  features: ['subgroups', 'shader-f16', 'timestamp-query'],
};

const conv = (C: number, O: number, HW = 56, k = 3, stride = 1): ConvShape => ({
  N: 8,
  C,
  H: HW,
  W: HW,
  O,
  KH: k,
  KW: k,
  stride,
  pad: k >> 1,
});
const stem = conv(3, 64, 224, 7, 2);
const layer1 = conv(64, 64);
const small = conv(16, 12, 8);
const mm = (M: number, N: number, K: number, transA = false, transB = false): MatmulShape => ({ M, N, K, transA, transB });

test('choose: a CPU adapter with 8-wide subgroups gets the lane-tiled kernels, as before', () => {
  // The lanes' row groups: 1 up to 8 rows, 2 up to 16, else 4 (the feedback's rows are input channels).
  assert.equal(choose(CPU, 'conv2d.forward', stem), { variant: 'lanes', RG: 4, LANES: 8, TN: 32 });
  assert.equal(choose(CPU, 'conv2d.feedback', stem), { variant: 'lanes', RG: 1, LANES: 8, TN: 32 });
  assert.equal(choose(CPU, 'conv2d.feedback', small), { variant: 'lanes', RG: 2, LANES: 8, TN: 32 });
  assert.equal(choose(CPU, 'conv2d.weight_grad', layer1), { variant: 'lanes', RG: 4, LANES: 8, TN: 32, minWorkgroups: 16 });
  assert.equal(convTile(choose(CPU, 'conv2d.forward', layer1)), { rows: 32, cols: 32 });
  // The linear products take the lanes layouts they fit, else the tiled matmul.
  assert.is(choose(CPU, 'matmul', mm(8, 1000, 512, false, true)).variant, 'lanes_nt');
  assert.is(choose(CPU, 'matmul', mm(8, 512, 1000)).variant, 'lanes_nn');
  assert.is(choose(CPU, 'matmul', mm(1000, 512, 8, true)).variant, 'lanes_tn');
  assert.is(choose(CPU, 'matmul', mm(8, 10, 6)).variant, 'tiled');
  assert.equal(matmulTile(choose(CPU, 'matmul', mm(8, 512, 1000))), { rows: 8, cols: 32 });
  assert.equal(choose(CPU, 'batchnorm', { N: 8, C: 64, HW: 56 * 56 }), { WG: 128, maxChunk: 4096, EW: 64, PER_THREAD: 4 });
});

test('choose: a GPU gets the portable conv kernels and the tiled matmul, as before', () => {
  assert.equal(choose(GPU, 'conv2d.forward', layer1), { variant: 'portable', WG_M: 8, WG_N: 8, TK: 8, RM: 8, RN: 8 });
  // Half-height tiles up to 32 rows.
  assert.is((choose(GPU, 'conv2d.feedback', stem) as { WG_M: number }).WG_M, 4);
  assert.is((choose(GPU, 'conv2d.forward', conv(64, 32)) as { WG_M: number }).WG_M, 4);
  assert.is((choose(GPU, 'conv2d.forward', conv(64, 33)) as { WG_M: number }).WG_M, 8);
  assert.is(choose(GPU, 'conv2d.weight_grad', layer1).minWorkgroups, 256);
  assert.equal(convTile(choose(GPU, 'conv2d.forward', layer1)), { rows: 64, cols: 64 });
  const tiled = { variant: 'tiled', WG_M: 8, WG_N: 8, TK: 16, RM: 4, RN: 4 };
  for (const s of [mm(8, 1000, 512, false, true), mm(8, 512, 1000), mm(1000, 512, 8, true)]) assert.equal(choose(GPU, 'matmul', s), tiled);
  assert.equal(matmulTile(choose(GPU, 'matmul', mm(8, 512, 1000))), { rows: 32, cols: 32 });
  // A CPU adapter without 8-wide subgroups (SwiftShader) takes the GPU kernels.
  assert.is(choose({ ...CPU, subgroup: null }, 'conv2d.forward', layer1).variant, 'portable');
  assert.is(choose({ ...CPU, subgroup: null }, 'conv2d.weight_grad', layer1).minWorkgroups, 16);
});

/** `const NAME = <int>u;` (or `4u * RG`-style products of such constants) as the shader declares it. */
function wgslConst(file: string, name: string): number {
  const src = readFileSync(new URL(`../shaders/${file}`, import.meta.url), 'utf8');
  const m = new RegExp(`^const ${name} = ([^;]+);`, 'm').exec(src);
  if (!m) throw new Error(`${file}: no const ${name}`);
  return m[1].split('*').reduce((p, t) => {
    const s = t.trim();
    return p * (/^\d+u$/.test(s) ? Number(s.slice(0, -1)) : wgslConst(file, s));
  }, 1);
}

test('configs name the register tiles the shaders hold as constants (they size per-thread arrays)', () => {
  const p = choose(GPU, 'conv2d.forward', layer1) as { RM: number; RN: number };
  for (const f of ['conv2d_forward.wgsl', 'conv2d_feedback.wgsl', 'conv2d_weight_grad.wgsl']) {
    assert.is(wgslConst(f, 'RM'), p.RM, f);
    assert.is(wgslConst(f, 'RN'), p.RN, f);
  }
  const t = choose(GPU, 'matmul', mm(64, 64, 64)) as { RM: number; RN: number };
  assert.is(wgslConst('matmul.wgsl', 'RM'), t.RM);
  assert.is(wgslConst('matmul.wgsl', 'RN'), t.RN);
  const l = choose(CPU, 'matmul', mm(8, 512, 1000)) as { RM: number; CN: number };
  assert.is(wgslConst('matmul_lanes.wgsl', 'RM'), l.RM);
  assert.is(wgslConst('matmul_lanes.wgsl', 'CN'), l.CN);
  // The lanes conv's accumulators hold its largest block: 8 lanes × RG = 4 row groups.
  assert.is(wgslConst('conv2d_lanes.wgsl', 'OB'), 32);
});

test('candidates: valid, the default first, capped; invalid configs are named', () => {
  for (const [p, op, s] of [
    [CPU, 'conv2d.forward', layer1],
    [GPU, 'conv2d.weight_grad', stem],
    [GPU, 'matmul', mm(8, 1000, 512, false, true)],
    [CPU, 'batchnorm', { N: 8, C: 64, HW: 3136 }],
  ] as const) {
    const all = candidates(p, op, s as never);
    assert.ok(all.length >= 3, `${op}: ${all.length} candidates`);
    assert.equal(all[0], choose(p, op, s as never));
    for (const c of all) assert.is(checkConfig(p, op, s as never, c), null);
    assert.is(candidates(p, op, s as never, 2).length, 2);
  }
  assert.match(checkConfig(GPU, 'conv2d.forward', layer1, { variant: 'lanes', RG: 4, LANES: 8, TN: 32 })!, /needs 8-wide subgroups/);
  assert.match(
    checkConfig(GPU, 'conv2d.forward', layer1, { ...choose(GPU, 'conv2d.forward', layer1), WG_N: 4 })!,
    /WG_N=4 must equal RM=8/,
  );
  assert.match(
    checkConfig(GPU, 'matmul', mm(8, 8, 8), { variant: 'tiled', WG_M: 64, WG_N: 64, TK: 16, RM: 4, RN: 4 })!,
    /4096 threads exceed/,
  );
  assert.match(checkConfig(CPU, 'matmul', mm(8, 10, 6), { variant: 'lanes_nn', LANES: 8, RM: 8, CN: 4 })!, /does not fit/);
});

const table = (entries: unknown[], adapter = CPU.key) => JSON.stringify({ format: TUNING_FORMAT, adapter, entries });

test('a tuning table overrides one (op, shape) and leaves the rest at the defaults', () => {
  const cfg = { variant: 'portable', WG_M: 4, WG_N: 8, TK: 16, RM: 8, RN: 8 };
  const t = new Tuning(CPU, parseTuningTable(table([{ op: 'conv2d.forward', shape: layer1, config: cfg }]), 'tuning/x.json', CPU));
  assert.equal(t.config('conv2d.forward', layer1), cfg);
  assert.equal(t.config('conv2d.forward', { ...layer1, N: 4 }), choose(CPU, 'conv2d.forward', layer1));
  assert.equal(t.config('conv2d.feedback', layer1), choose(CPU, 'conv2d.feedback', layer1));
  assert.is(t.entries, 1);
});

test('a bad tuning table is refused with its file named', () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(
      () => parseTuningTable(text, 'tuning/bad.json', CPU),
      (e: Error) => e.message.startsWith('tuning table tuning/bad.json: ') && re.test(e.message),
    );
  bad('{ nope', /not valid JSON/);
  bad(JSON.stringify({ format: 'other', adapter: CPU.key, entries: [] }), /format="other", expected "nowt-tuning\/1"/);
  bad(table([], 'another-adapter'), /made for adapter "another-adapter", but this adapter is "mesa-llvmpipe-vulkan"/);
  bad(table([{ op: 'conv3d', shape: layer1, config: {} }]), /entries\[0\]\.op="conv3d" must be one of/);
  bad(table([{ op: 'conv2d.forward', shape: { ...layer1, KH: 0 }, config: {} }]), /entries\[0\]\.shape\.KH=0 is not valid/);
  bad(
    table([{ op: 'conv2d.forward', shape: layer1, config: { variant: 'portable', WG_M: 3, WG_N: 8, TK: 8, RM: 8, RN: 8 } }]),
    /entries\[0\] \(conv2d\.forward N=8 C=64 H=56 W=56 O=64 KH=3 KW=3 stride=1 pad=1\): config .*WG_M=3 must be even/,
  );
  bad(
    table([{ op: 'batchnorm', shape: { N: 1, C: 2, HW: 3 }, config: { WG: 128, maxChunk: 4096, EW: 64 } }]),
    /PER_THREAD=undefined must be a positive integer/,
  );
});

test('adapterKey: a file-name-safe slug', () => {
  assert.is(
    adapterKey({ vendor: 'Mesa', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', architecture: '', backend: 'vulkan' }),
    'mesa-llvmpipe-llvm-15.0.6-256-bits-vulkan',
  );
});

test.run();
