// Run configuration, schedules and checkpoint bytes (no GPU): flags to
// config, config.json round trip, every refusal naming its flag, learning
// rates at their boundaries, checkpoint metadata in and out.

import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configFromFlags } from '../src/cli/train-flags.ts';
import { checkpointBytes, parseCheckpoint } from '../src/train/checkpoint.ts';
import { configDifferences, DEFAULT_CONFIG, parseConfigJson, type ScheduleConfig } from '../src/train/config.ts';
import { learningRate } from '../src/train/schedule.ts';
import { NOWT_VERSION } from '../src/version.ts';

test('src/version.ts agrees with package.json', () => {
  assert.is(NOWT_VERSION, JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
});

test('flags land in the config; config.json round-trips', () => {
  const { config, explicit } = configFromFlags({
    model: 'mlp',
    hidden: '64,32',
    dataset: 'synthetic',
    rule: 'kp',
    epochs: '3',
    'batch-size': '16',
    lr: '0.05',
    wd: '0.001',
    nesterov: true,
    schedule: 'multistep',
    milestones: '1,2',
    'mirror-samples': '8',
  });
  assert.is(config.model, 'mlp');
  assert.equal(config.hidden, [64, 32]);
  assert.is(config.optimizer.weight_decay, 0.001);
  assert.is(config.optimizer.nesterov, true);
  assert.equal(config.schedule.milestones, [1, 2]);
  assert.is(config.mirror.samples, 8);
  assert.is(config.synthetic.size, DEFAULT_CONFIG.synthetic.size);
  assert.ok(explicit.has('optimizer.weight_decay') && explicit.has('schedule.kind') && !explicit.has('seed'));
  const again = parseConfigJson(JSON.stringify(config), 'config.json');
  assert.equal(again, config);
  assert.equal(configDifferences(config, again), []);
  assert.equal(configDifferences(config, { ...config, seed: 5 }), ['seed: 0 vs 5']);
});

test('--config FILE is the base and flags override it', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'nowt-cfg-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ ...DEFAULT_CONFIG, model: 'mlp', seed: 9, adapter: { description: 'x' }, nowt_version: '0.0.1' }));
  const { config } = configFromFlags({ config: file, seed: '4' });
  assert.is(config.model, 'mlp');
  assert.is(config.seed, 4);
  writeFileSync(file, JSON.stringify({ ...DEFAULT_CONFIG, learning_rate: 1 }));
  assert.throws(() => configFromFlags({ config: file }), /unknown settings learning_rate/);
  writeFileSync(file, '{"format": "nowt-config/1", ');
  assert.throws(() => configFromFlags({ config: file }), /config\.json: not valid JSON/);
});

test('every bad setting is refused naming its flag', () => {
  const cases: [Record<string, string | boolean>, RegExp][] = [
    [{ model: 'resnet99' }, /--model "resnet99" is not a model/],
    [{ dataset: 'imagenet' }, /--dataset "imagenet" is not a dataset/],
    [{ rule: 'dfa' }, /--rule "dfa" is not a rule/],
    [{ schedule: 'linear' }, /--schedule "linear" is not a schedule/],
    [{ lr: '0' }, /--lr must be a finite number > 0/],
    [{ lr: '-1' }, /--lr must be a finite number > 0/],
    [{ lr: 'fast' }, /--lr must be a number/],
    [{ 'batch-size': '0' }, /--batch-size must be an integer ≥ 1/],
    [{ epochs: '0' }, /--epochs must be an integer ≥ 1/],
    [{ epochs: '1.5' }, /--epochs must be a whole number/],
    [{ momentum: '1' }, /--momentum must be in \[0, 1\)/],
    [{ momentum: '-0.1' }, /--momentum must be in \[0, 1\)/],
    [{ rule: 'kp', 'weight-decay': '0' }, /--weight-decay must be > 0 with --rule kp/],
    [{ schedule: 'multistep' }, /--milestones is needed with --schedule multistep/],
    [{ milestones: '5,3' }, /--milestones must increase/],
    [{ 'mirror-decay': '1' }, /--mirror-decay must be in \[0, 1\)/],
    [{ hidden: '64' }, /--hidden is an mlp option; resnet20 takes none/],
    [{ 'limit-train': '0' }, /--limit-train must be an integer ≥ 1/],
    [{ nesterov: true, momentum: '0' }, /--nesterov needs --momentum > 0/],
  ];
  for (const [flags, want] of cases) assert.throws(() => configFromFlags(flags), want, JSON.stringify(flags));
  // Controls: the boundary values that are allowed.
  for (const ok of [{ momentum: '0' }, { 'weight-decay': '0' }, { 'mirror-decay': '0' }, { 'align-every': '0' }]) configFromFlags(ok);
});

const SCHED: ScheduleConfig = { kind: 'constant', milestones: [], gamma: 0.1, step_size: 2, warmup_epochs: 0 };
const IN = { baseLr: 0.1, stepsPerEpoch: 10, epochs: 4 };

test('schedules at their boundaries', () => {
  const lr = (s: Partial<ScheduleConfig>, step: number) => learningRate({ ...SCHED, ...s }, IN, step);
  assert.is(lr({}, 0), 0.1);
  assert.is(lr({}, 39), 0.1);
  // step: ×γ every step_size epochs, changing exactly at the epoch boundary.
  assert.is(lr({ kind: 'step' }, 19), 0.1);
  assert.ok(Math.abs(lr({ kind: 'step' }, 20) - 0.01) < 1e-15);
  // multistep: ×γ at each milestone epoch.
  assert.is(lr({ kind: 'multistep', milestones: [1, 3] }, 9), 0.1);
  assert.ok(Math.abs(lr({ kind: 'multistep', milestones: [1, 3] }, 10) - 0.01) < 1e-15);
  assert.ok(Math.abs(lr({ kind: 'multistep', milestones: [1, 3] }, 29) - 0.01) < 1e-15);
  assert.ok(Math.abs(lr({ kind: 'multistep', milestones: [1, 3] }, 30) - 0.001) < 1e-15);
  // cosine: the base rate first, half way at the middle, near 0 at the end.
  assert.is(lr({ kind: 'cosine' }, 0), 0.1);
  assert.ok(Math.abs(lr({ kind: 'cosine' }, 20) - 0.05) < 1e-12);
  assert.ok(lr({ kind: 'cosine' }, 39) < 0.001 && lr({ kind: 'cosine' }, 39) > 0);
  // warm-up: linear from base/steps to the base over warmup_epochs, then the schedule takes over.
  assert.ok(Math.abs(lr({ kind: 'cosine', warmup_epochs: 1 }, 0) - 0.01) < 1e-15);
  assert.ok(Math.abs(lr({ kind: 'cosine', warmup_epochs: 1 }, 9) - 0.1) < 1e-15);
  assert.is(lr({ kind: 'cosine', warmup_epochs: 1 }, 10), 0.1);
});

test('checkpoint bytes: metadata and tensors round-trip; a foreign file is refused', () => {
  const tensors = new Map([
    ['fc.weight', { dtype: 'F32' as const, shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }],
    ['state.wm.noise_offsets.0', { dtype: 'I64' as const, shape: [2], data: BigInt64Array.of(8n, 2n ** 40n) }],
  ]);
  const config = { ...DEFAULT_CONFIG, model: 'mlp' };
  const bytes = checkpointBytes({ step: 17, tensors }, { config, step: 17, epoch: 2, position: 3, bestTop1Error: 0.25 });
  const { snapshot, info } = parseCheckpoint(bytes, 'ck.safetensors');
  assert.is(info.step, 17);
  assert.is(info.epoch, 2);
  assert.is(info.position, 3);
  assert.is(info.bestTop1Error, 0.25);
  assert.equal(info.config, config);
  assert.equal(Array.from(snapshot.tensors.get('fc.weight')!.data as Float32Array), [1, 2, 3, 4, 5, 6]);
  assert.equal(Array.from(snapshot.tensors.get('state.wm.noise_offsets.0')!.data as BigInt64Array), [8n, 2n ** 40n]);
  assert.throws(() => parseCheckpoint(new Uint8Array(10), 'junk.safetensors'), /junk\.safetensors/);
});

test.run();
