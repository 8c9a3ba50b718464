// `nowt bench --tune`: for each kernel family and each shape of the chosen
// models, time the valid configurations (src/kernels/tuning.ts's candidates,
// the default first) on this adapter, and write the winners as a tuning table.
//
// llm.c's habit: a candidate is checked before it is timed. The default
// config's output is the reference (the default kernels are the ones
// kernels-test/ checks against the float64 CPU references); a candidate whose
// output differs by more than |got − ref| ≤ atol + rtol·|ref| is skipped and
// reported with its first mismatch. Families: conv2d forward, feedback and
// weight gradient (each distinct conv), the linear layer's three products
// (each model's fc) and batchnorm's backward (its reduction chunking, on each
// conv output). Budget: at most `maxCandidates` per shape, each timed for
// about `candidateMs` (tools/bench/timing.ts), and no new shape is started
// after `budgetS` seconds, so ResNet-18's shapes fit 10 minutes on a GPU.

import type { Runtime } from '../../src/gpu/runtime.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import { buildModel } from '../../src/graph/models/index.ts';
import { batchnormBackward, batchnormTrainForward } from '../../src/kernels/batchnorm.ts';
import { conv2dFeedback, conv2dForward, conv2dWeightGrad } from '../../src/kernels/conv2d.ts';
import { linearFeedback, linearForward, linearWeightGrad } from '../../src/kernels/linear.ts';
import type { Op } from '../../src/kernels/op.ts';
import {
  adapterProfile,
  candidates,
  choose,
  setTuningTable,
  TUNING_FORMAT,
  tuningOf,
  type AdapterProfile,
  type ConfigOf,
  type ShapeOf,
  type TunedOp,
  type TuningEntry,
  type TuningTable,
} from '../../src/kernels/tuning.ts';
import { convLabel, distinctConvs } from './conv.ts';
import { timeGpu } from './timing.ts';

/** A tuned result is kept only if it beats the default by this much (the VM's run-to-run noise is ±10%). */
const MIN_GAIN = 1.05;
const RTOL = 1e-3;
/** atol as a share of the reference's largest magnitude: reduction order moves sums by a few ulps of the total. */
const ATOL_SHARE = 1e-5;

export interface TuneOptions {
  /** Models whose distinct convs (and their batchnorms) to tune. */
  convModels: string[];
  /** Models whose fc layer products to tune. */
  linearModels: string[];
  batch: number;
  image: number;
  maxCandidates?: number;
  candidateMs?: number;
  budgetS?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface TuneRecord {
  op: TunedOp;
  /** conv2d_forward, linear_feedback, batchnorm_backward, … */
  kernel: string;
  label: string;
  unit: 'GFLOP/s' | 'GB/s';
  defaultConfig: unknown;
  bestConfig: unknown;
  defaultRate: number;
  bestRate: number;
  tried: number;
  rejected: { config: unknown; why: string }[];
}

export interface TuneResult {
  profile: AdapterProfile;
  records: TuneRecord[];
  table: TuningTable;
  /** Shapes left untried when the budget ran out. */
  skipped: string[];
}

interface Case<O extends TunedOp> {
  op: O;
  kernel: string;
  label: string;
  shape: ShapeOf<O>;
  unit: TuneRecord['unit'];
  /** FLOPs (or bytes, for GB/s) of one run. */
  work: number;
  /** Inputs for launch(); released after the case. */
  setup(rt: Runtime): Promise<Tensor[]>;
  /** Records the op under the runtime's current tuning; out lists the outputs to compare. */
  launch(rt: Runtime, inputs: Tensor[]): Promise<{ op: Op; out: Tensor[] }>;
}

const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.61) * 0.5);

function convCases(models: string[], batch: number, image: number): Case<TunedOp>[] {
  const cases: Case<TunedOp>[] = [];
  for (const s of distinctConvs(models, batch, image)) {
    const oh = Math.floor((s.h + 2 * s.pad - s.kh) / s.stride) + 1;
    const ow = Math.floor((s.w + 2 * s.pad - s.kw) / s.stride) + 1;
    const shape = { N: s.n, C: s.c, H: s.h, W: s.w, O: s.o, KH: s.kh, KW: s.kw, stride: s.stride, pad: s.pad };
    const label = `${convLabel(s)} (${s.where})`;
    const work = 2 * s.n * oh * ow * s.o * s.c * s.kh * s.kw;
    const setup = async (rt: Runtime) => [
      rt.upload(fill(s.n * s.c * s.h * s.w), [s.n, s.c, s.h, s.w]),
      rt.upload(fill(s.o * s.c * s.kh * s.kw), [s.o, s.c, s.kh, s.kw]),
      rt.upload(fill(s.n * s.o * oh * ow), [s.n, s.o, oh, ow]),
    ];
    const { stride, pad } = s;
    cases.push({
      op: 'conv2d.forward',
      kernel: 'conv2d_forward',
      label,
      shape,
      unit: 'GFLOP/s',
      work,
      setup,
      launch: async (rt, [x, w]) => {
        const op = await conv2dForward(rt, { x, w, stride, pad });
        return { op, out: [op.out.y] };
      },
    });
    cases.push({
      op: 'conv2d.feedback',
      kernel: 'conv2d_feedback',
      label,
      shape,
      unit: 'GFLOP/s',
      work,
      setup,
      launch: async (rt, [x, w, dy]) => {
        const op = await conv2dFeedback(rt, { dy, feedback: w, stride, pad, inputShape: x.shape });
        return { op, out: [op.out.dx] };
      },
    });
    cases.push({
      op: 'conv2d.weight_grad',
      kernel: 'conv2d_weight_grad',
      label,
      shape,
      unit: 'GFLOP/s',
      work,
      setup,
      launch: async (rt, [x, , dy]) => {
        const op = await conv2dWeightGrad(rt, { dy, x, stride, pad, kernelSize: [s.kh, s.kw], db: null });
        return { op, out: [op.out.dw] };
      },
    });
  }
  return cases;
}

/** Batchnorm's backward on each distinct conv output: its reduction chunking and workgroup. */
function batchnormCases(models: string[], batch: number, image: number): Case<TunedOp>[] {
  const seen = new Set<string>();
  const cases: Case<TunedOp>[] = [];
  for (const s of distinctConvs(models, batch, image)) {
    const oh = Math.floor((s.h + 2 * s.pad - s.kh) / s.stride) + 1;
    const ow = Math.floor((s.w + 2 * s.pad - s.kw) / s.stride) + 1;
    const dims: [number, number, number, number] = [s.n, s.o, oh, ow];
    const key = dims.join('x');
    if (seen.has(key)) continue;
    seen.add(key);
    const n = dims.reduce((a, b) => a * b, 1);
    cases.push({
      op: 'batchnorm',
      kernel: 'batchnorm_backward',
      label: `n${s.n} c${s.o} ${oh}x${ow} (+relu)`,
      shape: { N: s.n, C: s.o, HW: oh * ow },
      unit: 'GB/s',
      work: 4 * n * 4,
      setup: async (rt) => {
        const x = rt.upload(fill(n), dims);
        const gamma = rt.upload(fill(s.o), [s.o]);
        const beta = rt.upload(fill(s.o), [s.o]);
        const fwd = await batchnormTrainForward(rt, { x, gamma, beta, relu: true });
        rt.run(fwd.dispatches);
        return [x, gamma, beta, ...Object.values(fwd.out)];
      },
      launch: async (rt, [x, gamma, , y, mean, invStd]) => {
        const op = await batchnormBackward(rt, { dy: x, x, gamma, mean, invStd, y });
        return { op, out: [op.out.dx, op.out.dgamma, op.out.dbeta] };
      },
    });
  }
  return cases;
}

/** Each model's fully connected layers, as the linear layer's three products at this batch. */
function linearCases(models: string[], batch: number): Case<TunedOp>[] {
  const cases: Case<TunedOp>[] = [];
  const seen = new Set<string>();
  for (const model of models) {
    const g = buildModel(model, { numClasses: model === 'resnet20' ? 10 : 1000, inChannels: 3 });
    for (const node of g.nodes) {
      if (node.kind !== 'linear') continue;
      const K = node.attrs.inFeatures as number;
      const N = node.attrs.outFeatures as number;
      const M = batch;
      if (seen.has(`${M} ${K} ${N}`)) continue;
      seen.add(`${M} ${K} ${N}`);
      const label = `M=${M} K=${K} N=${N} (${model} ${node.name})`;
      const setup = async (rt: Runtime) => [rt.upload(fill(M * K), [M, K]), rt.upload(fill(N * K), [N, K]), rt.upload(fill(M * N), [M, N])];
      const work = 2 * M * N * K;
      const base = { op: 'matmul' as const, label, unit: 'GFLOP/s' as const, work, setup };
      cases.push({
        ...base,
        kernel: 'linear_forward',
        shape: { M, N, K, transA: false, transB: true },
        launch: async (rt, [x, w]) => {
          const op = await linearForward(rt, { x, w });
          return { op, out: [op.out.y] };
        },
      });
      cases.push({
        ...base,
        kernel: 'linear_feedback',
        shape: { M, N: K, K: N, transA: false, transB: false },
        launch: async (rt, [, w, dy]) => {
          const op = await linearFeedback(rt, { dy, feedback: w });
          return { op, out: [op.out.dx] };
        },
      });
      cases.push({
        ...base,
        kernel: 'linear_weight_grad',
        shape: { M: N, N: K, K: M, transA: true, transB: false },
        launch: async (rt, [x, , dy]) => {
          const op = await linearWeightGrad(rt, { dy, x, db: null });
          return { op, out: [op.out.dw] };
        },
      });
    }
  }
  return cases;
}

/** The first few elements outside |got − ref| ≤ atol + rtol·|ref|, as index / default / candidate; null when all agree. */
function mismatch(ref: Float32Array[], got: Float32Array[]): string | null {
  const bad: string[] = [];
  let count = 0;
  ref.forEach((r, t) => {
    let peak = 0;
    for (const v of r) peak = Math.max(peak, Math.abs(v));
    const atol = ATOL_SHARE * peak;
    const g = got[t];
    for (let i = 0; i < r.length; i++) {
      if (Math.abs(g[i] - r[i]) <= atol + RTOL * Math.abs(r[i])) continue;
      count++;
      if (bad.length < 3) bad.push(`out${t}[${i}] ${r[i].toPrecision(6)} vs ${g[i].toPrecision(6)}`);
    }
  });
  return count ? `${count} values differ from the default's (${bad.join('; ')})` : null;
}

/** A table holding one entry: how a candidate is put in front of the launchers. */
const oneEntry = (profile: AdapterProfile, op: TunedOp, shape: unknown, config: unknown): TuningTable => ({
  format: TUNING_FORMAT,
  adapter: profile.key,
  entries: [{ op, shape, config } as TuningEntry],
});

async function tuneCase<O extends TunedOp>(
  rt: Runtime,
  profile: AdapterProfile,
  c: Case<O>,
  opts: Required<Omit<TuneOptions, 'onProgress'>>,
) {
  const cands = candidates(profile, c.op, c.shape, opts.maxCandidates);
  const inputs = await c.setup(rt);
  let ref: Float32Array[] | null = null;
  const timed: { config: ConfigOf<O>; rate: number }[] = [];
  const rejected: TuneRecord['rejected'] = [];
  // The default is timed first and again last, its better time kept, so a slow start does not flatter the others.
  for (const config of cands.length > 1 ? [...cands, cands[0]] : cands) {
    let launched: { op: Op; out: Tensor[] } | null = null;
    try {
      setTuningTable(rt, oneEntry(profile, c.op, c.shape, config), 'bench --tune');
      launched = await c.launch(rt, inputs);
      const program = rt.record(launched.op.dispatches);
      program.run();
      const got = await Promise.all(launched.out.map((t) => rt.readF32(t)));
      const why = ref ? mismatch(ref, got) : null;
      ref ??= got;
      if (why) rejected.push({ config, why });
      else {
        const ms = await timeGpu(rt, () => program.run(), { minReps: 1, maxReps: 20, minMs: opts.candidateMs });
        const rate = c.work / ms / 1e6;
        const again = timed.find((t) => t.config === config);
        if (again) again.rate = Math.max(again.rate, rate);
        else timed.push({ config, rate });
      }
      program.dispose();
    } catch (e) {
      rejected.push({ config, why: (e as Error).message.split('\n')[0] });
    } finally {
      for (const t of Object.values(launched?.op.out ?? {})) t.release();
    }
  }
  for (const t of inputs) t.release();
  setTuningTable(rt, null);
  const def = timed.find((t) => JSON.stringify(t.config) === JSON.stringify(choose(profile, c.op, c.shape)));
  const best = timed.reduce((a, b) => (b.rate > a.rate ? b : a), def ?? timed[0]);
  return { def, best, tried: cands.length, rejected };
}

export async function runTune(rt: Runtime, options: TuneOptions): Promise<TuneResult> {
  const profile = adapterProfile(rt.ctx);
  const cpu = profile.kind === 'cpu';
  const opts = {
    convModels: options.convModels,
    linearModels: options.linearModels,
    batch: options.batch,
    image: options.image,
    maxCandidates: options.maxCandidates ?? (cpu ? 4 : 8),
    candidateMs: options.candidateMs ?? (cpu ? 150 : 40),
    budgetS: options.budgetS ?? 540,
  };
  const previous = tuningOf(rt);
  const cases = [
    ...convCases(opts.convModels, opts.batch, opts.image),
    ...linearCases(opts.linearModels, opts.batch),
    ...batchnormCases(opts.convModels, opts.batch, opts.image),
  ];
  const t0 = performance.now();
  const records: TuneRecord[] = [];
  const entries: TuningEntry[] = [];
  const skipped: string[] = [];
  for (const [i, c] of cases.entries()) {
    options.onProgress?.(i, cases.length, `${c.kernel} ${c.label}`);
    if ((performance.now() - t0) / 1000 > opts.budgetS) {
      skipped.push(`${c.kernel} ${c.label}`);
      continue;
    }
    const { def, best, tried, rejected } = await tuneCase(rt, profile, c, opts);
    if (!def || !best) {
      skipped.push(`${c.kernel} ${c.label} (the default did not run: ${rejected[0]?.why ?? 'no candidates'})`);
      continue;
    }
    const keep = best !== def && best.rate >= MIN_GAIN * def.rate;
    const chosen = keep ? best : def;
    records.push({
      op: c.op,
      kernel: c.kernel,
      label: c.label,
      unit: c.unit,
      defaultConfig: def.config,
      bestConfig: chosen.config,
      defaultRate: def.rate,
      bestRate: chosen.rate,
      tried,
      rejected,
    });
    if (keep)
      entries.push({ op: c.op, shape: c.shape, config: best.config, default_gflops: def.rate, tuned_gflops: best.rate } as TuningEntry);
  }
  options.onProgress?.(cases.length, cases.length, 'done');
  // Give the runtime back the tuning it had.
  setTuningTable(rt, previous.table, previous.source ?? undefined);
  const table: TuningTable = { format: TUNING_FORMAT, adapter: profile.key, description: profile.description, entries };
  return { profile, records, table, skipped };
}

/** A config in a few words: its variant and the fields a tuner varies. */
export function describeConfig(c: unknown): string {
  const o = c as Record<string, unknown>;
  const fixed = new Set(['variant', 'RM', 'RN', 'LANES', 'TN', 'CN', 'WG_N', 'EW', 'PER_THREAD']);
  const parts = Object.entries(o)
    .filter(([k]) => !fixed.has(k) || (k === 'WG_N' && o.variant === 'tiled'))
    .map(([k, v]) => `${k}=${String(v)}`);
  return [o.variant, ...parts].filter((p) => p !== undefined).join(' ');
}

export function formatTuneTable(r: TuneResult): string {
  const rows = r.records.map((x) => [
    x.kernel,
    x.label,
    `${x.defaultRate.toFixed(2)} ${x.unit}`,
    `${x.bestRate.toFixed(2)}`,
    `${(x.bestRate / x.defaultRate).toFixed(2)}×`,
    x.bestConfig === x.defaultConfig ? `default (${describeConfig(x.defaultConfig)})` : describeConfig(x.bestConfig),
    `${x.tried}${x.rejected.length ? `, ${x.rejected.length} rejected` : ''}`,
  ]);
  const head = ['kernel', 'shape', 'default', 'tuned', 'gain', 'tuned config', 'tried'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const out = [
    `Adapter: ${r.profile.description} (key ${r.profile.key})`,
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ];
  for (const x of r.records)
    for (const j of x.rejected) out.push(`rejected: ${x.kernel} ${x.label}: ${describeConfig(j.config)}: ${j.why}`);
  for (const s of r.skipped) out.push(`skipped (budget): ${s}`);
  out.push(`${r.table.entries.length} of ${r.records.length} shapes beat the default by ≥ ${Math.round((MIN_GAIN - 1) * 100)}%`);
  return out.join('\n');
}
