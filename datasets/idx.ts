// The IDX format of MNIST and Fashion-MNIST: a 4-byte magic (0, 0, type 0x08 =
// unsigned byte, number of dimensions), big-endian uint32 sizes, then the
// bytes. Files may be gzipped (detected by the gzip magic, not the name).

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DatasetError } from './errors.ts';
import { isGzip } from './idx-bytes.ts';

export { parseIdx, type IdxArray } from './idx-bytes.ts';

/** Reads a file, gunzipping it when it starts with the gzip magic. */
export function readMaybeGzipped(path: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new DatasetError(`${path}: cannot read: ${(e as Error).message}`);
  }
  if (isGzip(raw)) {
    try {
      return gunzipSync(raw);
    } catch (e) {
      throw new DatasetError(`${path}: truncated or corrupt gzip data (${(e as Error).message})`);
    }
  }
  return raw;
}
