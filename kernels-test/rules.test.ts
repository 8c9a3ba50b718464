// Each learning rule against its defining property (LEARNING_RULES.md), on
// whole compiled training steps of small models:
//   BP aliases W (no B buffer); FA's B never changes; SS's B is sign(W)·s
//   before every feedback pass; KP drives ∠(B, W) to ~0 from a random B; WM's
//   mirror mode alone, with no data, aligns B with W.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AlignmentProbe } from '../src/graph/alignment.ts';
import { weightLayers, type Graph } from '../src/graph/ir.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { mlp } from '../src/graph/models/index.ts';
import { exportState, initialState, loadState } from '../src/graph/state.ts';
import { StepProgram } from '../src/graph/step-program.ts';
import type { SgdHyper } from '../src/kernels/sgd.ts';
import { ssScale } from '../src/kernels/feedback_rules.ts';
import { DEFAULT_MIRROR, RULES, createWm, mirrorSteps, type MirrorOptions, type RuleName } from '../src/rules/index.ts';
import { alignment } from './reference/alignment.ts';
import { randomArray } from './reference/random.ts';
import { assertThrows, gpu } from './harness.ts';

const BATCH = 4;
const HW: [number, number] = [6, 6];
const tinyMlp = () => mlp({ numClasses: 5, inChannels: 1, hidden: [12], inputHW: HW });
const HYPER: SgdHyper = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3, nesterov: false, firstStep: true };

async function trainer(graph: Graph, rule: RuleName, hyper = HYPER, mirror: MirrorOptions = DEFAULT_MIRROR, inputHW = HW) {
  const rt = await gpu();
  const r = rule === 'wm' ? createWm(mirror) : RULES[rule];
  const prog = await StepProgram.compile(rt, graph, { batch: BATCH, inputHW, rule: r, hyper, mode: 'train' });
  loadState(rt, prog.store, initialState(graph, 7, RULES[rule].feedbackInCheckpoint), 'init', RULES[rule].feedbackInCheckpoint);
  const [c, h, w] = [graph.nodes[graph.input].attrs as { shape: number[] }][0].shape;
  const feed = (seed: number) => {
    rt.write(prog.pass.input, Float32Array.from(randomArray(BATCH * c * (h ?? inputHW[0]) * (w ?? inputHW[1]), seed, 1)));
    rt.write(
      prog.pass.target,
      Int32Array.from({ length: BATCH }, (_, i) => (seed + i) % 5),
    );
  };
  return { rt, prog, feed };
}

/** Per weight layer: [W, B] as host arrays. */
async function layerTensors(p: StepProgram, graph: Graph): Promise<{ name: string; w: Float32Array; b: Float32Array }[]> {
  const rt = p.rt;
  const out = [];
  for (const l of weightLayers(graph))
    out.push({ name: l.name, w: await rt.readF32(p.store.param(l.weight)), b: await rt.readF32(p.store.feedback(l.weight)) });
  return out;
}

test('bp: no B buffer; every feedback binding is W itself', async () => {
  const { prog } = await trainer(tinyMlp(), 'bp');
  assert.is(prog.store.feedbackArena, null);
  for (const l of weightLayers(prog.ctx.graph)) assert.is(prog.store.feedback(l.weight), prog.store.param(l.weight));
});

test('fa: B is bit-identical after 10 steps while W moves', async () => {
  const graph = tinyMlp();
  const { rt, prog, feed } = await trainer(graph, 'fa');
  const before = await layerTensors(prog, graph);
  for (let s = 0; s < 10; s++) {
    feed(s);
    prog.run();
  }
  await rt.finish();
  const after = await layerTensors(prog, graph);
  for (const [i, l] of after.entries()) {
    assert.equal(Array.from(l.b), Array.from(before[i].b), `${l.name}: B changed`);
    assert.not.equal(Array.from(l.w), Array.from(before[i].w), `${l.name}: W did not train`);
  }
});

// SS stores no B: its feedback kernels read W as sign(W)·s. So an SS run must
// follow, step for step, an FA run whose B is set to sign(W)·s from that
// step's W just before the step (computed here on the host).
for (const [label, graph, inputHW] of [
  ['mlp', tinyMlp(), HW],
  ['conv net', tinyConvNet(), [8, 8]],
] as [string, Graph, [number, number]][]) {
  test(`ss: every step's feedback pass reads B = sign(W)·s of that step's W (${label})`, async () => {
    const ss = await trainer(graph, 'ss', HYPER, DEFAULT_MIRROR, inputHW);
    const fa = await trainer(graph, 'fa', HYPER, DEFAULT_MIRROR, inputHW);
    assert.is(ss.prog.store.feedbackArena, null);
    const layers = weightLayers(graph);
    for (let s = 0; s < 4; s++) {
      const wSs = await Promise.all(layers.map((l) => ss.rt.readF32(ss.prog.store.param(l.weight))));
      const wFa = await Promise.all(layers.map((l) => fa.rt.readF32(fa.prog.store.param(l.weight))));
      for (const [i, l] of layers.entries()) {
        assert.equal(Array.from(wSs[i]), Array.from(wFa[i]), `${l.name}: W before step ${s}`);
        const scale = ssScale(l.shape);
        fa.rt.write(
          fa.prog.store.feedback(l.weight),
          Float32Array.from(wFa[i], (v) => Math.sign(v) * scale),
        );
      }
      ss.feed(s);
      fa.feed(s);
      ss.prog.run();
      fa.prog.run();
    }
    const moved = await ss.rt.readF32(ss.prog.store.param(layers[0].weight));
    assert.not.equal(Array.from(moved), Array.from(initialState(graph, 7, false).get(layers[0].weight)!.data), 'W did not train');
  });
}

test('kp: refuses zero weight decay', async () => {
  await assertThrows(() => trainer(tinyMlp(), 'kp', { ...HYPER, weightDecay: 0 }), /--rule kp needs --weight-decay > 0/);
});

test('kp: drives ∠(B, W) from ~90° to below 1°', async () => {
  const graph = tinyMlp();
  const hyper = { lr: 0.2, momentum: 0, weightDecay: 0.05, nesterov: false, firstStep: true };
  const { rt, prog, feed } = await trainer(graph, 'kp', hyper);
  const start = await layerTensors(prog, graph);
  for (const l of start) assert.ok(alignment(l.b, l.w).angleDeg > 60, `${l.name} starts at ${alignment(l.b, l.w).angleDeg}°`);
  for (let s = 0; s < 600; s++) {
    feed(s % 8);
    prog.run();
  }
  await rt.finish();
  for (const l of await layerTensors(prog, graph)) {
    const a = alignment(l.b, l.w).angleDeg;
    assert.ok(a < 1, `${l.name}: ∠(B, W) = ${a.toFixed(2)}° after 600 steps`);
  }
});

/** Convs with stride 1 and 2, padding and 1×1, kept narrow so few noise samples pin B down. */
function tinyConvNet(): Graph {
  const g = new GraphBuilder('tinyconv');
  let x = g.input([2, null, null]);
  x = g.relu(g.batchnorm(g.conv2d(x, 'conv1', { out: 4, kernel: 3, stride: 1, pad: 1 }), 'bn1'));
  x = g.relu(g.batchnorm(g.conv2d(x, 'conv2', { out: 6, kernel: 3, stride: 2, pad: 1 }), 'bn2'));
  x = g.relu(g.batchnorm(g.conv2d(x, 'conv3', { out: 6, kernel: 1, stride: 2 }), 'bn3'));
  return g.build(g.linear(g.globalAvgPool(x), 'fc', { out: 5 }));
}

/** Runs `reps` replays of `per` recorded mirror steps. */
async function mirror(prog: StepProgram, settings: MirrorOptions, per: number, reps: number): Promise<void> {
  const steps = await mirrorSteps(prog.ctx, settings, per);
  const program = prog.rt.record(steps.dispatches);
  for (let s = 0; s < reps; s++) {
    steps.beforeRun?.();
    program.run();
  }
  await prog.rt.finish();
}

test('wm: mirror mode alone, with no data, takes every layer from ~90° to below 10°', async () => {
  const graph = mlp({ numClasses: 5, inChannels: 1, hidden: [24, 12], inputHW: HW });
  const settings = { ...DEFAULT_MIRROR, samples: 64, etaB: 0.05, lambdaB: 0.05 };
  const { prog } = await trainer(graph, 'wm', HYPER, settings);
  for (const l of await layerTensors(prog, graph))
    assert.ok(alignment(l.b, l.w).angleDeg > 60, `${l.name} starts at ${alignment(l.b, l.w).angleDeg}°`);
  await mirror(prog, settings, 10, 12);
  for (const l of await layerTensors(prog, graph)) {
    const a = alignment(l.b, l.w).angleDeg;
    assert.ok(a < 10, `${l.name}: ∠(B, W) = ${a.toFixed(1)}° after 120 mirror steps`);
  }
});

test('wm: StepProgram.warmup runs warmupSteps mirror steps before training (and the other rules have none)', async () => {
  const graph = mlp({ numClasses: 5, inChannels: 1, hidden: [24, 12], inputHW: HW });
  const settings = { ...DEFAULT_MIRROR, samples: 64, etaB: 0.05, lambdaB: 0.05, warmupSteps: 120 };
  const { prog } = await trainer(graph, 'wm', HYPER, settings);
  const heard: number[] = [];
  assert.is(await prog.warmup((done) => heard.push(done)), 120);
  assert.is(heard[heard.length - 1], 120);
  for (const l of await layerTensors(prog, graph)) {
    const a = alignment(l.b, l.w).angleDeg;
    assert.ok(a < 10, `${l.name}: ∠(B, W) = ${a.toFixed(1)}° after the warm-up`);
  }
  const none = await trainer(graph, 'wm', HYPER, { ...settings, warmupSteps: 0 });
  assert.is(await none.prog.warmup(), 0);
  for (const rule of ['bp', 'fa', 'ss', 'kp'] as const)
    assert.is(await (await trainer(graph, rule, HYPER, settings)).prog.warmup(), 0, rule);
});

/**
 * For a conv layer, E[corr] is σ²·W only away from the padding: each tap
 * (kh, kw) is summed over the output positions where it reads inside the
 * image, so the mirror aligns B with W ⊙ validCount. On tiny maps that border
 * factor alone is worth ~10° (3×3, stride 2, 8×8 → 4×4), so this checks B
 * against the exact expectation, and that it is close to W as well.
 */
function validCounts(kh: number, kw: number, h: number, w: number, oh: number, ow: number, stride: number, pad: number): Float64Array {
  const axis = (k: number, size: number, out: number) =>
    Array.from(
      { length: k },
      (_, t) => Array.from({ length: out }, (_, o) => o * stride - pad + t).filter((i) => i >= 0 && i < size).length,
    );
  const [a, b] = [axis(kh, h, oh), axis(kw, w, ow)];
  return Float64Array.from({ length: kh * kw }, (_, i) => a[Math.floor(i / kw)] * b[i % kw]);
}

test('wm: on a conv net, mirror mode aligns B with its expected correlation (W ⊙ border counts)', async () => {
  const graph = tinyConvNet();
  const settings = { ...DEFAULT_MIRROR, samples: 48, etaB: 0.05, lambdaB: 0.05 };
  const { prog } = await trainer(graph, 'wm', HYPER, settings, [8, 8]);
  await mirror(prog, settings, 10, 12);
  const shapes = prog.pass.shapes;
  const layers = await layerTensors(prog, graph);
  for (const [i, l] of weightLayers(graph).entries()) {
    const { b, w } = layers[i];
    const node = graph.nodes[l.node];
    let target: Float64Array = Float64Array.from(w);
    if (node.kind === 'conv2d') {
      const [, , h, wd] = shapes[node.inputs[0]];
      const [, , oh, ow] = shapes[l.node];
      const [kh, kw] = node.attrs.kernel;
      const counts = validCounts(kh, kw, h, wd, oh, ow, node.attrs.stride, node.attrs.pad);
      target = Float64Array.from(w, (v, j) => v * counts[j % (kh * kw)]);
    }
    const toTarget = alignment(b, target).angleDeg;
    const toW = alignment(b, w).angleDeg;
    assert.ok(toTarget < 6, `${l.name}: ∠(B, E[corr]) = ${toTarget.toFixed(1)}°`);
    assert.ok(toW < 15, `${l.name}: ∠(B, W) = ${toW.toFixed(1)}°`);
  }
});

test('alignment probe: ss measures ∠(sign(W)·s, W) though it stores no B', async () => {
  const graph = tinyMlp();
  const { rt, prog } = await trainer(graph, 'ss');
  const probe = await AlignmentProbe.compile(rt, graph, prog.store, BATCH, HW);
  const layers = await probe.measure(Float32Array.from(randomArray(BATCH * 36, 3, 1)), Int32Array.from([0, 1, 2, 3]));
  for (const [i, l] of weightLayers(graph).entries()) {
    const w = await rt.readF32(prog.store.param(l.weight));
    const want = alignment(
      Float64Array.from(w, (v) => Math.sign(v) * ssScale(l.shape)),
      w,
    );
    assert.ok(Math.abs(layers[i].weight_angle_deg - want.angleDeg) < 0.05, `${l.name}: ${layers[i].weight_angle_deg} vs ${want.angleDeg}`);
    assert.ok(Math.abs(layers[i].norm_ratio - want.normRatio) < 1e-4, `${l.name}: ratio ${layers[i].norm_ratio} vs ${want.normRatio}`);
  }
});

test('alignment probe: bp gives 0° everywhere; fa gives weight angles near 90°', async () => {
  const graph = tinyMlp();
  const input = Float32Array.from(randomArray(BATCH * 36, 3, 1));
  const target = Int32Array.from([0, 1, 2, 3]);
  for (const rule of ['bp', 'fa'] as const) {
    const { rt, prog } = await trainer(graph, rule);
    const probe = await AlignmentProbe.compile(rt, graph, prog.store, BATCH, HW);
    const layers = await probe.measure(input, target);
    assert.is(layers.length, 2);
    const last = layers[layers.length - 1];
    // The top layer's δ never passes through a feedback tensor: identical under every rule.
    assert.ok(last.delta_angle_deg < 0.01, `${rule} fc δ angle ${last.delta_angle_deg}`);
    if (rule === 'bp') for (const l of layers) assert.ok(l.weight_angle_deg === 0 && l.delta_angle_deg < 0.01, JSON.stringify(l));
    else for (const l of layers) assert.ok(l.weight_angle_deg > 60, JSON.stringify(l));
  }
});

test('state round trip: exported parameters, BN buffers and B load back bit-identically', async () => {
  const graph = tinyConvNet();
  const { rt, prog, feed } = await trainer(graph, 'kp', { ...HYPER, weightDecay: 0.01 }, DEFAULT_MIRROR, [8, 8]);
  feed(1);
  prog.run();
  const first = await exportState(rt, prog.store);
  const again = await StepProgram.compile(rt, graph, {
    batch: BATCH,
    inputHW: [8, 8],
    rule: RULES.kp,
    hyper: HYPER,
    mode: 'grads',
  });
  loadState(rt, again.store, first.tensors, 'exported', true);
  const second = await exportState(rt, again.store);
  assert.equal([...second.tensors.keys()].sort(), [...first.tensors.keys()].sort());
  for (const [name, t] of first.tensors) assert.equal(Array.from(second.tensors.get(name)!.data), Array.from(t.data), name);
  assert.ok(first.tensors.has('feedback.conv1.weight') && first.tensors.has('bn1.running_var'));
});

test.run();
