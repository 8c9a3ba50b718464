// Weight mirrors (Akrout et al. 2019). Engaged mode learns like FA; in mirror
// mode each weight layer on its own gets noise x ~ N(0, σ²) shaped like its
// input (n samples), computes y = W * x with its own stride and padding (no
// bias, no BN, no nonlinearity), and updates B ← B + η_B·corr(x, y)/n − λ_B·B,
// corr being the weight-gradient contraction with x as input and y as output
// signal. E[corr] ∝ σ²·W, so B drifts to a positive multiple of W with no data.
// The update is the weight-gradient product's epilogue, blending into B as
// B ← (η_B/(n·P))·corr + (1 − λ_B)·B: corr is never stored and B is passed
// over once. P is the layer's output positions (Ho·Wo; 1 for a linear
// layer): a conv's corr sums every position's x ⊗ y, so dividing by P makes
// it an average as for a linear layer and B settles at (η_B/λ_B)·σ²·W away
// from the borders. Without it B settles at P·W, and δ grows by that factor
// at every conv it passes back through (measured: a resnet20 at 12² diverged).

import { NowtError } from '../gpu/errors.ts';
import type { Dispatch } from '../gpu/runtime.ts';
import { weightLayers } from '../graph/ir.ts';
import { conv2dForward, conv2dWeightGrad } from '../kernels/conv2d.ts';
import { linearForward, linearWeightGrad } from '../kernels/linear.ts';
import { advancePhilox, randomNormal, type RandomOp } from '../kernels/philox.ts';
import { DEFAULT_MIRROR, type MirrorOptions, type Rule, type RuleContext, type RuleDispatches } from './rule.ts';
import { NONE, sgdUpdate } from './sgd-update.ts';

/**
 * `steps` mirror steps over every weight layer, as one recorded sequence.
 * Layer i draws its noise from Philox stream streamBase + i, so sequences
 * recorded with different bases (warm-up, per batch) never share noise.
 */
export async function mirrorSteps(ctx: RuleContext, mirror: MirrorOptions, steps: number, streamBase = 0): Promise<RuleDispatches> {
  const { rt, graph, store, shapes } = ctx;
  const n = mirror.samples;
  const layers = weightLayers(graph).map((l, index) => {
    const node = graph.nodes[l.node];
    const inShape = [n, ...shapes[node.inputs[0]].slice(1)];
    const outShape = [n, ...shapes[l.node].slice(1)];
    return { l, node, index, inShape, outShape };
  });
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  // One scratch each for x and y, sized for the largest layer and reused layer after layer.
  const noise = rt.empty([Math.max(...layers.map((x) => size(x.inShape)))], 'f32', 'wm.noise');
  const out = rt.empty([Math.max(...layers.map((x) => size(x.outShape)))], 'f32', 'wm.y');
  const dispatches: Dispatch[] = [];
  const draws: { op: RandomOp; numel: number; stream: number }[] = [];
  for (let s = 0; s < steps; s++) {
    for (const { l, node, index, inShape, outShape } of layers) {
      const x = rt.view(noise, 0, inShape);
      const y = rt.view(out, 0, outShape);
      const stream = streamBase + index;
      const draw = await randomNormal(rt, { out: x, seed: mirror.seed, stream, offset: 0, scale: mirror.sigma });
      draws.push({ op: draw, numel: size(inShape), stream });
      dispatches.push(...draw.dispatches);
      const positions = outShape.slice(2).reduce((a, b) => a * b, 1);
      const accumulate = { alpha: mirror.etaB / (n * positions), beta: 1 - mirror.lambdaB };
      const w = store.param(l.weight);
      const b = store.feedback(l.weight);
      if (node.kind === 'conv2d') {
        const { stride, pad } = node.attrs;
        dispatches.push(...(await conv2dForward(rt, { x, w, stride, pad, y })).dispatches);
        dispatches.push(...(await conv2dWeightGrad(rt, { dy: y, x, stride, pad, dw: b, db: null, accumulate })).dispatches);
      } else {
        dispatches.push(...(await linearForward(rt, { x, w, y })).dispatches);
        dispatches.push(...(await linearWeightGrad(rt, { dy: y, x, dw: b, db: null, accumulate })).dispatches);
      }
    }
  }
  // Every replay draws fresh noise: each recorded draw moves past what the previous replay used.
  const offsets = new Map<number, number>();
  const beforeRun = () => {
    for (const d of draws) {
      const at = offsets.get(d.stream) ?? 0;
      d.op.setState({ seed: mirror.seed, stream: d.stream, offset: at }, mirror.sigma);
      offsets.set(d.stream, advancePhilox({ seed: mirror.seed, stream: d.stream, offset: at }, d.numel).offset);
    }
  };
  const release = () => {
    noise.release();
    out.release();
  };
  // Each stream's next offset, in stream order: the whole generator state.
  const streams = [...new Set(draws.map((d) => d.stream))].sort((a, b) => a - b);
  const state = {
    name: `wm.noise_offsets.${streamBase}`,
    save: () => streams.map((s) => offsets.get(s) ?? 0),
    restore(values: readonly number[]) {
      if (values.length !== streams.length) throw new Error(`wm: ${values.length} saved noise offsets for ${streams.length} streams`);
      offsets.clear();
      streams.forEach((s, i) => offsets.set(s, values[i]));
    },
  };
  return { dispatches, beforeRun, release, state };
}

/** Weight mirrors with the given settings (DEFAULT_MIRROR where not given). */
export function createWm(settings: Partial<MirrorOptions> = {}): Rule {
  const mirror: MirrorOptions = { ...DEFAULT_MIRROR, ...settings };
  return {
    name: 'wm',
    options: { ...mirror },
    feedback: 'own',
    feedbackInCheckpoint: true,
    feedbackMomentum: false,
    validate() {
      const positive = { sigma: mirror.sigma, samples: mirror.samples, etaB: mirror.etaB };
      for (const [k, v] of Object.entries(positive)) if (!(v > 0)) throw new NowtError(`wm: mirror ${k}=${v} must be > 0`);
      if (!Number.isInteger(mirror.samples)) throw new NowtError(`wm: mirror samples=${mirror.samples} must be an integer`);
      if (!(mirror.lambdaB >= 0 && mirror.lambdaB < 1)) throw new NowtError(`wm: mirror decay λ_B=${mirror.lambdaB} must be in [0, 1)`);
      for (const [k, v] of Object.entries({ stepsPerBatch: mirror.stepsPerBatch, warmupSteps: mirror.warmupSteps }))
        if (!Number.isInteger(v) || v < 0) throw new NowtError(`wm: mirror ${k}=${v} must be a whole number ≥ 0`);
    },
    beforeStep: async () => NONE,
    update: (ctx) => sgdUpdate(ctx),
    afterUpdate: (ctx) => (mirror.stepsPerBatch > 0 ? mirrorSteps(ctx, mirror, mirror.stepsPerBatch) : Promise.resolve(NONE)),
    // Mirror mode before training: one recorded mirror step, replayed warmupSteps times, on streams of its own.
    async warmup(ctx) {
      if (mirror.warmupSteps === 0) return null;
      const step = await mirrorSteps(ctx, mirror, 1, weightLayers(ctx.graph).length);
      return { ...step, replays: mirror.warmupSteps };
    },
  };
}

export const wm: Rule = createWm();
