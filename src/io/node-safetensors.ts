// safetensors files on disk (Node only; the format itself is safetensors.ts).
// Written whole or not at all (writeFileAtomic), so a crash never leaves half
// a checkpoint.

import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './node-files.ts';
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
  try {
    writeFileAtomic(path, bytes);
  } catch (e) {
    throw new SafetensorsError(`${path}: cannot write: ${(e as Error).message}`, { cause: e });
  }
}
