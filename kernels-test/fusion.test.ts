// The compiler's fusions on real models: every batchnorm after a conv takes
// its batch statistics from that conv's epilogue (so a compiled step has no
// statistics pass over activations), and batchnorm + residual add + ReLU are
// one stage.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compilePass } from '../src/graph/compile.ts';
import { fuse, type Stage } from '../src/graph/fusion.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { buildModel } from '../src/graph/models/index.ts';
import { ParamStore } from '../src/graph/params.ts';
import { gpu } from './harness.ts';

const stagesOf = <K extends Stage['kind']>(stages: Stage[], kind: K) =>
  stages.filter((s): s is Extract<Stage, { kind: K }> => s.kind === kind);

for (const [model, blocks] of [
  ['resnet18', 8],
  ['resnet50', 16],
  ['resnet20', 9],
] as const) {
  test(`${model}: every batchnorm gets its statistics from the conv before it; ${blocks} blocks fuse bn + add + relu`, () => {
    const graph = buildModel(model, { numClasses: 10, inChannels: 3 });
    const stages = fuse(graph);
    const convs = stagesOf(stages, 'conv2d');
    const bns = stagesOf(stages, 'batchnorm');
    assert.is(bns.length, convs.length, 'one batchnorm per conv');
    for (const bn of bns) {
      assert.is(bn.statsFrom, bn.node.inputs[0], bn.node.name);
      assert.is(convs.find((c) => c.out === bn.statsFrom)?.statsFor, bn.node.id, bn.node.name);
    }
    const withResidual = bns.filter((b) => b.residual !== null);
    assert.is(withResidual.length, blocks);
    assert.ok(
      withResidual.every((b) => b.relu),
      'the residual add fuses with its ReLU',
    );
    assert.is(stagesOf(stages, 'add').length, 0, 'no add left on its own');
    assert.is(stagesOf(stages, 'relu').length, 0, 'no ReLU left on its own');
  });
}

test('a batchnorm that does not follow a conv reads its input itself; a conv without a batchnorm gathers nothing', () => {
  const g = new GraphBuilder('plain');
  let x = g.input([3, null, null]);
  x = g.relu(g.conv2d(x, 'conv1', { out: 4, kernel: 3, pad: 1 }));
  x = g.batchnorm(x, 'bn1');
  const graph = g.build(g.linear(g.globalAvgPool(x), 'fc', { out: 5 }));
  const stages = fuse(graph);
  assert.is(stagesOf(stages, 'conv2d')[0].statsFor, null);
  assert.is(stagesOf(stages, 'batchnorm')[0].statsFrom, null);
});

test('a compiled resnet20 step runs no batchnorm statistics pass, only merges', async () => {
  const rt = await gpu();
  const graph = buildModel('resnet20', { numClasses: 10, inChannels: 3 });
  const store = new ParamStore(rt, graph, { momentum: false, feedback: 'weight', feedbackMomentum: false });
  const pass = await compilePass(rt, graph, store, { batch: 2, inputHW: [32, 32] });
  const labels = pass.dispatches.map((d) => d.kernel.label);
  const count = (l: string) => labels.filter((x) => x === l).length;
  assert.is(count('batchnorm:stats') + count('batchnorm:stats_partial'), 0, labels.join(' '));
  const bns = graph.nodes.filter((n) => n.kind === 'batchnorm').length;
  assert.is(count('batchnorm:stats_merge'), bns);
  assert.is(count('batchnorm:apply') + count('batchnorm:apply4'), bns);
});

test.run();
