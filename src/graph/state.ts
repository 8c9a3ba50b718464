// Getting a model's state into the ParamStore: from named host arrays (a
// checkpoint) with every name and shape checked, or freshly initialised the
// way torchvision does, from a seed.

import { ShapeError } from '../gpu/errors.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { feedbackName, weightLayers, type Graph, type InitSpec } from './ir.ts';
import type { ParamStore } from './params.ts';

export interface HostTensor {
  shape: readonly number[];
  data: Float32Array;
}

/** What a checkpoint must hold for this graph: parameters, BN buffers and, if asked, feedback tensors. */
export function expectedState(graph: Graph, withFeedback: boolean): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  for (const p of graph.params.values()) out.set(p.name, p.shape);
  for (const b of graph.buffers.values()) if (b.dtype === 'f32') out.set(b.name, b.shape);
  if (withFeedback) for (const l of weightLayers(graph)) out.set(l.feedback, l.shape);
  return out;
}

/**
 * Uploads a checkpoint's tensors. Missing names and wrong shapes are all
 * reported at once, before anything is written; names the model does not
 * have are refused too (except feedback tensors the rule ignores and BN's
 * num_batches_tracked).
 */
export function loadState(
  rt: Runtime,
  store: ParamStore,
  tensors: ReadonlyMap<string, HostTensor>,
  source: string,
  withFeedback: boolean,
): void {
  const want = expectedState(store.graph, withFeedback);
  const problems: string[] = [];
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) problems.push(`missing ${name} [${shape.join(', ')}]`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${name} is [${t.shape.join(', ')}], the model needs [${shape.join(', ')}]`);
    }
  }
  for (const name of tensors.keys()) {
    if (want.has(name) || name.startsWith('feedback.') || name.endsWith('.num_batches_tracked')) continue;
    problems.push(`unexpected ${name}`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 12).join('; ');
    const more = problems.length > 12 ? `; and ${problems.length - 12} more` : '';
    throw new ShapeError(`${source} does not match ${store.graph.model}: ${shown}${more}`);
  }
  for (const [name] of want) {
    const t = tensors.get(name)!;
    if (store.graph.params.has(name)) rt.write(store.param(name), t.data);
    else if (name.startsWith('feedback.')) rt.write(store.feedback(name.slice('feedback.'.length)), t.data);
    else rt.write(store.stat(name), t.data);
  }
}

/** A small seeded generator (mulberry32 + Box–Muller); its state is the seed and a count. */
export function seededNormal(seed: number): { uniform: () => number; normal: () => number } {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = 1 - uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
  return { uniform, normal };
}

function draw(init: InitSpec, n: number, rng: ReturnType<typeof seededNormal>): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    switch (init.kind) {
      case 'kaiming_normal_fan_out':
        out[i] = rng.normal() * init.std;
        break;
      case 'kaiming_uniform':
      case 'uniform_fan_in':
        out[i] = (2 * rng.uniform() - 1) * init.bound;
        break;
      case 'ones':
        out[i] = 1;
        break;
      case 'zeros':
        break;
    }
  }
  return out;
}

/**
 * Fresh state as torchvision initialises it, seeded; feedback tensors (for a
 * rule that owns them) are drawn from the same distribution as their weight
 * with a seed of their own.
 */
export function initialState(graph: Graph, seed: number, withFeedback: boolean): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const rng = seededNormal(seed);
  for (const p of graph.params.values())
    out.set(p.name, {
      shape: p.shape,
      data: draw(
        p.init,
        p.shape.reduce((a, b) => a * b, 1),
        rng,
      ),
    });
  for (const b of graph.buffers.values()) {
    if (b.dtype !== 'f32') continue;
    const n = b.shape.reduce((a, c) => a * c, 1);
    out.set(b.name, { shape: b.shape, data: new Float32Array(n).fill(b.init === 'ones' ? 1 : 0) });
  }
  if (withFeedback) {
    const fb = seededNormal(seed ^ 0x5bd1e995);
    for (const l of weightLayers(graph)) {
      const spec = graph.params.get(l.weight)!;
      out.set(feedbackName(l.weight), {
        shape: l.shape,
        data: draw(
          spec.init,
          spec.shape.reduce((a, b) => a * b, 1),
          fb,
        ),
      });
    }
  }
  return out;
}

/** Named host arrays in torchvision's state_dict order (num_batches_tracked as a count). */
export interface ExportedState {
  tensors: Map<string, HostTensor>;
  /** BN's num_batches_tracked, the same for every BN layer. */
  numBatchesTracked: number;
}

/**
 * Reads the model's state back: every parameter and f32 buffer, and the
 * feedback tensors when the rule owns them (one readback per arena).
 */
export async function exportState(rt: Runtime, store: ParamStore, numBatchesTracked = 0): Promise<ExportedState> {
  const tensors = new Map<string, HostTensor>();
  for (const arena of Object.values(store.arenas)) {
    if (arena.names.length === 0) continue;
    const all = await rt.readF32(arena.params);
    arena.names.forEach((name, i) => {
      const seg = arena.layout.segments[i];
      tensors.set(name, { shape: store.graph.params.get(name)!.shape, data: all.slice(seg.offset, seg.offset + seg.length) });
    });
  }
  for (const [name, t] of store.runningStats) tensors.set(name, { shape: t.shape, data: await rt.readF32(t) });
  if (store.feedbackArena) {
    const all = await rt.readF32(store.feedbackArena);
    weightLayers(store.graph).forEach((l, i) => {
      const seg = store.layerSegments[i];
      tensors.set(l.feedback, { shape: l.shape, data: all.slice(seg.offset, seg.offset + seg.length) });
    });
  }
  return { tensors, numBatchesTracked };
}
