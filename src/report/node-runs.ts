// Reads run folders (config.json + metrics.jsonl) into `Run`s, checking the
// file formats of INTERFACES.md, and expands comparison folders
// (`<out>/<rule>/config.json`) into their run folders.

import fs from 'node:fs';
import path from 'node:path';
import type { AlignmentRecord, EventRecord, LayerAlignment, Run, RunConfig, TestRecord, TrainRecord } from './types.ts';
import { ruleOrder } from './colors.ts';

/** Bad or missing input: the message names the folder, or the file and line. */
export class ReportError extends Error {
  override name = 'ReportError';
}

const CONFIG = 'config.json';
const METRICS = 'metrics.jsonl';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A number field, or undefined when absent, null or not finite (a diverged loss is written as null or NaN text). */
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function numOrNull(v: unknown): number | null {
  return num(v) ?? null;
}

function readText(dir: string, file: string): string {
  const p = path.join(dir, file);
  if (!fs.existsSync(p)) throw new ReportError(`${dir}: no ${file} (a run folder holds ${CONFIG} and ${METRICS})`);
  return fs.readFileSync(p, 'utf8');
}

function readConfig(dir: string): RunConfig {
  const file = path.join(dir, CONFIG);
  const text = readText(dir, CONFIG);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ReportError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(parsed)) throw new ReportError(`${file}: expected a JSON object`);
  return parsed;
}

function layer(v: unknown, where: string): LayerAlignment {
  if (!isObject(v)) throw new ReportError(`${where}: each entry of "layers" must be an object`);
  return {
    name: String(v.name ?? '?'),
    weight_angle_deg: numOrNull(v.weight_angle_deg),
    delta_angle_deg: numOrNull(v.delta_angle_deg),
    norm_ratio: numOrNull(v.norm_ratio),
    ...(v.unused === true ? { unused: true } : {}),
  };
}

interface Metrics {
  train: TrainRecord[];
  test: TestRecord[];
  alignment: AlignmentRecord[];
  events: EventRecord[];
}

/** Parses metrics.jsonl text; `file` is only for messages (`file:line: …`). Unknown kinds are skipped (newer writers may add some). */
export function parseMetrics(text: string, file: string): Metrics {
  const out: Metrics = { train: [], test: [], alignment: [], events: [] };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const where = `${file}:${i + 1}`;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch (e) {
      throw new ReportError(`${where}: not valid JSON (${(e as Error).message})`);
    }
    if (!isObject(r)) throw new ReportError(`${where}: expected a JSON object`);
    for (const key of ['kind', 'step', 'epoch']) {
      if (!(key in r)) throw new ReportError(`${where}: record has no "${key}" (every record has kind, step and epoch)`);
    }
    if (typeof r.kind !== 'string') throw new ReportError(`${where}: "kind" must be a string`);
    if (typeof r.step !== 'number' || typeof r.epoch !== 'number')
      throw new ReportError(`${where}: "step" and "epoch" must be numbers (got ${JSON.stringify(r.step)}, ${JSON.stringify(r.epoch)})`);
    const base = { step: r.step, epoch: r.epoch };
    switch (r.kind) {
      case 'train':
        out.train.push({ ...base, loss: num(r.loss), top1_error: num(r.top1_error), lr: num(r.lr), images_per_s: num(r.images_per_s) });
        break;
      case 'test':
        out.test.push({ ...base, loss: num(r.loss), top1_error: num(r.top1_error), top5_error: num(r.top5_error) });
        break;
      case 'alignment':
        if (!Array.isArray(r.layers)) throw new ReportError(`${where}: an alignment record needs a "layers" array`);
        out.alignment.push({ ...base, layers: r.layers.map((l) => layer(l, where)) });
        break;
      case 'event':
        out.events.push({
          ...base,
          what: String(r.what ?? ''),
          ...(typeof r.time === 'string' ? { time: r.time } : {}),
          ...(num(r.wall_s) !== undefined ? { wall_s: num(r.wall_s) } : {}),
        });
        break;
    }
  }
  return out;
}

/** Reads one run folder; its label is its rule until `labelRuns` says otherwise. */
export function readRun(dir: string): Run {
  if (!fs.existsSync(dir)) throw new ReportError(`${dir}: no such folder`);
  const config = readConfig(dir);
  const metrics = parseMetrics(readText(dir, METRICS), path.join(dir, METRICS));
  const rule = typeof config.rule === 'string' && config.rule !== '' ? config.rule : path.basename(path.resolve(dir));
  return { dir, label: rule, rule, config, ...metrics };
}

/**
 * Reads run folders in a fixed order — the rules' order (bp, fa, ss, wm, kp,
 * then others), ties in the order given — so a report does not depend on how
 * its folders were listed. Runs that share a rule are labelled by folder name.
 */
export function readRuns(dirs: string[]): Run[] {
  if (dirs.length === 0) throw new ReportError('no run folders given');
  const runs = dirs.map(readRun);
  const order = runs.map((r, i) => ({ r, i })).sort((a, b) => ruleOrder(a.r.rule) - ruleOrder(b.r.rule) || a.i - b.i);
  const sorted = order.map((o) => o.r);
  const count = new Map<string, number>();
  for (const r of sorted) count.set(r.rule, (count.get(r.rule) ?? 0) + 1);
  for (const r of sorted) if ((count.get(r.rule) ?? 0) > 1) r.label = path.basename(path.resolve(r.dir));
  const seen = new Set<string>();
  for (const r of sorted) {
    if (seen.has(r.label))
      throw new ReportError(`two runs would both be labelled "${r.label}" (${r.dir}); give their folders distinct names`);
    seen.add(r.label);
  }
  return sorted;
}

/**
 * A run folder stays as it is; a folder without config.json whose
 * sub-folders hold one (what `nowt compare` writes) becomes those sub-folders,
 * in name order. Anything else is passed on, for `readRun` to name what is missing.
 */
export function expandRunDirs(dirs: string[]): string[] {
  const out: string[] = [];
  for (const dir of dirs) {
    if (fs.existsSync(path.join(dir, CONFIG)) || !fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      out.push(dir);
      continue;
    }
    const subs = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, CONFIG)))
      .map((e) => e.name)
      .sort();
    if (subs.length === 0) out.push(dir);
    else for (const s of subs) out.push(path.join(dir, s));
  }
  return out;
}
