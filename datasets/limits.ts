// --limit-train / --limit-test: keep the first N examples of a split (views,
// no copies).

import { DatasetError } from './errors.ts';
import type { Split } from './types.ts';

/** The first `limit` examples of `split` (all of them when it has fewer); `flag` names the option in errors. */
export function limitSplit<S extends Split>(split: S, limit: number | undefined, flag: string, where: string): S {
  if (limit === undefined) return split;
  if (!Number.isInteger(limit) || limit < 1) throw new DatasetError(`${where}: ${flag} must be a whole number ≥ 1, got ${limit}`);
  if (limit >= split.length) return split;
  const labels = split.labels.subarray(0, limit);
  if (split.kind === 'array') {
    const perImage = split.images.length / split.length;
    return { ...split, length: limit, labels, images: split.images.subarray(0, limit * perImage) };
  }
  return { ...split, length: limit, labels, files: split.files.slice(0, limit) };
}
