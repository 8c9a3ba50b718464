// safetensors files on disk (Node only; the format itself is safetensors.ts).
// A file is written whole or not at all: to a temporary name beside the
// target, then renamed over it, so a crash never leaves half a checkpoint.

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseSafetensors, SafetensorsError, serializeSafetensors, type SafetensorsFile, type TensorToWrite } from './safetensors.ts';

/** Reads and validates a whole file; errors name the path. Tensor data are views into one buffer holding the file. */
export function readSafetensorsFile(path: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(`${path}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  return parseSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}

/** Writes `tensors` (see serializeSafetensors) to `path` atomically, creating the folder if needed. */
export function writeSafetensorsFile(path: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  const bytes = serializeSafetensors(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(path) || '.', { recursive: true });
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new SafetensorsError(`${path}: cannot write: ${(e as Error).message}`, { cause: e });
  }
}
