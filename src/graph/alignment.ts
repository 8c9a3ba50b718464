// The poster's alignment measurements, computed on the GPU (LEARNING_RULES.md):
// per weight layer, the weight angle ∠(B, W) and norm ratio ‖B‖/‖W‖ from one
// pass over the arenas, and the delta angle between δ as the rule computes it
// and δ from a true backprop pass on the same batch and weights. The two
// delta passes are diagnostic: compiled beside the training step, with BN
// statistics frozen, run on demand. Sign symmetry stores no B, so the probe
// derives sign(W)·s into a scratch arena of its own before measuring.

import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { ALIGNMENT_SUMS, alignmentFromSums, alignmentSums, type Alignment } from '../kernels/alignment.ts';
import { signSymmetry, ssScale } from '../kernels/feedback_rules.ts';
import { compilePass, type CompiledPass } from './compile.ts';
import { weightLayers, type Graph } from './ir.ts';
import type { ParamStore } from './params.ts';

export interface LayerAlignment {
  name: string;
  weight_angle_deg: number;
  delta_angle_deg: number;
  norm_ratio: number;
}

export class AlignmentProbe {
  private constructor(
    private readonly rt: Runtime,
    private readonly names: string[],
    private readonly rulePass: CompiledPass,
    private readonly bpPass: CompiledPass,
    private readonly weightSums: Tensor | null,
    private readonly deltaSums: Tensor,
    private readonly dispatches: Dispatch[],
  ) {}

  static async compile(
    rt: Runtime,
    graph: Graph,
    store: ParamStore,
    batch: number,
    inputHW?: readonly [number, number],
  ): Promise<AlignmentProbe> {
    const layers = weightLayers(graph);
    const rulePass = await compilePass(rt, graph, store, { batch, inputHW, keepDeltas: true, frozenStats: true });
    const bpPass = await compilePass(rt, graph, store, { batch, inputHW, keepDeltas: true, frozenStats: true, backprop: true });
    const dispatches: Dispatch[] = [];
    let weightSums: Tensor | null = null;
    let b = store.feedbackArena;
    if (store.feedbackSource === 'sign-of-weight') {
      const derive = await signSymmetry(rt, {
        w: store.arenas.weights.params,
        scale: layers.map((l) => ssScale(l.shape)),
        segments: store.layerTable,
      });
      b = derive.out.b;
      dispatches.push(...derive.dispatches);
    }
    if (b) {
      const op = await alignmentSums(rt, { b, w: store.arenas.weights.params, segments: store.layerTable });
      weightSums = op.out.sums;
      dispatches.push(...op.dispatches);
    }
    const deltaSums = rt.empty([layers.length * ALIGNMENT_SUMS], 'f32', 'alignment.delta-sums');
    for (const [i, l] of layers.entries()) {
      const a = rulePass.deltas.get(l.weight);
      const b = bpPass.deltas.get(l.weight);
      if (!a || !b) continue;
      dispatches.push(...(await alignmentSums(rt, { b: a, w: b, sums: deltaSums, firstSlot: i })).dispatches);
    }
    return new AlignmentProbe(
      rt,
      layers.map((l) => l.name),
      rulePass,
      bpPass,
      weightSums,
      deltaSums,
      dispatches,
    );
  }

  /** Runs both passes on one batch and returns every layer's angles (one readback). */
  async measure(input: Float32Array, target: Int32Array): Promise<LayerAlignment[]> {
    for (const p of [this.rulePass, this.bpPass]) {
      this.rt.write(p.input, input);
      this.rt.write(p.target, target);
    }
    this.rt.run([...this.rulePass.dispatches, ...this.bpPass.dispatches, ...this.dispatches]);
    const deltas = alignmentFromSums(await this.rt.readF32(this.deltaSums));
    const weights: Alignment[] | null = this.weightSums ? alignmentFromSums(await this.rt.readF32(this.weightSums)) : null;
    return this.names.map((name, i) => ({
      name,
      // Backprop's B is W: angle 0, ratio 1 by definition.
      weight_angle_deg: weights ? weights[i].angleDeg : 0,
      norm_ratio: weights ? weights[i].normRatio : 1,
      delta_angle_deg: deltas[i]?.angleDeg ?? NaN,
    }));
  }
}
