// What a kernel launcher returns: the dispatches it recorded (to run now, or
// to splice into a step program) and the tensors it wrote.

import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ShapeError } from '../gpu/errors.ts';

export interface Op<Out extends Record<string, Tensor> = Record<string, Tensor>> {
  readonly dispatches: readonly Dispatch[];
  readonly out: Out;
}

/** Runs an op's dispatches now (tests, one-off work). */
export function runOp<O extends Op>(rt: Runtime, op: O): O {
  rt.run(op.dispatches);
  return op;
}

export function expectShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`${op}(): ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
}

export function expectRank(op: string, name: string, t: Tensor, rank: number): void {
  if (t.shape.length !== rank) {
    throw new ShapeError(`${op}(): ${name} has shape [${t.shape.join(', ')}], expected rank ${rank}`);
  }
}

export function expectDType(op: string, name: string, t: Tensor, dtype: Tensor['dtype']): void {
  if (t.dtype !== dtype) throw new ShapeError(`${op}(): ${name} is ${t.dtype}, expected ${dtype}`);
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/** A sign-symmetry scale (B = sign(W)·s) must be a finite number, or null for a stored B. */
export function checkSignScale(op: string, s: number | null): void {
  if (s !== null && !Number.isFinite(s)) throw new ShapeError(`${op}(): signScale=${s} must be finite`);
}

/** A blend into a product's output: out ← alpha·(the product) + beta·out. */
export interface Accumulate {
  alpha: number;
  beta: number;
}

/** An accumulating weight gradient blends into a given dw and computes no db. */
export function checkAccumulate(op: string, a: Accumulate, dw: Tensor | undefined, db: Tensor | null | undefined): void {
  if (!Number.isFinite(a.alpha) || !Number.isFinite(a.beta))
    throw new ShapeError(`${op}(): accumulate alpha=${a.alpha}, beta=${a.beta} must be finite`);
  if (!dw) throw new ShapeError(`${op}(): accumulate blends into dw: pass dw`);
  if (db !== null) throw new ShapeError(`${op}(): accumulate blends dw only: pass db: null`);
}
