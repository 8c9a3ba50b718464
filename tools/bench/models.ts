// `nowt bench --models`: whole training steps per rule — ms per step and
// images/s — and the memory plan's bytes next to the minimum any plan needs
// (parameters + B + optimizer state + the most activation bytes live at once).
//
// The targets are ratios to backprop (e.g. SS ≤ 1.05×), finer than
// the noise of a shared 2-vCPU VM, where one step's time moves by ±10% from
// the next, both ways (measured: resnet18 bp samples of 1747–1935 ms in one
// run, the fastest an outlier). So a rule's time is the median of ROUNDS
// samples, each at least SAMPLE_MS of steps, and its ratio to bp the ratio of
// the medians. On a CPU adapter every rule's program is compiled side by side
// on one runtime and they take turns, one sample each per round, so a slow
// spell of the machine cannot fall on one rule only. On a GPU (steady
// timings, and five programs at batch 128 would not fit together) each rule
// runs alone on a fresh runtime, its samples taken back to back. Every sample
// is in the JSON.
// Each model gets a fresh runtime, and a program's bytes are what the
// runtime allocated while compiling it.

import type { Runtime } from '../../src/gpu/runtime.ts';
import { buildModel } from '../../src/graph/models/index.ts';
import { initialState, loadState } from '../../src/graph/state.ts';
import { StepProgram } from '../../src/graph/step-program.ts';
import { RULE_NAMES, RULES, type RuleName } from '../../src/rules/index.ts';
import type { ModelRecord } from './schema.ts';
import { median, timeGpu } from './timing.ts';

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
  /** This rule's median step time over bp's (absent without bp). */
  relative_to_bp?: number;
  /** Every sample, ms per step, in round order. */
  samples_ms: number[];
  /** Bytes the step program holds (arenas, planned slots, launchers' workspaces). */
  plan_bytes: number;
  /** Parameters + B + optimizer state + the activation lower bound. */
  minimum_bytes: number;
}

/** Timing rounds per rule. */
export const ROUNDS = 7;
/** Timed work per sample: enough steps to reach it (at least one). */
const SAMPLE_MS = 1500;

interface Contender {
  rule: RuleName;
  prog: StepProgram;
  planBytes: number;
  minimumBytes: number;
  /** Steps per sample. */
  reps: number;
  samples: number[];
}

const HYPER = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: false, firstStep: true };

/** Compiles one rule's training step for a case, loads a seeded state and a fixed batch, and runs it once (warm-up). */
async function prepare(rt: Runtime, c: ModelCase, ruleName: RuleName): Promise<Contender> {
  const rule = RULES[ruleName];
  const graph = buildModel(c.model, { numClasses: c.numClasses, inChannels: c.inChannels });
  const before = rt.stats.liveBytes;
  const prog = await StepProgram.compile(rt, graph, {
    batch: c.batch,
    inputHW: [c.image, c.image],
    rule,
    hyper: HYPER,
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
  const warm = await timeGpu(rt, () => prog.run(), { minReps: 1, maxReps: 1, minMs: 0 });
  const minimumBytes = prog.memory().minimumBytes;
  return { rule: ruleName, prog, planBytes, minimumBytes, reps: Math.max(1, Math.ceil(SAMPLE_MS / warm)), samples: [] };
}

async function sample(rt: Runtime, k: Contender): Promise<void> {
  k.samples.push(await timeGpu(rt, () => k.prog.run(), { minReps: k.reps, maxReps: k.reps, minMs: 0, warmup: false }));
}

function records(c: ModelCase, done: Contender[]): ModelRecordWithMemory[] {
  const bp = done.find((k) => k.rule === 'bp');
  return done.map((k) => {
    const ms = median(k.samples);
    const r: ModelRecordWithMemory = {
      model: c.model,
      rule: k.rule,
      batch_size: c.batch,
      image_size: c.image,
      images_per_s: (c.batch * 1000) / ms,
      ms_per_step: ms,
      samples_ms: k.samples,
      plan_bytes: k.planBytes,
      minimum_bytes: k.minimumBytes,
    };
    if (bp) r.relative_to_bp = ms / median(bp.samples);
    return r;
  });
}

export interface ModelBenchOptions {
  /** Overrides of the cases' batch, image size, channels or classes (e.g. to match a nowt train run). */
  shape?: Partial<Pick<ModelCase, 'batch' | 'image' | 'inChannels' | 'numClasses'>>;
  models?: string[];
  rules?: RuleName[];
  onProgress?: (done: number, total: number, label: string) => void;
}

/** Whole training steps per model and rule (see the header for how the rules take turns). */
export async function runModelBench(newRuntime: () => Promise<Runtime>, opts: ModelBenchOptions): Promise<ModelRecordWithMemory[]> {
  const probe = await newRuntime();
  const isCpu = probe.ctx.isCpu;
  probe.destroy();
  const cases = modelCases(isCpu)
    .filter((c) => !opts.models || opts.models.includes(c.model))
    .map((c) => ({ ...c, ...opts.shape }));
  const rules = [...new Set(opts.rules ?? RULE_NAMES)];
  const out: ModelRecordWithMemory[] = [];
  const total = cases.length * rules.length * (ROUNDS + 1);
  let done = 0;
  const progress = (label: string) => opts.onProgress?.(done++, total, label);
  for (const c of cases) {
    const what = (rule: RuleName) => `${c.model} ${rule} (batch ${c.batch}, ${c.image}²)`;
    if (isCpu) {
      const rt = await newRuntime();
      try {
        const all: Contender[] = [];
        for (const rule of rules) {
          progress(`${what(rule)}: compile`);
          all.push(await prepare(rt, c, rule));
        }
        for (let round = 0; round < ROUNDS; round++) {
          for (const k of all) {
            progress(`${what(k.rule)}: round ${round + 1}/${ROUNDS}`);
            await sample(rt, k);
          }
        }
        out.push(...records(c, all));
      } finally {
        rt.destroy();
      }
    } else {
      const alone: Contender[] = [];
      for (const rule of rules) {
        const rt = await newRuntime();
        try {
          progress(`${what(rule)}: compile`);
          const k = await prepare(rt, c, rule);
          for (let round = 0; round < ROUNDS; round++) {
            progress(`${what(rule)}: sample ${round + 1}/${ROUNDS}`);
            await sample(rt, k);
          }
          alone.push(k);
        } finally {
          rt.destroy();
        }
      }
      out.push(...records(c, alone));
    }
  }
  opts.onProgress?.(total, total, 'done');
  return out;
}

export function formatModelTable(recs: ModelRecordWithMemory[]): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)}`;
  const row = (c: string[]) =>
    `${c[0].padEnd(10)} ${c[1].padEnd(5)} ${c[2].padStart(6)} ${c[3].padStart(6)} ${c[4].padStart(11)} ${c[5].padStart(9)} ${c[6].padStart(8)} ${c[7].padStart(10)} ${c[8].padStart(9)} ${c[9].padStart(7)}`;
  const lines = [row(['model', 'rule', 'batch', 'image', 'ms/step', 'img/s', '× bp', 'plan MiB', 'min MiB', 'ratio'])];
  for (const r of recs) {
    lines.push(
      row([
        r.model,
        r.rule,
        String(r.batch_size),
        `${r.image_size}²`,
        r.ms_per_step.toFixed(1),
        r.images_per_s.toFixed(2),
        r.relative_to_bp === undefined ? '-' : r.relative_to_bp.toFixed(3),
        mib(r.plan_bytes),
        mib(r.minimum_bytes),
        (r.plan_bytes / r.minimum_bytes).toFixed(2),
      ]),
    );
  }
  lines.push('', `ms/step: the median of ${ROUNDS} samples; × bp: over bp's median; ratio: plan / min bytes.`);
  return lines.join('\n');
}
