// Node side of tuning tables (src/kernels/tuning.ts): reads a table file,
// checks it against this adapter and gives it to a runtime, once, before any
// launcher records. Where the table comes from: an explicit path, or "auto"
// for tuning/<adapter key>.json (what `nowt bench --tune` writes by default),
// from `--tuning` or the NOWT_TUNING environment variable. With neither, the
// runtime keeps choose()'s defaults: a table never applies unasked.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../gpu/runtime.ts';
import { adapterProfile, setTuningTable, TuningError, type Tuning } from './tuning.ts';

/** Where `nowt bench --tune` writes this adapter's table unless told otherwise. */
export function defaultTuningPath(rt: Runtime): string {
  return join('tuning', `${adapterProfile(rt.ctx).key}.json`);
}

/** The file a spec names: "auto" is this adapter's default path. */
export function tuningPath(rt: Runtime, spec: string): string {
  return spec === 'auto' ? defaultTuningPath(rt) : spec;
}

/** Reads, checks and applies a table; every error names the file. */
export function loadTuningFile(rt: Runtime, spec: string): Tuning {
  const file = tuningPath(rt, spec);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TuningError(`tuning table ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return setTuningTable(rt, text, file);
}

/** Applies `spec` (else NOWT_TUNING) when given; returns the tuning, or null when defaults stay. */
export function applyNodeTuning(rt: Runtime, spec: string | undefined = process.env.NOWT_TUNING): Tuning | null {
  if (spec === undefined || spec === '') return null;
  return loadTuningFile(rt, spec);
}
