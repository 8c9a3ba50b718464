// Reads chosen entries of a (gzipped) tar archive into memory with the `tar`
// package, streaming, without extracting anything to disk.

import { list, type ReadEntry } from 'tar';
import { DatasetError } from './errors.ts';

/** The wanted regular-file entries of `archive`, by their path inside it. `want` sees each entry path. */
export async function readTarEntries(archive: string, want: (entryPath: string) => boolean): Promise<Map<string, Uint8Array>> {
  const entries = new Map<string, Uint8Array>();
  const pending: Promise<void>[] = [];
  const collect = (entry: ReadEntry): void => {
    if (entry.type !== 'File' || !want(entry.path)) {
      entry.resume();
      return;
    }
    const chunks: Buffer[] = [];
    const expected = entry.size;
    pending.push(
      new Promise<void>((done, fail) => {
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => {
          const data = Buffer.concat(chunks);
          if (data.length !== expected) {
            fail(new DatasetError(`${archive}: truncated: entry ${entry.path} has ${data.length} of its ${expected} bytes`));
            return;
          }
          entries.set(entry.path, data);
          done();
        });
        entry.on('error', fail);
      }),
    );
  };
  try {
    await list({ file: archive, strict: true, onReadEntry: collect });
    await Promise.all(pending);
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(`${archive}: not a readable tar.gz archive, or truncated (${(e as Error).message})`);
  }
  return entries;
}
