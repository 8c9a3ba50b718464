// Where a model's state lives on the GPU. Parameters sit in two flat arenas so
// the optimizer updates them in a few dispatches: 'weights' (conv and linear
// weights, BN γ) and 'biases' (biases, BN β). Two, because a kernel that
// writes two gradients at once (BN's dγ and dβ) may not bind one buffer twice
// for writing. Each arena has gradient and momentum twins with the same
// layout; a rule that owns feedback tensors gets a B arena in the weights'
// layout (so KP can update W and B in one pass). BN running statistics are
// plain tensors.
//
// A layer's feedback binding is one of three things (FeedbackSource): W's own
// buffer (backprop), W's buffer read as B = sign(W)·s by the feedback kernels
// (sign symmetry: B exists only as the kernels load it), or the layer's B in
// the B arena.

import type { Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ssScale } from '../kernels/feedback_rules.ts';
import { createSegmentTable, planArena, type ArenaLayout, type Segment, type SegmentTable } from '../kernels/sgd.ts';
import { weightLayers, type Graph, type ParamSpec } from './ir.ts';

export type ArenaName = 'weights' | 'biases';

export interface Arena {
  name: ArenaName;
  layout: ArenaLayout;
  /** Parameter names in arena order. */
  names: string[];
  params: Tensor;
  grads: Tensor;
  momentum: Tensor | null;
}

const arenaOf = (p: ParamSpec): ArenaName => (p.role === 'bias' || p.role === 'bn_bias' ? 'biases' : 'weights');

/** What a weight layer's feedback binding holds: W, W read as sign(W)·s (LEARNING_RULES.md's s), or a B of its own. */
export type FeedbackSource = 'weight' | 'sign-of-weight' | 'own';

/** A feedback binding as the feedback kernels take it: the tensor, and s when they read it as sign(tensor)·s. */
export interface FeedbackOperand {
  tensor: Tensor;
  signScale: number | null;
}

export interface ParamStoreOptions {
  momentum: boolean;
  /** What each layer's feedback binding holds; 'own' gives the store a B arena. */
  feedback: FeedbackSource;
  /** KP: B has its own momentum buffer. */
  feedbackMomentum: boolean;
}

export class ParamStore {
  readonly arenas: Record<ArenaName, Arena>;
  readonly feedbackSource: FeedbackSource;
  /** B arena in the weights' layout, or null when the binding is W (backprop, sign symmetry). */
  readonly feedbackArena: Tensor | null;
  readonly feedbackMomentum: Tensor | null;
  /** Segments of the weight layers (conv/linear weights) inside the weights arena, in weightLayers order. */
  readonly layerSegments: Segment[];
  readonly layerTable: SegmentTable;
  readonly runningStats = new Map<string, Tensor>();
  private readonly where = new Map<string, { arena: Arena; index: number }>();
  private readonly views = new Map<string, Tensor>();

  constructor(
    private readonly rt: Runtime,
    readonly graph: Graph,
    opts: ParamStoreOptions,
  ) {
    const build = (name: ArenaName): Arena => {
      const specs = [...graph.params.values()].filter((p) => arenaOf(p) === name);
      const layout = planArena(specs.map((p) => p.shape.reduce((a, b) => a * b, 1)));
      const total = Math.max(layout.total, 4);
      const arena: Arena = {
        name,
        layout,
        names: specs.map((p) => p.name),
        params: rt.empty([total], 'f32', `${name}.params`),
        grads: rt.empty([total], 'f32', `${name}.grads`),
        momentum: opts.momentum ? rt.empty([total], 'f32', `${name}.momentum`) : null,
      };
      specs.forEach((p, index) => this.where.set(p.name, { arena, index }));
      return arena;
    };
    this.arenas = { weights: build('weights'), biases: build('biases') };
    const w = this.arenas.weights;
    this.feedbackSource = opts.feedback;
    const own = opts.feedback === 'own';
    this.feedbackArena = own ? rt.empty(w.params.shape, 'f32', 'feedback.arena') : null;
    this.feedbackMomentum = own && opts.feedbackMomentum ? rt.empty(w.params.shape, 'f32', 'feedback.momentum') : null;
    this.layerSegments = weightLayers(graph).map((l) => w.layout.segments[this.where.get(l.weight)!.index]);
    this.layerTable = createSegmentTable(rt, this.layerSegments, 'weight-layers');
    for (const b of graph.buffers.values()) {
      if (b.dtype === 'f32') this.runningStats.set(b.name, rt.empty(b.shape, 'f32', b.name));
    }
  }

  private view(kind: 'params' | 'grads' | 'momentum' | 'feedback', name: string): Tensor {
    const key = `${kind}:${name}`;
    let t = this.views.get(key);
    if (t) return t;
    const at = this.where.get(name);
    if (!at) throw new Error(`ParamStore: no parameter "${name}" in ${this.graph.model}`);
    const base = kind === 'feedback' ? this.feedbackArena : kind === 'momentum' ? at.arena.momentum : at.arena[kind];
    if (!base) throw new Error(`ParamStore: ${kind} of "${name}" is not kept by this step`);
    const spec = this.graph.params.get(name)!;
    t = this.rt.view(base, at.arena.layout.offsets[at.index], spec.shape, `${kind}.${name}`);
    this.views.set(key, t);
    return t;
  }

  param(name: string): Tensor {
    return this.view('params', name);
  }

  grad(name: string): Tensor {
    return this.view('grads', name);
  }

  /** A layer's stored B: its own, or W itself for backprop. Sign symmetry stores none (see feedbackOperand). */
  feedback(weightName: string): Tensor {
    if (this.feedbackSource === 'sign-of-weight')
      throw new Error(`ParamStore: "${weightName}" has no stored B: sign symmetry's feedback kernels read sign(W)·s from W`);
    return this.feedbackArena ? this.view('feedback', weightName) : this.param(weightName);
  }

  /** What a layer's feedback pass binds, and how the kernels read it. */
  feedbackOperand(weightName: string): FeedbackOperand {
    if (this.feedbackSource !== 'sign-of-weight') return { tensor: this.feedback(weightName), signScale: null };
    const w = this.param(weightName);
    return { tensor: w, signScale: ssScale(w.shape) };
  }

  stat(name: string): Tensor {
    const t = this.runningStats.get(name);
    if (!t) throw new Error(`ParamStore: no buffer "${name}"`);
    return t;
  }

  /** Bytes of parameters, gradients, optimizer state and feedback tensors. */
  get bytes(): number {
    let n = 0;
    for (const a of Object.values(this.arenas)) n += a.params.byteLength + a.grads.byteLength + (a.momentum?.byteLength ?? 0);
    n += (this.feedbackArena?.byteLength ?? 0) + (this.feedbackMomentum?.byteLength ?? 0);
    for (const t of this.runningStats.values()) n += t.byteLength;
    return n;
  }
}
