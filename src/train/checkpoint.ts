// A checkpoint is one safetensors file (INTERFACES.md): the step program's
// snapshot under its names, and __metadata__ strings saying what run it
// belongs to (format, version, model, rule, dataset, step, epoch, the data
// order's position, the best test error so far, and config.json's text).
// This file turns snapshots into bytes and back; reading and writing files
// is the run folder's (node-run-folder.ts).

import type { StepSnapshot } from '../graph/step-program.ts';
import { parseSafetensors, serializeSafetensors, toFloat32, type SafetensorsFile, type TensorToWrite } from '../io/safetensors.ts';
import { NOWT_VERSION } from '../version.ts';
import { ConfigError, parseConfigJson, type TrainConfig } from './config.ts';

export const CHECKPOINT_FORMAT = 'nowt-checkpoint/1';

export interface CheckpointInfo {
  config: TrainConfig;
  step: number;
  /** Epochs completed. */
  epoch: number;
  /** Batches of the current epoch already taken: the data order's position. */
  position: number;
  /** Lowest test top-1 error so far (null before the first evaluation). */
  bestTop1Error: number | null;
}

export function checkpointBytes(snap: StepSnapshot, info: CheckpointInfo): Uint8Array {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of snap.tensors) tensors[name] = t;
  const c = info.config;
  return serializeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    nowt_version: NOWT_VERSION,
    model: c.model,
    rule: c.rule,
    dataset: c.dataset,
    step: String(info.step),
    epoch: String(info.epoch),
    position: String(info.position),
    best_top1_error: info.bestTop1Error === null ? '' : String(info.bestTop1Error),
    config: JSON.stringify(c),
  });
}

/** Parses a checkpoint: its snapshot (F32 and I64 tensors, copied out of the file) and its info; errors name the file. */
export function parseCheckpoint(bytes: Uint8Array, source: string): { snapshot: StepSnapshot; info: CheckpointInfo } {
  const file = parseSafetensors(bytes, source);
  return fromFile(file);
}

export function fromFile(file: SafetensorsFile): { snapshot: StepSnapshot; info: CheckpointInfo } {
  const source = file.source;
  const m = file.metadata;
  if (m.format !== CHECKPOINT_FORMAT) {
    throw new ConfigError(
      `${source}: not a nowt checkpoint (metadata format is ${JSON.stringify(m.format ?? null)}, expected "${CHECKPOINT_FORMAT}")`,
    );
  }
  const count = (key: string): number => {
    const n = Number(m[key]);
    if (m[key] === undefined || !Number.isSafeInteger(n) || n < 0)
      throw new ConfigError(`${source}: metadata ${key}=${JSON.stringify(m[key])} is not a count`);
    return n;
  };
  if (typeof m.config !== 'string') throw new ConfigError(`${source}: metadata has no config`);
  const config = parseConfigJson(m.config, `${source} (metadata config)`);
  const best = m.best_top1_error ? Number(m.best_top1_error) : null;
  const info: CheckpointInfo = { config, step: count('step'), epoch: count('epoch'), position: count('position'), bestTop1Error: best };
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, e] of file.tensors) {
    if (e.dtype === 'I64') tensors.set(name, { dtype: 'I64', shape: e.shape, data: new BigInt64Array(e.data.slice().buffer) });
    else tensors.set(name, { dtype: 'F32', shape: e.shape, data: toFloat32(e) });
  }
  return { snapshot: { step: info.step, tensors }, info };
}

/** Every F32 value finite: a checkpoint is never written from a diverged state. */
export function firstNonFinite(snap: StepSnapshot): string | null {
  for (const [name, t] of snap.tensors) {
    if (!(t.data instanceof Float32Array)) continue;
    for (const v of t.data) if (!Number.isFinite(v)) return name;
  }
  return null;
}
