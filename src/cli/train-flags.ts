// `nowt train`'s flags (shared by `nowt compare`): each one's place in the
// run's config, its kind, and the help text. Parsing turns the given flags
// into a partial config, so `--config FILE` plus flags is one merge.

import { readFileSync } from 'node:fs';
import { DATASET_NAMES } from '../../datasets/index.ts';
import { MODEL_NAMES } from '../graph/models/index.ts';
import { RULE_NAMES } from '../rules/rule.ts';
import {
  DEFAULT_CONFIG,
  mergeConfig,
  parseConfigJson,
  SCHEDULES,
  validateConfig,
  type DeepPartial,
  type TrainConfig,
} from '../train/config.ts';
import { UsageError } from './usage.ts';

type Kind = 'int' | 'num' | 'str' | 'bool' | 'ints' | 'opt-str';
interface Flag {
  path: string;
  kind: Kind;
  help: string;
}

const D = DEFAULT_CONFIG;
export const TRAIN_FLAGS: Record<string, Flag> = {
  model: { path: 'model', kind: 'str', help: `${MODEL_NAMES.join(', ')} (default ${D.model})` },
  hidden: { path: 'hidden', kind: 'ints', help: 'mlp only: hidden widths, e.g. 256,256' },
  dataset: { path: 'dataset', kind: 'str', help: `${DATASET_NAMES.join(', ')} (default ${D.dataset})` },
  data: { path: 'data', kind: 'opt-str', help: "the dataset's folder or archive (default: $NOWT_DATA, then the usual place)" },
  'limit-train': { path: 'limit_train', kind: 'int', help: 'train on the first N training examples' },
  'limit-test': { path: 'limit_test', kind: 'int', help: 'test on the first N test examples' },
  'image-size': { path: 'image_size', kind: 'int', help: 'imagefolder: the crop the model sees (default 224)' },
  'synthetic-train': { path: 'synthetic.train', kind: 'int', help: `synthetic: training examples (default ${D.synthetic.train})` },
  'synthetic-test': { path: 'synthetic.test', kind: 'int', help: `synthetic: test examples (default ${D.synthetic.test})` },
  'synthetic-channels': { path: 'synthetic.channels', kind: 'int', help: `synthetic: channels (default ${D.synthetic.channels})` },
  'synthetic-size': { path: 'synthetic.size', kind: 'int', help: `synthetic: image side (default ${D.synthetic.size})` },
  'synthetic-classes': { path: 'synthetic.classes', kind: 'int', help: `synthetic: classes (default ${D.synthetic.classes})` },
  rule: { path: 'rule', kind: 'str', help: `${RULE_NAMES.join(', ')} (default ${D.rule})` },
  epochs: { path: 'epochs', kind: 'int', help: `(default ${D.epochs})` },
  'batch-size': { path: 'batch_size', kind: 'int', help: `-b (default ${D.batch_size})` },
  lr: { path: 'optimizer.lr', kind: 'num', help: `base learning rate (default ${D.optimizer.lr})` },
  momentum: { path: 'optimizer.momentum', kind: 'num', help: `SGD momentum in [0, 1) (default ${D.optimizer.momentum})` },
  'weight-decay': { path: 'optimizer.weight_decay', kind: 'num', help: `--wd (default ${D.optimizer.weight_decay}; kp needs > 0)` },
  nesterov: { path: 'optimizer.nesterov', kind: 'bool', help: 'Nesterov momentum' },
  schedule: { path: 'schedule.kind', kind: 'str', help: `${SCHEDULES.join(', ')} (default ${D.schedule.kind})` },
  milestones: { path: 'schedule.milestones', kind: 'ints', help: 'multistep: epochs where the rate is multiplied by --gamma' },
  gamma: { path: 'schedule.gamma', kind: 'num', help: `step/multistep factor (default ${D.schedule.gamma})` },
  'step-size': { path: 'schedule.step_size', kind: 'int', help: `step: epochs between decays (default ${D.schedule.step_size})` },
  'warmup-epochs': { path: 'schedule.warmup_epochs', kind: 'num', help: 'linear warm-up from 0 over this many epochs' },
  'mirror-sigma': { path: 'mirror.sigma', kind: 'num', help: `wm: noise σ (default ${D.mirror.sigma})` },
  'mirror-samples': { path: 'mirror.samples', kind: 'int', help: `wm: noise samples per mirror step (default ${D.mirror.samples})` },
  'mirror-lr': { path: 'mirror.lr', kind: 'num', help: `wm: η_B (default ${D.mirror.lr})` },
  'mirror-decay': { path: 'mirror.decay', kind: 'num', help: `wm: λ_B (default ${D.mirror.decay})` },
  'mirror-steps': { path: 'mirror.steps_per_batch', kind: 'int', help: `wm: mirror steps per batch (default ${D.mirror.steps_per_batch})` },
  'mirror-warmup': {
    path: 'mirror.warmup_steps',
    kind: 'int',
    help: `wm: mirror steps before training (default ${D.mirror.warmup_steps})`,
  },
  seed: { path: 'seed', kind: 'int', help: `weights, B, data order and augmentation (default ${D.seed})` },
  'eval-every': { path: 'eval_every', kind: 'int', help: `test every N epochs and after the last (default ${D.eval_every})` },
  'align-every': { path: 'align_every', kind: 'int', help: `alignment probe every K steps, 0 = never (default ${D.align_every})` },
  'log-every': { path: 'log_every', kind: 'int', help: `a train record every K steps (default ${D.log_every})` },
  'checkpoint-every': { path: 'checkpoint_every', kind: 'int', help: 'a checkpoint every N steps as well as at epoch ends' },
};

/** parseArgs option specs for every train flag (all strings but the booleans). */
export function trainOptionSpecs() {
  const specs: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, f] of Object.entries(TRAIN_FLAGS)) specs[name] = { type: f.kind === 'bool' ? 'boolean' : 'string' };
  specs['batch-size'].short = 'b';
  specs.wd = { type: 'string' };
  specs.config = { type: 'string' };
  return specs;
}

const PLACEHOLDER: Record<Kind, string> = { int: ' N', num: ' X', str: ' NAME', 'opt-str': ' PATH', bool: '', ints: ' LIST' };

export function trainFlagsHelp(): string {
  return Object.entries(TRAIN_FLAGS)
    .map(([name, f]) => `  --${(name + PLACEHOLDER[f.kind]).padEnd(22)}${f.help}`)
    .join('\n');
}

function parseValue(name: string, kind: Kind, raw: string | boolean): unknown {
  if (kind === 'bool') return raw === true;
  const v = String(raw);
  const num = (s: string) => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got "${s}")`);
    return n;
  };
  const int = (s: string) => {
    const n = num(s);
    if (!Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number (got "${s}")`);
    return n;
  };
  switch (kind) {
    case 'int':
      return int(v);
    case 'num':
      return num(v);
    case 'ints':
      return v.split(',').map((s) => int(s));
    case 'str':
    case 'opt-str':
      if (v === '') throw new UsageError(`--${name} needs a value`);
      return v;
  }
}

/** One train flag's value, parsed and checked for its kind (e.g. for `nowt eval`'s few flags). */
export function parseTrainFlag(name: keyof typeof TRAIN_FLAGS, raw: string | boolean): unknown {
  return parseValue(name, TRAIN_FLAGS[name].kind, raw);
}

export interface ParsedTrainFlags {
  config: TrainConfig;
  /** Flattened config keys the command line set (for --resume's agreement check). */
  explicit: Set<string>;
}

/** The run's config: defaults (or `base`), then --config FILE, then the flags; validated. */
export function configFromFlags(
  values: Record<string, string | boolean | undefined>,
  base: TrainConfig = DEFAULT_CONFIG,
): ParsedTrainFlags {
  if (typeof values.config === 'string') {
    let text: string;
    try {
      text = readFileSync(values.config, 'utf8');
    } catch (e) {
      throw new UsageError(`--config ${values.config}: cannot read: ${(e as Error).message}`);
    }
    base = parseConfigJson(text, values.config);
  }
  if (values.wd !== undefined) {
    if (values['weight-decay'] !== undefined) throw new UsageError('give --weight-decay or --wd, not both');
    values = { ...values, 'weight-decay': values.wd };
  }
  const over: Record<string, unknown> = {};
  const explicit = new Set<string>();
  for (const [name, f] of Object.entries(TRAIN_FLAGS)) {
    const raw = values[name];
    if (raw === undefined) continue;
    const parts = f.path.split('.');
    let at = over;
    for (const p of parts.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
    at[parts[parts.length - 1]] = parseValue(name, f.kind, raw);
    explicit.add(f.path);
  }
  const config = mergeConfig(base, over as DeepPartial<TrainConfig>);
  validateConfig(config);
  return { config, explicit };
}
