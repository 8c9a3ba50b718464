// The IDX format of MNIST and Fashion-MNIST: a 4-byte magic (0, 0, type 0x08 =
// unsigned byte, number of dimensions), big-endian uint32 sizes, then the
// bytes. Files may be gzipped (detected by the gzip magic, not the name).

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DatasetError } from './errors.ts';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Reads a file, gunzipping it when it starts with the gzip magic. */
export function readMaybeGzipped(path: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new DatasetError(`${path}: cannot read: ${(e as Error).message}`);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (e) {
      throw new DatasetError(`${path}: truncated or corrupt gzip data (${(e as Error).message})`);
    }
  }
  return raw;
}

/** Parses an unsigned-byte IDX array with `ndim` dimensions; `path` is for messages. */
export function parseIdx(bytes: Uint8Array, ndim: number, path: string): IdxArray {
  const headerLength = 4 + 4 * ndim;
  if (bytes.length < 4) throw new DatasetError(`${path}: truncated: ${bytes.length} bytes, shorter than the 4-byte IDX magic`);
  const magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
  if (magic[0] !== 0 || magic[1] !== 0 || magic[2] !== 0x08 || magic[3] !== ndim) {
    const hex = magic.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DatasetError(`${path}: bad magic ${hex}, expected 00 00 08 0${ndim} (IDX unsigned bytes, ${ndim} dimensions)`);
  }
  if (bytes.length < headerLength)
    throw new DatasetError(`${path}: truncated: ${bytes.length} bytes, shorter than the ${headerLength}-byte IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerLength;
  if (found < expected)
    throw new DatasetError(`${path}: truncated: the header says ${dims.join('×')} = ${expected} bytes of data, found ${found}`);
  if (found > expected) throw new DatasetError(`${path}: ${found - expected} bytes after the ${dims.join('×')} data the header declares`);
  return { dims, data: bytes.subarray(headerLength) };
}
