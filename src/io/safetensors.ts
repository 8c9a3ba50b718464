// safetensors: read and write the format of huggingface/safetensors, on bytes
// in memory (no Node imports, so the browser uses the same code).
//
//   8 bytes   N, little-endian u64
//   N bytes   JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}
//   rest      raw little-endian tensor data, C order; offsets count from here
//
// Reading checks what the reference reader (safetensors/src/tensor.rs) checks,
// and says which file and which tensor is wrong: header length within the file
// and ≤ 100 MB, UTF-8 JSON object, each entry complete with a known dtype,
// end − begin = numel·size, and the tensors covering the data section exactly
// (no gap, no overlap, nothing after the last). Tensors come back as views
// into the bytes given, never copies; toFloat32 / toInt32 convert.
//
// Writing matches the reference writer byte for byte: tensors ordered by dtype
// (widest first, the reference's enum order) then by name, JSON compact with
// __metadata__ first, the header padded with spaces to a multiple of 8 bytes.
// Every tensor then starts at a multiple of its element size in the file.

import { NowtError, UnsupportedError } from '../gpu/errors.ts';

/** A malformed safetensors file, or tensors that cannot be written as one. */
export class SafetensorsError extends NowtError {
  override name = 'SafetensorsError';
}

/** Bytes per element, in the reference's enum order (narrowest first): the writer orders data by descending rank here. */
const DTYPE_SIZE = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

export type Dtype = keyof typeof DTYPE_SIZE;

export const SUPPORTED_DTYPES = Object.keys(DTYPE_SIZE) as Dtype[];
const DTYPE_RANK = new Map(SUPPORTED_DTYPES.map((d, i) => [d, i]));

export function dtypeSize(dtype: Dtype): number {
  return DTYPE_SIZE[dtype];
}

function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.hasOwn(DTYPE_SIZE, s);
}

/** One tensor of a parsed file: `data` is a view into the file's bytes (little-endian, C order). */
export interface SafetensorsEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  data: Uint8Array;
}

export interface SafetensorsFile {
  source: string;
  /** In file order (by data offset). */
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** The reference's MAX_HEADER_SIZE. */
export const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------- reading

/** Parses a whole safetensors file; `source` (a path) names it in every error. */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const fail = (what: string): never => {
    throw new SafetensorsError(`${source}: ${what}`);
  };
  if (bytes.length < 8) fail(`not a safetensors file: ${bytes.length} bytes, but the header length alone takes 8`);

  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo; // exact up to 2^53; anything near that is refused below
  if (n > MAX_HEADER_BYTES) {
    fail(`header length ${n} bytes is beyond the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or a corrupt one)`);
  }
  if (8 + n > bytes.length) fail(`header length ${n} bytes runs past the end of the file (${bytes.length} bytes in all; truncated?)`);

  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message}): ${preview(text)}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(
      `header is JSON ${Array.isArray(header) ? 'array' : String(header === null ? 'null' : typeof header)}, expected an object of tensors`,
    );
  }

  const metadata: Record<string, string> = {};
  interface Placed extends SafetensorsEntry {
    begin: number;
    end: number;
  }
  const placed: Placed[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info))
        fail(`__metadata__ is ${JSON.stringify(info)}, expected an object of strings`);
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ entry "${k}" is ${preview(JSON.stringify(v))}, expected a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = `tensor "${name}"`;
    if (typeof info !== 'object' || info === null || Array.isArray(info))
      fail(`${t}: entry is ${preview(JSON.stringify(info))}, expected {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    for (const key of ['dtype', 'shape', 'data_offsets']) if (!Object.hasOwn(info as object, key)) fail(`${t}: entry has no "${key}"`);
    if (!isDtype(dtype)) fail(`${t}: dtype ${JSON.stringify(dtype)} is not supported (supported: ${SUPPORTED_DTYPES.join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${t}: shape ${preview(JSON.stringify(shape))} is not a list of non-negative integers`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(`${t}: data_offsets ${preview(JSON.stringify(offsets))} is not [begin, end] with 0 ≤ begin ≤ end`);
    }
    const dims = shape as number[];
    const [begin, end] = offsets as [number, number];
    const d = dtype as Dtype;
    const nbytes = byteLength(d, dims);
    if (nbytes === null) fail(`${t}: shape [${dims.join(', ')}] has too many elements`);
    if (end - begin !== nbytes) {
      fail(`${t}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${d} × [${dims.join(', ')}] takes ${nbytes} bytes`);
    }
    placed.push({ name, dtype: d, shape: dims, data: bytes, begin, end });
  }

  // The reference requires the tensors to tile the data section exactly.
  placed.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  let covered = 0;
  let last = '';
  for (const p of placed) {
    if (p.begin > covered) {
      fail(
        `data bytes [${covered}, ${p.begin}) before tensor "${p.name}" belong to no tensor (safetensors requires the tensors to cover the data contiguously)`,
      );
    }
    if (p.begin < covered)
      fail(`tensor "${p.name}" (data_offsets [${p.begin}, ${p.end}]) overlaps tensor "${last}", which ends at ${covered}`);
    covered = p.end;
    last = p.name;
  }
  if (covered > dataLength) {
    fail(
      `tensor "${last}" ends at data byte ${covered}, but the file holds only ${dataLength} bytes of data after the header (truncated?)`,
    );
  }
  if (covered < dataLength) {
    fail(
      `${dataLength - covered} bytes after the last tensor${last ? ` ("${last}")` : ''} belong to no tensor (${dataLength} bytes of data, tensors cover ${covered})`,
    );
  }

  const tensors = new Map<string, SafetensorsEntry>();
  for (const p of placed) {
    tensors.set(p.name, { name: p.name, dtype: p.dtype, shape: p.shape, data: bytes.subarray(dataStart + p.begin, dataStart + p.end) });
  }
  return { source, tensors, metadata };
}

/** The named tensor, or an error listing what the file has. */
export function getTensor(file: SafetensorsFile, name: string): SafetensorsEntry {
  const e = file.tensors.get(name);
  if (e) return e;
  const names = [...file.tensors.keys()];
  const list =
    names.length === 0 ? 'no tensors' : names.slice(0, 20).join(', ') + (names.length > 20 ? `, … (${names.length} in all)` : '');
  throw new SafetensorsError(`${file.source}: no tensor "${name}" (the file has ${list})`);
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** numel·size, or null past 2^53. */
function byteLength(dtype: Dtype, shape: readonly number[]): number | null {
  let n = DTYPE_SIZE[dtype];
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return null;
  }
  return n;
}

function preview(s: string | undefined): string {
  const t = String(s);
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}

// ---------------------------------------------------------------- converting

type TypedCtor<T> = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number };

/** A typed view on the entry's bytes, copying only when they are not aligned for T. */
function typed<T>(entry: SafetensorsEntry, Ctor: TypedCtor<T>): T {
  if (!LITTLE_ENDIAN) throw new UnsupportedError(`safetensors: tensor "${entry.name}": reading on a big-endian host is not supported`);
  const { data } = entry;
  const count = data.byteLength / Ctor.BYTES_PER_ELEMENT;
  if (data.byteOffset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(data.buffer, data.byteOffset, count);
  return new Ctor(data.slice().buffer, 0, count);
}

const HALF_TO_FLOAT = (() => {
  let table: Float32Array | null = null;
  return () => {
    if (table) return table;
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16BitsToNumber(h);
    return table;
  };
})();

/** IEEE binary16 bits → number: subnormals (exponent 0) are frac·2^-24; exponent 31 is ±inf or NaN. */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** number → IEEE binary16 bits, rounded to nearest, ties to even (as torch's .half()); overflow gives ±inf. */
export function numberToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const b = u32Scratch[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 255) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++; // a carry into the exponent gives the smallest normal, correctly
    return sign | h;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry up to inf, which is right
  return h;
}

/** number → bfloat16 bits (the top half of the f32), rounded to nearest, ties to even; NaN stays NaN. */
export function numberToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const b = u32Scratch[0];
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}

/** The tensor as a new Float32Array (never a view of the file). F64 and I64 values round to the nearest f32. */
export function toFloat32(entry: SafetensorsEntry): Float32Array {
  switch (entry.dtype) {
    case 'F32':
      return typed(entry, Float32Array).slice();
    case 'F16': {
      const table = HALF_TO_FLOAT();
      const src = typed(entry, Uint16Array);
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
      return out;
    }
    case 'BF16': {
      const src = typed(entry, Uint16Array);
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F64':
      return Float32Array.from(typed(entry, Float64Array));
    case 'I64':
      return Float32Array.from(typed(entry, BigInt64Array), Number);
    case 'U64':
      return Float32Array.from(typed(entry, BigUint64Array), Number);
    case 'I32':
      return Float32Array.from(typed(entry, Int32Array));
    case 'U32':
      return Float32Array.from(typed(entry, Uint32Array));
    case 'I16':
      return Float32Array.from(typed(entry, Int16Array));
    case 'U16':
      return Float32Array.from(typed(entry, Uint16Array));
    case 'I8':
      return Float32Array.from(typed(entry, Int8Array));
    case 'U8':
    case 'BOOL':
      return Float32Array.from(entry.data);
  }
}

/** The tensor as a new Int32Array, for integer dtypes; a value outside int32 is an error naming the tensor. */
export function toInt32(entry: SafetensorsEntry): Int32Array {
  const outOfRange = (i: number, v: bigint | number): never => {
    throw new SafetensorsError(
      `toInt32(): tensor "${entry.name}" (${entry.dtype}) element ${i} is ${v}, outside the int32 range [-2147483648, 2147483647]`,
    );
  };
  switch (entry.dtype) {
    case 'I32':
      return typed(entry, Int32Array).slice();
    case 'I64':
    case 'U64': {
      const src = entry.dtype === 'I64' ? typed(entry, BigInt64Array) : typed(entry, BigUint64Array);
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        if (v < -2147483648n || v > 2147483647n) outOfRange(i, v);
        out[i] = Number(v);
      }
      return out;
    }
    case 'U32': {
      const src = typed(entry, Uint32Array);
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        if (src[i] > 2147483647) outOfRange(i, src[i]);
        out[i] = src[i];
      }
      return out;
    }
    case 'I16':
      return Int32Array.from(typed(entry, Int16Array));
    case 'U16':
      return Int32Array.from(typed(entry, Uint16Array));
    case 'I8':
      return Int32Array.from(typed(entry, Int8Array));
    case 'U8':
    case 'BOOL':
      return Int32Array.from(entry.data);
    default:
      throw new SafetensorsError(`toInt32(): tensor "${entry.name}" has dtype ${entry.dtype}, expected an integer dtype (I64, I32, ...)`);
  }
}

// ---------------------------------------------------------------- writing

export type TensorData =
  | Float64Array
  | Float32Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

export interface TensorToWrite {
  dtype: Dtype;
  shape: readonly number[];
  data: TensorData;
}

/**
 * The typed array each dtype takes. Also accepted: a Uint8Array of raw
 * little-endian bytes for any dtype (pass-through from a parsed file), a
 * Float32Array for F16 / BF16 (rounded to nearest even), and an Int32Array
 * for I64 (widened).
 */
const DATA_TYPE: Record<Dtype, { new (n: number): TensorData; name: string }> = {
  BOOL: Uint8Array,
  U8: Uint8Array,
  I8: Int8Array,
  I16: Int16Array,
  U16: Uint16Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I32: Int32Array,
  U32: Uint32Array,
  F32: Float32Array,
  F64: Float64Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
};

/** The tensor's bytes in file layout, converting where DATA_TYPE's note allows. */
function fileBytes(name: string, t: TensorToWrite): Uint8Array {
  const fail = (what: string): never => {
    throw new SafetensorsError(`serializeSafetensors(): tensor "${name}": ${what}`);
  };
  if (!isDtype(t.dtype)) fail(`dtype ${JSON.stringify(t.dtype)} is not supported (supported: ${SUPPORTED_DTYPES.join(', ')})`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`shape ${preview(JSON.stringify(t.shape))} is not a list of non-negative integers`);
  }
  const nbytes = byteLength(t.dtype, t.shape);
  if (nbytes === null) fail(`shape [${t.shape.join(', ')}] has too many elements`);
  const n = numel(t.shape);
  const { data } = t;
  const expected = DATA_TYPE[t.dtype];
  let out: Uint8Array;
  if (data instanceof expected) {
    out = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else if (data instanceof Uint8Array) {
    if (data.byteLength !== nbytes) fail(`${data.byteLength} raw bytes given, but ${t.dtype} × [${t.shape.join(', ')}] takes ${nbytes}`);
    return data;
  } else if (data instanceof Float32Array && (t.dtype === 'F16' || t.dtype === 'BF16')) {
    out = new Uint8Array(Uint16Array.from(data, t.dtype === 'F16' ? numberToF16Bits : numberToBf16Bits).buffer);
  } else if (data instanceof Int32Array && t.dtype === 'I64') {
    out = new Uint8Array(BigInt64Array.from(data, (v) => BigInt(v)).buffer);
  } else {
    const kind = (data as object | null)?.constructor?.name ?? typeof data;
    return fail(`data is a ${kind}, but ${t.dtype} takes a ${expected.name}`);
  }
  if (data.length !== n) fail(`data has ${data.length} elements, but shape [${t.shape.join(', ')}] has ${n}`);
  if (t.dtype === 'BOOL' && !out.every((v) => v <= 1)) fail('BOOL data holds a value other than 0 or 1');
  if (!LITTLE_ENDIAN && DTYPE_SIZE[t.dtype] > 1)
    throw new UnsupportedError('serializeSafetensors(): writing on a big-endian host is not supported');
  return out;
}

/** One safetensors file holding `tensors` (and `metadata` as __metadata__, omitted when absent). */
export function serializeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors);
  for (const name of names)
    if (name === '__metadata__') throw new SafetensorsError('serializeSafetensors(): "__metadata__" cannot name a tensor');
  const parts = names.map((name) => ({ name, dtype: tensors[name].dtype, bytes: fileBytes(name, tensors[name]) }));
  // Widest dtype first, then by name: each tensor then starts aligned to its element size.
  parts.sort((a, b) => DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // JSON written by hand so the key order is exactly the data order (an
  // object would move integer-like names first and misread "__proto__").
  const entries: string[] = [];
  if (metadata) {
    const meta: string[] = [];
    for (const k of Object.keys(metadata).sort()) {
      if (typeof metadata[k] !== 'string')
        throw new SafetensorsError(`serializeSafetensors(): metadata "${k}" is a ${typeof metadata[k]}, expected a string`);
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`);
    }
    entries.push(`"__metadata__":{${meta.join(',')}}`);
  }
  let offset = 0;
  for (const p of parts) {
    const info = { dtype: p.dtype, shape: tensors[p.name].shape, data_offsets: [offset, offset + p.bytes.byteLength] };
    entries.push(`${JSON.stringify(p.name)}:${JSON.stringify(info)}`);
    offset += p.bytes.byteLength;
  }
  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  const n = json.length + ((8 - (json.length % 8)) % 8);
  if (n > MAX_HEADER_BYTES)
    throw new SafetensorsError(`serializeSafetensors(): header of ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);

  const out = new Uint8Array(8 + n + offset);
  new DataView(out.buffer).setUint32(0, n, true); // the high word stays 0: n < 2^32
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let at = 8 + n;
  for (const p of parts) {
    out.set(p.bytes, at);
    at += p.bytes.byteLength;
  }
  return out;
}
