// The compiler: a graph and a batch shape become one recorded pass, in passes
// over data that a test can run one at a time:
//
//   inferShapes → fuse (bn+add+relu, conv→bn statistics) → lower (a schedule:
//   typed launcher calls over typed values, no device) → planSchedule
//   (lifetimes → planMemory: values with disjoint lives share a slot) →
//   materialise (a buffer per slot, views) → emit (the launchers, requested
//   together, record their dispatches in schedule order).
//
// Replaying the pass allocates nothing and creates no bind groups; a step
// reads nothing back (the loss and top-k counts stay in a GPU buffer).

import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { conv2dStatsLayout } from '../kernels/conv2d.ts';
import type { LossOp } from '../kernels/softmax_cross_entropy.ts';
import { emit, type Launch } from './emit.ts';
import { fuse } from './fusion.ts';
import type { Graph } from './ir.ts';
import { lower, type PassFlags, type StatsLayout } from './lower.ts';
import { materialise } from './materialise.ts';
import { planSchedule, type MemoryReport } from './memory-plan.ts';
import type { FeedbackOperand, ParamStore } from './params.ts';
import type { Schedule } from './schedule.ts';
import { inferShapes, type Shapes } from './shapes.ts';

export type { MemoryReport } from './memory-plan.ts';

export interface CompileOptions extends PassFlags {
  batch: number;
  inputHW?: readonly [number, number];
  /** Read W in every feedback binding whatever the rule (the diagnostic backprop pass). */
  backprop?: boolean;
}

export interface CompiledPass {
  readonly input: Tensor;
  readonly target: Tensor;
  readonly logits: Tensor;
  /** LOSS_METRICS floats: Σloss, top-1 hits, top-5 hits, samples, invalid targets. */
  readonly metrics: Tensor;
  /** The loss launcher's handle: its accumulate switch makes `metrics` a window over several runs. */
  readonly loss: LossOp;
  /** Weight name → δ at that layer's output (with keepDeltas). */
  readonly deltas: ReadonlyMap<string, Tensor>;
  readonly dispatches: readonly Dispatch[];
  readonly shapes: Shapes;
  readonly memory: MemoryReport;
  /** What the pass does, as data (formatSchedule prints it). */
  readonly schedule: Schedule;
  /** Every schedule call with its launcher's handle, in order. */
  readonly launches: readonly Launch[];
}

/** The conv statistics layout on this runtime's adapter. */
export const statsLayoutOn =
  (rt: Runtime): StatsLayout =>
  (x, w, stride, pad) =>
    conv2dStatsLayout(rt, x, w, stride, pad);

/** Compiles forward, loss, and (unless forwardOnly) the feedback and weight-gradient passes. */
export async function compilePass(rt: Runtime, graph: Graph, store: ParamStore, options: CompileOptions): Promise<CompiledPass> {
  const shapes = inferShapes(graph, options.batch, options.inputHW);
  const schedule = lower(graph, shapes, fuse(graph), { ...options, statsLayout: statsLayoutOn(rt) });
  const { plan, report } = planSchedule(schedule);
  const values = materialise(rt, schedule, plan);
  const feedback = (weight: string): FeedbackOperand =>
    options.backprop ? { tensor: store.param(weight), signScale: null } : store.feedbackOperand(weight);
  const emitted = await emit(rt, schedule, values, { store, feedback });
  const deltas = new Map<string, Tensor>();
  for (const [w, id] of schedule.deltas) deltas.set(w, values.tensor(id));
  return {
    input: values.tensor(schedule.input),
    target: values.tensor(schedule.target),
    logits: values.tensor(schedule.logits),
    metrics: values.tensor(schedule.metrics),
    loss: emitted.loss,
    deltas,
    dispatches: emitted.dispatches,
    shapes,
    memory: report,
    schedule,
    launches: emitted.launches,
  };
}
