// Graph IR and model builders (no GPU): state_dict names, shapes and order
// equal torchvision's (fixture from tools/fixtures/state_dict_keys.py),
// parameter and MAC counts equal PyTorch's, shape inference at several image
// sizes, and clear refusals of too-small inputs, unknown models and bad graphs.

import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ShapeError, UnsupportedError } from '../src/gpu/errors.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { consumers, feedbackName, inputSpec, stateDict, weightLayers, type Graph } from '../src/graph/ir.ts';
import { buildModel, cifarResnet, MODEL_NAMES } from '../src/graph/models/index.ts';
import { countParams, forwardMacs, inferShapes, minInputSize } from '../src/graph/shapes.ts';

interface FixtureModel {
  params: number;
  macs: Record<string, number>;
  state_dict: [string, number[], string][];
}
const fixture: { models: Record<string, FixtureModel> } = JSON.parse(
  readFileSync(new URL('./fixtures/state_dict_keys.json', import.meta.url), 'utf8'),
);

const FIXTURE_CLASSES: Record<string, number> = { resnet18: 1000, resnet34: 1000, resnet50: 1000, resnet20: 10 };
const rgb = (name: string, numClasses = FIXTURE_CLASSES[name] ?? 10) => buildModel(name, { numClasses, inChannels: 3 });

function shapeOf(g: Graph, shapes: readonly (readonly number[])[], name: string): readonly number[] {
  const node = g.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name}`);
  return shapes[node.id];
}

function throwsWith(fn: () => unknown, cls: new (...a: never[]) => Error, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, cls);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected ${cls.name} matching ${pattern}`);
}

test('parameter counts equal torchvision (trainable only)', () => {
  const expected = { resnet18: 11_689_512, resnet34: 21_797_672, resnet50: 25_557_032, resnet20: 272_474 };
  for (const [name, n] of Object.entries(expected)) {
    assert.is(fixture.models[name].params, n, `fixture ${name}`);
    assert.is(countParams(rgb(name)), n, name);
  }
  // 6n + 2 with option-B shortcuts: same stem, more blocks of the same widths.
  assert.is(countParams(rgb('resnet32')), 466_906);
  assert.is(countParams(rgb('resnet56')), 855_770);
});

for (const name of Object.keys(FIXTURE_CLASSES)) {
  test(`${name}: state_dict names, shapes, dtypes and order equal torchvision's`, () => {
    const got = stateDict(rgb(name)).map((e) => [e.name, [...e.shape], e.dtype === 'i64' ? 'int64' : 'float32']);
    const want = fixture.models[name].state_dict;
    assert.is(got.length, want.length);
    for (let i = 0; i < want.length; i++) assert.equal(got[i], want[i], `entry ${i}`);
  });

  test(`${name}: forward MACs equal PyTorch's at ${Object.keys(fixture.models[name].macs).join(', ')}²`, () => {
    const g = rgb(name);
    for (const [side, macs] of Object.entries(fixture.models[name].macs)) {
      assert.is(forwardMacs(g, inferShapes(g, 1, [+side, +side])), macs, `${side}²`);
    }
  });
}

test('params and buffers: roles and torchvision init', () => {
  const g = rgb('resnet18');
  const conv1 = g.params.get('conv1.weight')!;
  assert.is(conv1.role, 'conv_weight');
  assert.is(conv1.init.kind, 'kaiming_normal_fan_out');
  if (conv1.init.kind === 'kaiming_normal_fan_out') {
    assert.is(conv1.init.fanOut, 64 * 49);
    assert.ok(Math.abs(conv1.init.std - Math.sqrt(2 / (64 * 49))) < 1e-15);
  }
  assert.equal(g.params.get('fc.weight')!.init, { kind: 'kaiming_uniform', fanIn: 512, bound: 1 / Math.sqrt(512) });
  assert.equal(g.params.get('fc.bias')!, {
    name: 'fc.bias',
    shape: [1000],
    role: 'bias',
    init: { kind: 'uniform_fan_in', fanIn: 512, bound: 1 / Math.sqrt(512) },
    node: 'fc',
  });
  assert.equal(g.params.get('layer1.0.bn1.weight')!.init, { kind: 'ones' });
  assert.is(g.params.get('layer1.0.bn1.bias')!.role, 'bn_bias');
  assert.equal(g.buffers.get('bn1.running_var'), {
    name: 'bn1.running_var',
    shape: [64],
    dtype: 'f32',
    role: 'bn_running_var',
    init: 'ones',
    node: 'bn1',
  });
  assert.equal(g.buffers.get('bn1.num_batches_tracked'), {
    name: 'bn1.num_batches_tracked',
    shape: [],
    dtype: 'i64',
    role: 'bn_num_batches_tracked',
    init: 'zeros',
    node: 'bn1',
  });
  assert.not.ok(g.params.has('bn1.running_mean'), 'running stats are buffers, not params');
  const bn = g.nodes.find((n) => n.name === 'layer2.0.downsample.1')!;
  assert.is(bn.kind, 'batchnorm');
  if (bn.kind === 'batchnorm') assert.equal([bn.attrs.eps, bn.attrs.momentum, bn.attrs.prefix], [1e-5, 0.1, 'layer2.0.downsample.1']);
});

test('graph invariants: ids are indices, topological order, unique names, every param owned by its node', () => {
  for (const name of MODEL_NAMES) {
    const g = rgb(name);
    const names = new Set<string>();
    g.nodes.forEach((n, i) => {
      assert.is(n.id, i);
      for (const j of n.inputs) assert.ok(j < i, `${name} ${n.name} reads a later node`);
      assert.not.ok(names.has(n.name), `${name}: duplicate ${n.name}`);
      names.add(n.name);
    });
    for (const p of g.params.values()) assert.ok(names.has(p.node) && p.name.startsWith(`${p.node}.`), `${name} ${p.name}`);
    assert.is(g.nodes[g.loss].kind, 'softmax_cross_entropy');
    assert.equal(g.nodes[g.loss].inputs, [g.logits, g.target]);
    assert.equal(consumers(g)[g.logits], [g.loss]);
  }
});

test('resnet18 shapes at 224², 64², 32² and a non-square 224×160', () => {
  const g = rgb('resnet18', 10);
  const cases: [[number, number], number[], number[], number[]][] = [
    // input, conv1, maxpool, layer4
    [
      [224, 224],
      [4, 64, 112, 112],
      [4, 64, 56, 56],
      [4, 512, 7, 7],
    ],
    [
      [64, 64],
      [4, 64, 32, 32],
      [4, 64, 16, 16],
      [4, 512, 2, 2],
    ],
    [
      [32, 32],
      [4, 64, 16, 16],
      [4, 64, 8, 8],
      [4, 512, 1, 1],
    ],
    [
      [224, 160],
      [4, 64, 112, 80],
      [4, 64, 56, 40],
      [4, 512, 7, 5],
    ],
  ];
  for (const [hw, conv1, pool, l4] of cases) {
    const s = inferShapes(g, 4, hw);
    assert.equal(s[g.input], [4, 3, ...hw]);
    assert.equal(shapeOf(g, s, 'conv1'), conv1);
    assert.equal(shapeOf(g, s, 'maxpool'), pool);
    assert.equal(shapeOf(g, s, 'layer4.1.relu2'), l4);
    assert.equal(shapeOf(g, s, 'layer4.0.downsample.1'), l4);
    assert.equal(shapeOf(g, s, 'avgpool'), [4, 512]);
    assert.equal(s[g.logits], [4, 10]);
    assert.equal(s[g.target], [4]);
    assert.equal(s[g.loss], []);
  }
});

test('resnet50: Bottleneck strides on its 3×3 (v1.5), expands ×4, layer1.0 has a stride-1 downsample', () => {
  const g = rgb('resnet50');
  const conv = (name: string) => {
    const n = g.nodes.find((x) => x.name === name)!;
    if (n.kind !== 'conv2d') throw new Error(name);
    return n.attrs;
  };
  assert.is(conv('layer2.0.conv1').stride, 1);
  assert.is(conv('layer2.0.conv2').stride, 2);
  assert.is(conv('layer2.0.downsample.0').stride, 2);
  assert.is(conv('layer1.0.downsample.0').stride, 1);
  assert.is(conv('layer1.0.conv3').outChannels, 256);
  const s = inferShapes(g, 2, [64, 64]);
  assert.equal(shapeOf(g, s, 'layer1.2.relu3'), [2, 256, 16, 16]);
  assert.equal(shapeOf(g, s, 'layer4.2.relu3'), [2, 2048, 2, 2]);
  assert.equal(s[g.logits], [2, 1000]);
});

test('CIFAR resnets: 16/32/64 channels, stride 2 entering stages 2 and 3, shapes at 32²', () => {
  for (const [name, n] of [
    ['resnet20', 3],
    ['resnet32', 5],
    ['resnet56', 9],
  ] as const) {
    const g = rgb(name);
    const s = inferShapes(g, 2, [32, 32]);
    assert.equal(shapeOf(g, s, 'conv1'), [2, 16, 32, 32]);
    assert.equal(shapeOf(g, s, `layer1.${n - 1}.relu2`), [2, 16, 32, 32]);
    assert.equal(shapeOf(g, s, `layer2.${n - 1}.relu2`), [2, 32, 16, 16]);
    assert.equal(shapeOf(g, s, `layer3.${n - 1}.relu2`), [2, 64, 8, 8]);
    assert.not.ok(g.params.has('layer1.0.downsample.0.weight'), `${name}: layer1 keeps the identity`);
    assert.equal(g.params.get('layer2.0.downsample.0.weight')!.shape, [32, 16, 1, 1]);
    assert.equal(s[g.logits], [2, 10]);
    assert.is(weightLayers(g).length, 6 * n + 2 + 2, `${name}: convs + fc + two shortcuts`);
  }
  throwsWith(() => cifarResnet(21, { numClasses: 10, inChannels: 3 }), ShapeError, /depth=21 must be 6n \+ 2/);
});

test('too-small inputs are refused with the smallest size and the layer that cannot take it', () => {
  const g = rgb('resnet18', 10);
  assert.equal(minInputSize(g), [17, 17]);
  throwsWith(() => inferShapes(g, 2, [16, 16]), ShapeError, /^resnet18 needs input ≥ 17×17 \(got 16×16\): layer4\.0\.conv1: .*1×1 input/);
  throwsWith(() => inferShapes(g, 2, [1, 1]), ShapeError, /^resnet18 needs input ≥ 17×17 \(got 1×1\): conv1: /);
  throwsWith(() => inferShapes(g, 2, [224, 16]), ShapeError, /needs input ≥ 17×17 \(got 224×16\)/);
  inferShapes(g, 2, [17, 17]); // the boundary itself is accepted
  inferShapes(g, 2, [28, 28]); // (Fashion-)MNIST size
  assert.equal(minInputSize(rgb('resnet50')), [17, 17]);
  throwsWith(() => inferShapes(rgb('resnet50'), 1, [8, 8]), ShapeError, /^resnet50 needs input ≥ 17×17 \(got 8×8\)/);
  const c = rgb('resnet20');
  assert.equal(minInputSize(c), [3, 3]);
  throwsWith(() => inferShapes(c, 1, [2, 2]), ShapeError, /^resnet20 needs input ≥ 3×3 \(got 2×2\): layer3\.0\.conv1: /);
  inferShapes(c, 1, [3, 3]);
  // buildModel checks a given size up front.
  throwsWith(
    () => buildModel('resnet34', { numClasses: 10, inChannels: 3, inputHW: [12, 12] }),
    ShapeError,
    /resnet34 needs input ≥ 17×17/,
  );
  throwsWith(() => inferShapes(g, 2), ShapeError, /takes any image size; give inputHW/);
  throwsWith(() => inferShapes(g, 0, [32, 32]), ShapeError, /batch=0 must be an integer ≥ 1/);
});

test('mlp: fc1, fc2, …, fc; built for one image size, other sizes refused', () => {
  const g = buildModel('mlp', { numClasses: 10, inChannels: 1 });
  assert.equal(inputSpec(g).shape, [1, 28, 28]);
  assert.equal(
    stateDict(g).map((e) => `${e.name}:${e.shape.join('x')}`),
    ['fc1.weight:256x784', 'fc1.bias:256', 'fc2.weight:256x256', 'fc2.bias:256', 'fc.weight:10x256', 'fc.bias:10'],
  );
  assert.is(g.buffers.size, 0);
  const s = inferShapes(g, 3, [28, 28]);
  assert.equal(shapeOf(g, s, 'flatten'), [3, 784]);
  assert.equal(s[g.logits], [3, 10]);
  assert.equal(inferShapes(g, 3), s);
  throwsWith(() => inferShapes(g, 3, [32, 32]), ShapeError, /mlp was built for 28×28 inputs, got 32×32/);
  const h = buildModel('mlp', { numClasses: 100, inChannels: 3, hidden: [64], inputHW: [32, 32] });
  assert.equal(
    weightLayers(h).map((l) => [l.name, l.shape]),
    [
      ['fc1', [64, 3072]],
      ['fc', [100, 64]],
    ],
  );
  assert.is(weightLayers(buildModel('mlp', { numClasses: 10, inChannels: 1, hidden: [] })).length, 1);
  throwsWith(() => buildModel('mlp', { numClasses: 10, inChannels: 1, hidden: [64, 0] }), ShapeError, /hidden\[1\]=0/);
});

test('unknown model and bad options are refused', () => {
  throwsWith(
    () => buildModel('resnet19', { numClasses: 10, inChannels: 3 }),
    UnsupportedError,
    /unknown model 'resnet19'; known models: resnet18, resnet34, resnet50, resnet20, resnet32, resnet56, mlp/,
  );
  throwsWith(() => buildModel('toString', { numClasses: 10, inChannels: 3 }), UnsupportedError, /unknown model 'toString'/);
  throwsWith(
    () => buildModel('resnet18', { numClasses: 0, inChannels: 3 }),
    ShapeError,
    /resnet18: numClasses=0 must be a positive integer/,
  );
  throwsWith(() => buildModel('resnet20', { numClasses: 10, inChannels: 2.5 }), ShapeError, /inChannels=2.5/);
  throwsWith(() => buildModel('resnet18', { numClasses: 10, inChannels: 3, hidden: [5] }), ShapeError, /hidden sizes are an mlp option/);
});

test('in-channels 1 vs 3 changes only conv1.weight', () => {
  const gray = buildModel('resnet18', { numClasses: 10, inChannels: 1 });
  const color = buildModel('resnet18', { numClasses: 10, inChannels: 3 });
  assert.equal(gray.params.get('conv1.weight')!.shape, [64, 1, 7, 7]);
  assert.equal(color.params.get('conv1.weight')!.shape, [64, 3, 7, 7]);
  assert.is(countParams(color) - countParams(gray), 64 * 2 * 49);
  assert.equal(inferShapes(gray, 2, [28, 28])[gray.input], [2, 1, 28, 28]);
  assert.equal(buildModel('resnet20', { numClasses: 10, inChannels: 1 }).params.get('conv1.weight')!.shape, [16, 1, 3, 3]);
});

test('weight layers and feedback names', () => {
  const g = rgb('resnet18');
  const layers = weightLayers(g);
  assert.is(layers.length, 21, '20 convs + fc');
  assert.is(layers.filter((l) => l.kind === 'conv2d').length, 20);
  assert.equal(layers[0], {
    node: 1,
    kind: 'conv2d',
    name: 'conv1',
    weight: 'conv1.weight',
    bias: null,
    feedback: 'feedback.conv1.weight',
    shape: [64, 3, 7, 7],
  });
  assert.equal(layers[20], {
    node: g.logits,
    kind: 'linear',
    name: 'fc',
    weight: 'fc.weight',
    bias: 'fc.bias',
    feedback: 'feedback.fc.weight',
    shape: [1000, 512],
  });
  assert.is(feedbackName('layer1.0.conv1.weight'), 'feedback.layer1.0.conv1.weight');
  for (const l of layers) assert.equal(l.shape, g.params.get(l.weight)!.shape);
  assert.ok(layers.some((l) => l.feedback === 'feedback.layer2.0.downsample.0.weight'));
  assert.is(weightLayers(rgb('resnet34')).length, 37);
  assert.is(weightLayers(rgb('resnet50')).length, 54);
  assert.is(weightLayers(rgb('resnet20')).length, 22);
});

test('builder: mismatched layers are refused as they are added, naming the node and the shapes', () => {
  const g = new GraphBuilder('toy');
  const x = g.input([3, null, null]);
  const a = g.conv2d(x, 'a', { out: 8, kernel: 3, pad: 1 });
  const b = g.conv2d(x, 'b', { out: 4, kernel: 1 });
  throwsWith(() => g.add(a, b, 'sum'), ShapeError, /^toy: sum: cannot add \[\?, 8, \?, \?\] and \[\?, 4, \?, \?\]/);
  throwsWith(() => g.conv2d(a, 'a', { out: 8, kernel: 3 }), ShapeError, /toy: a: a node with this name already exists/);
  throwsWith(() => g.conv2d(a, 'c', { out: 0, kernel: 3 }), ShapeError, /toy: c: out=0 must be a positive integer/);
  throwsWith(() => g.linear(a, 'fc', { out: 10 }), ShapeError, /toy: fc: linear needs an N×F input/);
  throwsWith(() => g.maxpool(a, 'pool', { k: 3, pad: 2 }), ShapeError, /pad=2 must be an integer in \[0, k\/2\]/);
  throwsWith(() => g.input([3, 8, 8]), ShapeError, /already has an input/);
  throwsWith(() => g.build(a), ShapeError, /logits \(a\) must be N×K/);
  // Refused calls left nothing behind: the graph still builds.
  const graph = g.build(g.linear(g.globalAvgPool(g.relu(a)), 'fc', { out: 10 }));
  assert.equal(
    graph.nodes.map((n) => n.name),
    ['input', 'a', 'b', 'relu', 'avgpool', 'fc', 'target', 'loss'],
  );
  assert.equal([...graph.params.keys()], ['a.weight', 'b.weight', 'fc.weight', 'fc.bias']);
  throwsWith(() => g.relu(a), ShapeError, /already built/);
});

test('shape inference: a graph that only some sizes fit reports the node and the sizes', () => {
  // 2×2/2 beside 1×1/2: floor(h/2) and ceil(h/2) agree only for even sizes.
  const g = new GraphBuilder('odd');
  const x = g.input([2, null, null]);
  const y = g.add(g.conv2d(x, 'main', { out: 4, kernel: 2, stride: 2 }), g.conv2d(x, 'skip', { out: 4, kernel: 1, stride: 2 }), 'sum');
  const graph = g.build(g.linear(g.globalAvgPool(y), 'fc', { out: 3 }));
  assert.equal(inferShapes(graph, 1, [8, 6])[y], [1, 4, 4, 3]);
  throwsWith(() => inferShapes(graph, 1, [8, 9]), ShapeError, /^odd: sum: cannot add \[1, 4, 4, 4\] and \[1, 4, 4, 5\]$/);
  assert.equal(minInputSize(graph), [2, 2]);
  throwsWith(
    () => inferShapes(graph, 1, [1, 1]),
    ShapeError,
    /^odd needs input ≥ 2×2 \(got 1×1\): main: input 1×1 is too small for a 2×2 conv/,
  );
});

test.run();
