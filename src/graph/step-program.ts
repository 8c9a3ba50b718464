// One training step (or one gradient pass) as a recorded program: the rule's
// pre-step kernels, forward, loss, feedback and weight gradients, then (when
// training) the optimizer and the rule's post-update kernels. Replays
// allocate nothing; per-step values (noise offsets, the first-step flag, the
// loss window's accumulate switch) are uniform rewrites.
//
// The step program owns the training state: every tensor and counter that
// the next step depends on is in snapshot() and comes back with restore(), so
// a checkpoint is complete by construction. The data order, the augmentation
// and the learning-rate schedule are pure functions of the step count it
// keeps, so they need no state of their own.

import { NowtError, ShapeError } from '../gpu/errors.ts';
import type { Program, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import type { TensorToWrite } from '../io/safetensors.ts';
import { decodeLossMetrics, LOSS_METRICS, type LossMetrics } from '../kernels/softmax_cross_entropy.ts';
import type { SgdHyper } from '../kernels/sgd.ts';
import type { ReplayState, Rule, RuleContext } from '../rules/rule.ts';
import { compilePass, type CompiledPass } from './compile.ts';
import { weightLayers, type Graph } from './ir.ts';
import { ParamStore } from './params.ts';
import { exportState } from './state.ts';

export interface StepOptions {
  batch: number;
  inputHW?: readonly [number, number];
  rule: Rule;
  hyper: SgdHyper;
  /** 'grads': forward, loss and gradients only (nowt step); 'train': plus the update. */
  mode: 'grads' | 'train';
  keepDeltas?: boolean;
}

export interface StepMemory {
  /** Planned activation slots. */
  activationBytes: number;
  /** Parameters, gradients, optimizer state, B (and its momentum), BN statistics. */
  stateBytes: number;
  /** Parameters + B + optimizer state + the most activation bytes live at once. */
  minimumBytes: number;
}

/**
 * The whole training state, named as a checkpoint names it (INTERFACES.md):
 * parameters and BN buffers under torchvision's names, `feedback.<weight>`,
 * `optim.momentum.<param>`, `optim.feedback_momentum.<weight>` and
 * `state.<name>` (replay counters, the open loss window).
 */
export interface StepSnapshot {
  /** Training steps taken. */
  step: number;
  tensors: Map<string, TensorToWrite>;
}

const LOSS_WINDOW = 'state.loss_window';

export class StepProgram {
  private steps = 0;
  /** The loss window has run at least one step since it was last taken. */
  private windowOpen = false;
  private accumulating = false;

  private constructor(
    readonly rule: Rule,
    readonly rt: Runtime,
    readonly store: ParamStore,
    readonly pass: CompiledPass,
    readonly program: Program,
    private readonly hooks: (() => void)[],
    private readonly setHyperFns: ((h: SgdHyper) => void)[],
    private readonly replayStates: ReplayState[],
    private hyper: SgdHyper,
    readonly ctx: RuleContext,
  ) {}

  static async compile(rt: Runtime, graph: Graph, opts: StepOptions): Promise<StepProgram> {
    // A gradient pass updates nothing, so only training needs the rule's settings to make sense.
    if (opts.mode === 'train') opts.rule.validate(opts.hyper);
    const training = opts.mode === 'train';
    const store = new ParamStore(rt, graph, {
      momentum: training && opts.hyper.momentum !== 0,
      feedback: opts.rule.feedback,
      feedbackMomentum: training && opts.rule.feedbackMomentum && opts.hyper.momentum !== 0,
    });
    const pass = await compilePass(rt, graph, store, { batch: opts.batch, inputHW: opts.inputHW, keepDeltas: opts.keepDeltas });
    const hyper = { ...opts.hyper, firstStep: true };
    const ctx: RuleContext = { rt, graph, store, shapes: pass.shapes, hyper };
    const parts = [await opts.rule.beforeStep(ctx)];
    const body = [...parts[0].dispatches, ...pass.dispatches];
    if (training) {
      const update = await opts.rule.update(ctx);
      const after = await opts.rule.afterUpdate(ctx);
      parts.push(update, after);
      body.push(...update.dispatches, ...after.dispatches);
    }
    const hooks = parts.flatMap((p) => (p.beforeRun ? [p.beforeRun] : []));
    const setHyperFns = parts.flatMap((p) => (p.setHyper ? [p.setHyper] : []));
    const states = parts.flatMap((p) => (p.state ? [p.state] : []));
    return new StepProgram(opts.rule, rt, store, pass, rt.record(body), hooks, setHyperFns, states, hyper, ctx);
  }

  /** Training steps taken (run() calls, or the restored count). */
  get step(): number {
    return this.steps;
  }

  /**
   * The rule's work before the first training step (wm: mirror warm-up
   * steps), run to completion; returns the number of replays (0: none).
   * onProgress hears after every batch of replays.
   */
  async warmup(onProgress?: (done: number, total: number) => void): Promise<number> {
    const w = (await this.rule.warmup?.(this.ctx)) ?? null;
    if (!w || w.replays === 0) return 0;
    const program = this.rt.record(w.dispatches);
    const BATCH = 10;
    for (let done = 0; done < w.replays;) {
      const n = Math.min(BATCH, w.replays - done);
      for (let i = 0; i < n; i++) {
        w.beforeRun?.();
        program.run();
      }
      await this.rt.finish();
      done += n;
      onProgress?.(done, w.replays);
    }
    program.dispose();
    w.release?.();
    return w.replays;
  }

  /**
   * Queues one step on the data in pass.input and pass.target. Its loss and
   * hits add to the open loss window (takeWindow reads it). The first step
   * seeds SGD's momentum buffers as PyTorch does.
   */
  run(): void {
    const accumulate = this.windowOpen;
    if (accumulate !== this.accumulating) {
      this.pass.loss.set({ accumulate });
      this.accumulating = accumulate;
    }
    for (const h of this.hooks) h();
    this.program.run();
    this.windowOpen = true;
    this.steps++;
    if (this.steps === 1) this.setHyper(this.hyper);
  }

  /**
   * Closes the loss window: its sums over every step since the last take,
   * read back asynchronously (the promise resolves when the GPU gets there;
   * nothing waits for it here). Null when no step ran since.
   */
  takeWindow(): Promise<LossMetrics> | null {
    if (!this.windowOpen) return null;
    this.windowOpen = false;
    return this.rt.readF32(this.pass.metrics).then(decodeLossMetrics);
  }

  /** New hyper-parameters from the next step on (a schedule's learning rate); the first-step flag is the program's own. */
  setHyper(h: SgdHyper): void {
    this.hyper = { ...h, firstStep: this.steps === 0 };
    this.ctx.hyper = this.hyper;
    for (const f of this.setHyperFns) f(this.hyper);
  }

  /** Every tensor and counter the next step depends on (one readback per arena). */
  async snapshot(): Promise<StepSnapshot> {
    const tensors = new Map<string, TensorToWrite>();
    const f32 = (shape: readonly number[], data: Float32Array): TensorToWrite => ({ dtype: 'F32', shape, data });
    const exported = await exportState(this.rt, this.store);
    for (const [name, t] of exported.tensors) tensors.set(name, f32(t.shape, t.data));
    for (const b of this.store.graph.buffers.values()) {
      if (b.role === 'bn_num_batches_tracked') tensors.set(b.name, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(this.steps)) });
    }
    for (const [name, t] of await this.optimizerTensors()) tensors.set(name, f32(t.shape, t.data));
    for (const s of this.replayStates) tensors.set(`state.${s.name}`, i64(s.save()));
    const window = this.windowOpen ? await this.rt.readF32(this.pass.metrics) : new Float32Array(LOSS_METRICS);
    tensors.set(LOSS_WINDOW, f32([LOSS_METRICS], window));
    return { step: this.steps, tensors };
  }

  /**
   * Puts a snapshot back. Every expected name must be there with its shape,
   * and nothing unknown may be (all problems reported at once, nothing
   * written on a mismatch). `source` names the file in messages.
   */
  restore(snap: StepSnapshot, source: string): void {
    if (!Number.isSafeInteger(snap.step) || snap.step < 0) throw new ShapeError(`${source}: step ${snap.step} is not a step count`);
    const want = this.expected();
    const problems: string[] = [];
    for (const [name, shape] of want) {
      const t = snap.tensors.get(name);
      if (!t) problems.push(`missing ${name}`);
      else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
        problems.push(`${name} is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    for (const name of snap.tensors.keys())
      if (!want.has(name) && !name.endsWith('.num_batches_tracked')) problems.push(`unexpected ${name}`);
    if (problems.length > 0) {
      const more = problems.length > 12 ? `; and ${problems.length - 12} more` : '';
      throw new ShapeError(
        `${source} does not match this ${this.store.graph.model} run (rule ${this.rule.name}): ${problems.slice(0, 12).join('; ')}${more}`,
      );
    }
    const get = (name: string) => snap.tensors.get(name)!.data;
    const asF32 = (name: string): Float32Array => {
      const d = get(name);
      if (!(d instanceof Float32Array)) throw new ShapeError(`${source}: ${name} must be F32`);
      return d;
    };
    const writeArena = (base: Tensor, names: readonly string[], offsets: readonly number[], prefix: string) => {
      const all = new Float32Array(base.size);
      names.forEach((n, i) => all.set(asF32(`${prefix}${n}`), offsets[i]));
      this.rt.write(base, all);
    };
    for (const arena of Object.values(this.store.arenas)) {
      if (arena.names.length === 0) continue;
      writeArena(arena.params, arena.names, arena.layout.offsets, '');
      if (arena.momentum) writeArena(arena.momentum, arena.names, arena.layout.offsets, 'optim.momentum.');
    }
    const layers = weightLayers(this.store.graph);
    const layerOffsets = this.store.layerSegments.map((s) => s.offset);
    const weightNames = layers.map((l) => l.weight);
    if (this.store.feedbackArena) writeArena(this.store.feedbackArena, weightNames, layerOffsets, 'feedback.');
    if (this.store.feedbackMomentum) writeArena(this.store.feedbackMomentum, weightNames, layerOffsets, 'optim.feedback_momentum.');
    for (const [name, t] of this.store.runningStats) this.rt.write(t, asF32(name));
    for (const s of this.replayStates) s.restore(fromI64(get(`state.${s.name}`), `${source}: state.${s.name}`));
    const window = asF32(LOSS_WINDOW);
    this.rt.write(this.pass.metrics, window);
    this.windowOpen = window[3] > 0;
    this.steps = snap.step;
    this.setHyper(this.hyper);
  }

  /** Names and shapes restore() needs: what snapshot() writes. */
  private expected(): Map<string, readonly number[]> {
    const want = new Map<string, readonly number[]>();
    const graph = this.store.graph;
    for (const p of graph.params.values()) want.set(p.name, p.shape);
    for (const b of graph.buffers.values()) if (b.dtype === 'f32') want.set(b.name, b.shape);
    const layers = weightLayers(graph);
    if (this.store.feedbackArena) for (const l of layers) want.set(l.feedback, l.shape);
    for (const a of Object.values(this.store.arenas))
      if (a.momentum) for (const n of a.names) want.set(`optim.momentum.${n}`, graph.params.get(n)!.shape);
    if (this.store.feedbackMomentum) for (const l of layers) want.set(`optim.feedback_momentum.${l.weight}`, l.shape);
    for (const s of this.replayStates) want.set(`state.${s.name}`, [s.save().length]);
    want.set(LOSS_WINDOW, [LOSS_METRICS]);
    return want;
  }

  /** Momentum buffers under their checkpoint names: one readback per arena, sliced. */
  private async optimizerTensors(): Promise<Map<string, { shape: readonly number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    const graph = this.store.graph;
    const slice = async (base: Tensor, names: readonly string[], offsets: readonly number[], prefix: string) => {
      const all = await this.rt.readF32(base);
      names.forEach((n, i) => {
        const shape = graph.params.get(n)!.shape;
        const len = shape.reduce((x, y) => x * y, 1);
        out.set(`${prefix}${n}`, { shape, data: all.slice(offsets[i], offsets[i] + len) });
      });
    };
    for (const a of Object.values(this.store.arenas)) if (a.momentum) await slice(a.momentum, a.names, a.layout.offsets, 'optim.momentum.');
    const fm = this.store.feedbackMomentum;
    if (fm) {
      const layers = weightLayers(graph);
      await slice(
        fm,
        layers.map((l) => l.weight),
        this.store.layerSegments.map((s) => s.offset),
        'optim.feedback_momentum.',
      );
    }
    return out;
  }

  memory(): StepMemory {
    const stateBytes = this.store.bytes;
    return {
      activationBytes: this.pass.memory.activationBytes,
      stateBytes,
      minimumBytes: stateBytes + this.pass.memory.activationLowerBound,
    };
  }
}

function i64(values: readonly number[]): TensorToWrite {
  return { dtype: 'I64', shape: [values.length], data: BigInt64Array.from(values, (v) => BigInt(v)) };
}

function fromI64(data: TensorToWrite['data'], what: string): number[] {
  if (!(data instanceof BigInt64Array)) throw new NowtError(`${what} must be I64`);
  return Array.from(data, (v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new NowtError(`${what} holds ${v}, not a counter`);
    return n;
  });
}
