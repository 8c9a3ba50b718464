// Every distinct conv of ResNet-18 and ResNet-50 (batch 8, 224² by default):
// forward, feedback and weight gradient, and BN's training forward and
// backward on the same activations; tfjs-backend-webgpu's conv2d,
// conv2dBackpropInput and conv2dBackpropFilter on the same shapes, same
// device, same run.

import type { Runtime } from '../../src/gpu/runtime.ts';
import { inferShapes } from '../../src/graph/shapes.ts';
import { buildModel } from '../../src/graph/models/index.ts';
import { batchnormBackward, batchnormTrainForward } from '../../src/kernels/batchnorm.ts';
import { conv2dFeedback, conv2dForward, conv2dWeightGrad } from '../../src/kernels/conv2d.ts';
import type { Op } from '../../src/kernels/op.ts';
import { tfjsConv2dBackpropFilterGflops, tfjsConv2dBackpropInputGflops, tfjsConv2dGflops, type ConvShape } from '../peers/tfjs.ts';
import type { KernelRecord, PeerRecord } from './schema.ts';
import { timeGpu } from './timing.ts';

export interface ConvCase extends ConvShape {
  /** Which models use it, e.g. 'resnet18 layer2.0.conv1'. */
  where: string;
}

/** The distinct conv shapes of the given models at this batch and image size. */
export function distinctConvs(models: string[], batch: number, image: number): ConvCase[] {
  const seen = new Map<string, ConvCase>();
  for (const model of models) {
    const g = buildModel(model, { numClasses: 1000, inChannels: 3 });
    const shapes = inferShapes(g, batch, [image, image]);
    for (const node of g.nodes) {
      if (node.kind !== 'conv2d') continue;
      const [n, c, h, w] = shapes[node.inputs[0]];
      const a = node.attrs;
      const s: ConvShape = { n, c, h, w, o: a.outChannels, kh: a.kernel[0], kw: a.kernel[1], stride: a.stride, pad: a.pad };
      const key = JSON.stringify(s);
      if (!seen.has(key)) seen.set(key, { ...s, where: `${model} ${node.name}` });
    }
  }
  return [...seen.values()];
}

export const convLabel = (s: ConvShape) => `n${s.n} c${s.c} ${s.h}x${s.w} o${s.o} k${s.kh} s${s.stride} p${s.pad}`;

const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.61) * 0.5);

export type ConvKind = 'forward' | 'feedback' | 'weight_grad';

export async function benchConv(rt: Runtime, s: ConvCase, kind: ConvKind): Promise<KernelRecord> {
  const oh = Math.floor((s.h + 2 * s.pad - s.kh) / s.stride) + 1;
  const ow = Math.floor((s.w + 2 * s.pad - s.kw) / s.stride) + 1;
  const x = rt.upload(fill(s.n * s.c * s.h * s.w), [s.n, s.c, s.h, s.w]);
  const w = rt.upload(fill(s.o * s.c * s.kh * s.kw), [s.o, s.c, s.kh, s.kw]);
  const dy = rt.upload(fill(s.n * s.o * oh * ow), [s.n, s.o, oh, ow]);
  const { stride, pad } = s;
  let op: Op;
  if (kind === 'forward') op = await conv2dForward(rt, { x, w, stride, pad });
  else if (kind === 'feedback') op = await conv2dFeedback(rt, { dy, feedback: w, stride, pad, inputShape: x.shape });
  else op = await conv2dWeightGrad(rt, { dy, x, stride, pad, kernelSize: [s.kh, s.kw], db: null });
  const program = rt.record(op.dispatches);
  const flops = 2 * s.n * oh * ow * s.o * s.c * s.kh * s.kw;
  const bytes = 4 * (x.size + w.size + dy.size);
  const ms = await timeGpu(rt, () => program.run(), { minReps: 1, minMs: 200, maxReps: 20 });
  program.dispose();
  for (const t of [x, w, dy, ...Object.values(op.out)]) t.release();
  return { name: `conv2d_${kind}`, shape: `${convLabel(s)} (${s.where})`, gflops: flops / ms / 1e6, gbps: bytes / ms / 1e6, ms };
}

/** BN training forward (stats + apply + ReLU) and backward on an N×C×H×W activation. */
export async function benchBatchnorm(
  rt: Runtime,
  shape: [number, number, number, number],
  kind: 'forward' | 'backward',
): Promise<KernelRecord> {
  const [n, c, h, w] = shape;
  const x = rt.upload(fill(n * c * h * w), shape);
  const gamma = rt.upload(fill(c), [c]);
  const beta = rt.upload(fill(c), [c]);
  const fwd = await batchnormTrainForward(rt, { x, gamma, beta, relu: true });
  let op: Op = fwd;
  if (kind === 'backward') {
    rt.run(fwd.dispatches);
    op = await batchnormBackward(rt, { dy: x, x, gamma, mean: fwd.out.mean, invStd: fwd.out.invStd, y: fwd.out.y });
  }
  const program = rt.record(op.dispatches);
  const ms = await timeGpu(rt, () => program.run(), { minReps: 2, minMs: 200, maxReps: 30 });
  program.dispose();
  // Bytes a fused kernel must move: forward reads x and writes y; backward reads dy, x, y and writes dx.
  const bytes = 4 * n * c * h * w * (kind === 'forward' ? 2 : 4);
  return { name: `batchnorm_${kind}`, shape: `n${n} c${c} ${h}x${w} (+relu)`, gflops: 0, gbps: bytes / ms / 1e6, ms };
}

export async function tfjsConvPeers(rt: Runtime, s: ConvCase): Promise<PeerRecord[]> {
  const opts = { reps: 1, warmup: 1 };
  const { n, c, h, w, o, kh, kw, stride, pad } = s;
  const shape: ConvShape = { n, c, h, w, o, kh, kw, stride, pad };
  const out: PeerRecord[] = [];
  for (const [f, what] of [
    [tfjsConv2dGflops, 'conv2d'],
    [tfjsConv2dBackpropInputGflops, 'conv2dBackpropInput'],
    [tfjsConv2dBackpropFilterGflops, 'conv2dBackpropFilter'],
  ] as const) {
    const r = await f(rt, shape, opts);
    out.push({ ...r, what: `${what} ${convLabel(s)} (${s.where})` });
  }
  return out;
}
