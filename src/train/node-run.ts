// One training run in a run folder (INTERFACES.md): config.json,
// metrics.jsonl, checkpoint.safetensors (the last state) and
// best.safetensors (lowest test top-1 error). Everything a run could refuse
// (flags, the dataset, the model's image size, a checkpoint that does not
// match) is refused before the folder is touched. A resumed run drops the
// records past its checkpoint's step and appends after them.

import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openDataset, validateImages, type Dataset, type DatasetName } from '../../datasets/index.ts';
import type { Runtime } from '../gpu/runtime.ts';
import { readSafetensorsFile } from '../io/node-safetensors.ts';
import { writeFileAtomic } from '../io/node-files.ts';
import { NOWT_VERSION } from '../version.ts';
import { checkpointBytes, fromFile, type CheckpointInfo } from './checkpoint.ts';
import { ConfigError, configDifferences, RESUMABLE_KEYS, validateConfig, type TrainConfig } from './config.ts';
import { trainLoop, type LoopEnd, type LoopSink, type MetricRecord, type TrainRecord } from './loop.ts';
import { Trainer } from './trainer.ts';

export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  checkpoint: 'checkpoint.safetensors',
  best: 'best.safetensors',
} as const;

export interface RunUi {
  /** Before training: what is about to run. */
  start?(info: { trainer: Trainer; resumedAt: number | null }): void;
  warmup?(done: number, total: number): void;
  progress?(step: number, total: number, last: TrainRecord | null, epochSteps: number): void;
  record?(r: MetricRecord): void;
  end?(): void;
}

export interface RunRequest {
  config: TrainConfig;
  out: string;
  resume: boolean;
  /** Settings given explicitly on the command line (flattened keys), checked against a resumed checkpoint. */
  explicit?: ReadonlySet<string>;
  ui?: RunUi;
  /** Stop between steps when this turns true (SIGINT/SIGTERM). */
  stopRequested?: () => boolean;
}

export interface RunResult {
  end: LoopEnd;
  out: string;
  trainer: Trainer;
}

/** The dataset a config names, opened and checked (an ImageFolder's images are decoded once to refuse bad files up front). */
export async function openRunDataset(c: TrainConfig): Promise<Dataset> {
  const ds = await openDataset({
    name: c.dataset as DatasetName,
    ...(c.data !== null ? { data: c.data } : {}),
    ...(c.limit_train !== null ? { limitTrain: c.limit_train } : {}),
    ...(c.limit_test !== null ? { limitTest: c.limit_test } : {}),
    ...(c.image_size !== null ? { imageSize: c.image_size } : {}),
    synthetic: { ...c.synthetic, seed: c.seed },
  });
  if (ds.name === 'imagefolder') await validateImages(ds);
  return ds;
}

/** Reads a checkpoint file; errors name it. */
export function readCheckpoint(path: string): ReturnType<typeof fromFile> {
  if (!existsSync(path)) throw new ConfigError(`${path}: no checkpoint there`);
  return fromFile(readSafetensorsFile(path));
}

/** The folder must be new (or hold this run when resuming), and not a file. */
function checkOut(out: string, resume: boolean): void {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new ConfigError(`--out ${out} is a file, not a folder`);
  if (resume) {
    const ckpt = join(out, RUN_FILES.checkpoint);
    if (!existsSync(ckpt)) throw new ConfigError(`--resume: no checkpoint at ${ckpt} (the run wrote none yet, or --out is wrong)`);
    return;
  }
  for (const f of [RUN_FILES.metrics, RUN_FILES.checkpoint]) {
    if (existsSync(join(out, f)))
      throw new ConfigError(`--out ${out} already holds a run (${f}); pass --resume to continue it, or choose another folder`);
  }
}

/** The metrics file cut back to the records at or before `step` (a killed run may have written some past its checkpoint). */
function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => {
      if (line.trim() === '') return false;
      try {
        return (JSON.parse(line) as { step: number }).step <= step;
      } catch {
        return false; // a line cut short by the kill
      }
    });
  writeFileAtomic(path, kept.map((l) => `${l}\n`).join(''));
}

export async function runTraining(rt: Runtime, req: RunRequest): Promise<RunResult> {
  const { out, resume } = req;
  let config = req.config;
  checkOut(out, resume);
  let restored: ReturnType<typeof fromFile> | null = null;
  if (resume) {
    const path = join(out, RUN_FILES.checkpoint);
    restored = readCheckpoint(path);
    const saved = restored.info.config;
    // Settings given on the command line must agree with the checkpoint's, except those that only change how long it runs.
    const explicit = req.explicit ?? new Set<string>();
    const differ = configDifferences(saved, config, RESUMABLE_KEYS).filter((d) => explicit.has(d.slice(0, d.indexOf(':'))));
    if (differ.length > 0) throw new ConfigError(`--resume: ${path} was made with other settings: ${differ.join('; ')}`);
    config = { ...saved };
    for (const k of RESUMABLE_KEYS)
      if (explicit.has(k)) (config as unknown as Record<string, unknown>)[k] = (req.config as unknown as Record<string, unknown>)[k];
  }
  validateConfig(config);
  const dataset = await openRunDataset(config);
  const trainer = await Trainer.create(rt, config, dataset);
  config = { ...config, adapter: { ...rt.ctx.adapter }, nowt_version: NOWT_VERSION };

  const metricsPath = join(out, RUN_FILES.metrics);
  const event = (what: string, step: number, extra: Record<string, unknown> = {}) =>
    appendFileSync(
      metricsPath,
      `${JSON.stringify({ kind: 'event', step, epoch: Math.floor(step / trainer.stepsPerEpoch), what, time: new Date().toISOString(), ...extra })}\n`,
    );

  let best: number | null = null;
  if (restored) {
    trainer.program.restore(restored.snapshot, join(out, RUN_FILES.checkpoint));
    best = restored.info.bestTop1Error;
    truncateMetrics(metricsPath, restored.info.step);
  } else {
    trainer.initialise();
  }
  writeFileAtomic(join(out, RUN_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
  req.ui?.start?.({ trainer, resumedAt: restored ? restored.info.step : null });
  const started = performance.now();
  if (restored) event('resumed', trainer.program.step);
  else {
    event('started', 0);
    await trainer.program.warmup((done, total) => req.ui?.warmup?.(done, total));
  }

  const sink: LoopSink = {
    record(r) {
      appendFileSync(metricsPath, `${JSON.stringify(r)}\n`);
      req.ui?.record?.(r);
    },
    checkpoint(snap, ckInfo: CheckpointInfo, isBest) {
      const bytes = checkpointBytes(snap, { ...ckInfo, config });
      writeFileAtomic(join(out, RUN_FILES.checkpoint), bytes);
      if (isBest) writeFileAtomic(join(out, RUN_FILES.best), bytes);
    },
    progress: (step, total, last) => req.ui?.progress?.(step, total, last, trainer.stepsPerEpoch),
    stopRequested: req.stopRequested,
  };
  const end = await trainLoop(trainer, sink, best);
  const wall = (performance.now() - started) / 1000;
  if (end.how === 'finished') event('finished', end.step, { wall_s: wall });
  else if (end.how === 'interrupted') event('interrupted', end.step, { wall_s: wall });
  else if (end.how === 'diverged') event('diverged', end.step, { wall_s: wall, why: end.what });
  req.ui?.end?.();
  return { end, out, trainer };
}
