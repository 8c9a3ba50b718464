// Shared by the GPU tests: one runtime per process, and a closeness check that
// prints the first mismatches as a table (index / reference / GPU).

import { createNodeRuntime } from '../src/gpu/node-runtime.ts';
import type { Runtime } from '../src/gpu/runtime.ts';

let runtime: Promise<Runtime> | null = null;

/** The process-wide runtime on the default adapter (lavapipe in CI). */
export function gpu(): Promise<Runtime> {
  runtime ??= createNodeRuntime();
  return runtime;
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Throws unless |got − want| ≤ atol + rtol·|want| everywhere. */
export function assertClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length}, expected ${want.length}`);
  const bad: number[] = [];
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const lim = tol.atol + tol.rtol * Math.abs(want[i]);
    if (!(err <= lim)) {
      bad.push(i);
      worst = Math.max(worst, err / lim);
    }
  }
  if (bad.length === 0) return;
  const rows = bad
    .slice(0, 8)
    .map((i) => `  ${String(i).padStart(8)}  ${want[i].toPrecision(8).padStart(16)}  ${Number(got[i]).toPrecision(8).padStart(16)}`);
  throw new Error(
    `${what}: ${bad.length}/${want.length} values outside atol=${tol.atol} rtol=${tol.rtol} (worst ${worst.toFixed(1)}× the limit)\n` +
      `     index         reference               GPU\n${rows.join('\n')}`,
  );
}

/** Expects `fn` to throw an error whose message matches `pattern`. */
export async function assertThrows(fn: () => unknown, pattern: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!pattern.test((e as Error).message)) throw new Error(`threw "${(e as Error).message}", expected ${pattern}`, { cause: e });
    return;
  }
  throw new Error(`did not throw; expected ${pattern}`);
}

export const f32 = (a: ArrayLike<number>): Float32Array => Float32Array.from(a);
