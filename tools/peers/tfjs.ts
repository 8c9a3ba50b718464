// Peer benchmark: tfjs-backend-webgpu on the same GPUDevice as a nowt
// Runtime, in the same process, so both are timed on one adapter by one
// clock. tfjs runs in its native layouts (row-major matmul; NHWC activations,
// HWIO filters), which is what it is tuned for.
//
// Timing, the same for every peer and for nowt: warm up (compiles pipelines,
// uploads inputs), then wall-clock around R calls followed by a single wait
// for the queue (no readback). tfjs batches up to WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE
// dispatches per submit, as it does in normal use.
//
//   const rt = await createNodeRuntime();
//   console.log(await tfjsMatmulGflops(rt, 256, 256, 256));
//
// Usage under tsx on Node ≥ 20. Each function disposes every tensor it made.

import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { Runtime } from '../../src/gpu/runtime.ts';

export interface PeerResult {
  /** Which library ran it. */
  name: string;
  /** The operation and its shape, e.g. `matmul 256x256x256`. */
  what: string;
  gflops: number;
  /** Milliseconds per call. */
  ms: number;
}

export interface TimingOptions {
  /** Timed calls (default 10). */
  reps?: number;
  /** Untimed calls before, each waited for (default 2). */
  warmup?: number;
}

export interface ConvShape {
  n: number;
  c: number;
  h: number;
  w: number;
  /** Output channels. */
  o: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
}

const NAME = 'tfjs-webgpu';
const backends = new WeakMap<Runtime, { name: string; backend: WebGPUBackend }>();
let registered = 0;

/**
 * Makes tfjs's current backend a WebGPUBackend on `rt`'s device (registered
 * once per Runtime as `webgpu-nowt[-k]`, with the `webgpu` kernels copied to it).
 */
export async function useTfjsOn(rt: Runtime): Promise<WebGPUBackend> {
  let entry = backends.get(rt);
  if (!entry) {
    installNavigatorGpu(rt.ctx.gpu);
    const name = registered === 0 ? 'webgpu-nowt' : `webgpu-nowt-${registered}`;
    registered++;
    const { vendor, architecture, device, description } = rt.ctx.adapter;
    // tfjs reads only vendor and architecture (to spot Intel generations).
    const info = { vendor, architecture, device, description } as unknown as GPUAdapterInfo;
    const backend = new WebGPUBackend(rt.device, info);
    // Kernels are registered per backend name; ours is not `webgpu`.
    for (const k of tf.getKernelsForBackend('webgpu')) tf.registerKernel({ ...k, backendName: name });
    tf.registerBackend(name, () => backend, 0);
    entry = { name, backend };
    backends.set(rt, entry);
  }
  // Small inputs would otherwise run on tfjs's CPU backend.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (tf.getBackend() !== entry.name && !(await tf.setBackend(entry.name))) {
    throw new Error(`tfjs: could not initialise backend ${entry.name}`);
  }
  return entry.backend;
}

/** Unregisters `rt`'s tfjs backend (its buffers are freed; the device is left to the Runtime). */
export function releaseTfjs(rt: Runtime): void {
  const entry = backends.get(rt);
  if (!entry) return;
  tf.removeBackend(entry.name);
  backends.delete(rt);
}

/** The WebGPUBackend constructor insists on navigator.gpu, which Node 20 lacks. */
function installNavigatorGpu(gpu: GPU): void {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu) return;
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

/** ms per call of `fn`, which returns a tensor that is disposed at once. */
async function timeCalls(backend: WebGPUBackend, fn: () => tf.Tensor, { reps = 10, warmup = 2 }: TimingOptions): Promise<number> {
  const sync = async () => {
    // What tfjs does before a readback: close the open pass, submit, then wait.
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.submitQueue();
    await backend.device.queue.onSubmittedWorkDone();
  };
  for (let i = 0; i < warmup; i++) {
    fn().dispose();
    await sync();
  }
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn().dispose();
  await sync();
  return (performance.now() - t0) / reps;
}

function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

async function measure(
  rt: Runtime,
  what: string,
  flops: number,
  inputs: (seed: number) => tf.Tensor[],
  op: (...t: tf.Tensor[]) => tf.Tensor,
  opts: TimingOptions,
): Promise<PeerResult> {
  const backend = await useTfjsOn(rt);
  const before = tf.memory().numTensors;
  const xs = inputs(1);
  let ms: number;
  try {
    // randomUniform runs on the CPU; upload once so no call pays for it.
    for (const x of xs) backend.uploadToGPU(x.dataId);
    ms = await timeCalls(backend, () => op(...xs), opts);
  } finally {
    tf.dispose(xs);
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`tfjs peer: ${what} leaked ${leaked} tensors`);
  return { name: NAME, what, gflops: flops / (ms * 1e6), ms };
}

/** C[M,N] = A[M,K]·B[K,N], or A·Bᵀ with B as [N,K] when transposeB. */
export function tfjsMatmulGflops(
  rt: Runtime,
  M: number,
  N: number,
  K: number,
  opts: TimingOptions & { transposeB?: boolean } = {},
): Promise<PeerResult> {
  const tb = opts.transposeB ?? false;
  return measure(
    rt,
    `matmul ${M}x${N}x${K}${tb ? ' transB' : ''}`,
    2 * M * N * K,
    (s) => [seeded([M, K], s), seeded(tb ? [N, K] : [K, N], s + 1)],
    (a, b) => tf.matMul(a, b, false, tb),
    opts,
  );
}

function convGeometry(s: ConvShape) {
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < (k === 'pad' ? 0 : 1))
      throw new Error(`tfjs peer: conv shape ${k}=${v} is not a ${k === 'pad' ? 'non-negative' : 'positive'} integer`);
  }
  const oh = Math.floor((s.h + 2 * s.pad - s.kh) / s.stride) + 1;
  const ow = Math.floor((s.w + 2 * s.pad - s.kw) / s.stride) + 1;
  if (oh < 1 || ow < 1) throw new Error(`tfjs peer: conv ${JSON.stringify(s)} has an empty output`);
  const flops = 2 * s.n * oh * ow * s.o * s.c * s.kh * s.kw;
  const label = `n${s.n} c${s.c} ${s.h}x${s.w} o${s.o} k${s.kh}x${s.kw} s${s.stride} p${s.pad}`;
  return { oh, ow, flops, label };
}

/** Forward convolution, NHWC input and HWIO filter. */
export function tfjsConv2dGflops(rt: Runtime, s: ConvShape, opts: TimingOptions = {}): Promise<PeerResult> {
  const g = convGeometry(s);
  return measure(
    rt,
    `conv2d ${g.label}`,
    g.flops,
    (seed) => [seeded([s.n, s.h, s.w, s.c], seed), seeded([s.kh, s.kw, s.c, s.o], seed + 1)],
    (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, s.stride, s.pad, 'NHWC'),
    opts,
  );
}

/** dx from dy (NHWC) and the filter (HWIO): the data gradient. */
export function tfjsConv2dBackpropInputGflops(rt: Runtime, s: ConvShape, opts: TimingOptions = {}): Promise<PeerResult> {
  const g = convGeometry(s);
  const attrs = { strides: s.stride, pad: s.pad, dataFormat: 'NHWC', inputShape: [s.n, s.h, s.w, s.c] };
  return measure(
    rt,
    `conv2d backprop-input ${g.label}`,
    g.flops,
    (seed) => [seeded([s.n, g.oh, g.ow, s.o], seed), seeded([s.kh, s.kw, s.c, s.o], seed + 1)],
    (dy, filter) => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor,
    opts,
  );
}

/** dW (HWIO) from x and dy (NHWC): the weight gradient. */
export function tfjsConv2dBackpropFilterGflops(rt: Runtime, s: ConvShape, opts: TimingOptions = {}): Promise<PeerResult> {
  const g = convGeometry(s);
  const attrs = { strides: s.stride, pad: s.pad, dataFormat: 'NHWC', filterShape: [s.kh, s.kw, s.c, s.o] };
  return measure(
    rt,
    `conv2d backprop-filter ${g.label}`,
    g.flops,
    (seed) => [seeded([s.n, s.h, s.w, s.c], seed), seeded([s.n, g.oh, g.ow, s.o], seed + 1)],
    (x, dy) => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor,
    opts,
  );
}
