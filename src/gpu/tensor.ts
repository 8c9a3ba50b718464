// A tensor is a shape, a dtype and a GPU buffer lent by the pool. The dtype is
// a parameter from the start (f16 storage comes later, see ROADMAP.md).

import { ShapeError } from './errors.ts';

export type DType = 'f32' | 'f16' | 'i32' | 'u32';

export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, f16: 2, i32: 4, u32: 4 };

export type HostArray = Float32Array | Int32Array | Uint32Array | Uint16Array;

export interface TensorOwner {
  release(t: Tensor): void;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(op: string, shape: readonly number[]): void {
  for (const [i, d] of shape.entries()) {
    if (!Number.isInteger(d) || d < 1) {
      throw new ShapeError(`${op}: shape[${i}]=${d} must be a positive integer (shape [${shape.join(', ')}])`);
    }
  }
}

export class Tensor {
  readonly size: number;
  readonly byteLength: number;
  private released = false;

  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly buffer: GPUBuffer,
    private readonly owner: TensorOwner | null,
    readonly label = '',
    /** Where the tensor starts inside `buffer` (views into an arena). */
    readonly byteOffset = 0,
  ) {
    this.size = numel(shape);
    this.byteLength = this.size * BYTES_PER_ELEMENT[dtype];
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Gives the buffer back to the pool; it is reused only after the work queued so far is submitted. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner?.release(this);
  }

  toString(): string {
    return `${this.label || 'tensor'}[${this.shape.join('×')}] ${this.dtype}`;
  }
}
