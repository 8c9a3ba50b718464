// Where a training step's time goes: compiles one model's step for one rule,
// then times every dispatch of it on its own (each run twice after a warm-up
// run, waited for) and sums the times by kernel entry point. Per-dispatch
// times include a submit-and-wait each, so their sum exceeds the replayed
// step's time; use it to compare kernels, `nowt bench --models` for steps.
//
//   npx tsx tools/profile-step.ts [model] [rule] [batch] [image]
//   e.g. npx tsx tools/profile-step.ts resnet18 bp 8 64

import { createNodeRuntime } from '../src/gpu/node-runtime.ts';
import { buildModel, MODEL_NAMES } from '../src/graph/models/index.ts';
import { initialState, loadState } from '../src/graph/state.ts';
import { StepProgram } from '../src/graph/step-program.ts';
import { ruleByName } from '../src/rules/index.ts';

const USAGE = 'usage: npx tsx tools/profile-step.ts [model=resnet18] [rule=bp] [batch=8] [image=64]';
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const [model = 'resnet18', ruleName = 'bp', batchArg = '8', imageArg = '64'] = args;
const positive = (name: string, v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`profile-step: ${name} must be a positive integer (got "${v}")\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
if (!MODEL_NAMES.includes(model)) {
  console.error(`profile-step: unknown model "${model}" (known: ${MODEL_NAMES.join(', ')})\n${USAGE}`);
  process.exit(2);
}
const batch = positive('batch', batchArg);
const image = positive('image', imageArg);
let rule;
try {
  rule = ruleByName(ruleName);
} catch (e) {
  console.error(`profile-step: ${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}

const rt = await createNodeRuntime();
const graph = buildModel(model, { numClasses: 1000, inChannels: 3 });
const prog = await StepProgram.compile(rt, graph, {
  batch,
  inputHW: [image, image],
  rule,
  hyper: { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: false, firstStep: true },
  mode: 'train',
});
loadState(rt, prog.store, initialState(graph, 1, rule.feedbackInCheckpoint), 'init', rule.feedbackInCheckpoint);
prog.run();
await rt.finish();
const byKernel = new Map<string, { ms: number; n: number }>();
let total = 0;
for (const d of prog.program.dispatches) {
  rt.run([d]);
  await rt.finish();
  const t0 = performance.now();
  rt.run([d]);
  rt.run([d]);
  await rt.finish();
  const ms = (performance.now() - t0) / 2;
  total += ms;
  const e = byKernel.get(d.kernel.label) ?? { ms: 0, n: 0 };
  e.ms += ms;
  e.n++;
  byKernel.set(d.kernel.label, e);
}
console.log(`${model} ${rule.name}, batch ${batch}, ${image}², on ${rt.ctx.adapter.description || rt.ctx.adapter.device}`);
console.log(`sum of ${prog.program.dispatches.length} dispatches timed one by one: ${total.toFixed(0)} ms`);
for (const [k, v] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`${v.ms.toFixed(1).padStart(9)} ms ${String(v.n).padStart(4)}× ${k}`);
}
rt.destroy();
