// `nowt bench --models`: whole training steps per rule — ms per step and
// images/s — and the memory plan's bytes next to the minimum any plan needs
// (parameters + B + optimizer state + the most activation bytes live at once).
// Each model runs on a fresh runtime so its memory is counted alone.

import type { Runtime } from '../../src/gpu/runtime.ts';
import { buildModel } from '../../src/graph/models/index.ts';
import { initialState, loadState } from '../../src/graph/state.ts';
import { StepProgram } from '../../src/graph/step-program.ts';
import { DEFAULT_MIRROR, RULE_NAMES, RULES, type RuleName } from '../../src/rules/index.ts';
import type { ModelRecord } from './schema.ts';
import { timeGpu } from './timing.ts';

export interface ModelCase {
  model: string;
  batch: number;
  image: number;
  inChannels: number;
  numClasses: number;
}

/** The sizes: small on a CPU adapter, real ones on a GPU. */
export function modelCases(isCpu: boolean): ModelCase[] {
  return isCpu
    ? [
        { model: 'resnet18', batch: 8, image: 64, inChannels: 3, numClasses: 1000 },
        { model: 'resnet50', batch: 8, image: 64, inChannels: 3, numClasses: 1000 },
        { model: 'resnet20', batch: 8, image: 32, inChannels: 3, numClasses: 10 },
      ]
    : [
        { model: 'resnet18', batch: 128, image: 224, inChannels: 3, numClasses: 1000 },
        { model: 'resnet50', batch: 128, image: 224, inChannels: 3, numClasses: 1000 },
        { model: 'resnet20', batch: 128, image: 32, inChannels: 3, numClasses: 10 },
      ];
}

export interface ModelRecordWithMemory extends ModelRecord {
  /** Bytes the step program holds (arenas, planned slots, launchers' workspaces). */
  plan_bytes: number;
  /** Parameters + B + optimizer state + the activation lower bound. */
  minimum_bytes: number;
}

export async function benchModel(rt: Runtime, c: ModelCase, ruleName: RuleName): Promise<ModelRecordWithMemory> {
  const rule = RULES[ruleName];
  const graph = buildModel(c.model, { numClasses: c.numClasses, inChannels: c.inChannels });
  const before = rt.stats.liveBytes;
  const hyper = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: false, firstStep: true };
  const prog = await StepProgram.compile(rt, graph, {
    batch: c.batch,
    inputHW: [c.image, c.image],
    rule,
    hyper,
    mirror: DEFAULT_MIRROR,
    mode: 'train',
  });
  const planBytes = rt.stats.liveBytes - before;
  loadState(rt, prog.store, initialState(graph, 1, rule.feedbackInCheckpoint), 'init', rule.feedbackInCheckpoint);
  const n = c.batch * c.inChannels * c.image * c.image;
  rt.write(
    prog.pass.input,
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)),
  );
  rt.write(
    prog.pass.target,
    Int32Array.from({ length: c.batch }, (_, i) => (i * 7) % c.numClasses),
  );
  const ms = await timeGpu(rt, () => prog.run(), { minReps: 2, minMs: 1000, maxReps: 20 });
  const mem = prog.memory();
  return {
    model: c.model,
    rule: ruleName,
    batch_size: c.batch,
    image_size: c.image,
    images_per_s: (c.batch * 1000) / ms,
    ms_per_step: ms,
    plan_bytes: planBytes,
    minimum_bytes: mem.minimumBytes,
  };
}

export const ALL_RULES: readonly RuleName[] = RULE_NAMES;
