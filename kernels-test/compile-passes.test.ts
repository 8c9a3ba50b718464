// The compiler's passes one at a time: lower (a schedule, no device), the
// memory plan over it (no device), materialise and emit (GPU), and a compiled
// resnet20 whose dispatches (kernel and grid, in order) and memory must match
// the fixture recorded before the compiler was split into passes
// (tools/dispatch-fingerprint.ts writes it).

import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GraphBuilder } from '../src/graph/builder.ts';
import { statsLayoutOn } from '../src/graph/compile.ts';
import { fuse } from '../src/graph/fusion.ts';
import type { Graph } from '../src/graph/ir.ts';
import { lower, type LowerOptions, type PassFlags } from '../src/graph/lower.ts';
import { materialise } from '../src/graph/materialise.ts';
import { planSchedule, scheduleLifetimes, slotBytesOf } from '../src/graph/memory-plan.ts';
import { bufferOf, formatSchedule, type Phase, type Schedule } from '../src/graph/schedule.ts';
import { inferShapes } from '../src/graph/shapes.ts';
import { StepProgram } from '../src/graph/step-program.ts';
import { valueBytes, valueId, type ValueId } from '../src/graph/values.ts';
import type { SgdHyper } from '../src/kernels/sgd.ts';
import { RULES } from '../src/rules/index.ts';
import { fingerprint, type DispatchFingerprint } from '../tools/dispatch-fingerprint.ts';
import { gpu } from './harness.ts';

const BATCH = 2;
const HW = [8, 8] as const;
const HYPER: SgdHyper = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3, nesterov: false, firstStep: true };
const FIXTURE = 'kernels-test/fixtures/resnet20-dispatches.json';

/** conv → bn → relu → maxpool → conv → bn (+ the pooled value) → relu → avgpool → fc: one residual, one max pool. */
function tinyConvNet(): Graph {
  const g = new GraphBuilder('tiny');
  const x = g.input([3, null, null]);
  const pooled = g.maxpool(g.relu(g.batchnorm(g.conv2d(x, 'conv1', { out: 4, kernel: 3, pad: 1 }), 'bn1')), 'pool', { k: 2, stride: 2 });
  const y = g.relu(g.add(g.batchnorm(g.conv2d(pooled, 'conv2', { out: 4, kernel: 3, pad: 1 }), 'bn2'), pooled));
  return g.build(g.linear(g.flatten(g.globalAvgPool(y)), 'fc', { out: 5 }));
}

/** A device-free stand-in for conv2dStatsLayout: chunks of 8 output columns. */
const statsLayout: LowerOptions['statsLayout'] = (x, w, stride, pad) => {
  const oh = Math.floor((x[2] + 2 * pad - w[2]) / stride) + 1;
  const ow = Math.floor((x[3] + 2 * pad - w[3]) / stride) + 1;
  return { chunk: 8, shape: [w[0], Math.ceil((x[0] * oh * ow) / 8), 2] };
};

function lowerTiny(flags: PassFlags = {}): Schedule {
  const graph = tinyConvNet();
  return lower(graph, inferShapes(graph, BATCH, HW), fuse(graph), { ...flags, statsLayout });
}

/** Phases in order with repeats collapsed. */
const phaseRuns = (s: Schedule): Phase[] => s.calls.map((c) => c.phase).filter((p, i, all) => i === 0 || all[i - 1] !== p);

test('lower: a tiny conv net reads forward → loss → feedback and weight gradients', () => {
  const s = lowerTiny();
  const text = formatSchedule(s);
  if (process.env.NOWT_PRINT_SCHEDULE) console.log(text);
  const runs = phaseRuns(s);
  assert.equal(runs.slice(0, 3), ['forward', 'loss', 'weight-grad'], runs.join(' '));
  assert.ok(
    runs.slice(2).every((p) => p === 'feedback' || p === 'weight-grad'),
    runs.join(' '),
  );
  assert.equal(
    s.calls.filter((c) => c.phase === 'weight-grad').map((c) => c.node),
    ['fc', 'conv2', 'conv1'],
    'weight gradients from the last layer back',
  );
  const lines = text.split('\n');
  assert.is(lines.length, s.calls.length);
  assert.match(lines[0], /^forward\s+conv2d\.forward\s+conv1\s+act:0 → act:1 bn\.partials:2\s+conv1\.weight$/);
  assert.match(
    lines.find((l) => l.startsWith('loss'))!,
    /loss\s+loss\s+act:\d+ act:\d+ → grad:\d+ metrics/,
  );
  // The pooled value feeds conv2 and the residual: its second gradient is added to the first.
  assert.is(s.calls.filter((c) => c.op === 'add.accumulate').length, 1);
  // Nothing computes the data input's gradient.
  assert.not.ok(s.values.has(valueId('grad', 0)));
});

test('lower: every value a call reads was written by an earlier call, or is an input', () => {
  const s = lowerTiny();
  const written = new Set<ValueId>([s.input, s.target].map((id) => bufferOf(s, id)));
  for (const [i, c] of s.calls.entries()) {
    for (const id of c.reads)
      assert.ok(written.has(bufferOf(s, id)), `call ${i} (${c.op} ${c.node}) reads ${id} before anything writes it`);
    for (const id of [...c.reads, ...c.writes]) assert.ok(s.values.has(id), `call ${i} names undeclared ${id}`);
    for (const id of c.writes) written.add(bufferOf(s, id));
  }
});

test('lower: evaluation and forward-only passes stop at the loss', () => {
  for (const flags of [{ evalStats: true }, { forwardOnly: true }]) {
    const s = lowerTiny(flags);
    assert.equal(phaseRuns(s), ['forward', 'loss'], JSON.stringify(flags));
    assert.not.ok([...s.values.keys()].some((id) => id.startsWith('grad:')));
    const bn = s.calls.filter((c) => c.op.startsWith('batchnorm'));
    assert.ok(bn.every((c) => c.op === (flags.evalStats ? 'batchnorm.eval' : 'batchnorm.forward')));
  }
});

test('lower: keepDeltas keeps each weight layer δ out of the plan', () => {
  const s = lowerTiny({ keepDeltas: true });
  assert.equal([...s.deltas.keys()], ['fc.weight', 'conv2.weight', 'conv1.weight']);
  const planned = new Set(scheduleLifetimes(s).map((l) => l.id));
  for (const id of s.deltas.values()) assert.not.ok(planned.has(bufferOf(s, id)), `${id} is planned into a slot`);
});

test('value sizes come from the dtype: i32 argmax and f32 values of one shape weigh the same, f16 half', () => {
  const shape = [2, 4, 4, 4];
  assert.is(valueBytes(shape, 'f32'), 512);
  assert.is(valueBytes(shape, 'i32'), 512);
  assert.is(valueBytes(shape, 'f16'), 256);
  assert.is(slotBytesOf([3], 'f16'), 256, 'slots are whole 256-byte blocks');
  const s = lowerTiny();
  const pool = s.calls.find((c) => c.op === 'maxpool.forward');
  assert.ok(pool && pool.op === 'maxpool.forward');
  const [y, argmax] = [s.values.get(pool.y)!, s.values.get(pool.argmax)!];
  assert.is(argmax.dtype, 'i32');
  assert.equal(argmax.shape, y.shape);
  const bytes = new Map(scheduleLifetimes(s).map((l) => [l.id, l.bytes]));
  assert.is(bytes.get(pool.argmax), slotBytesOf(y.shape, 'i32'));
  assert.is(bytes.get(pool.argmax), bytes.get(pool.y));
});

test('planSchedule: values whose lives overlap never share a slot', () => {
  const s = lowerTiny({ keepDeltas: true });
  const lifetimes = scheduleLifetimes(s);
  const { plan, report } = planSchedule(s);
  for (const a of lifetimes)
    for (const b of lifetimes) {
      if (a.id >= b.id || plan.slotOf.get(a.id) !== plan.slotOf.get(b.id)) continue;
      assert.not.ok(a.first <= b.last && b.first <= a.last, `${a.id} and ${b.id} share slot ${plan.slotOf.get(a.id)}`);
    }
  assert.ok(report.activationLowerBound <= report.activationBytes && report.activationBytes <= report.unplannedBytes);
  assert.is(
    report.unplannedBytes,
    lifetimes.reduce((n, l) => n + l.bytes, 0),
  );
});

test('materialise: a tensor per value, of its shape and dtype; a slot is one buffer; a reshape is a view', async () => {
  const rt = await gpu();
  const graph = tinyConvNet();
  const s = lower(graph, inferShapes(graph, BATCH, HW), fuse(graph), { statsLayout: statsLayoutOn(rt) });
  const { plan } = planSchedule(s);
  const m = materialise(rt, s, plan);
  assert.is(m.slots.length, plan.slotBytes.length);
  for (const [id, d] of s.values) {
    const t = m.tensor(id);
    assert.equal([t.shape, t.dtype], [d.shape, d.dtype], id);
    const slot = plan.slotOf.get(bufferOf(s, id));
    if (slot !== undefined) assert.ok(t.buffer === m.slots[slot].buffer, `${id} is not in slot ${slot}`);
    if (d.viewOf !== null) assert.ok(t.buffer === m.tensor(d.viewOf).buffer, `${id} is not a view of ${d.viewOf}`);
  }
  assert.ok(m.tensor(s.input).buffer !== m.tensor(s.logits).buffer);
});

test('a compiled pass keeps every launcher handle beside its call; the whole step prints', async () => {
  const rt = await gpu();
  const graph = tinyConvNet();
  const prog = await StepProgram.compile(rt, graph, { batch: BATCH, inputHW: HW, rule: RULES.bp, hyper: HYPER, mode: 'train' });
  const { pass } = prog;
  assert.is(pass.launches.length, pass.schedule.calls.length);
  assert.equal(
    pass.launches.flatMap((l) => l.op.dispatches),
    [...pass.dispatches],
  );
  assert.ok(pass.launches.find((l) => l.call.op === 'loss')?.op === pass.loss);
  // bp runs nothing before the pass, so the step's dispatches after it are the update.
  const update = prog.program.dispatches.slice(pass.dispatches.length).map((d) => ({ phase: 'update', label: d.kernel.label }));
  const text = formatSchedule(pass.schedule, update);
  if (process.env.NOWT_PRINT_SCHEDULE) console.log(text);
  assert.ok(update.length > 0);
  assert.match(text.split('\n').at(-1)!, /^update\s+sgd/);
});

test('resnet20: the compiled dispatches (kernel, grid, order) and memory match the recorded fingerprint', async () => {
  const rt = await gpu();
  const want = JSON.parse(readFileSync(FIXTURE, 'utf8')) as DispatchFingerprint;
  const got = await fingerprint(rt);
  if (JSON.stringify(got.adapter) !== JSON.stringify(want.adapter)) {
    console.log(`  (skipped: ${FIXTURE} was recorded on ${JSON.stringify(want.adapter)}, this adapter is ${JSON.stringify(got.adapter)})`);
    return;
  }
  for (const [name, pass] of Object.entries(want.passes)) {
    assert.equal(got.passes[name].dispatches, pass.dispatches, `${name}: dispatches`);
    assert.equal(got.passes[name].memory, pass.memory, `${name}: memory`);
  }
});

test.run();
