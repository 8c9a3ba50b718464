// One training step (or one gradient pass) as a recorded program: the rule's
// pre-step kernels, forward, loss, feedback and weight gradients, then (when
// training) the optimizer and the rule's post-update kernels. Replays
// allocate nothing; per-step values (noise offsets, the first-step flag) are
// uniform rewrites.

import type { Program, Runtime } from '../gpu/runtime.ts';
import type { SgdHyper } from '../kernels/sgd.ts';
import type { MirrorOptions, Rule, RuleContext } from '../rules/rule.ts';
import { compilePass, type CompiledPass } from './compile.ts';
import type { Graph } from './ir.ts';
import { ParamStore } from './params.ts';

export interface StepOptions {
  batch: number;
  inputHW?: readonly [number, number];
  rule: Rule;
  hyper: SgdHyper;
  mirror: MirrorOptions;
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

export class StepProgram {
  private first = true;

  private constructor(
    private readonly rule: Rule,
    readonly rt: Runtime,
    readonly store: ParamStore,
    readonly pass: CompiledPass,
    readonly program: Program,
    private readonly hooks: (() => void)[],
    private readonly setHyperFns: ((h: SgdHyper) => void)[],
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
    const ctx: RuleContext = { rt, graph, store, shapes: pass.shapes, hyper: opts.hyper, mirror: opts.mirror };
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
    return new StepProgram(opts.rule, rt, store, pass, rt.record(body), hooks, setHyperFns, opts.hyper, ctx);
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

  /** Queues one step; the first one seeds SGD's momentum buffers as PyTorch does. */
  run(): void {
    for (const h of this.hooks) h();
    this.program.run();
    if (this.first) {
      this.first = false;
      if (this.hyper.firstStep) this.setHyper({ ...this.hyper, firstStep: false });
    }
  }

  setHyper(h: SgdHyper): void {
    this.hyper = h;
    for (const f of this.setHyperFns) f(h);
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
