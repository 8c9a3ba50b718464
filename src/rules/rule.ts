// The rule seam (ARCHITECTURE.md): a rule decides what sits in each weight
// layer's feedback binding (W itself, W read as sign(W)·s, or a tensor of its
// own in the B arena) and which kernels run around the optimizer. Adding a
// rule touches src/rules/ only.

import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import type { Graph } from '../graph/ir.ts';
import type { FeedbackSource, ParamStore } from '../graph/params.ts';
import type { Shapes } from '../graph/shapes.ts';
import type { SgdHyper } from '../kernels/sgd.ts';

export type RuleName = 'bp' | 'fa' | 'ss' | 'wm' | 'kp';
export const RULE_NAMES: readonly RuleName[] = ['bp', 'fa', 'ss', 'wm', 'kp'];

/** Weight-mirror settings (LEARNING_RULES.md, WM). */
export interface MirrorOptions {
  /** Noise standard deviation σ. */
  sigma: number;
  /** Noise samples per mirror step (n). */
  samples: number;
  /** η_B. */
  etaB: number;
  /** λ_B. */
  lambdaB: number;
  /** Mirror steps after each training batch. */
  stepsPerBatch: number;
  /** Mirror steps before training starts (StepProgram.warmup). */
  warmupSteps: number;
  /** Seed of the noise generator. */
  seed: number;
}

/**
 * B settles at (η_B/λ_B)·σ²·W (= W here) with a signal-to-noise ratio that
 * grows as n/λ_B, while a mirror step costs in proportion to n: so few noise
 * samples and a long memory (1/λ_B = 200 mirror steps). Mirror mode alone on
 * resnet18 at 64², measured: n = 2, λ_B = 0.005 after 1000 steps gives
 * layer3 20–26°, layer4 44–53°, fc 39°, where n = 4, λ_B = 0.05 (settled
 * after 100) gave 36–46°, 64–70°, 61° at 1.4× the cost per step.
 */
export const DEFAULT_MIRROR: MirrorOptions = {
  sigma: 1,
  samples: 2,
  etaB: 0.005,
  lambdaB: 0.005,
  stepsPerBatch: 1,
  warmupSteps: 0,
  seed: 1,
};

export interface RuleContext {
  rt: Runtime;
  graph: Graph;
  store: ParamStore;
  shapes: Shapes;
  hyper: SgdHyper;
}

/**
 * Host-side state that recorded dispatches carry from one replay to the next
 * (wm: where each noise stream has got to). The step program saves and
 * restores it with everything else, so a checkpoint cannot forget it.
 * Values are integers below 2^53, stored as I64 under `state.<name>`.
 */
export interface ReplayState {
  readonly name: string;
  save(): number[];
  restore(values: readonly number[]): void;
}

/** Dispatches a rule records, with a hook to run between replays (e.g. advance the noise). */
export interface RuleDispatches {
  dispatches: Dispatch[];
  /** Called once per replay, before it is submitted (rewrites uniforms only). */
  beforeRun?: () => void;
  setHyper?: (h: SgdHyper) => void;
  /** Frees the scratch the dispatches bind, once they will not run again. */
  release?: () => void;
  /** What beforeRun carries between replays, for snapshots. */
  state?: ReplayState;
}

export interface Rule {
  readonly name: RuleName;
  /** The rule's own settings as they go into config.json (wm: the mirror settings); {} for none. */
  readonly options: Readonly<Record<string, number>>;
  /** What each layer's feedback binding holds: W (bp), sign(W)·s read from W (ss), or a B of its own (fa, wm, kp). */
  readonly feedback: FeedbackSource;
  /** B is read from a checkpoint (fa, wm, kp); ss derives it and bp has none. */
  readonly feedbackInCheckpoint: boolean;
  /** B has a momentum buffer of its own (kp). */
  readonly feedbackMomentum: boolean;
  /** Refuses settings the rule cannot work with (a clear error). */
  validate(hyper: SgdHyper): void;
  /** Runs before the forward pass of every step. */
  beforeStep(ctx: RuleContext): Promise<RuleDispatches>;
  /** The optimizer step (SGD on both arenas; kp also moves B). */
  update(ctx: RuleContext): Promise<RuleDispatches>;
  /** Runs after the update (wm: mirror steps). */
  afterUpdate(ctx: RuleContext): Promise<RuleDispatches>;
  /** Runs once before training, `replays` times over (wm: mirror warm-up steps); none when absent or null. */
  warmup?(ctx: RuleContext): Promise<RuleWarmup | null>;
}

/** A rule's pre-training work: dispatches replayed `replays` times, beforeRun before each replay. */
export interface RuleWarmup extends RuleDispatches {
  replays: number;
}
