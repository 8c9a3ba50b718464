// Linear-layer products at benchmark sizes: square 256..2048 and ResNet-18's
// fc (batch 256 × 512 → 1000), each as forward, feedback and weight gradient.

import type { Runtime } from '../../src/gpu/runtime.ts';
import { linearFeedback, linearForward, linearWeightGrad } from '../../src/kernels/linear.ts';
import type { Op } from '../../src/kernels/op.ts';
import type { KernelRecord } from './schema.ts';
import { timeGpu } from './timing.ts';

/** [M, K, N]: y[M,N] = x[M,K]·Wᵀ with W N×K. */
export const MATMUL_SHAPES: Record<string, [number, number, number]> = {
  'square 256': [256, 256, 256],
  'square 512': [512, 512, 512],
  'square 1024': [1024, 1024, 1024],
  'square 2048': [2048, 2048, 2048],
  'resnet18 fc (256x512->1000)': [256, 512, 1000],
};

export type LinearKind = 'forward' | 'feedback' | 'weight_grad';

export async function benchLinear(
  rt: Runtime,
  label: string,
  [M, K, N]: [number, number, number],
  kind: LinearKind,
): Promise<KernelRecord> {
  const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
  const x = rt.upload(fill(M * K), [M, K]);
  const w = rt.upload(fill(N * K), [N, K]);
  const dy = rt.upload(fill(M * N), [M, N]);
  let op: Op;
  if (kind === 'forward') op = await linearForward(rt, { x, w });
  else if (kind === 'feedback') op = await linearFeedback(rt, { dy, feedback: w });
  else op = await linearWeightGrad(rt, { dy, x, db: null });
  const program = rt.record(op.dispatches);
  const flops = 2 * M * N * K;
  // Bytes a perfect kernel must move: both operands in, the result out.
  const bytes = 4 * (kind === 'forward' ? M * K + N * K + M * N : kind === 'feedback' ? M * N + N * K + M * K : M * N + M * K + N * K);
  const ms = await timeGpu(rt, () => program.run(), { minReps: flops > 4e9 ? 1 : 2 });
  program.dispose();
  for (const t of [x, w, dy, ...Object.values(op.out)]) t.release();
  return { name: `linear_${kind}`, shape: `${label} M=${M} K=${K} N=${N}`, gflops: flops / ms / 1e6, gbps: bytes / ms / 1e6, ms };
}
