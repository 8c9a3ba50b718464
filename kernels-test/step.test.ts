// `nowt step` end to end against PyTorch: deterministic weights and batch
// (kernels-test/reference/deterministic.ts, mirrored by
// tools/fixtures/deterministic.py), the CLI run in-process, and every
// gradient compared with the committed fixture's float64 summaries at
// rtol 1e-3 (the comparison rule is in deterministic.ts). Also the CLI's
// refusals of bad input.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../src/cli/main.ts';
import { readSafetensorsFile, writeSafetensorsFile } from '../src/io/node-safetensors.ts';
import { getTensor, toFloat32 } from '../src/io/safetensors.ts';
import { compareSummary, compareValues, gradSummary, stepBatch, stepWeights, type StepFixture } from './reference/deterministic.ts';

const dir = mkdtempSync(join(tmpdir(), 'nowt-step-'));
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/step/${name}.json`, import.meta.url), 'utf8')) as StepFixture;

/** Runs the CLI with console output captured; returns the exit code and stderr. */
async function nowt(args: string[]): Promise<{ code: number; stderr: string }> {
  const errors: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = () => {};
  console.error = (...a: unknown[]) => void errors.push(a.join(' '));
  try {
    return { code: await main(args), stderr: errors.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

function stepArgs(fx: StepFixture, w: string, b: string, out: string, rule = fx.rule): string[] {
  return [
    'step',
    '--model',
    fx.model,
    '--num-classes',
    String(fx.numClasses),
    '--in-channels',
    String(fx.inChannels),
    '--rule',
    rule,
    '--weights',
    w,
    '--batch',
    b,
    '--out',
    out,
  ];
}

const CASES = [
  'resnet20_bp',
  'resnet20_fa',
  'resnet20_ss',
  ...(process.env.NOWT_TEST_LARGE ? ['resnet18_bp', 'resnet18_fa', 'resnet18_ss'] : []),
];

for (const name of CASES) {
  test(`nowt step ${name} matches PyTorch (loss, logits, every gradient within 1e-3)`, async () => {
    const fx = fixture(name);
    const [w, b, out] = [join(dir, `${name}.w.safetensors`), join(dir, `${name}.batch.safetensors`), join(dir, `${name}.out.safetensors`)];
    writeSafetensorsFile(w, stepWeights(fx));
    writeSafetensorsFile(b, stepBatch(fx));
    const r = await nowt(stepArgs(fx, w, b, out));
    assert.is(r.code, 0, r.stderr);
    const file = readSafetensorsFile(out);
    const fails = [
      ...compareValues('loss', toFloat32(getTensor(file, 'loss')), [fx.loss]),
      ...compareValues('logits', toFloat32(getTensor(file, 'logits')), fx.logits),
    ];
    for (const [param, want] of Object.entries(fx.grads))
      fails.push(...compareSummary(param, gradSummary(toFloat32(getTensor(file, `grad.${param}`))), want));
    assert.equal(fails, [], fails.slice(0, 10).join('\n'));
  });
}

// WM and KP read B from the checkpoint exactly as FA does: with FA's feedback
// tensors their gradients are FA's.
for (const rule of ['wm', 'kp']) {
  test(`nowt step --rule ${rule} with FA's feedback tensors gives FA's gradients`, async () => {
    const fx = fixture('resnet20_fa');
    const [w, b, out] = [join(dir, `${rule}.w.safetensors`), join(dir, `${rule}.batch.safetensors`), join(dir, `${rule}.out.safetensors`)];
    writeSafetensorsFile(w, stepWeights(fx));
    writeSafetensorsFile(b, stepBatch(fx));
    const r = await nowt(stepArgs(fx, w, b, out, rule));
    assert.is(r.code, 0, r.stderr);
    const file = readSafetensorsFile(out);
    const fails: string[] = [];
    for (const [param, want] of Object.entries(fx.grads))
      fails.push(...compareSummary(param, gradSummary(toFloat32(getTensor(file, `grad.${param}`))), want));
    assert.equal(fails, [], fails.slice(0, 10).join('\n'));
  });
}

test('bad input: unknown model, wrong in-channels for the checkpoint, malformed safetensors', async () => {
  const fx = fixture('resnet20_bp');
  const [w, b, out] = [join(dir, 'bad.w.safetensors'), join(dir, 'bad.batch.safetensors'), join(dir, 'bad.out.safetensors')];
  writeSafetensorsFile(w, stepWeights(fx));
  writeSafetensorsFile(b, stepBatch(fx));

  let r = await nowt([
    'step',
    ...stepArgs(fx, w, b, out)
      .slice(1)
      .map((a) => (a === 'resnet20' ? 'resnet21x' : a)),
  ]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /unknown model 'resnet21x'; known models: resnet18/);

  // A 3-channel checkpoint with --in-channels 1: the batch is refused first, then (with a 1-channel batch) the weights.
  r = await nowt(stepArgs({ ...fx, inChannels: 1 }, w, b, out));
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /--in-channels 1 needs N×1×H×W/);
  const one = stepBatch({ ...fx, inChannels: 1 });
  const b1 = join(dir, 'bad.batch1.safetensors');
  writeSafetensorsFile(b1, one);
  r = await nowt(stepArgs({ ...fx, inChannels: 1 }, w, b1, out));
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /does not match resnet20: conv1\.weight is \[16, 3, 3, 3\], the model needs \[16, 1, 3, 3\]/);

  const bytes = readFileSync(w);
  const truncated = join(dir, 'truncated.safetensors');
  writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
  r = await nowt(stepArgs(fx, truncated, b, out));
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /truncated\.safetensors/);

  const liar = Buffer.from(bytes);
  const headerLen = Number(liar.readBigUInt64LE(0));
  const header = liar
    .subarray(8, 8 + headerLen)
    .toString('utf8')
    .replace(/"data_offsets":\[0,(\d+)\]/, (_, e) => `"data_offsets":[0,${Number(e) + 4}]`);
  const lies = join(dir, 'lies.safetensors');
  writeFileSync(lies, Buffer.concat([liar.subarray(0, 8), Buffer.from(header.padEnd(headerLen)), liar.subarray(8 + headerLen)]));
  r = await nowt(stepArgs(fx, lies, b, out));
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /lies\.safetensors/);

  const unknown = join(dir, 'unknown.safetensors');
  writeFileSync(
    unknown,
    Buffer.concat([
      liar.subarray(0, 8),
      Buffer.from(
        liar
          .subarray(8, 8 + headerLen)
          .toString('utf8')
          .replace('"F32"', '"F7"'),
      ),
      liar.subarray(8 + headerLen),
    ]),
  );
  r = await nowt(stepArgs(fx, unknown, b, out));
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /unknown.*dtype|dtype.*F7/i);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
