// safetensors reader and writer (no GPU): round trips of every dtype, the
// reference writer's exact bytes, half-precision conversions, I64 → int32, a
// file laid out by the reference format from torch tensors, and every kind of
// malformed file refused with a message naming the file and the fault.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dtypeSize,
  f16BitsToNumber,
  getTensor,
  numberToBf16Bits,
  numberToF16Bits,
  parseSafetensors,
  serializeSafetensors,
  SUPPORTED_DTYPES,
  toFloat32,
  toInt32,
  type Dtype,
  type SafetensorsEntry,
  type TensorToWrite,
} from '../src/io/safetensors.ts';
import { readSafetensorsFile, writeSafetensorsFile } from '../src/io/node-safetensors.ts';
import { randomArray } from './reference/random.ts';
import { assertThrows } from './harness.ts';

// Conversions are exact (bit patterns or integers), so no tolerance: every
// comparison below is equality, with NaN equal to NaN and -0 distinct from 0.
const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
function assertSame(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) if (!same(got[i], want[i])) assert.unreachable(`${what}[${i}] = ${got[i]}, expected ${want[i]}`);
}

const enc = new TextEncoder();
/** A file from a header (object or raw text) and a data section, with the length field overridable. */
function fileOf(header: unknown, data: Uint8Array | number = 0, lengthField?: bigint): Uint8Array {
  const json = header instanceof Uint8Array ? header : enc.encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}
const headerText = (bytes: Uint8Array) =>
  new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))));

// ---------------------------------------------------------------- writing and reading back

/** Seeded data of the array type each dtype takes. */
function sampleData(dtype: Dtype, n: number, seed: number): TensorToWrite['data'] {
  const r = randomArray(n, seed, 100);
  switch (dtype) {
    case 'F64':
      return Float64Array.from(r);
    case 'F32':
      return Float32Array.from(r);
    case 'F16':
      return Uint16Array.from(r, numberToF16Bits);
    case 'BF16':
      return Uint16Array.from(r, numberToBf16Bits);
    case 'I64':
      return BigInt64Array.from(r, (v) => BigInt(Math.round(v * 1e9)));
    case 'U64':
      return BigUint64Array.from(r, (v) => BigInt(Math.round(Math.abs(v) * 1e9)));
    case 'I32':
      return Int32Array.from(r, (v) => Math.round(v * 1e6));
    case 'U32':
      return Uint32Array.from(r, (v) => Math.round(Math.abs(v) * 1e6));
    case 'I16':
      return Int16Array.from(r, (v) => Math.round(v * 100));
    case 'U16':
      return Uint16Array.from(r, (v) => Math.round(Math.abs(v) * 100));
    case 'I8':
      return Int8Array.from(r, Math.round);
    case 'U8':
      return Uint8Array.from(r, (v) => Math.abs(Math.round(v)));
    case 'BOOL':
      return Uint8Array.from(r, (v) => (v > 0 ? 1 : 0));
  }
}

const bytesOf = (d: TensorToWrite['data']) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

test('round trip of every dtype, shapes odd, 0-d and empty, without metadata', () => {
  const tensors: Record<string, TensorToWrite> = {};
  const shapes = [[3, 5], [7], [], [0, 4], [2, 1, 3]];
  SUPPORTED_DTYPES.forEach((dtype, i) => {
    for (const [j, shape] of shapes.entries()) {
      const n = shape.reduce((a, b) => a * b, 1);
      tensors[`${dtype.toLowerCase()}.${j}`] = { dtype, shape, data: sampleData(dtype, n, 100 * i + j) };
    }
  });
  const bytes = serializeSafetensors(tensors);
  const file = parseSafetensors(bytes);
  assert.equal(file.metadata, {});
  assert.not.ok(headerText(bytes).includes('__metadata__'));
  assert.equal([...file.tensors.keys()].sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const e = getTensor(file, name);
    assert.is(e.dtype, t.dtype, name);
    assert.equal(e.shape, t.shape, name);
    assert.equal(e.data, bytesOf(t.data), name);
    // views into the file, aligned to the element size (the point of the ordering and padding)
    assert.is(e.data.buffer, bytes.buffer, name);
    assert.is(e.data.byteOffset % dtypeSize(e.dtype), 0, `${name} alignment`);
  }
});

test('round trip with metadata; header padded with spaces to a multiple of 8', () => {
  for (let extra = 0; extra < 8; extra++) {
    const metadata = { format: 'pt', note: 'x'.repeat(extra), ünïcode: 'ß' };
    const bytes = serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) } }, metadata);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.is(n % 8, 0);
    const text = headerText(bytes);
    assert.ok(/^\{"__metadata__":\{"format":"pt","note":"x*","ünïcode":"ß"\},"w":/.test(text), text);
    const spaces = bytes.subarray(8, 8 + n).length - enc.encode(text.trimEnd()).length;
    assert.ok(spaces < 8, `${spaces} spaces of padding`);
    const file = parseSafetensors(bytes);
    assert.equal(file.metadata, metadata);
    assertSame('w', toFloat32(getTensor(file, 'w')), [1, -2]);
  }
  assert.equal(parseSafetensors(serializeSafetensors({}, {})).metadata, {});
});

test("writer matches the reference implementation's own test vectors byte for byte", () => {
  // safetensors/src/tensor.rs: test_serialization, test_empty, test_serialization_forced_alignement
  const six = new Float32Array([0, 1, 2, 3, 4, 5]);
  const cases: [Uint8Array, string, Uint8Array][] = [
    [
      serializeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: six } }),
      '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}',
      bytesOf(six),
    ],
    [
      serializeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: six } }),
      '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ',
      bytesOf(six),
    ],
    [serializeSafetensors({}), '{}      ', new Uint8Array(0)],
    [serializeSafetensors({}, { framework: 'pt' }), '{"__metadata__":{"framework":"pt"}}     ', new Uint8Array(0)],
  ];
  for (const [got, header, data] of cases) assert.equal(got, fileOf(header, data), header);
});

test('writer orders data by dtype width then name; JSON keys follow the data', () => {
  const bytes = serializeSafetensors({
    b: { dtype: 'F16', shape: [3], data: new Uint16Array(3) },
    a: { dtype: 'F16', shape: [1], data: new Uint16Array(1) },
    z: { dtype: 'I64', shape: [1], data: new BigInt64Array(1) },
    m: { dtype: 'F32', shape: [1], data: new Float32Array(1) },
    c: { dtype: 'U8', shape: [5], data: new Uint8Array(5) },
  });
  const order = Object.keys(JSON.parse(headerText(bytes)));
  assert.equal(order, ['z', 'm', 'a', 'b', 'c']);
  const file = parseSafetensors(bytes);
  assert.equal([...file.tensors.keys()], ['z', 'm', 'a', 'b', 'c']);
});

test('writer converts Float32Array → F16 / BF16 and Int32Array → I64; raw bytes pass through', () => {
  const x = new Float32Array([0, -0, 1, 65504, 65520, 2 ** -24, 2 ** -25, 1 / 3, NaN, -Infinity]);
  const bytes = serializeSafetensors({
    h: { dtype: 'F16', shape: [10], data: x },
    b: { dtype: 'BF16', shape: [10], data: x },
    t: { dtype: 'I64', shape: [3], data: new Int32Array([-5, 0, 2147483647]) },
  });
  const file = parseSafetensors(bytes);
  assertSame('F16', toFloat32(getTensor(file, 'h')), [0, -0, 1, 65504, Infinity, 2 ** -24, 0, 0.333251953125, NaN, -Infinity]);
  assertSame('BF16', toFloat32(getTensor(file, 'b')), [0, -0, 1, 65536, 65536, 2 ** -24, 2 ** -25, 0.333984375, NaN, -Infinity]);
  assertSame('I64', toInt32(getTensor(file, 't')), [-5, 0, 2147483647]);
  // copy from one file to another without decoding
  const copy = parseSafetensors(serializeSafetensors(Object.fromEntries([...file.tensors].map(([k, e]) => [k, e]))));
  for (const [k, e] of file.tensors) assert.equal(getTensor(copy, k).data, e.data, k);
});

test('writer refuses bad tensors with messages naming them', async () => {
  const bad: [Record<string, TensorToWrite>, RegExp][] = [
    [{ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }, /tensor "w": data has 3 elements, but shape \[2, 2\] has 4/],
    [{ w: { dtype: 'F32', shape: [2], data: new Int32Array(2) } }, /tensor "w": data is a Int32Array, but F32 takes a Float32Array/],
    [
      { w: { dtype: 'Q4' as Dtype, shape: [2], data: new Uint8Array(1) } },
      /tensor "w": dtype "Q4" is not supported \(supported: BOOL, .*F32/,
    ],
    [{ w: { dtype: 'F32', shape: [-1], data: new Float32Array(1) } }, /tensor "w": shape \[-1\] is not a list of non-negative integers/],
    [{ w: { dtype: 'F32', shape: [2], data: new Uint8Array(7) } }, /tensor "w": 7 raw bytes given, but F32 × \[2\] takes 8/],
    [{ m: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 2]) } }, /tensor "m": BOOL data holds a value other than 0 or 1/],
    [{ __metadata__: { dtype: 'F32', shape: [], data: new Float32Array(1) } }, /"__metadata__" cannot name a tensor/],
  ];
  for (const [tensors, pattern] of bad) await assertThrows(() => serializeSafetensors(tensors), pattern);
  await assertThrows(() => serializeSafetensors({}, { n: 3 as unknown as string }), /metadata "n" is a number, expected a string/);
});

// ---------------------------------------------------------------- conversions

/** binary16 decoded from its definition, independently of the table the reader uses. */
function halfByDefinition(h: number): number {
  const s = h >> 15 ? -1 : 1;
  const e = (h >> 10) & 31;
  const f = h & 1023;
  if (e === 31) return f ? NaN : s * Infinity;
  return e === 0 ? s * Math.pow(2, -14) * (f / 1024) : s * Math.pow(2, e - 15) * (1 + f / 1024);
}

test('F16 → float: zeros, one, max, subnormals, inf, nan', () => {
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x0400, 2 ** -14], // smallest normal
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
    [0x7e00, NaN],
    [0x7c01, NaN],
  ];
  for (const [h, want] of cases) assert.ok(same(f16BitsToNumber(h), want), `0x${h.toString(16)} → ${f16BitsToNumber(h)}, expected ${want}`);
  // the reader's path (toFloat32) on every bit pattern
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const got = toFloat32({ name: 'all', dtype: 'F16', shape: [65536], data: new Uint8Array(all.buffer) });
  assertSame('F16 table', got, Array.from(all, halfByDefinition));
});

test('float → F16 inverts F16 → float on every non-NaN pattern, and F16 / BF16 round to nearest even between them', () => {
  for (let h = 0; h < 65536; h++) {
    const x = f16BitsToNumber(h);
    if (Number.isNaN(x)) assert.ok(Number.isNaN(f16BitsToNumber(numberToF16Bits(x))));
    else assert.is(numberToF16Bits(x), h, `0x${h.toString(16)}`);
  }
  // midpoints between neighbours go to the even one; just past them, up
  for (const h of [0x0000, 0x0001, 0x03ff, 0x3c00, 0x3c01, 0x7bfe, 0x7bff]) {
    const lo = f16BitsToNumber(h);
    const hi = h === 0x7bff ? 65536 : f16BitsToNumber(h + 1);
    const mid = (lo + hi) / 2;
    assert.is(numberToF16Bits(mid), h & 1 ? h + 1 : h, `tie above 0x${h.toString(16)}`);
    const above = mid + (hi - lo) / 1024; // representable in f32 for every h here
    assert.is(numberToF16Bits(above), h + 1, `above the tie after 0x${h.toString(16)}`);
  }
  // bfloat16 keeps 7 fraction bits: 1 + 2^-8 is a tie (down to even 1), 1 + 3·2^-8 one (up to even 1 + 2^-6)
  assert.is(numberToBf16Bits(1 + 2 ** -8), 0x3f80);
  assert.is(numberToBf16Bits(1 + 3 * 2 ** -8), 0x3f82);
  assert.is(numberToBf16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  assert.is(numberToF16Bits(1e6), 0x7c00);
  assert.is(numberToF16Bits(-1e-9), 0x8000);
});

test('I64 → int32 at both ends of the range, and an error naming the tensor outside it', async () => {
  const entry = (name: string, v: bigint[]): SafetensorsEntry => ({
    name,
    dtype: 'I64',
    shape: [v.length],
    data: new Uint8Array(BigInt64Array.from(v).buffer),
  });
  assertSame('in range', toInt32(entry('t', [0n, -1n, 2147483647n, -2147483648n])), [0, -1, 2147483647, -2147483648]);
  await assertThrows(
    () => toInt32(entry('target', [1n, 2147483648n])),
    /tensor "target" \(I64\) element 1 is 2147483648, outside the int32 range/,
  );
  await assertThrows(() => toInt32(entry('target', [-2147483649n])), /tensor "target" \(I64\) element 0 is -2147483649/);
  await assertThrows(
    () => toInt32({ name: 'w', dtype: 'F32', shape: [1], data: new Uint8Array(4) }),
    /tensor "w" has dtype F32, expected an integer dtype/,
  );
});

test('unaligned views are copied, not misread', () => {
  const x = new Float32Array([1.5, -2, 3]);
  const raw = new Uint8Array(13);
  raw.set(bytesOf(x), 1);
  assertSame('F32 at offset 1', toFloat32({ name: 'x', dtype: 'F32', shape: [3], data: raw.subarray(1) }), x);
});

// ---------------------------------------------------------------- a file laid out by the reference format from torch

const FIXTURE = new URL('./fixtures/sample.safetensors', import.meta.url);

test('reads the torch-made fixture and reproduces it byte for byte', async () => {
  const bytes = new Uint8Array(readFileSync(FIXTURE));
  const file = parseSafetensors(bytes, 'sample.safetensors');
  assert.equal(file.metadata, { format: 'pt', source: 'tools/fixtures/safetensors_sample.py' });
  // the same formulas as tools/fixtures/safetensors_sample.py
  assertSame(
    'f32',
    toFloat32(getTensor(file, 'f32')),
    Array.from({ length: 12 }, (_, i) => i * 0.25 - 1),
  );
  assert.equal(getTensor(file, 'f32').shape, [3, 4]);
  assertSame('i32', toInt32(getTensor(file, 'i32')), [-3, -2, -1, 0, 1, 2]);
  assertSame('i64', toInt32(getTensor(file, 'i64')), [0, 1, -1, 7, 2 ** 31 - 1, -(2 ** 31)]);
  assertSame('i64 as float', toFloat32(getTensor(file, 'i64')), [0, 1, -1, 7, 2 ** 31, -(2 ** 31)]);
  assertSame('scalar', toFloat32(getTensor(file, 'scalar')), [2.5]);
  assert.equal(getTensor(file, 'scalar').shape, []);
  assert.equal(getTensor(file, 'empty').shape, [0, 3]);
  assert.is(toFloat32(getTensor(file, 'empty')).length, 0);
  assertSame('f64', toFloat32(getTensor(file, 'f64')), [Math.fround(1 / 3), -2]);
  assertSame('mask', toInt32(getTensor(file, 'mask')), [1, 0, 1]);
  assertSame('u8', toInt32(getTensor(file, 'u8')), [0, 255, 7]);
  await assertThrows(() => toInt32(getTensor(file, 'i64_big')), /tensor "i64_big" \(I64\) element 0 is 2147483648/);

  // torch's own float → half / bfloat16 rounding against ours, and its halves decoded by ours
  const src = toFloat32(getTensor(file, 'half_src'));
  const f16 = getTensor(file, 'f16');
  const bf16 = getTensor(file, 'bf16');
  const torchHalf = new Uint16Array(f16.data.slice().buffer);
  const torchBf = new Uint16Array(bf16.data.slice().buffer);
  // bit for bit, except NaN, whose payload torch does not fix (1.13 gives bfloat16 NaN as 0xffff)
  const bits = (b: ArrayLike<number>) => Array.from(src, (x, i) => (Number.isNaN(x) ? NaN : b[i]));
  assertSame('float→half vs torch', bits(Array.from(src, numberToF16Bits)), bits(torchHalf));
  assertSame('float→bfloat16 vs torch', bits(Array.from(src, numberToBf16Bits)), bits(torchBf));
  assertSame('half→float', toFloat32(f16), Array.from(torchHalf, halfByDefinition));
  assertSame(
    'bfloat16→float',
    toFloat32(bf16),
    Array.from(torchBf, (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]),
  );
  assertSame('exact halves', toFloat32(f16).slice(0, 5), [0, -0, 1, -2.5, 65504]);

  // written again from its parsed entries: the same bytes
  const again = serializeSafetensors(Object.fromEntries(file.tensors), file.metadata);
  assert.equal(again, bytes);
});

// ---------------------------------------------------------------- malformed files

const GOOD = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'I64', shape: [1], data_offsets: [8, 16] } };
const withA = (a: unknown) => ({ ...GOOD, a });

test('malformed files: each refused with the file name and the fault', async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['shorter than 8 bytes', new Uint8Array(5), /^bad\.safetensors: not a safetensors file: 5 bytes, but the header length alone takes 8/],
    ['empty file', new Uint8Array(0), /bad\.safetensors: not a safetensors file: 0 bytes/],
    ['header length past the end', fileOf(GOOD, 16, 4000n), /header length 4000 bytes runs past the end of the file/],
    ['absurd header length', fileOf(GOOD, 16, 200_000_000n), /header length 200000000 bytes is beyond the 100000000-byte limit/],
    ['header length ≥ 2^53', fileOf(GOOD, 16, 0xffffffffffffffffn), /header length \d+ bytes is beyond the 100000000-byte limit/],
    ['header not JSON', fileOf('{"a": {"dtype": "F32",', 0), /bad\.safetensors: header is not valid JSON \(.*\): \{"a"/],
    ['header not UTF-8', fileOf(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]), 0), /bad\.safetensors: header is not valid UTF-8/],
    ['header an array', fileOf([1, 2], 0), /header is JSON array, expected an object of tensors/],
    ['header a number', fileOf('42', 0), /header is JSON number, expected an object of tensors/],
    ['header null', fileOf('null', 0), /header is JSON null/],
    ['entry not an object', fileOf(withA(7), 16), /tensor "a": entry is 7, expected \{dtype, shape, data_offsets\}/],
    ['missing dtype', fileOf(withA({ shape: [2], data_offsets: [0, 8] }), 16), /tensor "a": entry has no "dtype"/],
    ['missing shape', fileOf(withA({ dtype: 'F32', data_offsets: [0, 8] }), 16), /tensor "a": entry has no "shape"/],
    ['missing data_offsets', fileOf(withA({ dtype: 'F32', shape: [2] }), 16), /tensor "a": entry has no "data_offsets"/],
    [
      'unknown dtype',
      fileOf(withA({ dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] }), 16),
      /tensor "a": dtype "F8_E4M3" is not supported \(supported: BOOL, U8, .*F16, BF16, .*F32, F64, I64/,
    ],
    [
      'negative dim',
      fileOf(withA({ dtype: 'F32', shape: [-2], data_offsets: [0, 8] }), 16),
      /tensor "a": shape \[-2\] is not a list of non-negative integers/,
    ],
    ['fractional dim', fileOf(withA({ dtype: 'F32', shape: [1.5], data_offsets: [0, 8] }), 16), /tensor "a": shape \[1\.5\] is not a list/],
    ['shape not a list', fileOf(withA({ dtype: 'F32', shape: 2, data_offsets: [0, 8] }), 16), /tensor "a": shape 2 is not a list/],
    [
      'offsets reversed',
      fileOf(withA({ dtype: 'F32', shape: [2], data_offsets: [8, 0] }), 16),
      /tensor "a": data_offsets \[8,0\] is not \[begin, end\]/,
    ],
    [
      'offsets negative',
      fileOf(withA({ dtype: 'F32', shape: [2], data_offsets: [-8, 0] }), 16),
      /tensor "a": data_offsets \[-8,0\] is not/,
    ],
    [
      'offsets of three',
      fileOf(withA({ dtype: 'F32', shape: [2], data_offsets: [0, 4, 8] }), 16),
      /tensor "a": data_offsets \[0,4,8\] is not/,
    ],
    [
      'header lies about sizes',
      fileOf(withA({ dtype: 'F32', shape: [3], data_offsets: [0, 8] }), 16),
      /tensor "a": data_offsets \[0, 8\] span 8 bytes, but F32 × \[3\] takes 12 bytes/,
    ],
    [
      'huge shape',
      fileOf(withA({ dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 8] }), 16),
      /tensor "a": shape \[.*\] has too many elements/,
    ],
    [
      'truncated data',
      fileOf(GOOD, 12),
      /tensor "b" ends at data byte 16, but the file holds only 12 bytes of data after the header \(truncated\?\)/,
    ],
    [
      'offsets beyond the file',
      fileOf({ a: { dtype: 'F32', shape: [2], data_offsets: [1000, 1008] } }, 8),
      /data bytes \[0, 1000\) before tensor "a" belong to no tensor/,
    ],
    [
      'overlap',
      fileOf({ ...GOOD, c: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 16),
      /tensor "c" \(data_offsets \[4, 8\]\) overlaps tensor "a", which ends at 8/,
    ],
    [
      'same offsets twice',
      fileOf({ ...GOOD, c: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 16),
      /overlaps tensor "(a|c)", which ends at 8/,
    ],
    [
      'gap between tensors',
      fileOf(withA({ dtype: 'F32', shape: [1], data_offsets: [0, 4] }), 16),
      /data bytes \[4, 8\) before tensor "b" belong to no tensor \(safetensors requires/,
    ],
    ['trailing bytes', fileOf(GOOD, 20), /4 bytes after the last tensor \("b"\) belong to no tensor/],
    ['metadata not strings', fileOf({ ...GOOD, __metadata__: { epoch: 3 } }, 16), /__metadata__ entry "epoch" is 3, expected a string/],
    ['metadata not an object', fileOf({ ...GOOD, __metadata__: 'pt' }, 16), /__metadata__ is "pt", expected an object of strings/],
  ];
  for (const [what, bytes, pattern] of cases) {
    try {
      parseSafetensors(bytes, 'bad.safetensors');
    } catch (e) {
      const msg = (e as Error).message;
      assert.is((e as Error).name, 'SafetensorsError', `${what}: ${msg}`);
      assert.ok(msg.startsWith('bad.safetensors: '), `${what}: ${msg}`);
      assert.ok(pattern.test(msg), `${what}: "${msg}" does not match ${pattern}`);
      continue;
    }
    assert.unreachable(`${what}: parsed without error`);
  }
  // the control case: the same header, well formed, parses
  assert.equal([...parseSafetensors(fileOf(GOOD, 16)).tensors.keys()], ['a', 'b']);
});

test('getTensor names the file and lists what it has', async () => {
  const file = parseSafetensors(fileOf(GOOD, 16), 'w.safetensors');
  await assertThrows(() => getTensor(file, 'fc.weight'), /^w\.safetensors: no tensor "fc\.weight" \(the file has a, b\)/);
});

// ---------------------------------------------------------------- files on disk

test('files: atomic write, read back, errors naming the path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nowt-st-'));
  try {
    const path = join(dir, 'sub', 'ckpt.safetensors');
    const w = new Float32Array(randomArray(6, 7));
    writeSafetensorsFile(
      path,
      { w: { dtype: 'F32', shape: [2, 3], data: w }, step: { dtype: 'I64', shape: [], data: new BigInt64Array([42n]) } },
      { epoch: '3' },
    );
    assert.equal(readdirSync(join(dir, 'sub')), ['ckpt.safetensors']); // no temporary left
    const file = readSafetensorsFile(path);
    assert.is(file.source, path);
    assertSame('w', toFloat32(getTensor(file, 'w')), w);
    assertSame('step', toInt32(getTensor(file, 'step')), [42]);
    assert.equal(file.metadata, { epoch: '3' });
    // a failed serialisation leaves the old file untouched
    await assertThrows(() => writeSafetensorsFile(path, { w: { dtype: 'F32', shape: [5], data: w } }), /tensor "w": data has 6 elements/);
    assertSame('after failed write', toFloat32(getTensor(readSafetensorsFile(path), 'w')), w);
    await assertThrows(() => readSafetensorsFile(join(dir, 'missing.safetensors')), /missing\.safetensors: cannot read: .*ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
