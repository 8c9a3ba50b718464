// nowt train and nowt eval end to end, as a user runs them (child processes
// on the default adapter, small synthetic runs): the loss falls, a run killed
// with SIGKILL resumes bit-identically, a kill during a checkpoint write
// leaves the previous checkpoint whole, divergence stops with the last good
// checkpoint, eval repeats the run's last test record, config.json repeats
// the run, and bad input is refused by name with nothing written.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensorsFile } from '../src/io/node-safetensors.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NOWT = join(ROOT, 'bin/nowt.js');
const ENV = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp/nowt-xdg-0', NOWT_TRACE: '' };
const work = mkdtempSync(join(tmpdir(), 'nowt-train-'));

function nowt(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [NOWT, ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

type Rec = Record<string, unknown> & { kind: string; step: number };
const records = (dir: string): Rec[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Rec);
/** What a killed-and-resumed run must reproduce: every record but events, timings dropped. */
const comparable = (dir: string) =>
  records(dir)
    .filter((r) => r.kind !== 'event')
    .map((r) => JSON.stringify({ ...r, images_per_s: undefined }));

function assertSameCheckpoint(a: string, b: string): void {
  const fa = readSafetensorsFile(a);
  const fb = readSafetensorsFile(b);
  assert.equal([...fb.tensors.keys()].sort(), [...fa.tensors.keys()].sort());
  for (const [name, t] of fa.tensors) {
    const u = fb.tensors.get(name)!;
    assert.equal(u.shape, t.shape, name);
    assert.ok(Buffer.from(t.data).equals(Buffer.from(u.data)), `${name} differs between ${a} and ${b}`);
  }
  for (const k of ['step', 'epoch', 'position', 'best_top1_error', 'model', 'rule']) assert.is(fb.metadata[k], fa.metadata[k], k);
}

const MLP = '--model mlp --hidden 64 --dataset synthetic --synthetic-train 640 --synthetic-test 200 -b 32'.split(' ');
const RESNET = '--model resnet20 --dataset synthetic --synthetic-size 12 --synthetic-train 160 --synthetic-test 40 -b 8'.split(' ');

test('a synthetic run: the loss falls, every file is written, eval repeats the last test record', () => {
  const out = join(work, 'falls');
  const r = nowt([
    'train',
    ...MLP,
    '--epochs',
    '3',
    '--lr',
    '0.05',
    '--rule',
    'fa',
    '--align-every',
    '20',
    '--log-every',
    '5',
    '--out',
    out,
  ]);
  assert.is(r.status, 0, r.err);
  for (const f of ['config.json', 'metrics.jsonl', 'checkpoint.safetensors', 'best.safetensors', 'report.html'])
    assert.ok(existsSync(join(out, f)), f);
  const recs = records(out);
  const train = recs.filter((x) => x.kind === 'train');
  assert.ok(
    (train[train.length - 1].loss as number) < 0.5 * (train[0].loss as number),
    `loss ${train[0].loss} → ${train[train.length - 1].loss}`,
  );
  const tests = recs.filter((x) => x.kind === 'test');
  assert.is(tests.length, 3);
  assert.ok((tests[2].top1_error as number) < 0.3, `test error ${tests[2].top1_error}`);
  const align = recs.filter((x) => x.kind === 'alignment');
  assert.ok(align.length >= 2);
  const layers = align[0].layers as { name: string; weight_angle_deg: number; unused?: boolean }[];
  assert.equal(
    layers.map((l) => l.name),
    ['fc1', 'fc'],
  );
  assert.ok(layers[0].unused && !layers[1].unused);
  assert.ok(layers[1].weight_angle_deg > 60, `FA's B starts near 90° (${layers[1].weight_angle_deg})`);
  assert.equal(
    recs.filter((x) => x.kind === 'event').map((x) => x.what),
    ['started', 'finished'],
  );
  // The checkpoint's keys load into torchvision-style models: weights under their names, the rest under prefixes.
  const ck = readSafetensorsFile(join(out, 'checkpoint.safetensors'));
  assert.ok(ck.tensors.has('fc1.weight') && ck.tensors.has('feedback.fc.weight') && ck.tensors.has('optim.momentum.fc.bias'));
  assert.is(ck.metadata.format, 'nowt-checkpoint/1');
  const e = nowt(['eval', '--checkpoint', join(out, 'checkpoint.safetensors'), '--json']);
  assert.is(e.status, 0, e.err);
  const got = JSON.parse(e.out.trim().split('\n').pop()!) as Record<string, number>;
  for (const k of ['loss', 'top1_error', 'top5_error']) assert.is(got[k], tests[2][k], k);
});

/** A run killed with SIGKILL once its first checkpoint exists (a few steps later), then resumed. */
async function killAndResume(args: string[], out: string): Promise<void> {
  const child = spawn(process.execPath, [NOWT, 'train', ...args, '--out', out], { cwd: ROOT, env: ENV, stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const deadline = Date.now() + 120_000;
  while (!existsSync(join(out, 'checkpoint.safetensors'))) {
    if (Date.now() > deadline) throw new Error('no checkpoint appeared');
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGKILL');
  assert.is(await exited, null, 'the run finished before it could be killed');
  const r = nowt(['train', ...args, '--out', out, '--resume']);
  assert.is(r.status, 0, r.err);
  assert.match(r.out + r.err, /resuming at step/);
}

test('killed with SIGKILL and resumed: the same weights, B, momenta, BN statistics and metrics (wm on a resnet20)', async () => {
  const args = [...RESNET, ...'--epochs 2 --lr 0.05 --rule wm --align-every 10 --log-every 4 --checkpoint-every 7'.split(' ')];
  const whole = join(work, 'wm-whole');
  const cut = join(work, 'wm-cut');
  assert.is(nowt(['train', ...args, '--out', whole]).status, 0);
  await killAndResume(args, cut);
  assertSameCheckpoint(join(whole, 'checkpoint.safetensors'), join(cut, 'checkpoint.safetensors'));
  assertSameCheckpoint(join(whole, 'best.safetensors'), join(cut, 'best.safetensors'));
  assert.equal(comparable(cut), comparable(whole));
  assert.ok(records(cut).some((r) => r.what === 'resumed'));
});

test('killed with SIGKILL and resumed: kp on an mlp (B and its momentum), and SIGTERM writes a checkpoint and exits 130', async () => {
  const args = [...MLP, ...'--epochs 6 --lr 0.05 --rule kp --weight-decay 0.01 --log-every 3 --checkpoint-every 5'.split(' ')];
  const whole = join(work, 'kp-whole');
  const cut = join(work, 'kp-cut');
  assert.is(nowt(['train', ...args, '--out', whole]).status, 0);
  await killAndResume(args, cut);
  assertSameCheckpoint(join(whole, 'checkpoint.safetensors'), join(cut, 'checkpoint.safetensors'));
  assert.equal(comparable(cut), comparable(whole));

  const term = join(work, 'kp-term');
  const child = spawn(process.execPath, [NOWT, 'train', ...args, '--out', term], { cwd: ROOT, env: ENV, stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  while (!existsSync(join(term, 'checkpoint.safetensors'))) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGTERM');
  assert.is(await exited, 130);
  const events = records(term).filter((r) => r.kind === 'event');
  assert.is(events[events.length - 1].what, 'interrupted');
  const at = Number(readSafetensorsFile(join(term, 'checkpoint.safetensors')).metadata.step);
  assert.is(events[events.length - 1].step, at);
  // The interrupted run's open loss window is in its checkpoint: resumed, it ends as the uninterrupted run did.
  assert.is(nowt(['train', ...args, '--out', term, '--resume']).status, 0);
  assertSameCheckpoint(join(whole, 'checkpoint.safetensors'), join(term, 'checkpoint.safetensors'));
  assert.equal(comparable(term), comparable(whole));
});

test('config.json repeats the run', () => {
  const first = join(work, 'falls');
  const again = join(work, 'again');
  assert.is(nowt(['train', '--config', join(first, 'config.json'), '--out', again]).status, 0);
  assertSameCheckpoint(join(first, 'checkpoint.safetensors'), join(again, 'checkpoint.safetensors'));
  assert.equal(comparable(again), comparable(first));
});

test('a kill during a checkpoint write leaves the previous checkpoint whole', async () => {
  const dir = join(work, 'atomic');
  mkdirSync(dir);
  const path = join(dir, 'checkpoint.safetensors');
  const script = `
    import { writeSafetensorsFile } from ${JSON.stringify(join(ROOT, 'src/io/node-safetensors.ts'))};
    const big = new Float32Array(6_000_000);
    for (let i = 1; ; i++) { big.fill(i); writeSafetensorsFile(${JSON.stringify(path)}, { w: { dtype: 'F32', shape: [big.length], data: big } }, { i: String(i) }); }
  `;
  const run = async (delay: number) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: 'ignore' });
    const exited = new Promise((res) => child.on('exit', res));
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await exited;
  };
  for (const delay of [900, 1300, 1700, 2100]) {
    await run(delay);
    if (!existsSync(path)) continue;
    const f = readSafetensorsFile(path);
    const w = new Float32Array(f.tensors.get('w')!.data.slice().buffer);
    assert.ok(
      w.every((v) => v === Number(f.metadata.i)),
      `checkpoint ${f.metadata.i} is whole`,
    );
  }
  assert.ok(existsSync(path), 'no write completed in 2 s');
});

test('a diverging run stops, exits non-zero and keeps its last finite checkpoint', () => {
  const out = join(work, 'nan');
  const r = nowt([
    'train',
    ...MLP,
    '--epochs',
    '1',
    '--lr',
    '1e30',
    '--schedule',
    'constant',
    '--log-every',
    '2',
    '--checkpoint-every',
    '1',
    '--out',
    out,
  ]);
  assert.is(r.status, 3, r.err);
  assert.match(r.err, /diverged at step \d+/);
  const last = records(out).pop()!;
  assert.is(last.what, 'diverged');
  const ck = readSafetensorsFile(join(out, 'checkpoint.safetensors'));
  assert.ok(Number(ck.metadata.step) < last.step);
  for (const [name, t] of ck.tensors) {
    if (t.dtype !== 'F32') continue;
    assert.ok(new Float32Array(t.data.slice().buffer).every(Number.isFinite), `${name} is finite`);
  }
});

test('bad input is refused by name, exits non-zero and writes nothing', () => {
  const file = join(work, 'a-file');
  writeFileSync(file, 'x');
  const empty = join(work, 'empty-data');
  mkdirSync(empty);
  const other = join(work, 'falls', 'checkpoint.safetensors');
  const cases: [string[], RegExp][] = [
    [['--model', 'resnet99'], /--model "resnet99" is not a model/],
    [['--rule', 'kp', '--weight-decay', '0'], /--weight-decay must be > 0 with --rule kp/],
    [['--dataset', 'mnist', '--data', empty], new RegExp(empty.replace(/[/\\]/g, '.'))],
    [['--dataset', 'synthetic', '--synthetic-size', '3', '--model', 'resnet18'], /resnet18/],
    [['--dataset', 'synthetic', '--batch-size', '4000'], /fewer than one batch of 4000/],
    [['--bogus-flag', '1'], /bogus-flag/],
  ];
  for (const [args, want] of cases) {
    const out = join(work, `refused-${cases.findIndex((c) => c[0] === args)}`);
    const r = nowt(['train', ...args, '--out', out]);
    assert.ok(r.status !== 0 && r.status !== null, `${args.join(' ')} exited ${r.status}`);
    assert.match(r.err, want);
    assert.not.match(r.err, /\n\s+at /, 'no stack trace');
    assert.not.ok(existsSync(out), `${out} was created`);
  }
  assert.match(nowt(['train', ...MLP, '--out', file]).err, /--out .*a-file is a file/);
  const nothing = join(work, 'nothing');
  assert.match(nowt(['train', ...MLP, '--out', nothing, '--resume']).err, /--resume: no checkpoint at/);
  // An existing run is not overwritten; resuming it with other settings is refused, naming them.
  const existing = join(work, 'falls');
  assert.match(nowt(['train', ...MLP, '--out', existing]).err, /already holds a run/);
  assert.match(
    nowt(['train', ...MLP, '--rule', 'fa', '--lr', '0.2', '--out', existing, '--resume']).err,
    /other settings: optimizer\.lr: 0\.05 vs 0\.2/,
  );
  // A checkpoint of another model is refused by eval, saying which differs.
  const foreign = join(work, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'x.safetensors'), readFileSync(other).subarray(0, 100));
  assert.match(nowt(['eval', '--checkpoint', join(foreign, 'x.safetensors')]).err, /x\.safetensors/);
});

test.after(() => rmSync(work, { recursive: true, force: true }));

test.run();
