// A run's configuration: every setting that defines it, as config.json holds
// it (INTERFACES.md). `nowt train --config FILE` reads one back and flags
// override it; a resumed run must agree with its checkpoint's. Checked here,
// before any device or file is touched, with messages that name the flag.

import { DATASET_NAMES } from '../../datasets/types.ts';
import { NowtError } from '../gpu/errors.ts';
import { flattenJson } from '../io/flatten-json.ts';
import { MODEL_NAMES } from '../graph/models/index.ts';
import { DEFAULT_MIRROR, RULE_NAMES, type MirrorOptions } from '../rules/rule.ts';

export const SCHEDULES = ['constant', 'step', 'multistep', 'cosine'] as const;
export type ScheduleKind = (typeof SCHEDULES)[number];

export interface ScheduleConfig {
  kind: ScheduleKind;
  /** multistep: epochs at which the rate is multiplied by gamma. */
  milestones: number[];
  gamma: number;
  /** step: the rate is multiplied by gamma every stepSize epochs. */
  step_size: number;
  /** Linear warm-up from 0 over this many epochs (fractional allowed). */
  warmup_epochs: number;
}

export interface OptimizerConfig {
  lr: number;
  momentum: number;
  weight_decay: number;
  nesterov: boolean;
}

/** WM's settings as config.json spells them (MirrorOptions in the engine). */
export interface MirrorConfig {
  sigma: number;
  samples: number;
  lr: number;
  decay: number;
  steps_per_batch: number;
  warmup_steps: number;
}

export interface SyntheticConfig {
  train: number;
  test: number;
  channels: number;
  size: number;
  classes: number;
}

export interface TrainConfig {
  format: 'nowt-config/1';
  model: string;
  /** mlp only. */
  hidden: number[] | null;
  dataset: string;
  /** The dataset's files as given (--data), or null for the default search. */
  data: string | null;
  limit_train: number | null;
  limit_test: number | null;
  /** imagefolder: the crop the model sees. */
  image_size: number | null;
  synthetic: SyntheticConfig;
  rule: string;
  epochs: number;
  batch_size: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  mirror: MirrorConfig;
  seed: number;
  /** Test-set evaluation every this many epochs (and after the last). */
  eval_every: number;
  /** Alignment probe every this many steps; 0: never. */
  align_every: number;
  /** One train record (a loss window) every this many steps. */
  log_every: number;
  /** A checkpoint every this many steps (and at every epoch's end); 0: epoch ends only. */
  checkpoint_every: number;
  /** Filled in when the run starts. */
  adapter?: Record<string, string>;
  nowt_version?: string;
}

export const DEFAULT_CONFIG: TrainConfig = {
  format: 'nowt-config/1',
  model: 'resnet20',
  hidden: null,
  dataset: 'fashion-mnist',
  data: null,
  limit_train: null,
  limit_test: null,
  image_size: null,
  synthetic: { train: 2000, test: 500, channels: 1, size: 28, classes: 10 },
  rule: 'bp',
  epochs: 10,
  batch_size: 128,
  optimizer: { lr: 0.1, momentum: 0.9, weight_decay: 5e-4, nesterov: false },
  schedule: { kind: 'cosine', milestones: [], gamma: 0.1, step_size: 30, warmup_epochs: 0 },
  mirror: {
    sigma: DEFAULT_MIRROR.sigma,
    samples: DEFAULT_MIRROR.samples,
    lr: DEFAULT_MIRROR.etaB,
    decay: DEFAULT_MIRROR.lambdaB,
    steps_per_batch: DEFAULT_MIRROR.stepsPerBatch,
    warmup_steps: DEFAULT_MIRROR.warmupSteps,
  },
  seed: 0,
  eval_every: 1,
  align_every: 100,
  log_every: 10,
  checkpoint_every: 0,
};

export class ConfigError extends NowtError {
  override name = 'ConfigError';
}

/** WM's engine options from a config (the noise generator is seeded by the run's seed). */
export function mirrorOptions(c: TrainConfig): MirrorOptions {
  const m = c.mirror;
  return {
    sigma: m.sigma,
    samples: m.samples,
    etaB: m.lr,
    lambdaB: m.decay,
    stepsPerBatch: m.steps_per_batch,
    warmupSteps: m.warmup_steps,
    seed: c.seed >>> 0,
  };
}

/** Deep merge of plain objects: `over`'s keys win; arrays and scalars replace. */
export function mergeConfig(base: TrainConfig, over: DeepPartial<TrainConfig>): TrainConfig {
  const merge = (a: unknown, b: unknown): unknown => {
    if (b === undefined) return a;
    if (isPlainObject(a) && isPlainObject(b)) {
      const out: Record<string, unknown> = { ...a };
      for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v);
      return out;
    }
    return b;
  };
  return merge(base, over) as TrainConfig;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Throws a ConfigError naming the flag for the first setting that cannot
 * make a run. Model and dataset names are checked by their registries.
 */
export function validateConfig(c: TrainConfig): void {
  const fail = (flag: string, why: string): never => {
    throw new ConfigError(`--${flag} ${why}`);
  };
  const int = (flag: string, v: number | null, min: number) => {
    if (v !== null && (!Number.isInteger(v) || v < min)) fail(flag, `must be an integer ≥ ${min} (got ${v})`);
  };
  if (!MODEL_NAMES.includes(c.model)) fail('model', `"${c.model}" is not a model (known: ${MODEL_NAMES.join(', ')})`);
  if (!(DATASET_NAMES as readonly string[]).includes(c.dataset))
    fail('dataset', `"${c.dataset}" is not a dataset (known: ${DATASET_NAMES.join(', ')})`);
  if (!(RULE_NAMES as readonly string[]).includes(c.rule)) fail('rule', `"${c.rule}" is not a rule (known: ${RULE_NAMES.join(', ')})`);
  int('epochs', c.epochs, 1);
  int('batch-size', c.batch_size, 1);
  int('limit-train', c.limit_train, 1);
  int('limit-test', c.limit_test, 1);
  int('image-size', c.image_size, 1);
  int('seed', c.seed, 0);
  if (c.seed > 0xffffffff) fail('seed', `must be below 2^32 (got ${c.seed})`);
  int('eval-every', c.eval_every, 1);
  int('align-every', c.align_every, 0);
  int('log-every', c.log_every, 1);
  int('checkpoint-every', c.checkpoint_every, 0);
  const o = c.optimizer;
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) fail('lr', `must be a finite number > 0 (got ${o.lr})`);
  if (!(o.momentum >= 0 && o.momentum < 1)) fail('momentum', `must be in [0, 1) (got ${o.momentum})`);
  if (!(o.weight_decay >= 0) || !Number.isFinite(o.weight_decay))
    fail('weight-decay', `must be a finite number ≥ 0 (got ${o.weight_decay})`);
  if (o.nesterov && o.momentum === 0) fail('nesterov', 'needs --momentum > 0');
  if (c.rule === 'kp' && !(o.weight_decay > 0))
    fail('weight-decay', `must be > 0 with --rule kp (got ${o.weight_decay}): without decay B never converges to W`);
  const s = c.schedule;
  if (!(SCHEDULES as readonly string[]).includes(s.kind))
    fail('schedule', `"${s.kind}" is not a schedule (known: ${SCHEDULES.join(', ')})`);
  if (!(s.gamma > 0) || !Number.isFinite(s.gamma)) fail('gamma', `must be a finite number > 0 (got ${s.gamma})`);
  int('step-size', s.step_size, 1);
  if (!(s.warmup_epochs >= 0) || !Number.isFinite(s.warmup_epochs)) fail('warmup-epochs', `must be ≥ 0 (got ${s.warmup_epochs})`);
  s.milestones.forEach((m, i) => {
    if (!Number.isInteger(m) || m < 1) fail('milestones', `must be whole epochs ≥ 1 (got ${s.milestones.join(',')})`);
    if (i > 0 && m <= s.milestones[i - 1]) fail('milestones', `must increase (got ${s.milestones.join(',')})`);
  });
  if (s.kind === 'multistep' && s.milestones.length === 0)
    fail('milestones', 'is needed with --schedule multistep (e.g. --milestones 30,60)');
  const m = c.mirror;
  if (!(m.sigma > 0)) fail('mirror-sigma', `must be > 0 (got ${m.sigma})`);
  int('mirror-samples', m.samples, 1);
  if (!(m.lr > 0)) fail('mirror-lr', `must be > 0 (got ${m.lr})`);
  if (!(m.decay >= 0 && m.decay < 1)) fail('mirror-decay', `must be in [0, 1) (got ${m.decay})`);
  int('mirror-steps', m.steps_per_batch, 0);
  int('mirror-warmup', m.warmup_steps, 0);
  const syn = c.synthetic;
  int('synthetic-train', syn.train, 1);
  int('synthetic-test', syn.test, 1);
  int('synthetic-channels', syn.channels, 1);
  int('synthetic-size', syn.size, 1);
  int('synthetic-classes', syn.classes, 2);
  if (c.hidden !== null) {
    if (c.model !== 'mlp') fail('hidden', `is an mlp option; ${c.model} takes none`);
    c.hidden.forEach((h) => int('hidden', h, 1));
  }
}

/** Settings that may differ between a checkpoint and the run that resumes it: they change how long it runs and what it records, not a step. */
export const RESUMABLE_KEYS: readonly string[] = ['epochs', 'eval_every', 'align_every', 'log_every', 'checkpoint_every', 'data'];

/** Flattened "a.b" → JSON text of the value, for comparing configs and for messages. */
export function flattenConfig(c: object): Map<string, string> {
  return new Map(flattenJson(c as Record<string, unknown>).map(([k, v]) => [k, JSON.stringify(v)]));
}

/**
 * The settings in which two configs differ, ignoring the adapter, the
 * version and `ignore`'s keys (and their sub-keys).
 */
export function configDifferences(a: TrainConfig, b: TrainConfig, ignore: readonly string[] = []): string[] {
  const skip = (k: string) => ['adapter', 'nowt_version', ...ignore].some((i) => k === i || k.startsWith(`${i}.`));
  const fa = flattenConfig(a);
  const fb = flattenConfig(b);
  const keys = [...new Set([...fa.keys(), ...fb.keys()])].filter((k) => !skip(k)).sort();
  return keys.filter((k) => fa.get(k) !== fb.get(k)).map((k) => `${k}: ${fa.get(k) ?? '(none)'} vs ${fb.get(k) ?? '(none)'}`);
}

/** Parses a config.json's text; unknown keys are refused so a typo cannot pass silently. */
export function parseConfigJson(text: string, source: string): TrainConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${source}: not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(raw)) throw new ConfigError(`${source}: expected a JSON object`);
  if (raw.format !== 'nowt-config/1') throw new ConfigError(`${source}: format is ${JSON.stringify(raw.format)}, expected "nowt-config/1"`);
  const unknown = [...flattenConfig(raw).keys()].filter(
    (k) =>
      !k.startsWith('adapter') && !flattenConfig(DEFAULT_CONFIG).has(k) && k !== 'nowt_version' && !k.startsWith('schedule.milestones'),
  );
  if (unknown.length > 0) throw new ConfigError(`${source}: unknown settings ${unknown.join(', ')}`);
  return mergeConfig(DEFAULT_CONFIG, raw as DeepPartial<TrainConfig>);
}
