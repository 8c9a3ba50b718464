// Finding a dataset's files on disk: which folders to look in (the --data
// option, then $NOWT_DATA, then a default) and which of the expected files each
// holds, so a miss can say exactly what was expected and where.

import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A folder to look in and why it was looked in (for messages). */
export interface Candidate {
  dir: string;
  source: string;
}

/** The folders to search: `data` alone when given, else $NOWT_DATA (and setup's $NOWT_DATA_DIR), then `fallback`. */
export function candidateDirs(data: string | undefined, fallback: string | null): Candidate[] {
  if (data !== undefined) return [{ dir: resolve(data), source: '--data' }];
  const found: Candidate[] = [];
  for (const name of ['NOWT_DATA', 'NOWT_DATA_DIR']) {
    const value = process.env[name];
    if (value) found.push({ dir: resolve(value), source: `$${name}` });
  }
  if (fallback !== null) found.push({ dir: fallback, source: 'default' });
  return found;
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The path of `name` or `name.gz` in `dir` (raw preferred), or null. */
export function findMaybeGzipped(dir: string, name: string): string | null {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) {
    if (existsSync(candidate) && isFile(candidate)) return candidate;
  }
  return null;
}
