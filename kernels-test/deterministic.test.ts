// The deterministic tensors of reference/deterministic.ts against numbers the
// Python side (tools/fixtures/deterministic.py) printed, and the `nowt step`
// fixtures (kernels-test/fixtures/step/*.json) checked for internal
// consistency with the TS formulas. No GPU.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  compareSummary,
  compareValues,
  deterministicBatch,
  deterministicTensor,
  gradSummary,
  hashUniform,
  roleOf,
  seedOf,
  stepBatch,
  stepWeights,
  type StepFixture,
} from './reference/deterministic.ts';
import { softmaxCrossEntropy } from './reference/softmax_cross_entropy.ts';

// Values are exact (both sides round the same float64 operations the same
// way); float64 summaries differ only by summation order.
const SUM_RTOL = 1e-12;
// Fixture logits are stored to 9 significant digits, so a loss or bias
// gradient recomputed from them is good to about 1e-8 relative.
const FIXTURE_RTOL = 1e-6;

const STEP_DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'step');

test('hashUniform matches Python, including indices and seeds past 2^31 and 2^32', () => {
  const cases: [number, number, number][] = [
    [0, 0, 0.13424646435305476],
    [1, 1, 0.947018921840936],
    [777, 12345, -0.5797861660830677],
    [4294967295, 4294967295, 0.5915609807707369],
    [123456789, 11689511, -0.9304639934562147],
    [4191711099, 5000000000, 0.9637465472333133],
  ];
  for (const [seed, i, want] of cases) assert.is(hashUniform(seed, i), want, `hashUniform(${seed}, ${i})`);
});

test('seedOf is FNV-1a of the UTF-8 bytes, as in Python', () => {
  const cases: [string, number][] = [
    ['', 2166136261],
    ['input', 4191711099],
    ['target', 845187144],
    ['conv1.weight', 3184444564],
    ['feedback.layer1.0.conv1.weight', 2678587781],
    ['µ→', 1138136678],
  ];
  for (const [name, want] of cases) assert.is(seedOf(name), want, `seedOf(${JSON.stringify(name)})`);
});

test('deterministicTensor matches Python for every role', () => {
  const cases: [string, number[], number, number][] = [
    ['conv1.weight', [16, 3, 3, 3], 0, 0.10478300601243973],
    ['conv1.weight', [16, 3, 3, 3], 7, 0.0022422613110393286],
    ['conv1.weight', [16, 3, 3, 3], 431, -0.17044392228126526],
    ['feedback.fc.weight', [10, 64], 0, 0.11590662598609924],
    ['feedback.fc.weight', [10, 64], 639, -0.13718697428703308],
    ['layer1.0.bn1.weight', [16], 3, 1.08931303024292],
    ['fc.bias', [10], 9, -0.04196368530392647],
    ['layer3.2.bn2.bias', [64], 63, -0.08684615045785904],
    ['bn1.running_var', [16], 2, 1],
  ];
  for (const [name, shape, i, want] of cases) assert.is(deterministicTensor(name, shape)[i], want, `${name}[${i}]`);
  assert.is(
    deterministicTensor('bn1.running_mean', [16]).every((v) => v === 0),
    true,
  );
  assert.equal(deterministicTensor('bn1.num_batches_tracked', []), new Float32Array(1));
});

test('roleOf: weights by rank, feedback by prefix, buffers by suffix; unknown names refused', () => {
  assert.is(roleOf('layer1.0.conv1.weight', [16, 16, 3, 3]), 'weight');
  assert.is(roleOf('fc.weight', [10, 64]), 'weight');
  assert.is(roleOf('layer1.0.bn1.weight', [16]), 'bn_weight');
  assert.is(roleOf('fc.bias', [10]), 'bias');
  assert.is(roleOf('feedback.fc.weight', [10, 64]), 'feedback');
  assert.is(roleOf('bn1.running_var', [16]), 'running_var');
  assert.throws(() => roleOf('optimizer.momentum', [3]), /roleOf\(\): no deterministic formula for "optimizer.momentum"/);
  assert.throws(() => deterministicTensor('x.weight', [3], 'weight'), /deterministicTensor\(\): "x.weight" is a weight but shape \[3\]/);
});

test('deterministicBatch matches Python (input values and class targets)', () => {
  const { input, target } = deterministicBatch(2, 3, 4, 5, 10);
  assert.is(input.length, 120);
  assert.is(input[0], 0.6149126887321472);
  assert.is(input[119], -0.5267475843429565);
  assert.equal(Array.from(target), [8, 4]);
  assert.equal(Array.from(deterministicBatch(6, 1, 1, 1, 1000).target), [861, 428, 760, 634, 329, 189]);
});

test('gradSummary matches Python on a small vector (numel not a multiple of 16)', () => {
  const g = Array.from({ length: 37 }, (_, i) => hashUniform(5, i) * 3);
  const s = gradSummary(g);
  assert.is(s.numel, 37);
  const close = (what: string, got: number, want: number) =>
    assert.ok(Math.abs(got - want) <= SUM_RTOL * Math.abs(want), `${what}: ${got} vs ${want}`);
  close('sum', s.sum, 17.273530604783446);
  close('l2', s.l2, 10.950158035698848);
  close('proj', s.proj, 5.063060893809943);
  assert.is(s.maxAbs, 2.9326125676743686);
  assert.equal(s.samples.slice(0, 3), [
    [0, 2.6414005220867693],
    [2, 1.266506097279489],
    [4, -2.424295885954052],
  ]);
});

test('compareSummary: passes itself and an error of norm below rtol·l2, catches a larger one', () => {
  const g = Float64Array.from({ length: 1000 }, (_, i) => hashUniform(9, i));
  const want = gradSummary(g);
  assert.equal(compareSummary('g', want, want), []);
  const small = g.map((v, i) => v + 0.3e-3 * want.l2 * hashUniform(10, i) * Math.sqrt(3 / g.length));
  assert.equal(compareSummary('g', gradSummary(small), want), []);
  const big = Float64Array.from(g);
  big[1000 - 1] += 5e-3 * want.l2;
  const fails = compareSummary('g', gradSummary(big), want);
  assert.ok(fails.length > 0 && fails.every((f) => f.startsWith('g: ')), fails.join('\n'));
  assert.equal(compareSummary('g', gradSummary(g.subarray(1)), want), ['g: numel 999 != 1000']);
  assert.equal(compareValues('v', [1, 2.0019], [1, 2]), []);
  assert.is(compareValues('v', [1, 2.003], [1, 2]).length, 1);
});

const fixtures = readdirSync(STEP_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

test('step fixtures: all six cases are present', () => {
  assert.equal(
    fixtures,
    ['resnet18_bp', 'resnet18_fa', 'resnet18_ss', 'resnet20_bp', 'resnet20_fa', 'resnet20_ss'].map((s) => `${s}.json`),
  );
});

for (const file of fixtures) {
  test(`step fixture ${file}: tensors have formulas, gradients cover the parameters, loss and fc.bias follow from the logits`, () => {
    const fx = JSON.parse(readFileSync(join(STEP_DIR, file), 'utf8')) as StepFixture;
    assert.is(file, `${fx.model}_${fx.rule}.json`);
    const W = stepWeights(fx);
    const shapes = new Map(fx.state_dict.map(([n, s]) => [n, s]));
    // Parameters: every state_dict float entry except the BN running statistics.
    const params = fx.state_dict.filter(([n, , d]) => d === 'float32' && !/running_(mean|var)$/.test(n)).map(([n]) => n);
    assert.equal(Object.keys(fx.grads).sort(), [...params].sort());
    for (const [n, s] of Object.entries(fx.grads))
      assert.is(
        s.numel,
        shapes.get(n)!.reduce((a, b) => a * b, 1),
        `${n} numel`,
      );
    const weights = params.filter((n) => roleOf(n, shapes.get(n)!) === 'weight');
    assert.equal(
      fx.feedback.map(([n]) => n),
      fx.rule === 'fa' ? weights.map((n) => `feedback.${n}`) : [],
    );
    for (const [n, s] of fx.feedback) assert.equal(s, shapes.get(n.slice('feedback.'.length)));
    assert.is(Object.keys(W).length, fx.state_dict.length + fx.feedback.length);

    const B = stepBatch(fx);
    assert.equal(B.input.shape, [fx.batch, fx.inChannels, fx.height, fx.width]);
    const target = Array.from(B.target.data as BigInt64Array, Number);
    const ce = softmaxCrossEntropy(fx.logits, target, fx.batch, fx.numClasses);
    assert.ok(Math.abs(ce.loss - fx.loss) <= FIXTURE_RTOL * fx.loss, `loss ${ce.loss} vs fixture ${fx.loss}`);
    // dL/dfc.bias = Σ_n (softmax − onehot)/N: ties the fixture's targets to deterministicBatch.
    const dbias = new Float64Array(fx.numClasses);
    for (let i = 0; i < ce.dlogits.length; i++) dbias[i % fx.numClasses] += ce.dlogits[i];
    assert.equal(compareSummary('fc.bias', gradSummary(dbias), fx.grads['fc.bias'], FIXTURE_RTOL), []);
    assert.ok(fx.f32_rtol_needed < 1e-4, `PyTorch's own float32 result needs rtol ${fx.f32_rtol_needed}: badly conditioned case`);
  });
}

test.run();
