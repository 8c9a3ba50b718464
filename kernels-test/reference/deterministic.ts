// Deterministic tensors from a formula, bit-identical to
// tools/fixtures/deterministic.py, so that whole-network fixtures
// (kernels-test/fixtures/step/*.json, made by tools/fixtures/make_step_fixtures.py)
// need no committed weights. Every step is an exact 32-bit integer operation
// or one correctly rounded float64 operation, then one rounding to float32.
//
//   hashUniform(seed, i) ∈ [-1, 1):
//     h = (i·2654435761 + seed·40503 + 12345) mod 2^32
//     h ^= h>>>16; h = h·0x7feb352d mod 2^32; h ^= h>>>15; h = h·0x846ca68b mod 2^32; h ^= h>>>16
//     return h / 2^31 − 1
//   seedOf(name) = FNV-1a 32-bit of the UTF-8 name
//
// A tensor named n (numel k, C order, PyTorch layout) holds, for i < k:
//   weight (conv OIHW / linear (O,I)): hashUniform(seedOf(n), i)·sqrt(3/fan_in), fan_in = I·kh·kw or I
//   feedback.<w>:                      as a weight, seeded with seedOf('feedback.' + w)
//   bias (conv, linear or BN):         0.1·hashUniform(seedOf(n), i)
//   BN weight:                         1 + 0.1·hashUniform(seedOf(n), i)
//   running_mean 0, running_var 1, num_batches_tracked 0
// A batch: input[i] = hashUniform(seedOf('input'), i) (N·C·H·W),
//          target[j] = min(floor((hashUniform(seedOf('target'), j) + 1)/2·classes), classes − 1).
//
// Gradient summaries (float64 sums over the flattened PyTorch layout):
//   {numel, sum, l2, proj = Σ g_i·hashUniform(777, i), maxAbs, samples: [[⌊k·numel/16⌋, value] for k < 16]}
// Comparison rule (compareSummary; compare_summary in Python), got vs want:
//   numel equal; l2, proj and maxAbs within rtol·l2(want) absolute (an error
//   vector of norm ≤ rtol·l2 moves none of them further); sum within
//   rtol·l2·sqrt(numel) (the same bound, by Cauchy–Schwarz); each sample within
//   rtol·maxAbs(want) absolute. Default rtol = 1e-3 ("every gradient within
//   1e-3 relative").

export const PROJ_SEED = 777;
export const N_SAMPLES = 16;
export const DEFAULT_RTOL = 1e-3;

/** Which formula a tensor uses; the strings are the Python side's. */
export type DeterministicRole = 'weight' | 'feedback' | 'bias' | 'bn_weight' | 'running_mean' | 'running_var' | 'num_batches_tracked';

/** hashUniform(seed, i) ∈ [-1, 1) for a 32-bit seed and a non-negative integer index i < 2^53. */
export function hashUniform(seed: number, i: number): number {
  // i·2654435761 mod 2^32 from i's low 32 bits (Math.imul keeps exactly the low 32 bits).
  const lo = i % 4294967296;
  let h = (Math.imul(lo >>> 0, 2654435761 | 0) + Math.imul(seed >>> 0, 40503) + 12345) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b | 0) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 2147483648 - 1;
}

/** FNV-1a 32-bit hash of the UTF-8 bytes of name. */
export function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** The formula a state_dict (or feedback.*) entry uses, from its name and rank. */
export function roleOf(name: string, shape: readonly number[]): DeterministicRole {
  if (name.startsWith('feedback.')) return 'feedback';
  const last = name.slice(name.lastIndexOf('.') + 1);
  if (last === 'running_mean' || last === 'running_var' || last === 'num_batches_tracked') return last;
  if (last === 'weight') return shape.length === 2 || shape.length === 4 ? 'weight' : 'bn_weight';
  if (last === 'bias') return 'bias';
  throw new Error(`roleOf(): no deterministic formula for "${name}" with shape [${shape.join(',')}]`);
}

/** The formula's values for tensor `name` (role inferred from name and rank when omitted). */
export function deterministicTensor(name: string, shape: readonly number[], role: DeterministicRole = roleOf(name, shape)): Float32Array {
  shape.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0) throw new Error(`deterministicTensor(): "${name}" shape[${i}]=${d} must be a non-negative integer`);
  });
  const k = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(k);
  const seed = seedOf(name);
  switch (role) {
    case 'weight':
    case 'feedback': {
      if (shape.length !== 2 && shape.length !== 4) {
        throw new Error(`deterministicTensor(): "${name}" is a ${role} but shape [${shape.join(',')}] is neither (O,I) nor (O,I,kh,kw)`);
      }
      const scale = Math.sqrt(3 / shape.slice(1).reduce((a, b) => a * b, 1));
      for (let i = 0; i < k; i++) out[i] = hashUniform(seed, i) * scale;
      break;
    }
    case 'bias':
      for (let i = 0; i < k; i++) out[i] = 0.1 * hashUniform(seed, i);
      break;
    case 'bn_weight':
      for (let i = 0; i < k; i++) out[i] = 1 + 0.1 * hashUniform(seed, i);
      break;
    case 'running_var':
      out.fill(1);
      break;
    case 'running_mean':
    case 'num_batches_tracked':
      break;
    default:
      throw new Error(`deterministicTensor(): unknown role "${role as string}"`);
  }
  return out;
}

/** The deterministic batch: input N×C×H×W in [-1, 1), target N class indices. */
export function deterministicBatch(
  n: number,
  c: number,
  h: number,
  w: number,
  numClasses: number,
): { input: Float32Array; target: Int32Array } {
  const input = new Float32Array(n * c * h * w);
  const sIn = seedOf('input');
  for (let i = 0; i < input.length; i++) input[i] = hashUniform(sIn, i);
  const target = new Int32Array(n);
  const sT = seedOf('target');
  for (let j = 0; j < n; j++) target[j] = Math.min(Math.floor(((hashUniform(sT, j) + 1) / 2) * numClasses), numClasses - 1);
  return { input, target };
}

export interface GradSummary {
  numel: number;
  sum: number;
  l2: number;
  proj: number;
  maxAbs: number;
  /** [index, value] at index ⌊k·numel/16⌋ for k < 16. */
  samples: [number, number][];
}

export function gradSummary(values: ArrayLike<number>): GradSummary {
  const n = values.length;
  let sum = 0;
  let sq = 0;
  let proj = 0;
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    sum += v;
    sq += v * v;
    proj += v * hashUniform(PROJ_SEED, i);
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  const samples: [number, number][] = [];
  for (let k = 0; k < N_SAMPLES; k++) {
    const i = Math.floor((k * n) / N_SAMPLES);
    samples.push([i, values[i]]);
  }
  return { numel: n, sum, l2: Math.sqrt(sq), proj, maxAbs, samples };
}

const fmt = (x: number): string => x.toPrecision(9);

/** Failures (empty when got matches want) under the rule in this file's header. */
export function compareSummary(name: string, got: GradSummary, want: GradSummary, rtol = DEFAULT_RTOL): string[] {
  if (got.numel !== want.numel) return [`${name}: numel ${got.numel} != ${want.numel}`];
  const fails: string[] = [];
  const tolL2 = rtol * want.l2;
  const checks: [keyof GradSummary & ('l2' | 'proj' | 'maxAbs' | 'sum'), number][] = [
    ['l2', tolL2],
    ['proj', tolL2],
    ['maxAbs', tolL2],
    ['sum', tolL2 * Math.sqrt(want.numel)],
  ];
  for (const [key, tol] of checks) {
    const d = Math.abs(got[key] - want[key]);
    if (!(d <= tol))
      fails.push(`${name}: ${key} got ${fmt(got[key])} want ${fmt(want[key])} (|diff| ${d.toPrecision(3)} > tol ${tol.toPrecision(3)})`);
  }
  const tolS = rtol * want.maxAbs;
  want.samples.forEach(([j, wv], k) => {
    const g = got.samples[k];
    if (g === undefined || g[0] !== j || !(Math.abs(g[1] - wv) <= tolS)) {
      fails.push(`${name}: sample[${j}] got ${g === undefined ? 'nothing' : fmt(g[1])} want ${fmt(wv)} (tol ${tolS.toPrecision(3)})`);
    }
  });
  return fails;
}

/** Failures for plain values (loss, logits): each within rtol·max|want| absolute. */
export function compareValues(name: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol = DEFAULT_RTOL): string[] {
  if (got.length !== want.length) return [`${name}: length ${got.length} != ${want.length}`];
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  const tol = rtol * scale;
  const fails: string[] = [];
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol))
      fails.push(`${name}[${i}]: got ${fmt(got[i])} want ${fmt(want[i])} (tol ${tol.toPrecision(3)})`);
  }
  return fails;
}

/** One `nowt step` case as tools/fixtures/make_step_fixtures.py writes it (kernels-test/fixtures/step/<model>_<rule>.json). */
export interface StepFixture {
  model: string;
  rule: string;
  numClasses: number;
  inChannels: number;
  batch: number;
  height: number;
  width: number;
  /** Every state_dict entry, in order: [name, shape, 'float32' | 'int64']. */
  state_dict: [string, number[], string][];
  /** feedback.<w> names and shapes the rule reads from W.safetensors (fa only; empty otherwise). */
  feedback: [string, number[]][];
  loss: number;
  logits: number[];
  grads: Record<string, GradSummary>;
  /** Smallest rtol under which PyTorch's own float32 run passes compareSummary: a floor for any float32 engine. */
  f32_rtol_needed: number;
  torch_version: string;
}

/** A tensor for a safetensors writer (structurally src/io/safetensors.ts's TensorToWrite). */
export interface DeterministicTensorToWrite {
  dtype: 'F32' | 'I64';
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** W.safetensors contents for a fixture: every state_dict entry, plus its feedback.* tensors. */
export function stepWeights(fx: Pick<StepFixture, 'state_dict' | 'feedback'>): Record<string, DeterministicTensorToWrite> {
  const out: Record<string, DeterministicTensorToWrite> = {};
  for (const [name, shape, dtype] of fx.state_dict) {
    out[name] =
      dtype === 'int64'
        ? { dtype: 'I64', shape, data: new BigInt64Array(shape.reduce((a, b) => a * b, 1)) }
        : { dtype: 'F32', shape, data: deterministicTensor(name, shape) };
  }
  for (const [name, shape] of fx.feedback) out[name] = { dtype: 'F32', shape, data: deterministicTensor(name, shape) };
  return out;
}

/** BATCH.safetensors contents for a fixture: input F32 N×C×H×W and target I64 N. */
export function stepBatch(
  fx: Pick<StepFixture, 'batch' | 'inChannels' | 'height' | 'width' | 'numClasses'>,
): Record<string, DeterministicTensorToWrite> {
  const { input, target } = deterministicBatch(fx.batch, fx.inChannels, fx.height, fx.width, fx.numClasses);
  return {
    input: { dtype: 'F32', shape: [fx.batch, fx.inChannels, fx.height, fx.width], data: input },
    target: { dtype: 'I64', shape: [fx.batch], data: BigInt64Array.from(target, (v) => BigInt(v)) },
  };
}
