// Launchers for shaders/philox.wgsl: seedable counter-based normals (WM's
// mirror noise, B's initialisation) and raw Philox4x32-10 bits.
//
// A generator is plain data, PhiloxState = (seed, stream, offset): element
// `offset + j` of `stream` under `seed` is the normal the float64 reference
// (kernels-test/reference/philox.ts philoxNormal) gives for that index. Draw
// n values, then advancePhilox(state, n) for the next draw; saving the three
// numbers saves the generator.

import { ShapeError } from '../gpu/errors.ts';
import type { Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ceilDiv, expectDType, type Op } from './op.ts';

const WG = 256;
const MAX_GROUPS = 1024;
/** philoxNormal's index space: the counter floor(index/4) is one u32. */
const MAX_INDEX = 2 ** 34;

export interface PhiloxState {
  seed: number;
  stream: number;
  /** Next element index; a multiple of 4, so each Philox call feeds one draw. */
  offset: number;
}

function checkU32(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ShapeError(`${op}(): ${name}=${v} must be an integer in [0, 2^32)`);
}

function checkState(op: string, s: PhiloxState, count: number): void {
  checkU32(op, 'seed', s.seed);
  checkU32(op, 'stream', s.stream);
  if (!Number.isInteger(s.offset) || s.offset < 0 || s.offset % 4 !== 0) {
    throw new ShapeError(`${op}(): offset=${s.offset} must be a non-negative multiple of 4`);
  }
  if (s.offset + count > MAX_INDEX)
    throw new ShapeError(`${op}(): offset=${s.offset} + ${count} values passes the generator's 2^34 indices`);
}

/** The state after drawing `count` values from `s` (offset rounded up to a multiple of 4). */
export function advancePhilox(s: PhiloxState, count: number): PhiloxState {
  return { ...s, offset: s.offset + ceilDiv(count, 4) * 4 };
}

export interface RandomNormalArgs extends PhiloxState {
  /** Filled with scale·N(0, 1); any shape. */
  out: Tensor;
  /** σ; default 1. */
  scale?: number;
}

export interface RandomOp extends Op<{ out: Tensor }> {
  /** Points the recorded dispatch at another draw (e.g. advancePhilox each mirror step). */
  setState(s: PhiloxState, scale?: number): void;
}

/** out[j] = scale·philoxNormal(seed, stream, offset + j). */
export async function randomNormal(rt: Runtime, { out, seed, stream, offset, scale = 1 }: RandomNormalArgs): Promise<RandomOp> {
  const op = 'randomNormal';
  expectDType(op, 'out', out, 'f32');
  if (!Number.isFinite(scale)) throw new ShapeError(`${op}(): scale=${scale} must be finite`);
  checkState(op, { seed, stream, offset }, out.size);
  let sigma = scale;
  const uniforms = (s: PhiloxState) => ({ c0: s.offset / 4, c1: s.stream, c2: 0, c3: 0, k0: s.seed, k1: 0, count: out.size, scale: sigma });
  const kernel = await rt.kernel('philox', { WG }, 'normal');
  const d = rt.dispatch(kernel, { params: uniforms({ seed, stream, offset }), out }, [Math.min(ceilDiv(out.size, 4 * WG), MAX_GROUPS)]);
  return {
    dispatches: [d],
    out: { out },
    setState(s: PhiloxState, newScale = sigma) {
      checkState(op, s, out.size);
      if (!Number.isFinite(newScale)) throw new ShapeError(`${op}(): scale=${newScale} must be finite`);
      sigma = newScale;
      d.setUniform('params', uniforms(s));
    },
  };
}

export interface PhiloxBitsArgs {
  counter: readonly [number, number, number, number];
  key: readonly [number, number];
  /** Philox calls: call i uses counter (counter[0] + i, counter[1..3]). */
  calls: number;
  /** u32 [calls·4]; allocated if not given. */
  out?: Tensor;
}

/** Raw philox4x32-10 outputs, four u32 per call (known-answer tests, bit streams). */
export async function philoxBits(rt: Runtime, { counter, key, calls, out }: PhiloxBitsArgs): Promise<Op<{ out: Tensor }>> {
  const op = 'philoxBits';
  counter.forEach((v, i) => checkU32(op, `counter[${i}]`, v));
  key.forEach((v, i) => checkU32(op, `key[${i}]`, v));
  if (!Number.isInteger(calls) || calls < 1) throw new ShapeError(`${op}(): calls=${calls} must be a positive integer`);
  if (counter[0] + calls > 2 ** 32) throw new ShapeError(`${op}(): counter[0]=${counter[0]} + ${calls} calls wraps around 2^32`);
  out ??= rt.empty([calls * 4], 'u32', 'philox.bits');
  expectDType(op, 'out', out, 'u32');
  if (out.size !== calls * 4) throw new ShapeError(`${op}(): out has ${out.size} elements, expected calls·4 = ${calls * 4}`);
  const kernel = await rt.kernel('philox', { WG }, 'raw_bits');
  const params = { c0: counter[0], c1: counter[1], c2: counter[2], c3: counter[3], k0: key[0], k1: key[1], count: calls, scale: 0 };
  const d = rt.dispatch(kernel, { params, bits: out }, [Math.min(ceilDiv(calls, WG), MAX_GROUPS)]);
  return { dispatches: [d], out: { out } };
}
