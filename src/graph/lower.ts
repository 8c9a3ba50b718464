// Lowering: the fused stages of a graph become a schedule (schedule.ts) —
// forward, loss, then the backward walk over the stages in reverse — with no
// device and no buffers. Only the conv's statistics layout depends on the
// adapter, and the caller hands it in.
//
// The backward keeps the gradient bookkeeping. Every conv and linear layer
// reads its feedback operand for the data gradient (which tensor that is, is
// emit's business) and the true activations for the weight gradient. A value
// read by two stages (a block input: the main branch and the shortcut) gets
// the first gradient written in place and the second written aside and added
// to it. flatten is a reshape: its output and its gradient are views of its
// input's.

import { UnsupportedError } from '../gpu/errors.ts';
import type { DType } from '../gpu/tensor.ts';
import { LOSS_METRICS } from '../kernels/softmax_cross_entropy.ts';
import type { Stage } from './fusion.ts';
import type { Graph } from './ir.ts';
import type { Call, CallOp, Phase, Schedule } from './schedule.ts';
import type { Shapes } from './shapes.ts';
import { valueId, type ValueDecl, type ValueId } from './values.ts';

export interface PassFlags {
  /** Keep each weight layer's output gradient δ alive after the step (delta angles). */
  keepDeltas?: boolean;
  /** Stop after the forward pass and the loss (evaluation). */
  forwardOnly?: boolean;
  /** Leave BN running statistics alone (diagnostic passes). */
  frozenStats?: boolean;
  /** Evaluation: forward and loss only, BN normalising by its running statistics (implies forwardOnly). */
  evalStats?: boolean;
}

/** The shape of a conv epilogue's batchnorm partials and their column chunk (conv2dStatsLayout, bound to a runtime). */
export type StatsLayout = (
  xShape: readonly number[],
  wShape: readonly number[],
  stride: number,
  pad: number,
) => { chunk: number; shape: readonly number[] };

export interface LowerOptions extends PassFlags {
  statsLayout: StatsLayout;
}

/** Declared values and calls in order; the backward's gradient bookkeeping. */
class ScheduleBuilder {
  readonly decls = new Map<ValueId, ValueDecl>();
  readonly calls: Call[] = [];
  /** A conv's partials chunk, read by the batchnorm after it (by the partials' value id). */
  readonly statsChunk = new Map<ValueId, number>();
  /** Gradients (by the value whose buffer they use) that some call has written. */
  private readonly written = new Set<ValueId>();
  /** flatten outputs → their inputs. */
  private readonly aliasOf = new Map<number, number>();
  private tmpCount = 0;

  constructor(
    private readonly graph: Graph,
    private readonly shapes: Shapes,
  ) {}

  declare(id: ValueId, shape: readonly number[], dtype: DType = 'f32', persistent = false, viewOf: ValueId | null = null): ValueId {
    if (!this.decls.has(id)) this.decls.set(id, { id, shape, dtype, persistent, viewOf });
    return id;
  }

  push(phase: Phase, node: string, reads: ValueId[], writes: ValueId[], op: CallOp): void {
    this.calls.push({ ...op, phase, node, reads, writes });
  }

  act(id: number): ValueId {
    return valueId('act', id);
  }

  /** flatten's output: its input's buffer, reshaped. */
  alias(out: number, input: number): void {
    this.aliasOf.set(out, input);
    this.declare(valueId('act', out), this.shapes[out], 'f32', false, valueId('act', input));
  }

  /** Value `id`'s gradient, declared (as a view of its input's for a reshape). */
  grad(id: number): ValueId {
    const src = this.aliasOf.get(id);
    return this.declare(valueId('grad', id), this.shapes[id], 'f32', false, src === undefined ? null : this.grad(src));
  }

  private buffer(id: ValueId): ValueId {
    const v = this.decls.get(id)!.viewOf;
    return v === null ? id : this.buffer(v);
  }

  isWritten(g: ValueId): boolean {
    return this.written.has(this.buffer(g));
  }

  markWritten(g: ValueId): void {
    this.written.add(this.buffer(g));
  }

  /** A gradient of the data input is never needed. */
  isData(id: number): boolean {
    const src = this.aliasOf.get(id);
    return src === undefined ? id === this.graph.input : this.isData(src);
  }

  /**
   * Where the next gradient contribution to value `id` goes: its gradient when
   * none is written yet, else `aside` (a scratch value), to be added by `settle`.
   */
  destination(id: number, aside: () => ValueId): { dst: ValueId; settle: (node: string) => void } {
    const g = this.grad(id);
    if (!this.isWritten(g)) {
      this.markWritten(g);
      return { dst: g, settle: () => {} };
    }
    const dst = aside();
    return { dst, settle: (node) => this.push('feedback', node, [dst, g], [g], { op: 'add.accumulate', acc: g, a: dst }) };
  }

  /** A producer writes a contribution to value `id`'s gradient: in place if it is the first, else into a numbered scratch value then added. */
  contribute(id: number, node: string, produce: (dst: ValueId) => void): void {
    const { dst, settle } = this.destination(id, () => this.declare(valueId('tmp', this.tmpCount++), this.shapes[id]));
    produce(dst);
    settle(node);
  }
}

/** The pass as a schedule: forward, loss, and (unless forwardOnly or evalStats) feedback and weight gradients. */
export function lower(graph: Graph, shapes: Shapes, stages: readonly Stage[], options: LowerOptions): Schedule {
  const opts = options.evalStats ? { ...options, forwardOnly: true, keepDeltas: false } : options;
  const b = new ScheduleBuilder(graph, shapes);
  const dtypeOf = (id: number): DType => {
    const n = graph.nodes[id];
    return n.kind === 'input' ? n.attrs.dtype : 'f32';
  };
  const input = b.declare(b.act(graph.input), shapes[graph.input], dtypeOf(graph.input), true);
  const target = b.declare(b.act(graph.target), shapes[graph.target], dtypeOf(graph.target), true);
  const metrics = b.declare(valueId('metrics'), [LOSS_METRICS], 'f32', true);

  for (const s of stages) lowerForward(b, graph, shapes, s, opts);

  const logits = b.act(graph.logits);
  const dlogits = opts.forwardOnly ? null : b.grad(graph.logits);
  const lossNode = graph.nodes.find((n) => n.kind === 'softmax_cross_entropy')?.name ?? 'loss';
  b.push('loss', lossNode, [logits, target], dlogits ? [dlogits, metrics] : [metrics], { op: 'loss', logits, target, dlogits, metrics });

  const deltas = new Map<string, ValueId>();
  if (dlogits) {
    b.markWritten(dlogits);
    for (const s of [...stages].reverse()) lowerBackward(b, shapes, s, opts, deltas);
  }
  return {
    model: graph.model,
    calls: b.calls,
    values: referencedValues(b.decls, b.calls, [input, target, logits, metrics, ...deltas.values()]),
    input,
    target,
    logits,
    metrics,
    deltas,
  };
}

function lowerForward(b: ScheduleBuilder, graph: Graph, shapes: Shapes, s: Stage, opts: LowerOptions): void {
  const out = s.out;
  if (s.kind === 'flatten') return b.alias(out, s.node.inputs[0]);
  const x = b.act(s.node.inputs[0]);
  const y = b.declare(b.act(out), shapes[out], 'f32', out === graph.logits);
  const name = s.node.name;
  switch (s.kind) {
    case 'conv2d': {
      const a = s.node.attrs;
      // The following batchnorm's statistics partials, written by this conv's epilogue.
      let stats: ValueId | null = null;
      if (s.statsFor !== null && !opts.evalStats) {
        const layout = opts.statsLayout(shapes[s.node.inputs[0]], graph.params.get(a.weight)!.shape, a.stride, a.pad);
        stats = b.declare(valueId('bn.partials', s.statsFor), layout.shape);
        b.statsChunk.set(stats, layout.chunk);
      }
      return b.push('forward', name, [x], stats ? [y, stats] : [y], { op: 'conv2d.forward', x, y, stats, attrs: a });
    }
    case 'batchnorm': {
      const a = s.node.attrs;
      const res = s.residual === null ? null : b.act(s.residual);
      if (opts.evalStats) {
        return b.push('forward', name, res ? [x, res] : [x], [y], { op: 'batchnorm.eval', x, residual: res, y, relu: s.relu, attrs: a });
      }
      const mean = b.declare(valueId('bn.mean', s.node.id), [a.channels]);
      const invStd = b.declare(valueId('bn.invstd', s.node.id), [a.channels]);
      const partials = s.statsFrom === null ? null : valueId('bn.partials', s.node.id);
      const stats = partials === null ? null : { partials, chunk: b.statsChunk.get(partials)! };
      return b.push('forward', name, [x, ...(res ? [res] : []), ...(partials ? [partials] : [])], [y, mean, invStd], {
        op: 'batchnorm.forward',
        x,
        residual: res,
        stats,
        y,
        mean,
        invStd,
        relu: s.relu,
        frozenStats: opts.frozenStats ?? false,
        attrs: a,
      });
    }
    case 'relu':
      return b.push('forward', name, [x], [y], { op: 'relu.forward', x, y });
    case 'maxpool': {
      const argmax = b.declare(valueId('argmax', out), shapes[out], 'i32');
      return b.push('forward', name, [x], [y, argmax], { op: 'maxpool.forward', x, y, argmax, attrs: s.node.attrs });
    }
    case 'global_avgpool':
      return b.push('forward', name, [x], [y], { op: 'avgpool.forward', x, y });
    case 'linear':
      return b.push('forward', name, [x], [y], { op: 'linear.forward', x, y, attrs: s.node.attrs });
    case 'add':
      throw new UnsupportedError(`compile(): ${graph.model} ${s.node.name}: a residual add needs a batchnorm operand to fuse into`);
  }
}

function lowerBackward(b: ScheduleBuilder, shapes: Shapes, s: Stage, opts: LowerOptions, deltas: Map<string, ValueId>): void {
  if (s.kind === 'flatten' || s.kind === 'add') return;
  const dy = b.grad(s.out);
  if (!b.isWritten(dy)) return; // nothing downstream needs it
  const inId = s.node.inputs[0];
  const x = b.act(inId);
  const name = s.node.name;
  switch (s.kind) {
    case 'linear':
    case 'conv2d': {
      if (opts.keepDeltas) deltas.set(s.node.attrs.weight, dy);
      if (s.kind === 'linear') {
        const attrs = s.node.attrs;
        b.push('weight-grad', name, [dy, x], [], { op: 'linear.weight-grad', dy, x, attrs });
        if (!b.isData(inId))
          b.contribute(inId, name, (dx) => b.push('feedback', name, [dy], [dx], { op: 'linear.feedback', dy, dx, attrs }));
      } else {
        const attrs = s.node.attrs;
        b.push('weight-grad', name, [dy, x], [], { op: 'conv2d.weight-grad', dy, x, attrs });
        if (!b.isData(inId))
          b.contribute(inId, name, (dx) =>
            b.push('feedback', name, [dy], [dx], { op: 'conv2d.feedback', dy, dx, inputShape: shapes[inId], attrs }),
          );
      }
      return;
    }
    case 'batchnorm': {
      if (s.residual !== null && !s.relu) throw new UnsupportedError(`compile(): ${name}: a fused residual add needs a ReLU after it`);
      const res = s.residual;
      const mean = valueId('bn.mean', s.node.id);
      const invStd = valueId('bn.invstd', s.node.id);
      const y = s.relu ? b.act(s.out) : null;
      // One launcher call writes the input's gradient and the residual's; each
      // goes in place when it is the first, else aside and is added after.
      const dxAside = () => b.declare(valueId('bn.dx', s.node.id), shapes[inId]);
      const dx = b.isData(inId) ? { dst: dxAside(), settle: () => {} } : b.destination(inId, dxAside);
      let dres: { dst: ValueId; settle: (node: string) => void } | null = null;
      if (res !== null) {
        const dresAside = () => b.declare(valueId('bn.dres', s.node.id), shapes[res]);
        dres = b.isData(res) ? { dst: dresAside(), settle: () => {} } : b.destination(res, dresAside);
      }
      b.push('feedback', name, [dy, x, mean, invStd, ...(y ? [y] : [])], dres ? [dx.dst, dres.dst] : [dx.dst], {
        op: 'batchnorm.backward',
        dy,
        x,
        mean,
        invStd,
        y,
        dx: dx.dst,
        dresidual: dres?.dst ?? null,
        attrs: s.node.attrs,
      });
      dx.settle(name);
      dres?.settle(name);
      return;
    }
    case 'relu': {
      const y = b.act(s.out);
      return b.contribute(inId, name, (dx) => b.push('feedback', name, [dy, y], [dx], { op: 'relu.backward', dy, y, dx }));
    }
    case 'maxpool': {
      const argmax = valueId('argmax', s.out);
      const attrs = s.node.attrs;
      if (!b.isData(inId))
        b.contribute(inId, name, (dx) => b.push('feedback', name, [dy, argmax], [dx], { op: 'maxpool.backward', dy, argmax, dx, attrs }));
      return;
    }
    case 'global_avgpool':
      if (!b.isData(inId)) b.contribute(inId, name, (dx) => b.push('feedback', name, [dy], [dx], { op: 'avgpool.backward', dy, dx }));
      return;
  }
}

/** The declared values that calls and outputs name, with the values they are views of, in declaration order. */
function referencedValues(decls: ReadonlyMap<ValueId, ValueDecl>, calls: readonly Call[], outputs: readonly ValueId[]) {
  const named = new Set<ValueId>(outputs);
  for (const c of calls) for (const id of [...c.reads, ...c.writes]) named.add(id);
  for (const id of named) {
    const v = decls.get(id)?.viewOf;
    if (v) named.add(v);
  }
  const values = new Map<ValueId, ValueDecl>();
  for (const [id, d] of decls) if (named.has(id)) values.set(id, d);
  return values;
}
