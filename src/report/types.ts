// The report's view of a run folder: config.json as a plain object and the
// records of metrics.jsonl sorted by kind. Nothing here knows how a run was
// trained; these are the file formats of INTERFACES.md ("Run folders", "metrics.jsonl").

/** config.json, read as-is: every key is shown in the configuration table. */
export type RunConfig = Record<string, unknown>;

export interface TrainRecord {
  step: number;
  epoch: number;
  loss?: number;
  top1_error?: number;
  lr?: number;
  images_per_s?: number;
}

export interface TestRecord {
  step: number;
  epoch: number;
  loss?: number;
  top1_error?: number;
  top5_error?: number;
}

export interface LayerAlignment {
  name: string;
  weight_angle_deg: number | null;
  /** null where no δ is measured (e.g. the first weight layer). */
  delta_angle_deg: number | null;
  norm_ratio: number | null;
  /** The layer's B is never read by any pass (the first weight layer): left out of means and worst-layer numbers. */
  unused?: boolean;
}

export interface AlignmentRecord {
  step: number;
  epoch: number;
  layers: LayerAlignment[];
}

export interface EventRecord {
  step: number;
  epoch: number;
  what: string;
  time?: string;
  wall_s?: number;
}

/** One run folder, read and checked. */
export interface Run {
  dir: string;
  /** Shown in legends and tables: the rule, or the folder name when two runs share a rule. */
  label: string;
  rule: string;
  config: RunConfig;
  train: TrainRecord[];
  test: TestRecord[];
  alignment: AlignmentRecord[];
  events: EventRecord[];
}

/** Which angle an alignment figure shows. */
export type AngleKind = 'weight' | 'delta';
