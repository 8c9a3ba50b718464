// Every per-adapter kernel choice, in one place: an adapter profile (built
// once from the device), `choose(profile, op, shape)` (today's defaults) and a
// tuning table (made by `nowt bench --tune`) that overrides them per (op, shape).
//
// A config is the whole geometry a launcher needs: the override constants it
// passes to the WGSL (so the shaders never hold a tile size the TypeScript
// copies) and the numbers of its grid arithmetic. Register-tile sizes that
// size per-thread arrays (RM, RN, RG·4, CG·4, CN) must be WGSL constants; the
// configs name them too and kernels-test/tuning.test.ts checks the two agree.
//
// `checkConfig` is the one validity rule: the tuner enumerates candidates
// through it and a loaded table is checked by it, so a table can never hand a
// launcher a geometry its shader cannot run. Nothing here imports Node.

import type { GpuContext } from '../gpu/device.ts';
import { NowtError } from '../gpu/errors.ts';
import { debugFlags } from '../gpu/flags.ts';
import type { Runtime } from '../gpu/runtime.ts';

// ---- the adapter profile ----

export interface AdapterProfile {
  /** File-name-safe adapter name: a table is made for one adapter (tuning/<key>.json). */
  key: string;
  description: string;
  kind: 'cpu' | 'gpu';
  /** Subgroup size range when the `subgroups` feature is enabled, else null. */
  subgroup: { min: number; max: number } | null;
  limits: {
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupSizeX: number;
    maxComputeWorkgroupSizeY: number;
    maxComputeWorkgroupStorageSize: number;
  };
  features: readonly string[];
}

export function adapterKey(a: { vendor: string; device: string; architecture: string; backend: string }): string {
  const name = `${a.vendor} ${a.device === 'unknown' ? a.architecture : a.device} ${a.backend}`;
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9.]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'unknown'
  );
}

export function adapterProfile(ctx: Pick<GpuContext, 'adapter' | 'isCpu' | 'subgroupSize' | 'limits' | 'features'>): AdapterProfile {
  const l = ctx.limits;
  return {
    key: adapterKey(ctx.adapter),
    description: `${ctx.adapter.vendor}: ${ctx.adapter.device} (${ctx.adapter.description}, ${ctx.adapter.backend})`,
    kind: ctx.isCpu ? 'cpu' : 'gpu',
    subgroup: ctx.subgroupSize,
    limits: {
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    },
    features: [...ctx.features].sort(),
  };
}

/** Lane-tiled kernels need a workgroup of 8 to be exactly one subgroup. */
const eightLanes = (p: AdapterProfile) => p.subgroup !== null && p.subgroup.min === 8 && p.subgroup.max === 8;

// ---- ops, shapes and configs ----

export interface ConvShape {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
}

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

export interface BatchnormShape {
  N: number;
  C: number;
  /** H·W */
  HW: number;
}

/** shaders/conv2d_{forward,feedback,weight_grad}.wgsl: 8·WG_M × 8·WG_N threads' 8×8 register tiles. */
export interface ConvPortableConfig {
  variant: 'portable';
  WG_M: number;
  WG_N: number;
  TK: number;
  /** The shaders' register tile (4·RG × 4·CG), constants there. */
  RM: number;
  RN: number;
}

/** shaders/conv2d_lanes.wgsl: one 8-lane subgroup, 8·RG rows × TN columns. */
export interface ConvLanesConfig {
  variant: 'lanes';
  RG: number;
  /** Workgroup width, one subgroup. */
  LANES: number;
  /** Columns per workgroup, 4 per lane. */
  TN: number;
}

export type ConvConfig = ConvPortableConfig | ConvLanesConfig;

/** The weight gradient also chooses its split-K: split until there are minWorkgroups workgroups. */
export type ConvWeightGradConfig = ConvConfig & { minWorkgroups: number };

export interface MatmulTiledConfig {
  variant: 'tiled';
  WG_M: number;
  WG_N: number;
  TK: number;
  /** shaders/matmul.wgsl's register tile, constants there. */
  RM: number;
  RN: number;
}

export interface MatmulLanesConfig {
  variant: 'lanes_nt' | 'lanes_nn' | 'lanes_tn';
  LANES: number;
  /** shaders/matmul_lanes.wgsl's rows per workgroup and vec4 columns per lane, constants there. */
  RM: number;
  CN: number;
}

export type MatmulConfig = MatmulTiledConfig | MatmulLanesConfig;

export interface BatchnormConfig {
  /** Reduction workgroup (a multiple of the shader's LEAF = 16). */
  WG: number;
  /** Values per channel one reduction workgroup takes before the reduction splits into chunks. */
  maxChunk: number;
  /** Plane-wise workgroup and elements per thread. */
  EW: number;
  PER_THREAD: number;
}

export interface OpTypes {
  'conv2d.forward': { shape: ConvShape; config: ConvConfig };
  'conv2d.feedback': { shape: ConvShape; config: ConvConfig };
  'conv2d.weight_grad': { shape: ConvShape; config: ConvWeightGradConfig };
  matmul: { shape: MatmulShape; config: MatmulConfig };
  batchnorm: { shape: BatchnormShape; config: BatchnormConfig };
}

export type TunedOp = keyof OpTypes;
export type ShapeOf<O extends TunedOp> = OpTypes[O]['shape'];
export type ConfigOf<O extends TunedOp> = OpTypes[O]['config'];

export const TUNED_OPS: readonly TunedOp[] = ['conv2d.forward', 'conv2d.feedback', 'conv2d.weight_grad', 'matmul', 'batchnorm'];

const SHAPE_FIELDS: Record<TunedOp, readonly string[]> = {
  'conv2d.forward': ['N', 'C', 'H', 'W', 'O', 'KH', 'KW', 'stride', 'pad'],
  'conv2d.feedback': ['N', 'C', 'H', 'W', 'O', 'KH', 'KW', 'stride', 'pad'],
  'conv2d.weight_grad': ['N', 'C', 'H', 'W', 'O', 'KH', 'KW', 'stride', 'pad'],
  matmul: ['M', 'N', 'K', 'transA', 'transB'],
  batchnorm: ['N', 'C', 'HW'],
};

/** The table key of a shape: its op's fields in a fixed order. */
export function shapeKey<O extends TunedOp>(op: O, shape: ShapeOf<O>): string {
  const s = shape as unknown as Record<string, number | boolean>;
  return SHAPE_FIELDS[op].map((f) => `${f}=${s[f] === true ? 1 : s[f] === false ? 0 : s[f]}`).join(' ');
}

// ---- geometry every launcher derives from its config ----

/** Output tile of one conv workgroup: rows (channels) × columns (pixels, or k for the weight gradient). */
export function convTile(c: ConvConfig): { rows: number; cols: number } {
  return c.variant === 'lanes' ? { rows: c.LANES * c.RG, cols: c.TN } : { rows: c.WG_M * c.RM, cols: c.WG_N * c.RN };
}

/** The override constants a conv config sets in its shader. */
export function convOverrides(c: ConvConfig): Record<string, number> {
  return c.variant === 'lanes' ? { RG: c.RG, TN: c.TN } : { WG_M: c.WG_M, WG_N: c.WG_N, TK: c.TK };
}

/** Output tile of one matmul workgroup: rows of C × columns of C. */
export function matmulTile(c: MatmulConfig): { rows: number; cols: number } {
  return c.variant === 'tiled' ? { rows: c.WG_M * c.RM, cols: c.WG_N * c.RN } : { rows: c.RM, cols: c.LANES * c.CN };
}

export function matmulOverrides(c: MatmulConfig): Record<string, number> {
  return c.variant === 'tiled' ? { WG_M: c.WG_M, WG_N: c.WG_N, TK: c.TK } : {};
}

// ---- today's choices ----

/** The portable conv kernels' default: half-height tiles (32 rows) when there are few output rows. */
export function convPortableDefault(rows: number): ConvPortableConfig {
  return { variant: 'portable', WG_M: rows <= 32 ? 4 : 8, WG_N: 8, TK: 8, RM: 8, RN: 8 };
}

/** Row groups of 8 per lanes workgroup: fewer when the layer has few rows (e.g. the stem's 3 input channels). */
function convLanesDefault(rows: number): ConvLanesConfig {
  return { variant: 'lanes', RG: rows <= 8 ? 1 : rows <= 16 ? 2 : 4, LANES: 8, TN: 32 };
}

/** The GEMM rows of each conv product: output channels, except the feedback's input channels. */
export const convRows = (op: 'conv2d.forward' | 'conv2d.feedback' | 'conv2d.weight_grad', s: ConvShape) =>
  op === 'conv2d.feedback' ? s.C : s.O;

function matmulLanesVariant(s: MatmulShape): MatmulLanesConfig['variant'] | null {
  if (!s.transA && s.transB && s.K % 4 === 0) return 'lanes_nt';
  if (!s.transA && !s.transB && s.K % 4 === 0 && s.N % 4 === 0) return 'lanes_nn';
  if (s.transA && !s.transB && s.M % 4 === 0 && s.N % 4 === 0) return 'lanes_tn';
  return null;
}

const MATMUL_TILED_DEFAULT: MatmulTiledConfig = { variant: 'tiled', WG_M: 8, WG_N: 8, TK: 16, RM: 4, RN: 4 };
const matmulLanes = (variant: MatmulLanesConfig['variant']): MatmulLanesConfig => ({ variant, LANES: 8, RM: 8, CN: 4 });

/**
 * The default configuration of `op` on `shape` for this adapter: on CPU
 * adapters with 8-wide subgroups the lane-tiled kernels (a workgroup of 8 is
 * one SIMD vector there), on every GPU the workgroup-tiled ones.
 */
export function choose<O extends TunedOp>(profile: AdapterProfile, op: O, shape: ShapeOf<O>): ConfigOf<O> {
  const lanes = profile.kind === 'cpu' && eightLanes(profile);
  switch (op) {
    case 'conv2d.forward':
    case 'conv2d.feedback':
    case 'conv2d.weight_grad': {
      const rows = convRows(op, shape as ConvShape);
      const c: ConvConfig = lanes ? convLanesDefault(rows) : convPortableDefault(rows);
      const out = op === 'conv2d.weight_grad' ? { ...c, minWorkgroups: profile.kind === 'cpu' ? 16 : 256 } : c;
      return out as ConfigOf<O>;
    }
    case 'matmul': {
      const v = lanes ? matmulLanesVariant(shape as MatmulShape) : null;
      return (v ? matmulLanes(v) : { ...MATMUL_TILED_DEFAULT }) as ConfigOf<O>;
    }
    case 'batchnorm':
      return { WG: 128, maxChunk: 128 * 32, EW: 64, PER_THREAD: 4 } as ConfigOf<O>;
  }
  throw new NowtError(`choose(): unknown op "${String(op)}"`);
}

// ---- validity ----

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

function fieldsProblem(c: Record<string, unknown>, want: Record<string, 'int' | 'variant'>, variants: readonly string[]): string | null {
  for (const [k, kind] of Object.entries(want)) {
    const v = c[k];
    if (kind === 'variant' ? !variants.includes(v as string) : !isPosInt(v)) {
      return kind === 'variant'
        ? `${k}=${JSON.stringify(v)} must be one of ${variants.join(', ')}`
        : `${k}=${JSON.stringify(v)} must be a positive integer`;
    }
  }
  const extra = Object.keys(c).filter((k) => !(k in want));
  return extra.length ? `unknown field${extra.length > 1 ? 's' : ''} ${extra.join(', ')}` : null;
}

function workgroupProblem(p: AdapterProfile, x: number, y: number, bytes: number): string | null {
  const l = p.limits;
  if (x * y > l.maxComputeInvocationsPerWorkgroup)
    return `${x * y} threads exceed maxComputeInvocationsPerWorkgroup=${l.maxComputeInvocationsPerWorkgroup}`;
  if (x > l.maxComputeWorkgroupSizeX) return `workgroup width ${x} exceeds maxComputeWorkgroupSizeX=${l.maxComputeWorkgroupSizeX}`;
  if (y > l.maxComputeWorkgroupSizeY) return `workgroup height ${y} exceeds maxComputeWorkgroupSizeY=${l.maxComputeWorkgroupSizeY}`;
  if (bytes > l.maxComputeWorkgroupStorageSize)
    return `${bytes} bytes of workgroup memory exceed maxComputeWorkgroupStorageSize=${l.maxComputeWorkgroupStorageSize}`;
  return null;
}

function convProblem(p: AdapterProfile, op: TunedOp, c: Record<string, unknown>): string | null {
  const wg: Record<string, 'int'> = op === 'conv2d.weight_grad' ? { minWorkgroups: 'int' } : {};
  if (c.variant === 'lanes') {
    const f = fieldsProblem(c, { variant: 'variant', RG: 'int', LANES: 'int', TN: 'int', ...wg }, ['lanes']);
    if (f) return f;
    if (!eightLanes(p)) return 'variant "lanes" needs 8-wide subgroups (this adapter has ' + JSON.stringify(p.subgroup) + ')';
    if (![1, 2, 4].includes(c.RG as number)) return `RG=${String(c.RG)} must be 1, 2 or 4 (the shader's accumulators hold 32 rows)`;
    if (c.LANES !== 8 || c.TN !== 32)
      return `LANES=${String(c.LANES)}, TN=${String(c.TN)} must be 8 and 32 (one 8-lane subgroup, 4 columns per lane)`;
    return null;
  }
  const f = fieldsProblem(c, { variant: 'variant', WG_M: 'int', WG_N: 'int', TK: 'int', RM: 'int', RN: 'int', ...wg }, [
    'lanes',
    'portable',
  ]);
  if (f) return f;
  const { WG_M, WG_N, TK, RM, RN } = c as unknown as ConvPortableConfig;
  if (RM !== 8 || RN !== 8) return `RM=${RM}, RN=${RN} must be 8 and 8 (the shaders' register tile)`;
  // tileStats finishes tile row li with thread li: threads = rows, so WG_N = RM.
  if (WG_N !== RM) return `WG_N=${WG_N} must equal RM=${RM} (one thread per tile row in the statistics epilogue)`;
  // Each thread stages whole vec4 columns: threads must be a multiple of GN = WG_N·RN/4 (and of TK in the weight gradient).
  if ((WG_M * WG_N) % ((WG_N * RN) / 4) !== 0)
    return `WG_M=${WG_M} must be even (threads a multiple of the ${(WG_N * RN) / 4} staged column groups)`;
  if (![4, 8, 16].includes(TK)) return `TK=${TK} must be 4, 8 or 16`;
  if (op === 'conv2d.weight_grad' && (WG_M * WG_N) % TK !== 0) return `WG_M·WG_N=${WG_M * WG_N} threads must be a multiple of TK=${TK}`;
  const bytes = 16 * TK * ((WG_M * RM) / 4 + (WG_N * RN) / 4) + 4 * (WG_M * RM * WG_N + WG_M * RM);
  return workgroupProblem(p, WG_N, WG_M, bytes);
}

function matmulProblem(p: AdapterProfile, s: MatmulShape, c: Record<string, unknown>): string | null {
  if (c.variant === 'tiled') {
    const f = fieldsProblem(c, { variant: 'variant', WG_M: 'int', WG_N: 'int', TK: 'int', RM: 'int', RN: 'int' }, ['tiled']);
    if (f) return f;
    const { WG_M, WG_N, TK, RM, RN } = c as unknown as MatmulTiledConfig;
    if (RM !== 4 || RN !== 4) return `RM=${RM}, RN=${RN} must be 4 and 4 (shaders/matmul.wgsl's register tile)`;
    if (![8, 16, 32].includes(TK)) return `TK=${TK} must be 8, 16 or 32`;
    return workgroupProblem(p, WG_N, WG_M, 4 * TK * (WG_M * RM + WG_N * RN));
  }
  const f = fieldsProblem(c, { variant: 'variant', LANES: 'int', RM: 'int', CN: 'int' }, ['tiled', 'lanes_nt', 'lanes_nn', 'lanes_tn']);
  if (f) return f;
  if (!eightLanes(p)) return `variant "${String(c.variant)}" needs 8-wide subgroups (this adapter has ${JSON.stringify(p.subgroup)})`;
  const fits = matmulLanesVariant(s);
  if (fits !== c.variant) return `variant "${String(c.variant)}" does not fit this layout and alignment (${fits ?? 'only tiled'} does)`;
  if (c.LANES !== 8 || c.RM !== 8 || c.CN !== 4) return `LANES, RM, CN must be 8, 8, 4 (shaders/matmul_lanes.wgsl)`;
  return null;
}

function batchnormProblem(p: AdapterProfile, c: Record<string, unknown>): string | null {
  const f = fieldsProblem(c, { WG: 'int', maxChunk: 'int', EW: 'int', PER_THREAD: 'int' }, []);
  if (f) return f;
  const { WG, EW, PER_THREAD } = c as unknown as BatchnormConfig;
  if (WG % 16 !== 0) return `WG=${WG} must be a multiple of 16 (the shader's LEAF)`;
  if (PER_THREAD !== 4) return `PER_THREAD=${PER_THREAD} must be 4`;
  return workgroupProblem(p, Math.max(WG, EW), 1, 4 * 3 * (WG / 16) + 4 * 2 * WG);
}

/** Why `config` cannot run `op` on `shape` on this adapter, or null when it can. */
export function checkConfig<O extends TunedOp>(profile: AdapterProfile, op: O, shape: ShapeOf<O>, config: unknown): string | null {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return 'config must be an object';
  const c = config as Record<string, unknown>;
  if (op === 'matmul') return matmulProblem(profile, shape as MatmulShape, c);
  if (op === 'batchnorm') return batchnormProblem(profile, c);
  return convProblem(profile, op, c);
}

// ---- candidates for the tuner ----

/** Every valid configuration worth timing, the default first, at most `max` of them. */
export function candidates<O extends TunedOp>(profile: AdapterProfile, op: O, shape: ShapeOf<O>, max = Infinity): ConfigOf<O>[] {
  const def = choose(profile, op, shape);
  const raw: unknown[] = [def];
  if (op === 'matmul') {
    const v = eightLanes(profile) ? matmulLanesVariant(shape as MatmulShape) : null;
    if (v) raw.push(matmulLanes(v));
    for (const [WG_M, WG_N] of [
      [8, 8],
      [4, 16],
      [16, 4],
      [16, 16],
      [4, 8],
      [8, 4],
      [4, 4],
      [8, 16],
      [16, 8],
    ])
      for (const TK of [16, 8, 32]) raw.push({ variant: 'tiled', WG_M, WG_N, TK, RM: 4, RN: 4 });
  } else if (op === 'batchnorm') {
    const d = def as BatchnormConfig;
    for (const maxChunk of [4096, 2048, 8192, 1024, 16384]) for (const WG of [128, 64, 256]) raw.push({ ...d, WG, maxChunk });
  } else {
    const rows = convRows(op as 'conv2d.forward', shape as ConvShape);
    const extra = (c: ConvConfig) =>
      op === 'conv2d.weight_grad' ? { ...c, minWorkgroups: (def as ConvWeightGradConfig).minWorkgroups } : c;
    const lanes: ConvConfig[] = eightLanes(profile) ? [1, 2, 4].map((RG) => ({ variant: 'lanes', RG, LANES: 8, TN: 32 })) : [];
    const portable: ConvConfig[] = [];
    for (const WG_M of [rows <= 32 ? 4 : 8, 8, 4, 16, 2])
      for (const TK of [8, 16, 4]) portable.push({ ...convPortableDefault(rows), WG_M, TK });
    for (const c of (def as ConvConfig).variant === 'lanes' ? [...lanes, ...portable] : [...portable, ...lanes]) raw.push(extra(c));
    if (op === 'conv2d.weight_grad') {
      const d = def as ConvWeightGradConfig;
      for (const m of [d.minWorkgroups * 4, Math.max(1, d.minWorkgroups / 4)]) raw.push({ ...d, minWorkgroups: m });
    }
  }
  const seen = new Set<string>();
  const out: ConfigOf<O>[] = [];
  for (const c of raw) {
    const key = JSON.stringify(c);
    if (seen.has(key) || checkConfig(profile, op, shape, c) !== null) continue;
    seen.add(key);
    out.push(c as ConfigOf<O>);
    if (out.length >= max) break;
  }
  return out;
}

// ---- tuning tables ----

export const TUNING_FORMAT = 'nowt-tuning/1';

export interface TuningEntry<O extends TunedOp = TunedOp> {
  op: O;
  shape: ShapeOf<O>;
  config: ConfigOf<O>;
  /** What the tuner measured, for the reader; not used to choose. */
  default_gflops?: number;
  tuned_gflops?: number;
}

export interface TuningTable {
  format: typeof TUNING_FORMAT;
  /** The adapter key the table was made on (AdapterProfile.key). */
  adapter: string;
  description?: string;
  entries: TuningEntry[];
}

export class TuningError extends NowtError {}

/**
 * Parses and checks a table's JSON; `source` (a file name) starts every error.
 * Configs are checked against `profile` when given (they must run here).
 */
export function parseTuningTable(text: string, source: string, profile?: AdapterProfile): TuningTable {
  const fail = (msg: string): never => {
    throw new TuningError(`tuning table ${source}: ${msg}`);
  };
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    return fail(`not valid JSON (${(e as Error).message})`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) return fail('must be a JSON object');
  const t = j as Record<string, unknown>;
  if (t.format !== TUNING_FORMAT) fail(`format=${JSON.stringify(t.format)}, expected "${TUNING_FORMAT}"`);
  if (typeof t.adapter !== 'string') fail('adapter must be a string (the adapter key it was tuned on)');
  if (!Array.isArray(t.entries)) fail('entries must be an array');
  if (profile && t.adapter !== profile.key) fail(`made for adapter "${String(t.adapter)}", but this adapter is "${profile.key}"`);
  const entries = t.entries as unknown[];
  entries.forEach((raw, i) => {
    const where = `entries[${i}]`;
    if (typeof raw !== 'object' || raw === null) fail(`${where} must be an object`);
    const e = raw as Record<string, unknown>;
    if (!TUNED_OPS.includes(e.op as TunedOp)) fail(`${where}.op=${JSON.stringify(e.op)} must be one of ${TUNED_OPS.join(', ')}`);
    const op = e.op as TunedOp;
    if (typeof e.shape !== 'object' || e.shape === null) fail(`${where}.shape must be an object`);
    const s = e.shape as Record<string, unknown>;
    for (const f of SHAPE_FIELDS[op]) {
      const v = s[f];
      const ok = f === 'transA' || f === 'transB' ? typeof v === 'boolean' : isPosInt(v) || (f === 'pad' && v === 0);
      if (!ok) fail(`${where}.shape.${f}=${JSON.stringify(v)} is not valid for ${op}`);
    }
    const key = shapeKey(op, s as unknown as ShapeOf<typeof op>);
    const problem = profile ? checkConfig(profile, op, s as unknown as ShapeOf<typeof op>, e.config) : null;
    if (problem) fail(`${where} (${op} ${key}): config ${JSON.stringify(e.config)}: ${problem}`);
  });
  return j as TuningTable;
}

/** The profile and, when one was loaded, the table: what launchers consult. */
export class Tuning {
  private readonly overrides = new Map<string, unknown>();

  constructor(
    readonly profile: AdapterProfile,
    readonly table: TuningTable | null = null,
    /** Where the table came from, for messages. */
    readonly source: string | null = null,
  ) {
    for (const e of table?.entries ?? []) this.overrides.set(`${e.op} ${shapeKey(e.op, e.shape)}`, e.config);
  }

  /** The table's entry for (op, shape), else choose()'s default. */
  config<O extends TunedOp>(op: O, shape: ShapeOf<O>): ConfigOf<O> {
    const hit = this.overrides.get(`${op} ${shapeKey(op, shape)}`);
    return (hit as ConfigOf<O> | undefined) ?? choose(this.profile, op, shape);
  }

  get entries(): number {
    return this.overrides.size;
  }
}

const byRuntime = new WeakMap<Runtime, Tuning>();

/** The runtime's tuning: defaults for its adapter until a table is set. */
export function tuningOf(rt: Runtime): Tuning {
  let t = byRuntime.get(rt);
  if (!t) byRuntime.set(rt, (t = new Tuning(adapterProfile(rt.ctx))));
  return t;
}

/**
 * Gives the runtime a table (parsed text, or an already-parsed object), or
 * null for the defaults. Set it before compiling a step: launchers read it when
 * they record. Every config is checked against this adapter first.
 */
export function setTuningTable(rt: Runtime, table: TuningTable | string | null, source = 'tuning table'): Tuning {
  const profile = adapterProfile(rt.ctx);
  const parsed = table === null ? null : parseTuningTable(typeof table === 'string' ? table : JSON.stringify(table), source, profile);
  const t = new Tuning(profile, parsed, parsed ? source : null);
  byRuntime.set(rt, t);
  return t;
}

// ---- what the launchers call ----

/** The conv config a launcher uses: forced tiles, then the force-portable-conv switch, then the table or default. */
export function convConfig<O extends 'conv2d.forward' | 'conv2d.feedback' | 'conv2d.weight_grad'>(
  rt: Runtime,
  op: O,
  shape: ConvShape,
  forcedTiles?: { WG_M?: number },
): ConfigOf<O> {
  const tuned = tuningOf(rt).config(op, shape);
  if (forcedTiles === undefined && !(debugFlags.forcePortableConv && tuned.variant === 'lanes')) return tuned;
  const portable = { ...convPortableDefault(convRows(op, shape)), ...forcedTiles };
  return (
    op === 'conv2d.weight_grad' ? { ...portable, minWorkgroups: (tuned as ConvWeightGradConfig).minWorkgroups } : portable
  ) as ConfigOf<O>;
}

/** The matmul config a launcher uses: the force-tiled-matmul switch, then the table or default. */
export function matmulConfig(rt: Runtime, shape: MatmulShape): MatmulConfig {
  const tuned = tuningOf(rt).config('matmul', shape);
  return debugFlags.forceTiledMatmul && tuned.variant !== 'tiled' ? { ...MATMUL_TILED_DEFAULT } : tuned;
}
