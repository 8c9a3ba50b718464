// A schedule: what a compiled pass does, as data. An ordered list of launcher
// calls, each naming the values it reads and writes (ids from values.ts) and
// the graph attributes its launcher needs; parameters are named, not bound.
// lower.ts makes one, the memory plan reads its lifetimes, materialise.ts
// gives its values buffers and emit.ts turns each call into dispatches, in
// order. Printed, a schedule reads as the step does.

import type { BatchnormAttrs, Conv2dAttrs, LinearAttrs, MaxpoolAttrs } from './ir.ts';
import type { ValueDecl, ValueId } from './values.ts';

/** Where in the step a call sits; the rule and optimizer updates come after these (step-program.ts). */
export type Phase = 'forward' | 'loss' | 'feedback' | 'weight-grad';

/** One launcher call, by what it computes. Value fields are ids; attrs are the graph node's. */
export type CallOp =
  | { op: 'conv2d.forward'; x: ValueId; y: ValueId; stats: ValueId | null; attrs: Conv2dAttrs }
  | {
      op: 'batchnorm.forward';
      x: ValueId;
      residual: ValueId | null;
      /** The statistics partials from the conv before it, and their column chunk. */
      stats: { partials: ValueId; chunk: number } | null;
      y: ValueId;
      mean: ValueId;
      invStd: ValueId;
      relu: boolean;
      /** Leave the running statistics alone. */
      frozenStats: boolean;
      attrs: BatchnormAttrs;
    }
  | { op: 'batchnorm.eval'; x: ValueId; residual: ValueId | null; y: ValueId; relu: boolean; attrs: BatchnormAttrs }
  | { op: 'relu.forward'; x: ValueId; y: ValueId }
  | { op: 'maxpool.forward'; x: ValueId; y: ValueId; argmax: ValueId; attrs: MaxpoolAttrs }
  | { op: 'avgpool.forward'; x: ValueId; y: ValueId }
  | { op: 'linear.forward'; x: ValueId; y: ValueId; attrs: LinearAttrs }
  | { op: 'loss'; logits: ValueId; target: ValueId; dlogits: ValueId | null; metrics: ValueId }
  | { op: 'linear.weight-grad'; dy: ValueId; x: ValueId; attrs: LinearAttrs }
  | { op: 'linear.feedback'; dy: ValueId; dx: ValueId; attrs: LinearAttrs }
  | { op: 'conv2d.weight-grad'; dy: ValueId; x: ValueId; attrs: Conv2dAttrs }
  | { op: 'conv2d.feedback'; dy: ValueId; dx: ValueId; inputShape: readonly number[]; attrs: Conv2dAttrs }
  | {
      op: 'batchnorm.backward';
      dy: ValueId;
      x: ValueId;
      mean: ValueId;
      invStd: ValueId;
      /** The fused ReLU's output (its mask), or null without a ReLU. */
      y: ValueId | null;
      dx: ValueId;
      /** The fused residual's gradient, or null without a residual. */
      dresidual: ValueId | null;
      attrs: BatchnormAttrs;
    }
  | { op: 'relu.backward'; dy: ValueId; y: ValueId; dx: ValueId }
  | { op: 'maxpool.backward'; dy: ValueId; argmax: ValueId; dx: ValueId; attrs: MaxpoolAttrs }
  | { op: 'avgpool.backward'; dy: ValueId; dx: ValueId }
  | { op: 'add.accumulate'; acc: ValueId; a: ValueId };

export type CallKind = CallOp['op'];

export type Call = CallOp & {
  readonly phase: Phase;
  /** The graph node (the fused stage's first) the call lowers; '' for the loss. */
  readonly node: string;
  /** Values read, then values written, in the order the memory plan meets them. */
  readonly reads: readonly ValueId[];
  readonly writes: readonly ValueId[];
};

export interface Schedule {
  readonly model: string;
  readonly calls: readonly Call[];
  /** Every value a call or an output names, and the values they are views of. */
  readonly values: ReadonlyMap<ValueId, ValueDecl>;
  readonly input: ValueId;
  readonly target: ValueId;
  readonly logits: ValueId;
  readonly metrics: ValueId;
  /** Weight name → δ at that layer's output (kept alive after the pass; with keepDeltas). */
  readonly deltas: ReadonlyMap<string, ValueId>;
}

/** The value whose buffer `id` uses: itself, or the value it is a reshape of. */
export function bufferOf(schedule: Schedule, id: ValueId): ValueId {
  const d = schedule.values.get(id);
  if (!d) throw new Error(`schedule: internal: undeclared value ${id}`);
  return d.viewOf === null ? id : bufferOf(schedule, d.viewOf);
}

/** The parameter a call reads (forward, feedback) or writes the gradient of, for printing. */
function paramNote(c: Call): string {
  switch (c.op) {
    case 'conv2d.forward':
    case 'linear.forward':
      return c.attrs.weight;
    case 'conv2d.feedback':
    case 'linear.feedback':
      return `B(${c.attrs.weight})`;
    case 'conv2d.weight-grad':
    case 'linear.weight-grad':
      return `∇${c.attrs.weight}`;
    case 'batchnorm.backward':
      return `∇${c.attrs.weight} ∇${c.attrs.bias}`;
    default:
      return '';
  }
}

/**
 * The schedule as text, one call a line: phase, op, node, values read → values
 * written, and the parameter it uses. `after` appends the step's later work
 * (the optimizer and the rule's kernels, which step-program.ts adds) by label.
 */
export function formatSchedule(schedule: Schedule, after: readonly { phase: string; label: string }[] = []): string {
  const rows = schedule.calls.map((c) => [c.phase, c.op, c.node, `${c.reads.join(' ')} → ${c.writes.join(' ')}`, paramNote(c)]);
  for (const a of after) rows.push([a.phase, a.label, '', '', '']);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i < 4 ? cell.padEnd(widths[i]) : cell))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
