// Run folders for the report test: plausible config.json and metrics.jsonl
// for any rule, from a seeded generator (no pasted literals). Angles follow
// the poster's story: bp 0°, fa stays near 90°, ss near 40–50°, wm and kp
// fall towards 0°. The first layer is flagged unused and has no δ measured.

import fs from 'node:fs';
import path from 'node:path';
import { seededRandom } from './reference/random.ts';

export interface FixtureSpec {
  rule: string;
  layers?: number;
  steps?: number;
  epochs?: number;
  seed?: number;
  /** Leave out test records (a run that has not been evaluated yet). */
  noTest?: boolean;
  /** Leave out the finished event (wall time then comes from event times). */
  unfinished?: boolean;
}

// Where each rule's angles start and end (degrees); the weight and delta angle share the shape here.
const ANGLES: Record<string, [number, number]> = { bp: [0, 0], fa: [90, 82], ss: [40, 50], wm: [88, 12], kp: [89, 6] };

type Rec = Record<string, unknown>;

/** Writes `<dir>/config.json` and `<dir>/metrics.jsonl`; returns the records, so a test can compute what the report should say. */
export function writeRun(dir: string, spec: FixtureSpec): { config: Rec; records: Rec[] } {
  const { rule, layers = 5, steps = 200, epochs = 4, seed = 1 } = spec;
  const rand = seededRandom(seed * 7919 + rule.charCodeAt(0));
  const noise = (s: number) => (rand() - 0.5) * 2 * s;
  const perEpoch = steps / epochs;
  const config: Rec = {
    model: 'resnet20',
    dataset: 'fashion-mnist',
    rule,
    epochs,
    batch_size: 64,
    seed,
    nowt_version: '0.1.0',
    adapter: { description: 'SwiftShader Device (Subzero)', vendor: 'google', architecture: 'swiftshader', backend: 'vulkan' },
    optimizer: { lr: 0.1, momentum: 0.9, weight_decay: 5e-4, nesterov: false },
    schedule: { kind: 'cosine', warmup_epochs: 0 },
    ...(rule === 'wm' ? { mirror: { sigma: 1, eta: 0.1, lambda: 0.5, mirror_steps_per_batch: 1 } } : {}),
    data: '/data/fashion-mnist',
    limit_train: 12800,
    limit_test: 1000,
    image_size: 28,
    eval_every: perEpoch,
    align_every: 10,
  };
  const [a0, a1] = ANGLES[rule] ?? [60, 60];
  const start = Date.parse('2025-03-01T10:00:00Z');
  const records: Rec[] = [{ kind: 'event', step: 0, epoch: 0, what: 'started', time: new Date(start).toISOString() }];
  const quality = rule === 'bp' ? 1 : rule === 'fa' ? 0.55 : rule === 'ss' ? 0.75 : 0.9;
  for (let step = 1; step <= steps; step++) {
    const epoch = Math.floor((step - 1) / perEpoch);
    const p = step / steps;
    if (step % 5 === 0) {
      const loss = 2.3 * Math.exp(-2.5 * quality * p) + 0.1 + noise(0.05);
      records.push({ kind: 'train', step, epoch, loss, top1_error: Math.min(0.9, loss / 2.6), lr: 0.1, images_per_s: 900 + noise(150) });
    }
    if (step % 10 === 0) {
      const rows = [];
      for (let l = 0; l < layers; l++) {
        const w = Math.max(0, a0 + (a1 - a0) * p * (1 - l / (2 * layers)) + (rule === 'bp' ? 0 : noise(3)));
        rows.push({
          name: l === 0 ? 'conv1.weight' : l === layers - 1 ? 'fc.weight' : `layer${l}.conv.weight`,
          weight_angle_deg: w,
          delta_angle_deg: l === 0 ? null : rule === 'bp' ? 0 : Math.max(0, w * 0.8 + noise(2)),
          norm_ratio: rule === 'bp' ? 1 : 1 + p * (l + 1) * 0.3 + noise(0.05),
          ...(l === 0 && rule !== 'bp' ? { unused: true } : {}),
        });
      }
      records.push({ kind: 'alignment', step, epoch, layers: rows });
    }
    if (!spec.noTest && step % perEpoch === 0) {
      const top1 = Math.max(0.05, 0.9 * Math.exp(-3 * quality * p) + 0.08 + noise(0.02));
      records.push({ kind: 'test', step, epoch, loss: top1 * 2.5, top1_error: top1, top5_error: top1 / 4 });
    }
  }
  const end = start + 1000 * (60 + 30 * steps * rand());
  if (!spec.unfinished)
    records.push({
      kind: 'event',
      step: steps,
      epoch: epochs,
      what: 'finished',
      time: new Date(end).toISOString(),
      wall_s: (end - start) / 1000 - 1,
    });
  else records.push({ kind: 'event', step: steps, epoch: epochs, what: 'interrupted', time: new Date(end).toISOString() });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { config, records };
}

export const FIXTURE_RULES = ['bp', 'fa', 'ss', 'wm', 'kp'] as const;

/** A comparison folder as `nowt compare` writes it: `<root>/<rule>/` per rule. */
export function writeComparison(root: string, layers = 5): Map<string, { config: Rec; records: Rec[] }> {
  const out = new Map<string, { config: Rec; records: Rec[] }>();
  for (const rule of FIXTURE_RULES) out.set(rule, writeRun(path.join(root, rule), { rule, layers }));
  return out;
}
