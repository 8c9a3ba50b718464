// nowt compare and nowt report end to end (child processes, small synthetic
// runs): one folder per rule from the same start, a report equal to what
// nowt report makes from the folders, an interrupted comparison finished by
// --resume without redoing finished rules, and npm start's preset on a
// shortened run.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensorsFile } from '../src/io/node-safetensors.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NOWT = join(ROOT, 'bin/nowt.js');
const ENV = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp/nowt-xdg-0' };
const work = mkdtempSync(join(tmpdir(), 'nowt-compare-'));

function nowt(args: string[]) {
  const r = spawnSync(process.execPath, [NOWT, ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}
const withoutDate = (html: string) => html.replace(/<p class="meta generated">[^<]*<\/p>/g, '');

const SMALL = [
  '--model',
  'mlp',
  '--hidden',
  '48',
  '--dataset',
  'synthetic',
  '--synthetic-train',
  '320',
  '--synthetic-test',
  '96',
  '-b',
  '32',
];
const TRAIN = [...SMALL, '--epochs', '2', '--lr', '0.05', '--weight-decay', '0.01', '--align-every', '5', '--log-every', '5'];

test('compare: one run folder per rule from the same start, a report, a table; nowt report on the folders gives the same report', () => {
  const out = join(work, 'cmp');
  const r = nowt(['compare', '--rules', 'bp,fa,kp', ...TRAIN, '--out', out]);
  assert.is(r.status, 0, r.err);
  for (const rule of ['bp', 'fa', 'kp'])
    for (const f of ['config.json', 'metrics.jsonl', 'checkpoint.safetensors']) assert.ok(existsSync(join(out, rule, f)), `${rule}/${f}`);
  assert.match(r.out, /rule\s+top-1 err/);
  assert.match(r.out, /report: .*report\.html/);
  // The same initial W: fc1's weights start equal, so after training they differ only through the rules' feedback.
  const cfg = (rule: string) => JSON.parse(readFileSync(join(out, rule, 'config.json'), 'utf8'));
  assert.equal({ ...cfg('fa'), rule: 'bp' }, cfg('bp'));
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok((html.match(/<svg/g) ?? []).length >= 8);
  const again = join(work, 'again.html');
  const rep = nowt(['report', out, '--out', again]);
  assert.is(rep.status, 0, rep.err);
  assert.is(withoutDate(readFileSync(again, 'utf8')), withoutDate(html));
  const listed = join(work, 'listed.html');
  assert.is(nowt(['report', join(out, 'kp'), join(out, 'bp'), join(out, 'fa'), '--out', listed]).status, 0);
  assert.is(withoutDate(readFileSync(listed, 'utf8')), withoutDate(html));
});

test('compare --resume after an interruption keeps finished rules and resumes the unfinished one exactly', async () => {
  const args = ['compare', '--rules', 'bp,fa', ...TRAIN, '--epochs', '4', '--checkpoint-every', '3'];
  const whole = join(work, 'whole');
  assert.is(nowt([...args, '--out', whole]).status, 0);
  const cut = join(work, 'cut');
  const child = spawn(process.execPath, [NOWT, ...args, '--out', cut], { cwd: ROOT, env: ENV, stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  while (!existsSync(join(cut, 'fa', 'checkpoint.safetensors'))) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGINT');
  assert.is(await exited, 130);
  const bpMetrics = statSync(join(cut, 'bp', 'metrics.jsonl')).mtimeMs;
  const r = nowt([...args, '--out', cut, '--resume']);
  assert.is(r.status, 0, r.err);
  assert.match(r.err, /bp: finished earlier, kept/);
  assert.is(statSync(join(cut, 'bp', 'metrics.jsonl')).mtimeMs, bpMetrics, 'bp was not redone');
  for (const rule of ['bp', 'fa']) {
    const a = readSafetensorsFile(join(whole, rule, 'checkpoint.safetensors'));
    const b = readSafetensorsFile(join(cut, rule, 'checkpoint.safetensors'));
    for (const [name, t] of a.tensors) assert.ok(Buffer.from(t.data).equals(Buffer.from(b.tensors.get(name)!.data)), `${rule} ${name}`);
  }
  // Without --resume the folder is not overwritten.
  assert.match(nowt([...args, '--out', cut]).err, /already holds files; pass --resume/);
});

test("npm start's preset on a shortened run: all five rules on Fashion-MNIST, a report, the table", () => {
  const out = join(work, 'poster');
  const r = nowt([
    'compare',
    '--preset',
    'poster',
    '--limit-train',
    '384',
    '--limit-test',
    '128',
    '--epochs',
    '1',
    '--mirror-warmup',
    '4',
    '--align-every',
    '3',
    '--out',
    out,
    '--resume',
  ]);
  assert.is(r.status, 0, r.err);
  for (const rule of ['bp', 'fa', 'ss', 'wm', 'kp']) {
    const c = JSON.parse(readFileSync(join(out, rule, 'config.json'), 'utf8'));
    assert.is(c.dataset, 'fashion-mnist');
    assert.is(c.rule, rule);
  }
  assert.match(r.out, /kp .* finished/);
  assert.ok(existsSync(join(out, 'report.html')) && existsSync(join(out, 'figures')));
});

test.after(() => rmSync(work, { recursive: true, force: true }));

test.run();
