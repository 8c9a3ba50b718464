// The values a compiled pass reads and writes: activations, their gradients,
// saved batchnorm statistics, pooling argmaxes, scratch gradients. Every value
// id is made by `valueId` and nowhere else, so two passes that mean the same
// value name it the same way. A value's bytes come from its dtype and shape
// (f16 storage is on the roadmap; nothing here assumes 4 bytes).

import { BYTES_PER_ELEMENT, numel, type DType } from '../gpu/tensor.ts';

/** What a value is; the number beside it is the graph node it belongs to. */
export type ValueKind =
  /** A node's output. */
  | 'act'
  /** The gradient of a node's output. */
  | 'grad'
  /** A batchnorm's batch mean and 1/√(var + eps), saved for its backward. */
  | 'bn.mean'
  | 'bn.invstd'
  /** Per-tile (mean, M2) partials of a batchnorm's input, written by the conv before it. */
  | 'bn.partials'
  /** A batchnorm backward's input and residual gradients when they cannot be written in place. */
  | 'bn.dx'
  | 'bn.dres'
  /** A max pool's winning input index per output (i32). */
  | 'argmax'
  /** A gradient contribution waiting to be added to one already written (numbered in order). */
  | 'tmp'
  /** The loss launcher's LOSS_METRICS counters (one per pass). */
  | 'metrics';

/** A value's name in a schedule: `${kind}:${n}`, or the kind alone for a value of which a pass has one. */
export type ValueId = string & { readonly __value: unique symbol };

/** The one key function: every value id in a schedule comes from here. */
export function valueId(kind: ValueKind, n?: number): ValueId {
  return (n === undefined ? kind : `${kind}:${n}`) as ValueId;
}

export interface ValueDecl {
  readonly id: ValueId;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Lives for the whole pass in a buffer of its own (inputs, logits, metrics): never planned into a slot. */
  readonly persistent: boolean;
  /** A reshape (flatten): this value is `viewOf`'s buffer seen with another shape. */
  readonly viewOf: ValueId | null;
}

/** Bytes of a value's elements: its dtype's size (f16: 2, f32/i32/u32: 4) times its element count. */
export function valueBytes(shape: readonly number[], dtype: DType): number {
  return numel(shape) * BYTES_PER_ELEMENT[dtype];
}
