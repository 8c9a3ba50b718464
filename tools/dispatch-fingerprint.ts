// A compiled pass's fingerprint: every dispatch as "kernel label  grid", in
// recorded order, plus the memory plan's byte counts. The compiler must not
// change it by refactoring; kernels-test/compile-passes.test.ts compares a
// fresh compile of resnet20 against the fixture this script writes. Grids
// depend on the adapter (CPU-shaped tiles on lavapipe), so the fixture names
// the adapter it was recorded on and the test compares only on a like one.
//
//   XDG_RUNTIME_DIR=/tmp/nowt-xdg-0 npx tsx tools/dispatch-fingerprint.ts [out.json] [model]
//   (defaults: kernels-test/fixtures/resnet20-dispatches.json, resnet20)

import { writeFileSync } from 'node:fs';
import { createNodeRuntime } from '../src/gpu/node-runtime.ts';
import type { Runtime } from '../src/gpu/runtime.ts';
import { compilePass, type CompileOptions, type CompiledPass } from '../src/graph/compile.ts';
import { buildModel } from '../src/graph/models/index.ts';
import { ParamStore } from '../src/graph/params.ts';

export const FINGERPRINT_MODEL = 'resnet20';

/** The passes fingerprinted: a training pass, one keeping deltas, and evaluation. */
export const FINGERPRINT_PASSES: Record<string, CompileOptions> = {
  grads: { batch: 2, inputHW: [32, 32] },
  deltas: { batch: 2, inputHW: [32, 32], keepDeltas: true, frozenStats: true },
  eval: { batch: 2, inputHW: [32, 32], evalStats: true },
};

export interface PassFingerprint {
  dispatches: string[];
  memory: CompiledPass['memory'];
}

export interface DispatchFingerprint {
  model: string;
  /** The adapter class the grids were chosen for. */
  adapter: { isCpu: boolean; subgroupSize: { min: number; max: number } | null };
  passes: Record<string, PassFingerprint>;
}

export function fingerprintPass(pass: CompiledPass): PassFingerprint {
  return { dispatches: pass.dispatches.map((d) => `${d.kernel.label} ${d.workgroups.join('x')}`), memory: pass.memory };
}

export async function fingerprint(rt: Runtime, model = FINGERPRINT_MODEL): Promise<DispatchFingerprint> {
  const graph = buildModel(model, { numClasses: 10, inChannels: 3 });
  const store = new ParamStore(rt, graph, { momentum: false, feedback: 'weight', feedbackMomentum: false });
  const passes: Record<string, PassFingerprint> = {};
  for (const [name, options] of Object.entries(FINGERPRINT_PASSES))
    passes[name] = fingerprintPass(await compilePass(rt, graph, store, options));
  return { model, adapter: { isCpu: rt.ctx.isCpu, subgroupSize: rt.ctx.subgroupSize }, passes };
}

async function main(out = 'kernels-test/fixtures/resnet20-dispatches.json', model = FINGERPRINT_MODEL): Promise<void> {
  const rt = await createNodeRuntime();
  const fp = await fingerprint(rt, model);
  writeFileSync(out, JSON.stringify(fp, null, 2) + '\n');
  const counts = Object.entries(fp.passes).map(([k, p]) => `${k} ${p.dispatches.length}`);
  console.log(`${out}: ${fp.model} (${counts.join(', ')} dispatches)`);
  rt.ctx.destroy();
}

// Run as a script, not when a test imports fingerprint() (no top-level await: uvu loads tests as CommonJS).
if (process.argv[1]?.endsWith('dispatch-fingerprint.ts')) {
  main(process.argv[2], process.argv[3]).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
