// The compiler: a graph and a batch shape become one recorded step program.
//
//   shapes (inferShapes) → stages (fuse: bn+add+relu, conv→bn statistics) →
//   a schedule of launcher calls, each declaring the activations it reads and
//   writes → lifetimes → memory plan (planMemory: tensors with disjoint lives
//   share a slot) → one slot buffer each → the launchers, called once, record
//   their dispatches → Program.
//
// Replaying the program allocates nothing and creates no bind groups; a step
// reads nothing back (the loss and top-k counts stay in a GPU buffer).
//
// The backward pass walks the stages in reverse. Every conv and linear layer
// reads its feedback operand (ParamStore.feedbackOperand: W itself for
// backprop, W read as sign(W)·s for sign symmetry, else its own B) for
// the data gradient and the true activations for the weight gradient. A value
// read by two stages (a block input: the main branch and the shortcut) gets
// the first gradient written in place and the second added to it.

import { UnsupportedError } from '../gpu/errors.ts';
import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor, DType } from '../gpu/tensor.ts';
import { batchnormBackward, batchnormEvalForward, batchnormTrainForward } from '../kernels/batchnorm.ts';
import { conv2dFeedback, conv2dForward, conv2dStatsLayout, conv2dWeightGrad } from '../kernels/conv2d.ts';
import { addInPlace, reluBackward, reluForward } from '../kernels/elementwise.ts';
import { linearFeedback, linearForward, linearWeightGrad } from '../kernels/linear.ts';
import { LOSS_METRICS, softmaxCrossEntropy, type LossOp } from '../kernels/loss.ts';
import { globalAvgPoolBackward, globalAvgPoolForward, maxPoolBackward, maxPoolForward } from '../kernels/pool.ts';
import type { Op } from '../kernels/op.ts';
import { fuse } from './fusion.ts';
import type { Graph } from './ir.ts';
import { planMemory, type Lifetime } from './memory-plan.ts';
import type { FeedbackOperand, ParamStore } from './params.ts';
import { inferShapes, type Shapes } from './shapes.ts';

export interface CompileOptions {
  batch: number;
  inputHW?: readonly [number, number];
  /** Keep each weight layer's output gradient δ alive after the step (delta angles). */
  keepDeltas?: boolean;
  /** Stop after the forward pass and the loss (evaluation). */
  forwardOnly?: boolean;
  /** Read W in every feedback binding whatever the rule (the diagnostic backprop pass). */
  backprop?: boolean;
  /** Leave BN running statistics alone (diagnostic passes). */
  frozenStats?: boolean;
  /** Evaluation: forward and loss only, BN normalising by its running statistics (implies forwardOnly). */
  evalStats?: boolean;
}

export interface MemoryReport {
  /** Bytes of the planned slots (activations, their gradients, saved statistics). */
  activationBytes: number;
  /** The most activation bytes live at once: no plan can do with less. */
  activationLowerBound: number;
  /** Slots, before sharing: what one buffer per tensor would take. */
  unplannedBytes: number;
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
}

interface Decl {
  shape: readonly number[];
  dtype: DType;
  persistent: boolean;
}

interface Call {
  reads: string[];
  writes: string[];
  emit: (t: (key: string) => Tensor) => Promise<Op | Op[]>;
}

const act = (id: number) => `act:${id}`;
const grad = (id: number) => `grad:${id}`;

/** Compiles forward, loss, and (unless forwardOnly) the feedback and weight-gradient passes. */
export async function compilePass(rt: Runtime, graph: Graph, store: ParamStore, options: CompileOptions): Promise<CompiledPass> {
  const opts: CompileOptions = options.evalStats ? { ...options, forwardOnly: true, keepDeltas: false } : options;
  const shapes = inferShapes(graph, opts.batch, opts.inputHW);
  const feedbackOf = (weight: string): FeedbackOperand =>
    opts.backprop ? { tensor: store.param(weight), signScale: null } : store.feedbackOperand(weight);
  const stages = fuse(graph);
  const decls = new Map<string, Decl>();
  const calls: Call[] = [];
  // Gradients handed over by a fused backward (its dx becomes the value's
  // gradient) are renamed, not copied.
  const renames = new Map<string, string>();
  const renamed = (k: string): string => {
    const r = renames.get(k);
    return r === undefined ? k : renamed(r);
  };
  const declare = (key: string, shape: readonly number[], dtype: DType = 'f32', persistent = false) => {
    if (!decls.has(key)) decls.set(key, { shape, dtype, persistent });
    return key;
  };
  // flatten is a reshape: its value (and gradient) is its input's buffer seen
  // with another shape.
  const aliasOf = new Map<number, number>();
  const root = (id: number): number => (aliasOf.has(id) ? root(aliasOf.get(id)!) : id);
  const viewOf = new Map<string, string>();
  const actKey = (id: number) => act(id);
  const gradKey = (id: number) => {
    const k = grad(id);
    if (aliasOf.has(id) && !decls.has(k)) {
      const src = aliasOf.get(id)!;
      declare(gradKey(src), shapes[src]);
      viewOf.set(k, gradKey(src));
    }
    return k;
  };
  /** The key whose buffer a key uses: through renames and reshapes. */
  const resolve = (k: string): string => {
    const r = renamed(k);
    const v = viewOf.get(r);
    return v === undefined ? r : resolve(v);
  };

  declare(act(graph.input), shapes[graph.input], 'f32', true);
  declare(act(graph.target), shapes[graph.target], 'i32', true);
  declare('metrics', [LOSS_METRICS], 'f32', true);

  // ---- forward
  const statsChunk = new Map<number, number>();
  for (const s of stages) {
    const out = s.out;
    if (s.kind === 'flatten') {
      aliasOf.set(out, s.node.inputs[0]);
      declare(act(out), shapes[out]);
      viewOf.set(act(out), act(s.node.inputs[0]));
      continue;
    }
    const x = actKey(s.node.inputs[0]);
    const y = declare(act(out), shapes[out], 'f32', out === graph.logits);
    switch (s.kind) {
      case 'conv2d': {
        const a = s.node.attrs;
        // The following batchnorm's statistics partials, written by this conv's epilogue.
        let stats: string | null = null;
        if (s.statsFor !== null && !opts.evalStats) {
          const layout = conv2dStatsLayout(rt, shapes[s.node.inputs[0]], graph.params.get(a.weight)!.shape, a.stride, a.pad);
          stats = declare(`bn.partials:${s.statsFor}`, layout.shape);
          statsChunk.set(s.statsFor, layout.chunk);
        }
        calls.push({
          reads: [x],
          writes: stats ? [y, stats] : [y],
          emit: (t) =>
            conv2dForward(rt, {
              x: t(x),
              w: store.param(a.weight),
              bias: a.bias ? store.param(a.bias) : null,
              stride: a.stride,
              pad: a.pad,
              y: t(y),
              ...(stats ? { stats: t(stats) } : {}),
            }),
        });
        break;
      }
      case 'batchnorm': {
        const a = s.node.attrs;
        const c = a.channels;
        const mean = declare(`bn.mean:${s.node.id}`, [c]);
        const invStd = declare(`bn.invstd:${s.node.id}`, [c]);
        const res = s.residual === null ? null : actKey(s.residual);
        if (opts.evalStats) {
          calls.push({
            reads: [x, ...(res ? [res] : [])],
            writes: [y],
            emit: (t) =>
              batchnormEvalForward(rt, {
                x: t(x),
                gamma: store.param(a.weight),
                beta: store.param(a.bias),
                runningMean: store.stat(a.runningMean),
                runningVar: store.stat(a.runningVar),
                eps: a.eps,
                relu: s.relu,
                residual: res ? t(res) : null,
                y: t(y),
              }),
          });
          break;
        }
        const stats = s.statsFrom === null ? null : `bn.partials:${s.node.id}`;
        calls.push({
          reads: [x, ...(res ? [res] : []), ...(stats ? [stats] : [])],
          writes: [y, mean, invStd],
          emit: (t) =>
            batchnormTrainForward(rt, {
              x: t(x),
              gamma: store.param(a.weight),
              beta: store.param(a.bias),
              runningMean: opts.frozenStats ? null : store.stat(a.runningMean),
              runningVar: opts.frozenStats ? null : store.stat(a.runningVar),
              eps: a.eps,
              momentum: a.momentum,
              relu: s.relu,
              residual: res ? t(res) : null,
              y: t(y),
              mean: t(mean),
              invStd: t(invStd),
              ...(stats ? { stats: { partials: t(stats), chunk: statsChunk.get(s.node.id)! } } : {}),
            }),
        });
        break;
      }
      case 'relu':
        calls.push({ reads: [x], writes: [y], emit: (t) => reluForward(rt, { x: t(x), y: t(y) }) });
        break;
      case 'maxpool': {
        const a = s.node.attrs;
        const argmax = declare(`argmax:${out}`, shapes[out], 'i32');
        calls.push({
          reads: [x],
          writes: [y, argmax],
          emit: (t) => maxPoolForward(rt, { x: t(x), k: a.k, stride: a.stride, pad: a.pad, y: t(y), argmax: t(argmax) }),
        });
        break;
      }
      case 'global_avgpool':
        calls.push({ reads: [x], writes: [y], emit: (t) => globalAvgPoolForward(rt, { x: t(x), y: t(y) }) });
        break;
      case 'linear': {
        const a = s.node.attrs;
        calls.push({
          reads: [x],
          writes: [y],
          emit: (t) => linearForward(rt, { x: t(x), w: store.param(a.weight), b: a.bias ? store.param(a.bias) : null, y: t(y) }),
        });
        break;
      }
      case 'add':
        throw new UnsupportedError(`compile(): ${graph.model} ${s.node.name}: a residual add needs a batchnorm operand to fuse into`);
    }
  }

  // ---- loss
  const logits = actKey(graph.logits);
  const target = act(graph.target);
  const dlogits = opts.forwardOnly ? null : declare(grad(graph.logits), shapes[graph.logits]);
  let loss: LossOp | null = null;
  calls.push({
    reads: [logits, target],
    writes: dlogits ? [dlogits, 'metrics'] : ['metrics'],
    emit: async (t) =>
      (loss = await softmaxCrossEntropy(rt, {
        logits: t(logits),
        targets: t(target),
        dlogits: dlogits ? t(dlogits) : null,
        metrics: t('metrics'),
      })),
  });

  // ---- feedback and weight gradients
  const deltas = new Map<string, string>();
  if (!opts.forwardOnly) {
    const written = new Set<string>([resolve(grad(graph.logits))]);
    let tmpCount = 0;
    /** Where a producer should write value id's gradient, and the follow-up that accumulates it. */
    const contribute = (id: number, producer: (dst: string) => Call) => {
      const g = declare(gradKey(id), shapes[id]);
      if (!written.has(resolve(g))) {
        written.add(resolve(g));
        calls.push(producer(g));
        return;
      }
      const tmp = declare(`tmp:${tmpCount++}`, shapes[id]);
      calls.push(producer(tmp));
      calls.push({ reads: [tmp, g], writes: [g], emit: (t) => addInPlace(rt, { acc: t(g), a: t(tmp) }) });
    };
    const isData = (id: number) => root(id) === graph.input;
    for (const s of [...stages].reverse()) {
      if (s.kind === 'flatten') continue;
      const dy = gradKey(s.out);
      if (!written.has(resolve(dy))) continue; // nothing downstream needs it
      const inId = s.node.inputs[0];
      const x = actKey(inId);
      switch (s.kind) {
        case 'linear':
        case 'conv2d': {
          const a = s.node.attrs;
          if (opts.keepDeltas) deltas.set(a.weight, dy);
          if (s.kind === 'linear') {
            calls.push({
              reads: [dy, x],
              writes: [],
              emit: (t) => linearWeightGrad(rt, { dy: t(dy), x: t(x), dw: store.grad(a.weight), db: a.bias ? store.grad(a.bias) : null }),
            });
            if (!isData(inId))
              contribute(inId, (dst) => ({
                reads: [dy],
                writes: [dst],
                emit: (t) => {
                  const fb = feedbackOf(a.weight);
                  return linearFeedback(rt, { dy: t(dy), feedback: fb.tensor, signScale: fb.signScale, dx: t(dst) });
                },
              }));
          } else {
            const c = s.node.attrs;
            calls.push({
              reads: [dy, x],
              writes: [],
              emit: (t) =>
                conv2dWeightGrad(rt, {
                  dy: t(dy),
                  x: t(x),
                  stride: c.stride,
                  pad: c.pad,
                  dw: store.grad(c.weight),
                  db: c.bias ? store.grad(c.bias) : null,
                }),
            });
            if (!isData(inId)) {
              const fb = feedbackOf(c.weight);
              contribute(inId, (dst) => ({
                reads: [dy],
                writes: [dst],
                emit: (t) =>
                  conv2dFeedback(rt, {
                    dy: t(dy),
                    feedback: fb.tensor,
                    signScale: fb.signScale,
                    stride: c.stride,
                    pad: c.pad,
                    inputShape: shapes[inId],
                    dx: t(dst),
                  }),
              }));
            }
          }
          break;
        }
        case 'batchnorm': {
          const a = s.node.attrs;
          const mean = `bn.mean:${s.node.id}`;
          const invStd = `bn.invstd:${s.node.id}`;
          const y = act(s.out);
          if (s.residual !== null && !s.relu)
            throw new UnsupportedError(`compile(): ${s.node.name}: a fused residual add needs a ReLU after it`);
          const res = s.residual;
          // The residual's gradient and the input's come out of one launcher call.
          const dxKey = declare(`bn.dx:${s.node.id}`, shapes[inId]);
          const dresKey = res === null ? null : declare(`bn.dres:${s.node.id}`, shapes[res]);
          calls.push({
            reads: [dy, x, mean, invStd, ...(s.relu ? [y] : [])],
            writes: dresKey ? [dxKey, dresKey] : [dxKey],
            emit: (t) =>
              batchnormBackward(rt, {
                dy: t(dy),
                x: t(x),
                gamma: store.param(a.weight),
                mean: t(mean),
                invStd: t(invStd),
                y: s.relu ? t(y) : null,
                residualGrad: res !== null,
                dx: t(dxKey),
                dgamma: store.grad(a.weight),
                dbeta: store.grad(a.bias),
                ...(dresKey ? { dresidual: t(dresKey) } : {}),
              }),
          });
          forward(inId, dxKey);
          if (res !== null && dresKey && !isData(res)) forward(res, dresKey);
          break;
        }
        case 'relu': {
          const y = act(s.out);
          contribute(inId, (dst) => ({ reads: [dy, y], writes: [dst], emit: (t) => reluBackward(rt, { dy: t(dy), y: t(y), dx: t(dst) }) }));
          break;
        }
        case 'maxpool': {
          const a = s.node.attrs;
          const argmax = `argmax:${s.out}`;
          if (!isData(inId)) {
            contribute(inId, (dst) => ({
              reads: [dy, argmax],
              writes: [dst],
              emit: (t) => maxPoolBackward(rt, { dy: t(dy), argmax: t(argmax), k: a.k, stride: a.stride, pad: a.pad, dx: t(dst) }),
            }));
          }
          break;
        }
        case 'global_avgpool':
          if (!isData(inId))
            contribute(inId, (dst) => ({ reads: [dy], writes: [dst], emit: (t) => globalAvgPoolBackward(rt, { dy: t(dy), dx: t(dst) }) }));
          break;
      }
    }
    /** A gradient computed into `src` becomes (or is added to) value id's gradient. */
    function forward(id: number, src: string) {
      if (isData(id)) return;
      const g = declare(gradKey(id), shapes[id]);
      if (!written.has(resolve(g))) {
        renames.set(resolve(g), src);
        written.add(resolve(g));
        return;
      }
      calls.push({ reads: [src, renamed(g)], writes: [renamed(g)], emit: (t) => addInPlace(rt, { acc: t(renamed(g)), a: t(src) }) });
    }
  }
  const renamedDeltas = new Map<string, string>();
  for (const [w, k] of deltas) renamedDeltas.set(w, renamed(k));
  const keep = new Set([...renamedDeltas.values()].map(resolve));

  // ---- memory plan over the schedule
  const lives = new Map<string, { first: number; last: number }>();
  calls.forEach((c, i) => {
    for (const raw of [...c.reads, ...c.writes]) {
      const k = resolve(raw);
      const l = lives.get(k);
      if (l) l.last = i;
      else lives.set(k, { first: i, last: i });
    }
  });
  const lifetimes: Lifetime[] = [];
  let unplannedBytes = 0;
  for (const [k, l] of lives) {
    const d = decls.get(k)!;
    if (d.persistent || keep.has(k)) continue;
    const bytes = Math.ceil((d.shape.reduce((a, b) => a * b, 1) * 4) / 256) * 256;
    unplannedBytes += bytes;
    lifetimes.push({ id: k, bytes, first: l.first, last: l.last });
  }
  const plan = planMemory(lifetimes);
  const slots = plan.slotBytes.map((b, i) => rt.empty([Math.max(4, b / 4)], 'f32', `slot${i}`));
  const tensors = new Map<string, Tensor>();
  const tensor = (raw: string): Tensor => {
    const k = renamed(raw);
    let t = tensors.get(k);
    if (t) return t;
    const d = decls.get(k);
    if (!d) throw new Error(`compile(): internal: undeclared tensor ${k}`);
    const base = viewOf.get(k);
    if (base !== undefined) {
      t = rt.view(tensor(base), 0, d.shape, k, d.dtype);
      tensors.set(k, t);
      return t;
    }
    const slot = plan.slotOf.get(k);
    t = slot === undefined ? rt.empty(d.shape, d.dtype, k) : rt.view(slots[slot], 0, d.shape, k, d.dtype);
    tensors.set(k, t);
    return t;
  };
  const dispatches: Dispatch[] = [];
  for (const c of calls) {
    const ops = await c.emit(tensor);
    for (const op of Array.isArray(ops) ? ops : [ops]) dispatches.push(...op.dispatches);
  }
  const deltaTensors = new Map<string, Tensor>();
  for (const [w, k] of renamedDeltas) deltaTensors.set(w, tensor(k));
  return {
    input: tensor(act(graph.input)),
    target: tensor(act(graph.target)),
    logits: tensor(logits),
    metrics: tensor('metrics'),
    loss: loss!,
    deltas: deltaTensors,
    dispatches,
    shapes,
    memory: { activationBytes: plan.totalBytes, activationLowerBound: plan.lowerBoundBytes, unplannedBytes },
  };
}
