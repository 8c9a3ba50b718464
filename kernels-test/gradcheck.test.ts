// Backprop through a whole compiled pass against central finite differences:
// a tiny net with every layer kind (conv with stride and padding, batchnorm,
// ReLU, max-pool, a residual block with a downsample shortcut, global average
// pool, linear, softmax cross-entropy). The GPU's backprop gradients are
// checked against finite differences of the same network's loss computed in
// float64 from the plain references (kernels-test/reference/), so neither f32
// rounding nor the engine's own forward enters the difference quotient.
//
// Tolerance: h = 1e-5 in float64 puts the quotient's own error far below
// f32's (~1e-6 of the largest gradient for sums of a few hundred terms);
// 1e-3 relative plus 1e-4 of the tensor's largest gradient.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GraphBuilder } from '../src/graph/builder.ts';
import type { Graph } from '../src/graph/ir.ts';
import { initialState, loadState, type HostTensor } from '../src/graph/state.ts';
import { StepProgram } from '../src/graph/step-program.ts';
import { RULES } from '../src/rules/index.ts';
import { batchnormTrainForward } from './reference/batchnorm.ts';
import { conv2dForward } from './reference/conv2d.ts';
import { reluForward, residualAdd } from './reference/elementwise.ts';
import { linearForward } from './reference/matmul.ts';
import { softmaxCrossEntropy } from './reference/softmax_cross_entropy.ts';
import { globalAvgPoolForward, maxPoolForward } from './reference/pool.ts';
import { randomArray } from './reference/random.ts';
import { gpu } from './harness.ts';

const H = 1e-5;
const RTOL = 1e-3;
const ATOL_OF_MAX = 1e-4;
const [N, C, S] = [3, 3, 7];

function tinyResnet(): Graph {
  const g = new GraphBuilder('tinyresnet');
  let x = g.input([C, null, null]);
  x = g.relu(g.batchnorm(g.conv2d(x, 'conv1', { out: 4, kernel: 3, stride: 1, pad: 1 }), 'bn1'));
  x = g.maxpool(x, 'maxpool', { k: 3, stride: 2, pad: 1 });
  const a = g.relu(g.batchnorm(g.conv2d(x, 'layer1.0.conv1', { out: 6, kernel: 3, stride: 2, pad: 1 }), 'layer1.0.bn1'));
  const b = g.batchnorm(g.conv2d(a, 'layer1.0.conv2', { out: 6, kernel: 3, stride: 1, pad: 1 }), 'layer1.0.bn2');
  const s = g.batchnorm(g.conv2d(x, 'layer1.0.downsample.0', { out: 6, kernel: 1, stride: 2 }), 'layer1.0.downsample.1');
  x = g.relu(g.add(b, s));
  return g.build(g.linear(g.globalAvgPool(x), 'fc', { out: 3 }));
}

/** The same network's mean loss in float64, from the plain references. */
function referenceLoss(p: Map<string, ArrayLike<number>>, input: ArrayLike<number>, target: ArrayLike<number>): number {
  type T = { v: ArrayLike<number>; c: number; h: number };
  const conv = (x: T, name: string, o: number, k: number, stride: number, pad: number): T => {
    const shape = { n: N, c: x.c, h: x.h, w: x.h, o, kh: k, kw: k, stride, pad };
    return { v: conv2dForward(x.v, p.get(`${name}.weight`)!, null, shape), c: o, h: Math.floor((x.h + 2 * pad - k) / stride) + 1 };
  };
  const bn = (x: T, name: string): T => {
    const ones = new Float64Array(x.c).fill(1);
    const r = batchnormTrainForward(x.v, p.get(`${name}.weight`)!, p.get(`${name}.bias`)!, new Float64Array(x.c), ones, {
      n: N,
      c: x.c,
      h: x.h,
      w: x.h,
    });
    return { ...x, v: r.y };
  };
  const relu = (x: T): T => ({ ...x, v: reluForward(x.v) });
  let x: T = { v: input, c: C, h: S };
  x = relu(bn(conv(x, 'conv1', 4, 3, 1, 1), 'bn1'));
  const pooled = maxPoolForward(x.v, { n: N, c: x.c, h: x.h, w: x.h }, 3, 2, 1).y;
  x = { v: pooled, c: x.c, h: Math.floor((x.h + 2 - 3) / 2) + 1 };
  const a = relu(bn(conv(x, 'layer1.0.conv1', 6, 3, 2, 1), 'layer1.0.bn1'));
  const b = bn(conv(a, 'layer1.0.conv2', 6, 3, 1, 1), 'layer1.0.bn2');
  const s = bn(conv(x, 'layer1.0.downsample.0', 6, 1, 2, 0), 'layer1.0.downsample.1');
  x = relu({ ...b, v: residualAdd(b.v, s.v) });
  const pooledAvg = globalAvgPoolForward(x.v, { n: N, c: x.c, h: x.h, w: x.h });
  const logits = linearForward(pooledAvg, p.get('fc.weight')!, p.get('fc.bias')!, N, x.c, 3);
  return softmaxCrossEntropy(logits, target, N, 3).loss;
}

test('backprop gradients of a tiny ResNet match float64 finite differences of the loss', async () => {
  const rt = await gpu();
  const graph = tinyResnet();
  const hyper = { lr: 0, momentum: 0, weightDecay: 0, nesterov: false, firstStep: true };
  const prog = await StepProgram.compile(rt, graph, {
    batch: N,
    inputHW: [S, S],
    rule: RULES.bp,
    hyper,
    mode: 'grads',
  });
  const state: Map<string, HostTensor> = initialState(graph, 11, false);
  loadState(rt, prog.store, state, 'init', false);
  const input = Float32Array.from(randomArray(N * C * S * S, 5, 1));
  const target = Int32Array.from([0, 2, 1]);
  rt.write(prog.pass.input, input);
  rt.write(prog.pass.target, target);
  prog.run();

  const params = new Map<string, Float64Array>([...graph.params.keys()].map((k) => [k, Float64Array.from(state.get(k)!.data)]));
  const failures: string[] = [];
  let checked = 0;
  for (const [name, spec] of graph.params) {
    const g = await rt.readF32(prog.store.grad(name));
    const maxAbs = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const values = params.get(name)!;
    for (let i = 0; i < values.length; i += Math.max(1, Math.floor(values.length / 6))) {
      const keep = values[i];
      values[i] = keep + H;
      const up = referenceLoss(params, input, target);
      values[i] = keep - H;
      const down = referenceLoss(params, input, target);
      values[i] = keep;
      const fd = (up - down) / (2 * H);
      checked++;
      if (Math.abs(fd - g[i]) > RTOL * Math.abs(fd) + ATOL_OF_MAX * maxAbs + 1e-7) {
        failures.push(`${name}[${i}] (${spec.role}): backprop ${g[i].toExponential(5)} vs finite difference ${fd.toExponential(5)}`);
      }
    }
  }
  assert.ok(checked > 60);
  assert.equal(failures, [], failures.join('\n'));
});

test.run();
